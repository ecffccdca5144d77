package nacos

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos). Tests that need fault injection
// or server introspection skip against a real server.
var realNacos = testkit.RealNacos

func TestMain(m *testing.M) {
	// Keep test output readable: the SDK reconnects loudly while tests break things.
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.FatalLevel))
	goleak.VerifyTestMain(m, notOurs...)
}

// notOurs are goroutines that go-micro starts when its packages load (a config loader
// and caches), whatever the registry does, and the one an SDK client leaves behind.
var notOurs = append([]goleak.Option{goleak.IgnoreCurrent(), sdkLeftovers}, testkit.GoMicroGoroutines...)

// sdkLeftovers is the goroutine every SDK client leaves behind: nacos-sdk-go v2.3.5
// starts a UDP push receiver (for Nacos 1.x) with every naming client and never ends
// it. CloseClient cancels its context, but its goroutine stays blocked reading the
// socket until a datagram arrives.
var sdkLeftovers = goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_http.(*PushReceiver).startServer.func1")

// testEnv is a Nacos for one test: its own embedded server, or its own namespace on the
// real server.
type testEnv struct {
	srv       *nacostest.Server // nil against a real Nacos
	addr      string
	namespace string // "" (public) on the embedded server
}

func newEnv(t testing.TB, opts ...nacostest.Option) *testEnv {
	t.Helper()
	if realNacos != "" {
		// math/rand/v2: go-micro seeds math/rand with the time in seconds, so a test's
		// child process would draw the same namespaces as its parent.
		return &testEnv{addr: realNacos, namespace: fmt.Sprintf("test-%d", rand.Int64())}
	}
	return embeddedEnv(t, opts...)
}

// embeddedEnv is a testEnv on an embedded server of its own, even when NACOS_ADDR is
// set (for a second server).
func embeddedEnv(t testing.TB, opts ...nacostest.Option) *testEnv {
	t.Helper()
	srv := testkit.StartServer(t, opts...)
	return &testEnv{srv: srv, addr: srv.Addr()}
}

// embedded returns the embedded server, or skips the test against a real Nacos,
// saying what of nacostest it needs (its fault injection, mostly).
func (e *testEnv) embedded(t testing.TB, needs string) *nacostest.Server {
	t.Helper()
	return testkit.Embedded(t, e.srv, needs)
}

// registry returns a new registry on this env, closed when the test ends.
func (e *testEnv) registry(t testing.TB, opts ...registry.Option) *nacosRegistry {
	t.Helper()
	base := []registry.Option{registry.Addrs(e.addr), registry.Timeout(3 * time.Second)}
	if e.namespace != "" {
		base = append(base, WithNamespace(e.namespace))
	}
	r := NewRegistry(append(base, opts...)...).(*nacosRegistry)
	t.Cleanup(func() { r.Close() })
	return r
}

// eventually polls cond until it holds or the deadline passes (testkit.Eventually).
var eventually = testkit.Eventually

// settled builds r's client and waits until its start-up republish is over, for tests
// whose timing the republish would disturb.
func settled(t testing.TB, r *nacosRegistry) {
	t.Helper()
	c, err := r.namingClient()
	if err != nil {
		t.Fatal(err)
	}
	<-c.(*sdkClient).settled
}

// sdkOf returns r's nacos-sdk-go client, for tests that read Nacos as a plain SDK user
// would.
func sdkOf(t testing.TB, r *nacosRegistry) naming_client.INamingClient {
	t.Helper()
	c, err := r.namingClient()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*sdkClient).sdk
}

// seenBy is seen, evaluated late in eventually's message.
func seenBy(r registry.Registry, name string) func() string {
	return func() string { return seen(r, name) }
}

// service builds a test service with the given node ids on distinct ports.
func service(name, version string, ids ...string) *registry.Service {
	s := &registry.Service{Name: name, Version: version}
	for i, id := range ids {
		s.Nodes = append(s.Nodes, &registry.Node{
			Id: id, Address: fmt.Sprintf("10.0.0.1:%d", 9000+i),
			Metadata: map[string]string{"protocol": "mucp", "node": id},
		})
	}
	return s
}

// nodeIDs lists the node ids of every version, sorted, as "version/id".
func nodeIDs(services []*registry.Service) string {
	var ids []string
	for _, s := range services {
		for _, n := range s.Nodes {
			ids = append(ids, s.Version+"/"+n.Id)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// seen returns the node ids r currently sees for a service ("" for none).
func seen(r registry.Registry, name string) string {
	services, err := r.GetService(name)
	if err != nil {
		return ""
	}
	return nodeIDs(services)
}
