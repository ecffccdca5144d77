package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/testkit"
)

// TestDemo runs the in-process demo (against NACOS_ADDR if set, as the package's own
// tests do, otherwise against the embedded server) and checks that its output tells
// the whole story, in order.
func TestDemo(t *testing.T) {
	os.Args = []string{"example"} // service.Init parses os.Args, which holds the test flags
	if addr := os.Getenv("NACOS_ADDR"); addr != "" {
		os.Args = append(os.Args, "--registry_address", addr)
	}
	var out bytes.Buffer
	err := demo(&out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	story := []string{
		`(?m)^greeter-1-\w+: serving on \S+, registered$`,
		`(?m)^greeter-2-\w+: serving on \S+, registered$`,
		`(?m)^client: watch: create greeter-[12]-\w+ at \S+$`,
		`(?m)^client: discovered greeter version latest: 2 nodes, endpoints \[Greeter\.Hello\]$`,
		`(?m)^client: the selector now chooses among 2 node\(s\): greeter-1-\w+ greeter-2-\w+$`,
		`(?m)^client: call \d+: "Hello, call \d+" from greeter-[12]-\w+$`,
		`(?m)^client: calls spread over both nodes: greeter-1-\w+ [1-9]\d*, greeter-2-\w+ [1-9]\d*$`,
		`(?m)^greeter-1-\w+: stopped, deregistered$`,
		`(?m)^client: watch: delete greeter-1-\w+ at \S+$`,
		`(?m)^client: the selector now chooses among 1 node\(s\): greeter-2-\w+$`,
		`(?m)^client: call \d+: "Hello, call \d+" from greeter-2-\w+$`,
		`(?m)^done: the last 4 calls, after greeter-1-\w+ left, all reached greeter-2-\w+$`,
	}
	tells(t, out.Bytes(), story)
}

// TestConfigDemo runs the config mode and checks that the greeting changes live.
func TestConfigDemo(t *testing.T) {
	os.Args = []string{"example"}
	if addr := os.Getenv("NACOS_ADDR"); addr != "" {
		os.Args = append(os.Args, "--registry_address", addr)
	}
	var out bytes.Buffer
	err := configDemo(&out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("config demo: %v", err)
	}
	story := []string{
		`(?m)^nacos: greeter.yaml is now "greeting: Hello"$`,
		`(?m)^client: "Hello, config"$`,
		`(?m)^nacos: greeter.yaml is now "greeting: Bonjour"$`,
		`(?m)^greeter: config changed live, greeting word now "Bonjour"$`,
		`(?m)^client: "Bonjour, config"$`,
	}
	tells(t, out.Bytes(), story)
}

// tells checks that the output has a line matching each pattern of the story, in order.
func tells(t *testing.T, output []byte, story []string) {
	t.Helper()
	rest := output
	for _, pattern := range story {
		loc := regexp.MustCompile(pattern).FindIndex(rest)
		if loc == nil {
			t.Fatalf("the output does not go on with a line matching %s", pattern)
		}
		rest = rest[loc[1]:]
	}
}

// With Nacos down, a greeter node serves but is not registered, and the demo says so
// (go-micro's server starts even when its registration fails) with the cause.
func TestNodeNotRegisteredIsSaid(t *testing.T) {
	addr := testkit.UnreachableAddrs(t)[0].Addr // a closed port
	n, err := startNode([]string{addr}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer n.stop()
	err = n.registered()
	if err == nil || !strings.Contains(err.Error(), "cannot reach Nacos at "+addr) {
		t.Fatalf("a node registered with Nacos down: %v", err)
	}
	t.Log(err)
}
