package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// A race with a frame of ours is a failure, not one of the SDK's tolerated races: the
// child runs a body that races on purpose, and the harness must reject it.
func TestRunCheckedFailsOnARaceOfOurs(t *testing.T) {
	if !RaceDetector {
		t.Skip("needs the race detector (go test -race)")
	}
	text, exit := runChild("TestRacyChild")
	err := checkChild("TestRacyChild", text, exit)
	if err == nil || !strings.Contains(err.Error(), "race(s) outside nacos-sdk-go's connection layer") || !strings.Contains(err.Error(), "TestRacyChild") {
		t.Fatalf("the harness let a race of ours pass: %v\nchild output:\n%s", err, text)
	}
}

// TestRacyChild races on purpose, and only as the child of
// TestRunCheckedFailsOnARaceOfOurs.
func TestRacyChild(t *testing.T) {
	if !InChild(t) {
		t.Skip("races on purpose: runs only as the child of TestRunCheckedFailsOnARaceOfOurs")
	}
	n := 0
	done := make(chan struct{})
	go func() { n++; close(done) }()
	n++
	<-done
	fmt.Printf("\n%s %s\n", childDone, t.Name())
}

// Reports whose two accesses both start in the SDK's connection layer are the SDK's;
// one frame of anything else first makes a report unknown.
func TestSDKRaceClassification(t *testing.T) {
	const sdk = "github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc."
	report := func(first, second string) string {
		return "Write at 0x00c0001 by goroutine 7:\n  " + first + "\n      /m/x.go:449 +0x1\n  runtime.goexit()\n      /go/asm.s:1 +0x1\n\n" +
			"Previous read at 0x00c0001 by goroutine 8:\n  sync.(*Mutex).Lock()\n      /go/mutex.go:1 +0x1\n  " + second + "\n      /m/y.go:590 +0x1\n\n" +
			"Goroutine 7 (running) created at:\n  main.main()\n      /m/main.go:1 +0x1"
	}
	for _, c := range []struct {
		first, second string
		sdk           bool
	}{
		{sdk + "(*RpcClient).reconnect()", sdk + "(*RpcClient).Request()", true},
		{sdk + "(*RpcClient).reconnect()", "github.com/micro-registry/nacos.(*sdkClient).publish()", false},
		{"github.com/micro-registry/nacos/nacosconfig.(*nacosSource).changed()", sdk + "(*RpcClient).Request()", false},
	} {
		if _, ok := sdkRace(report(c.first, c.second)); ok != c.sdk {
			t.Errorf("%s vs %s: the SDK's race = %v, want %v", c.first, c.second, ok, c.sdk)
		}
	}
}
