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
	if err == nil || !strings.Contains(err.Error(), "race(s) not nacos-sdk-go's own") || !strings.Contains(err.Error(), "TestRacyChild") {
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

// A report is the SDK's only when both of its accesses are at its known race sites
// with nothing but the SDK above them, up to its public API or the bottom of one of its
// own goroutines; a frame of ours anywhere else makes it ours.
func TestSDKRaceClassification(t *testing.T) {
	const (
		sdk    = "github.com/nacos-group/nacos-sdk-go/v2/"
		rpc    = sdk + "common/remote/rpc.(*RpcClient)."
		proxy  = sdk + "clients/naming_client/naming_grpc.(*NamingGrpcProxy)."
		client = sdk + "clients/naming_client.(*NamingClient)."
		ours   = "github.com/micro-registry/nacos/internal/naming."
		core   = "github.com/micro-registry/nacos/internal/core."
	)
	// The stacks the race detector reported for these races (abridged).
	var (
		reconnectLoop = []string{rpc + "reconnect()", rpc + "Start.func2()"}
		eventLoop     = []string{rpc + "notifyConnectionEvent()", rpc + "Start.func1()"}
		sdkRedo       = []string{rpc + "Request()", proxy + "requestToServer()", proxy + "RegisterInstance()",
			sdk + "clients/naming_client/naming_grpc.(*ConnectionEventListener).redoRegisterEachService()", rpc + "notifyConnectionEvent()", rpc + "Start.func1()"}
		ourRegister = []string{"sync/atomic.CompareAndSwapInt32()", rpc + "Request()", proxy + "requestToServer()", proxy + "RegisterInstance()",
			client + "RegisterInstance()", ours + "(*SDKClient).Publish()", core + "(*publisher).run()", core + "(*Registry).startBuild.func2()"}
		ourRedoRegister = append(ourRegister[1:6:6], core+"(*publisher).run()", ours+"(*connectionListener).OnConnected()", rpc+"notifyConnectionEvent()", rpc+"Start.func1()")
		ourInternals    = []string{rpc + "RegisterConnectionListener()", ours + "(*SDKClient).hearReconnections()", core + "(*Registry).runBuild()"}
		ourProxyCall    = []string{rpc + "Request()", proxy + "requestToServer()", proxy + "RegisterInstance()", ours + "(*SDKClient).Publish()"}
		ourCallback     = []string{rpc + "Request()", proxy + "requestToServer()", proxy + "Subscribe()", ours + "(*SDKClient).Subscribe.func1()", rpc + "notifyConnectionEvent()", rpc + "Start.func1()"}
		ourAccess       = []string{ours + "(*SDKClient).Publish()", core + "(*publisher).run()"}
		ourConfig       = []string{"github.com/micro-registry/nacos/internal/configsource.(*Source).changed()"}
		cacheSort       = []string{sdk + "clients/naming_client/naming_cache.instanceSorter.Swap()", "sort.Sort()", sdk + "clients/naming_client/naming_cache.sortInstance()",
			sdk + "clients/naming_client/naming_cache.(*ServiceInfoHolder).ProcessService()", rpc + "(*NamingPushRequestHandler).RequestReply()", rpc + "(*GrpcClient).bindBiRequestStream.func1()"}
		cacheWrite = []string{"reflect.Value.String()", "encoding/json.Marshal()", sdk + "clients/cache.WriteServicesToFile()",
			sdk + "clients/naming_client/naming_cache.(*ServiceInfoHolder).ProcessService()", sdk + "clients/naming_client.(*NamingProxyDelegate).Subscribe()",
			client + "Subscribe()", ours + "(*SDKClient).Subscribe()"}
		ourCacheRead = []string{"reflect.Value.String()", "encoding/json.Marshal()", ours + "(*SDKClient).Subscribe()"}
		sdkUtil      = []string{sdk + "util.LocalIP()", rpc + "Start.func1()"}
	)
	for _, c := range []struct {
		name          string
		first, second []string
		sdk           bool
	}{
		{"the reconnect loop against the event loop", reconnectLoop, eventLoop, true},
		{"the reconnect loop against the SDK's own redo", reconnectLoop, sdkRedo, true},
		{"the reconnect loop against a request we made through the SDK's API", reconnectLoop, ourRegister, true},
		{"two requests we made through the SDK's API", ourRegister, ourRegister, true},
		{"the reconnect loop against a request we made from the SDK's goroutine, through its API", reconnectLoop, ourRedoRegister, true},
		{"the reconnect loop against our code", reconnectLoop, ourAccess, false},
		{"our config source against a request", ourConfig, ourRegister, false},
		{"the reconnect loop against our use of the SDK's internals", reconnectLoop, ourInternals, false},
		{"the reconnect loop against our call of an SDK proxy, past its API", reconnectLoop, ourProxyCall, false},
		{"the reconnect loop against a request from our callback, past the SDK's API", reconnectLoop, ourCallback, false},
		{"the SDK's push handler sorting its cache against its Subscribe writing it to disk", cacheSort, cacheWrite, true},
		{"the SDK's push handler sorting its cache against our reading it", cacheSort, ourCacheRead, false},
		{"the SDK, outside its known race sites", sdkUtil, sdkUtil, false},
	} {
		if _, ok := sdkRace(raceReport(c.first, c.second)); ok != c.sdk {
			t.Errorf("%s: the SDK's race = %v, want %v\n%s", c.name, ok, c.sdk, raceReport(c.first, c.second))
		}
	}
}

// raceReport is a race detector's report of a write by the first stack and a read by
// the second (innermost frame first), each frame with a made-up file:line.
func raceReport(first, second []string) string {
	stack := func(frames []string) string {
		var b strings.Builder
		for i, f := range frames {
			fmt.Fprintf(&b, "  %s\n      /m/f%d.go:%d +0x1\n", f, i, 100+i)
		}
		return b.String()
	}
	return "Write at 0x00c0001 by goroutine 7:\n" + stack(first) + "\nPrevious read at 0x00c0001 by goroutine 8:\n" + stack(second) +
		"\nGoroutine 7 (running) created at:\n  github.com/micro-registry/nacos/internal/naming.Dial()\n      /m/sdk.go:1 +0x1\n"
}
