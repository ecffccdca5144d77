package nacosconfig

import (
	"github.com/micro-registry/nacos/internal/testenv"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos). The source's behaviour is tested
// in its core's package (internal/configsource); the tests here are the adapter's: its
// options, its translation to go-micro's types and errors, and its examples.
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

// testEnv is a Nacos for one test (testenv.ConfigEnv).
type testEnv struct{ *testenv.ConfigEnv }

func newEnv(t testing.TB, opts ...nacostest.Option) testEnv {
	t.Helper()
	return testEnv{testenv.NewConfigEnv(t, opts...)}
}

// source returns a source of the dataIds on this env, closed when the test ends.
func (e testEnv) source(t testing.TB, dataIDs []string, opts ...source.Option) *nacosSource {
	t.Helper()
	base := []source.Option{WithAddress([]string{e.Addr}), WithTimeout(3 * time.Second), WithDataID(dataIDs...)}
	if e.Namespace != "" {
		base = append(base, WithNamespace(e.Namespace))
	}
	if e.Srv == nil && testkit.RealAuth != "" {
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

// changeWithin is how long a change may take to reach a watcher.
const changeWithin = testenv.ConfigChangeWithin
