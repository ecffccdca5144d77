// Package testkit holds what the tests of the plugin's packages share: a go-micro
// logger that records what it is given, and the harness that runs a test in a child
// process under the race detector, tolerating only nacos-sdk-go's own races.
package testkit
