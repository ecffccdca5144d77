package suite

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testenv"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
	"github.com/micro-registry/nacos/nacostest"
)

// within is how long the suite waits for what must happen.
const within = 10 * time.Second

// eventually polls cond until it holds or the deadline passes (testkit.Eventually).
var eventually = testkit.Eventually

// env is a Nacos for one test, and the line under test: its own embedded server, or
// its own namespace on the real Nacos at NACOS_ADDR.
type env struct {
	*testenv.ConfigEnv
	line *Line
}

func newEnv(t testing.TB, line *Line, opts ...nacostest.Option) *env {
	t.Helper()
	return &env{testenv.NewConfigEnv(t, opts...), line}
}

// base are the options every registry of the env has: its address and namespace, and
// the real Nacos's user when it has auth on.
func (e *env) base(o Options) Options {
	if o.Addrs == nil {
		o.Addrs = []string{e.Addr}
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = e.Namespace
	}
	if e.Srv == nil && testkit.RealAuth != "" && o.User == "" {
		o.User, o.Password = testkit.RealCredentials()
	}
	return o
}

// registry returns a new registry of the line on this env, closed when the test ends.
func (e *env) registry(t testing.TB, o Options) *Registry {
	t.Helper()
	return e.line.newRegistry(t, e.base(o))
}

// newRegistry returns a registry of the line with the options, closed when the test ends.
func (l *Line) newRegistry(t testing.TB, o Options) *Registry {
	t.Helper()
	r := l.registry(newWith(l.NewRegistry, l.Options(o)))
	t.Cleanup(func() { r.Close() })
	return r
}

// service builds a service whose nodes have addresses derived from name, version and
// id. Each node's metadata names it.
func service(name, version string, ids ...string) *wire.Service {
	s := &wire.Service{Name: name, Version: version}
	for _, id := range ids {
		h := fnv.New32a()
		h.Write([]byte(name + "\x00" + version + "\x00" + id))
		v := h.Sum32()
		s.Nodes = append(s.Nodes, &wire.Node{
			Id: id, Address: fmt.Sprintf("10.%d.%d.%d:%d", 64+v>>26, v>>18&255, v>>10&255, 1024+v%60000),
			Metadata: map[string]string{"protocol": "mucp", "node": id},
		})
	}
	return s
}

// greeter is service with service metadata and an endpoint whose request and response
// are nested values, as go-micro's server registers a handler.
func greeter(version string, ids ...string) *wire.Service {
	s := service("greeter", version, ids...)
	s.Metadata = map[string]string{"team": "core"}
	s.Endpoints = []*wire.Endpoint{{
		Name: "Greeter.Hello",
		Request: &wire.Value{Name: "Request", Type: "Request", Values: []*wire.Value{
			{Name: "name", Type: "string"},
			{Name: "meta", Type: "Meta", Values: []*wire.Value{{Name: "tags", Type: "[]string"}}},
		}},
		Response: &wire.Value{Name: "Response", Type: "Response", Values: []*wire.Value{{Name: "msg", Type: "string"}}},
		Metadata: map[string]string{"stream": "false"},
	}}
	return s
}

// nodeIDs lists the node ids of every version, sorted, as "version/id".
func nodeIDs(services []*wire.Service) string {
	var ids []string
	for _, s := range services {
		for _, n := range s.Nodes {
			ids = append(ids, s.Version+"/"+n.Id)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// seen is what r's GetService answers for a service, as nodeIDs lists it ("" for none
// or an error).
func seen(r *Registry, name string) string {
	services, err := r.GetService(name, nil)
	if err != nil {
		return ""
	}
	return nodeIDs(services)
}

// seenBy is seen, evaluated late in eventually's message.
func seenBy(r *Registry, name string) func() string {
	return func() string { return seen(r, name) }
}

// randomText is n characters that do not compress.
func randomText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rand.IntN(36)]
	}
	return string(b)
}

// must fails the test if err is not nil.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// clearly fails the test unless err is an error of the plugin's ("nacos: ...").
func clearly(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Errorf("%s: want an error starting with \"nacos: \", got %v", what, err)
	}
}
