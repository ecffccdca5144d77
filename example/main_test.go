package main

import (
	"bytes"
	"os"
	"regexp"
	"testing"
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
	rest := out.Bytes()
	for _, pattern := range story {
		loc := regexp.MustCompile(pattern).FindIndex(rest)
		if loc == nil {
			t.Fatalf("the output does not go on with a line matching %s", pattern)
		}
		rest = rest[loc[1]:]
	}
}
