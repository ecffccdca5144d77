package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// RaceDetector says whether this test binary was built with -race.
var RaceDetector = func() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}()

const (
	childEnv     = "NACOS_TEST_CHILD" // the test the child process runs
	childDone    = "NACOS-TEST-CHILD-COMPLETED"
	childSkipped = "NACOS-TEST-CHILD-SKIPPED"
)

// InChild reports whether t runs in a child process that RunChecked started for it.
func InChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// The known races of nacos-sdk-go v2.3.5 live in two places:
//   - its connection layer, package rpc: RpcClient reads and writes currentConnection
//     (and the connection it points to, its abandon flag among others) and
//     rpcClientStatus without synchronisation, from its own goroutines and its
//     callers', on every reconnect (upstream nacos-group/nacos-sdk-go#833, #887, #905,
//     #908). RpcClient.Request is inlined into NamingGrpcProxy.requestToServer, at the
//     line that calls it (sdkInlined);
//   - its naming cache: ServiceInfoHolder.ProcessService runs unsynchronised from the
//     push handler and from Subscribe, sorts the cached instance lists in place
//     (naming_cache) while the other writes them to its disk cache (package cache,
//     through encoding/json).
//
// A race is the SDK's only when, on both sides, the access is there and what called it
// is the SDK alone, up to its public API (sdkRace).
const (
	sdkModule  = "github.com/nacos-group/nacos-sdk-go/"
	sdkRPC     = sdkModule + "v2/common/remote/rpc."
	sdkInlined = sdkModule + "v2/clients/naming_client/naming_grpc.(*NamingGrpcProxy).requestToServer() at naming_grpc_proxy.go:88"
)

// sdkRaceSites are the packages where the SDK's known races are (see above).
var sdkRaceSites = []string{
	sdkRPC,
	sdkModule + "v2/clients/naming_client/naming_cache.",
	sdkModule + "v2/clients/cache.",
}

// sdkRaceSite returns the SDK function fn with the package of its race site cut off,
// or "" when fn is not in one.
func sdkRaceSite(fn string) string {
	for _, site := range sdkRaceSites {
		if strings.HasPrefix(fn, site) {
			return strings.TrimPrefix(fn, sdkModule+"v2/")
		}
	}
	return ""
}

// sdkAPI are the SDK's public clients and their constructors: the only way into the
// SDK a stack may come from, for a race to be the SDK's. (Its RpcClient.Start, which a
// constructor runs, writes the connection its health check goroutine reads.)
var sdkAPI = []string{
	sdkModule + "v2/clients/naming_client.(*NamingClient).",
	sdkModule + "v2/clients/config_client.(*ConfigClient).",
	sdkModule + "v2/clients.New",
}

// RunChecked runs body as test t. Without the race detector it runs here. With it, it
// runs in a child process of this test binary, and the child's race reports are
// checked: the known races inside nacos-sdk-go's connection layer are logged and
// tolerated, any other race fails the test. With alwaysChild it runs in a child process
// either way (for a body that changes process-wide state or may crash the process).
// Bodies must fail with t.Fatal, not t.Error: the child reports success by completing.
func RunChecked(t *testing.T, alwaysChild bool, body func(t *testing.T)) {
	t.Helper()
	if InChild(t) {
		defer func() {
			if t.Skipped() {
				fmt.Printf("\n%s %s\n", childSkipped, t.Name())
			}
		}()
		body(t)
		fmt.Printf("\n%s %s\n", childDone, t.Name())
		return
	}
	if !RaceDetector && !alwaysChild {
		body(t)
		return
	}
	start := time.Now()
	text, err := runChild(t.Name())
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); testLogLine.MatchString(line) {
			t.Log("child: " + line)
		}
	}
	if err := checkChild(t.Name(), text, err); err != nil {
		if err == errChildSkipped {
			t.Skipf("skipped in the child process:\n%s", text)
		}
		t.Fatal(err)
	}
	tolerated, _ := sortRaces(text)
	t.Logf("ran in a child process (%s); race detector on: %d report(s) of nacos-sdk-go's known connection-layer races tolerated%s",
		time.Since(start).Round(time.Millisecond), len(tolerated), bullets(tolerated))
}

// RunInChild runs body as test t in a child process of this test binary, for a body
// that may crash the process, and hands judge the child's output and whether body
// completed. A body that skips skips t.
func RunInChild(t *testing.T, body func(t *testing.T), judge func(output string, completed bool)) {
	t.Helper()
	if InChild(t) {
		RunChecked(t, true, body)
		return
	}
	text, _ := runChild(t.Name())
	if strings.Contains(text, childSkipped+" "+t.Name()) {
		t.Skipf("skipped in the child process:\n%s", text)
	}
	judge(text, strings.Contains(text, childDone+" "+t.Name()))
}

// runChild runs test name again in a child process of this test binary, and returns
// its output and how it exited.
func runChild(name string) (string, error) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// testLogLine is a line a test logged (t.Log), which the child's output shows as
// file_test.go:line: text.
var testLogLine = regexp.MustCompile(`^\w+_test\.go:\d+: `)

var errChildSkipped = fmt.Errorf("skipped")

// checkChild judges the output of the child process that ran test name, and how it
// exited (exitErr).
func checkChild(name, text string, exitErr error) error {
	tolerated, unknown := sortRaces(text)
	switch {
	case strings.Contains(text, childSkipped+" "+name):
		return errChildSkipped
	case len(unknown) > 0:
		return fmt.Errorf("the race detector found %d race(s) not nacos-sdk-go's own (a frame of ours, or an access outside its connection layer):\n%s", len(unknown), strings.Join(unknown, "\n\n"))
	case strings.Contains(text, "\npanic: ") || strings.HasPrefix(text, "panic: "):
		return fmt.Errorf("the child process panicked (%v):\n%s", exitErr, text)
	case !strings.Contains(text, childDone+" "+name):
		return fmt.Errorf("the child process failed (%v):\n%s", exitErr, text)
	case exitErr != nil && len(tolerated) == 0:
		return fmt.Errorf("the child process exited with %v without a race report:\n%s", exitErr, text)
	}
	return nil
}

// sortRaces cuts the race detector's reports out of a test's output and sorts them into
// nacos-sdk-go's known races (summarised) and the others (whole).
func sortRaces(text string) (tolerated, unknown []string) {
	for _, chunk := range strings.Split(text, "WARNING: DATA RACE")[1:] {
		if end := strings.Index(chunk, "=================="); end >= 0 {
			chunk = chunk[:end]
		}
		report := strings.TrimSpace(chunk)
		if summary, ok := sdkRace(report); ok {
			tolerated = append(tolerated, summary)
		} else {
			unknown = append(unknown, report)
		}
	}
	return tolerated, unknown
}

func bullets(lines []string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			b.WriteString("\n  - " + l)
		}
	}
	return b.String()
}

var access = regexp.MustCompile(`^(Previous )?(Atomic )?(read|write|Read|Write) at `)

// sdkRace says whether a race report is one of nacos-sdk-go's own races, and summarises
// it. It is when, for each of its two accesses:
//   - the access is in one of the SDK's race sites (past frames of the runtime, sync,
//     grpc, sort, reflect and encoding/json), or at the line where RpcClient.Request is
//     inlined; and
//   - every frame below it is the SDK's (or the standard library's it runs through),
//     up to the bottom of the stack (a goroutine of the SDK's own) or up to one of the
//     SDK's public client methods (sdkAPI), where the caller's frames begin.
//
// A frame of anything else in between, ours in particular (our callback that the SDK
// calls, our use of its internals), makes the race ours: a failure. Our frames are
// allowed only as callers of the SDK's public API, because the SDK races with itself
// under every caller: its Request reads the connection that its reconnect loop
// replaces, whoever asked for the request.
func sdkRace(report string) (string, bool) {
	var where []string
	blank := regexp.MustCompile(`(?m)^[ \t]+$`)
	for _, section := range strings.Split(blank.ReplaceAllString(report, ""), "\n\n") {
		lines := strings.Split(strings.TrimSpace(section), "\n")
		if !access.MatchString(lines[0]) {
			continue
		}
		in, ok := sdkAccess(lines[1:])
		if !ok {
			return "", false
		}
		where = append(where, in)
	}
	if len(where) < 2 {
		return "", false
	}
	return strings.Join(where, " vs "), true
}

// sdkAccess judges the stack of one access (pairs of lines: the function, then its
// file:line): whether it is the SDK's alone, as sdkRace says, and where the access is.
func sdkAccess(stack []string) (string, bool) {
	in, entered := "", false
	for i := 0; i+1 < len(stack) && !entered; i += 2 {
		fn := strings.TrimSpace(stack[i])
		loc := strings.TrimSpace(stack[i+1])
		if j := strings.LastIndex(loc, "/"); j >= 0 {
			loc = loc[j+1:]
		}
		if j := strings.Index(loc, " "); j >= 0 {
			loc = loc[:j]
		}
		// The standard library the SDK's code runs through: the runtime, sync, and the
		// sorting and JSON encoding of its cache.
		plumbing := false
		for _, lib := range []string{"runtime.", "sync/atomic.", "sync.", "sort.", "reflect.", "encoding/json."} {
			plumbing = plumbing || strings.HasPrefix(fn, lib)
		}
		switch {
		case plumbing || in == "" && strings.HasPrefix(fn, "google.golang.org/grpc"):
			continue
		case in == "" && sdkRaceSite(fn) != "":
			in = sdkRaceSite(fn) + " (" + loc + ")"
		case in == "" && fn+" at "+loc == sdkInlined:
			in = "(*RpcClient).Request() (inlined at " + loc + ")"
		case in == "" || !strings.HasPrefix(fn, sdkModule):
			return "", false // the access is not at a known race site, or a frame above it is not the SDK's
		}
		for _, api := range sdkAPI {
			entered = entered || strings.HasPrefix(fn, api)
		}
	}
	return in, in != ""
}
