package nacos

import (
	"fmt"
	"github.com/micro-registry/nacos/internal/testenv"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
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
	testkit.WaitersInParallel(8) // the tests mostly wait on the server and the SDK
	goleak.VerifyTestMain(m, notOurs...)
}

// notOurs are goroutines that go-micro starts when its packages load (a config loader
// and caches), whatever the registry does, and the one an SDK client leaves behind.
var notOurs = append([]goleak.Option{goleak.IgnoreCurrent(), sdkLeftovers}, testkit.GoMicroGoroutines...)

// sdkLeftovers is the goroutine every SDK naming client leaves behind.
var sdkLeftovers = testkit.SDKPushReceiver

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
	srv := testenv.StartServer(t, opts...)
	return &testEnv{srv: srv, addr: srv.Addr()}
}

// embedded returns the embedded server, or skips the test against a real Nacos,
// saying what of nacostest it needs (its fault injection, mostly).
func (e *testEnv) embedded(t testing.TB, needs string) *nacostest.Server {
	t.Helper()
	return testenv.Embedded(t, e.srv, needs)
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
