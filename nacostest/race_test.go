//go:build race

package nacostest

const raceDetector = true
