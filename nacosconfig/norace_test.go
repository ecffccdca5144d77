//go:build !race

package nacosconfig

const raceDetector = false
