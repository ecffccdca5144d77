package configsource

import (
	"context"
	"encoding/json"
	"github.com/micro-registry/nacos/internal/testenv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos). Tests that need fault injection
// or server introspection skip against a real server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreCurrent(),
		// The SDK's process-wide log-file writer, which it never closes.
		goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
	)
}

// testEnv is a Nacos for one test (testenv.ConfigEnv).
type testEnv struct{ *testenv.ConfigEnv }

func newEnv(t testing.TB, opts ...nacostest.Option) testEnv {
	t.Helper()
	return testEnv{testenv.NewConfigEnv(t, opts...)}
}

// option sets one of the Options of a test's source.
type option func(*Options)

// with sets the option of key to value.
func with(key, value any) option {
	return func(o *Options) { o.Context = context.WithValue(o.Context, key, value) }
}

// withLogger sends what the source logs to l.
func withLogger(l logging.Logger) option { return func(o *Options) { o.Logger = l } }

// source returns a source of the dataIds on this env, closed when the test ends.
func (e testEnv) source(t testing.TB, dataIDs []string, opts ...option) *Source {
	t.Helper()
	o := Options{Context: context.Background()}
	// The env's namespace and credentials first: the test's own options win.
	if e.Namespace != "" {
		with(sdkclient.NamespaceKey{}, e.Namespace)(&o)
	}
	if e.Srv == nil && testkit.RealAuth != "" {
		user, password := testkit.RealCredentials() // the whole suite can run with auth on
		with(sdkclient.AuthKey{}, sdkclient.Credentials{User: user, Secret: password})(&o)
	}
	for _, opt := range append([]option{with(AddressKey{}, []string{e.Addr}), with(TimeoutKey{}, 3*time.Second), with(DataIDKey{}, dataIDs)}, opts...) {
		opt(&o)
	}
	s, _ := New(o)
	t.Cleanup(func() { s.Close() })
	return s
}

// eventually polls cond until it holds or the deadline passes (testkit.Eventually).
var eventually = testkit.Eventually

// changeWithin is how long a change may take to reach a watcher.
const changeWithin = testenv.ConfigChangeWithin

// read reads s, checking the ChangeSet's fields, and returns its content.
func read(t testing.TB, s *Source) map[string]interface{} {
	t.Helper()
	cs, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if cs.Format != "json" || cs.Checksum != cs.Sum() || cs.Timestamp.IsZero() || cs.Source != Name {
		t.Fatalf("ChangeSet format %q checksum %q timestamp %v source %q", cs.Format, cs.Checksum, cs.Timestamp, cs.Source)
	}
	return decoded(t, cs)
}

// watch reads s, so that its content is what changes are compared with, and watches
// it until the test ends.
func watch(t testing.TB, s *Source) *ChangeWatcher {
	t.Helper()
	read(t, s)
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// next waits for the watcher's next ChangeSet.
func next(t testing.TB, w *ChangeWatcher, within time.Duration) *ChangeSet {
	t.Helper()
	type result struct {
		cs  *ChangeSet
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

// decoded is the JSON of a ChangeSet as a Go value.
func decoded(t testing.TB, cs *ChangeSet) map[string]interface{} {
	t.Helper()
	var v map[string]interface{}
	if err := json.Unmarshal(cs.Data, &v); err != nil {
		t.Fatalf("ChangeSet data %q: %v", cs.Data, err)
	}
	return v
}

func asJSON(t testing.TB, s string) map[string]interface{} {
	t.Helper()
	var v map[string]interface{}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// currentClient returns the source's client, nil if it has none.
func (s *Source) currentClient() *configClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}
