package suite

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/wire"
)

// RunRegistry runs the registry's behaviours against the line: the three ways of use,
// registration (batches, versions, endpoints), watching, faults, refusals and bad input.
func RunRegistry(t *testing.T, line Line) {
	runEach(t, line, []behaviour{
		{"CommandLine", commandLine},
		{"Options", inCode},
		{"PerCallParams", perCallParams},
		{"Batch", batch},
		{"Versions", versions},
		{"Endpoints", endpoints},
		{"NotFound", notFound},
		{"Logger", loggerGetsWarnings},
		{"WatchDiff", watchDiff},
		{"WatchAll", watchAll},
		{"WatchStop", watchStop},
		{"Restart", restart},
		{"Refusal", refusal},
		{"WrongCredentials", wrongCredentials},
		{"BadInput", badInput},
		{"BadOptions", badOptions},
		{"Close", closed},
	})
}

// The first way of use: the blank import and go-micro's command line, by flags and by
// the environment.
func commandLine(t *testing.T, line *Line) {
	e := newEnv(t, line)
	check := func(how string, r *Registry) {
		t.Helper()
		t.Cleanup(func() { r.Close() })
		if r.String() != "nacos" {
			t.Fatalf("%s: the command line chose registry %q", how, r.String())
		}
		must(t, r.Init(e.base(Options{Addrs: r.Addrs()})), how+": Init")
		must(t, r.Register(service("flagged", "v1", "n1"), 0, nil), how+": Register")
		eventually(t, within, func() bool { return seen(r, "flagged") == "v1/n1" }, "%s: sees %q", how, seenBy(r, "flagged"))
		must(t, r.Deregister(service("flagged", "v1", "n1"), nil), how+": Deregister")
	}
	check("flags", line.registry(line.CommandLine(t, []string{"--registry", "nacos", "--registry_address", e.Addr})))
	t.Setenv("MICRO_REGISTRY", "nacos")
	t.Setenv("MICRO_REGISTRY_ADDRESS", e.Addr+", "+e.Addr) // cmd does not trim the spaces
	check("environment", line.registry(line.CommandLine(t, nil)))
}

// The second way: options in code, with every node of several Register calls for one
// name visible to another registry, and a Deregister of one node.
func inCode(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{Weight: 2, Cluster: "east"}), e.registry(t, Options{})
	must(t, a.Register(service("svc", "v1", "n1", "n2"), 0, nil), "register n1 n2")
	must(t, a.Register(service("svc", "v1", "n3"), 0, nil), "register n3")
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1,v1/n2,v1/n3" }, "b sees %q", seenBy(b, "svc"))
	must(t, a.Deregister(&wire.Service{Name: "svc", Version: "v1", Nodes: []*wire.Node{{Id: "n2"}}}, nil), "deregister n2")
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1,v1/n3" }, "b sees %q", seenBy(b, "svc"))
	if e.Srv != nil {
		for _, in := range e.Srv.Instances("", "", "svc") {
			if in.Weight != 2 || in.Cluster != "east" {
				t.Fatalf("instance %s:%d has weight %v and cluster %q, want 2 and east", in.IP, in.Port, in.Weight, in.Cluster)
			}
		}
	}
}

// The third way: nacos-sdk-go's parameters per call, under the original plugin's
// context keys.
func perCallParams(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	register := core.WithParam(nil, core.RegisterInstanceParamKey, vo.RegisterInstanceParam{GroupName: "team-a", Metadata: map[string]string{"zone": "z1"}})
	must(t, a.Register(service("svc", "v1", "blue"), 0, register), "register in team-a")
	if _, err := b.GetService("svc", nil); err != line.ErrNotFound {
		t.Fatalf("the default group must not see team-a's service: %v", err)
	}
	inGroup := core.WithParam(nil, core.SelectInstancesParamKey, vo.GetServiceParam{GroupName: "team-a"})
	var got []*wire.Service
	eventually(t, within, func() bool { got, _ = b.GetService("svc", inGroup); return nodeIDs(got) == "v1/blue" }, "team-a's node not seen")
	if md := got[0].Nodes[0].Metadata; md["zone"] != "z1" || md["node"] != "blue" {
		t.Fatalf("the param's metadata must be added to the node's: %v", md)
	}
	list, err := b.ListServices(core.WithParam(nil, core.AllServiceInfoParamKey, vo.GetAllServiceInfoParam{GroupName: "team-a"}))
	if err != nil || len(list) != 1 || list[0] != "svc" {
		t.Fatalf("list team-a: %v, %v", list, err)
	}
	deregister := core.WithParam(nil, core.DeregisterInstanceParamKey, vo.DeregisterInstanceParam{GroupName: "team-a"})
	must(t, a.Deregister(service("svc", "v1", "blue"), deregister), "deregister in team-a")
	eventually(t, within, func() bool { _, err := b.GetService("svc", inGroup); return err == line.ErrNotFound }, "the deregistration in team-a is not seen")
}

// A batch: one Register of three nodes is three nodes for a reader and three creates
// for a watcher.
func batch(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	rd := readWatcher(t, b, "batch")
	must(t, a.Register(service("batch", "v1", "n1", "n2", "n3"), 0, nil), "register")
	rd.await(t, "create batch v1/n1, create batch v1/n2, create batch v1/n3")
	if got := seen(b, "batch"); got != "v1/n1,v1/n2,v1/n3" {
		t.Fatalf("b sees %q", got)
	}
}

// Versions: one Service per version, each with its own nodes.
func versions(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	must(t, a.Register(service("svc", "1.0.0", "a", "b"), 0, nil), "register 1.0.0")
	must(t, a.Register(service("svc", "2.0.0", "c"), 0, nil), "register 2.0.0")
	eventually(t, within, func() bool { return seen(b, "svc") == "1.0.0/a,1.0.0/b,2.0.0/c" }, "b sees %q", seenBy(b, "svc"))
	got, _ := b.GetService("svc", nil)
	if len(got) != 2 || got[0].Version == got[1].Version {
		t.Fatalf("want one Service per version, got %d: %s", len(got), nodeIDs(got))
	}
}

// Endpoints, service and node metadata come back as they were registered; a node
// without metadata comes back with an empty map.
func endpoints(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	in := greeter("1.0.0", "g1")
	in.Nodes = append(in.Nodes, &wire.Node{Id: "g2", Address: "10.1.1.1:1"})
	must(t, a.Register(in, 0, nil), "register")
	var got []*wire.Service
	eventually(t, within, func() bool { got, _ = b.GetService("greeter", nil); return nodeIDs(got) == "1.0.0/g1,1.0.0/g2" }, "not seen")
	in.Nodes[1].Metadata = map[string]string{}
	if !reflect.DeepEqual(got[0], in) {
		t.Fatalf("the service came back different:\n got %s\nwant %s", describe(got[0]), describe(in))
	}
}

// GetService of an unknown name is the line's registry.ErrNotFound itself, and so is
// the lookup of a service whose last node left.
func notFound(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	if _, err := b.GetService("nobody", nil); err != line.ErrNotFound {
		t.Fatalf("got %v, want the line's registry.ErrNotFound itself", err)
	}
	must(t, a.Register(service("svc", "v1", "n1"), 0, nil), "register")
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "b sees %q", seenBy(b, "svc"))
	must(t, a.Deregister(service("svc", "v1", "n1"), nil), "deregister")
	eventually(t, within, func() bool { _, err := b.GetService("svc", nil); return err == line.ErrNotFound }, "the last node is still seen")
}

// The line's logger gets the plugin's lines: the warning of endpoints left out of a
// node over the metadata budget.
func loggerGetsWarnings(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	logs := new(Logs)
	r := e.registry(t, Options{Logs: logs})
	in := greeter("1.0.0", "g1")
	in.Endpoints[0].Metadata["doc"] = randomText(3000) // random: the packing compresses
	must(t, r.Register(in, 0, nil), "register")
	if !strings.Contains(logs.Text(), `warn nacos: service "greeter" version "1.0.0": endpoints left out`) {
		t.Fatalf("the line's logger has no warning naming what was left out:\n%s", logs.Text())
	}
}

// describe renders a service for a failure message.
func describe(s *wire.Service) string {
	b, _ := json.Marshal(s)
	return string(b)
}
