package nacosconfig

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos). Tests that need fault injection
// or server introspection skip against a real server.
var realNacos = testkit.RealNacos

func TestMain(m *testing.M) {
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.FatalLevel))
	goleak.VerifyTestMain(m, append([]goleak.Option{
		goleak.IgnoreCurrent(),
		// The SDK's process-wide log-file writer, which it never closes.
		goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
		// After config.Close, go-micro's loader and config loops sleep a second before
		// they see it (config/default.go, loader/memory/memory.go): theirs, not ours.
		goleak.IgnoreAnyFunction("github.com/asim/go-micro/v3/config.(*config).run"),
		goleak.IgnoreAnyFunction("github.com/asim/go-micro/v3/config/loader/memory.(*memory).watch"),
		goleak.IgnoreAnyFunction("github.com/asim/go-micro/v3/config/loader/memory.(*memory).watch.func2"),
		// Left by the registry's naming clients of TestRegistryClosingWhileASourceReads.
		testkit.SDKPushReceiver,
	}, testkit.GoMicroGoroutines...)...)
}

// testEnv is a Nacos for one test: its own embedded server, or its own namespace on the
// real server.
type testEnv struct {
	srv       *nacostest.Server // nil against a real Nacos
	addr      string
	namespace string
}

func newEnv(t testing.TB, opts ...nacostest.Option) *testEnv {
	t.Helper()
	if realNacos != "" {
		if testkit.RealAuth != "" {
			// The SDK logs in through http.DefaultTransport, whose idle connections to a
			// real Nacos would outlive the test (the embedded server closes them).
			t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
		}
		// math/rand/v2: go-micro seeds math/rand with the time in seconds, so a test's
		// child process would draw the same namespaces as its parent.
		return &testEnv{addr: realNacos, namespace: fmt.Sprintf("test-%d", rand.Int64())}
	}
	srv, err := nacostest.NewServer(opts...)
	if err != nil {
		t.Fatalf("start nacostest: %v", err)
	}
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, addr: srv.Addr()}
}

// embedded returns the embedded server, or skips the test against a real Nacos,
// saying what of nacostest it needs.
func (e *testEnv) embedded(t testing.TB, needs string) *nacostest.Server {
	t.Helper()
	if e.srv == nil {
		t.Skipf("needs nacostest's %s, which a real Nacos lacks (NACOS_ADDR is set)", needs)
	}
	return e.srv
}

// publish stores a config in the env's namespace, group DEFAULT_GROUP.
func (e *testEnv) publish(t testing.TB, dataID, content string) {
	t.Helper()
	e.publishIn(t, e.namespace, dataID, content)
}

// publishIn stores a config in a namespace, group DEFAULT_GROUP.
func (e *testEnv) publishIn(t testing.TB, namespace, dataID, content string) {
	t.Helper()
	if e.srv == nil {
		realPublish(t, namespace, dataID, content)
		return
	}
	if err := e.srv.PublishConfig(namespace, "", dataID, content); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) remove(t testing.TB, dataID string) {
	t.Helper()
	if e.srv == nil {
		realRemove(t, e.namespace, dataID)
		return
	}
	e.srv.RemoveConfig(e.namespace, "", dataID)
}

// stored returns what the server holds of a config of the env's namespace.
func (e *testEnv) stored(t testing.TB, dataID string) (string, bool) {
	t.Helper()
	if e.srv == nil {
		return realConfig(t, e.namespace, dataID)
	}
	return e.srv.Config(e.namespace, "", dataID)
}

// source returns a source of the dataIds on this env, closed when the test ends.
func (e *testEnv) source(t testing.TB, dataIDs []string, opts ...source.Option) *nacosSource {
	t.Helper()
	base := []source.Option{WithAddress([]string{e.addr}), WithTimeout(3 * time.Second), WithDataID(dataIDs...)}
	if e.namespace != "" {
		base = append(base, WithNamespace(e.namespace))
	}
	if e.srv == nil && testkit.RealAuth != "" {
		base = append(base, WithAuth(testkit.RealCredentials())) // the whole suite can run with auth on
	}
	s := NewSource(append(base, opts...)...).(*nacosSource)
	t.Cleanup(func() { s.Close() })
	return s
}

// eventually polls cond until it holds or the deadline passes (testkit.Eventually).
var eventually = testkit.Eventually

// watch reads s, so that its content is what changes are compared with, and watches
// it until the test ends.
func watch(t testing.TB, s source.Source) source.Watcher {
	t.Helper()
	read(t, s)
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

// next waits for the watcher's next ChangeSet.
func next(t testing.TB, w source.Watcher, within time.Duration) *source.ChangeSet {
	t.Helper()
	type result struct {
		cs  *source.ChangeSet
		err error
	}
	got := make(chan result, 1)
	go func() {
		cs, err := w.Next()
		got <- result{cs, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
		return r.cs
	case <-time.After(within):
		w.Stop() // ends the Next above
		<-got
		t.Fatalf("no change within %v", within)
		return nil
	}
}

// changeWithin is how long a change may take to reach a watcher: the push is at once,
// but the SDK asks again only every 5 s after a failed or limited query.
const changeWithin = 15 * time.Second
