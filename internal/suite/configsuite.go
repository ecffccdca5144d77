package suite

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testenv"
)

// RunConfig runs the config source's behaviours against the line: reading and merging
// dataIds of every format, watching changes and deletions, skipping malformed content,
// writing, stopping, and bad options. They run one at a time: nacos-sdk-go's config
// clients share a process-wide map of connections that a closing client changes while
// another's listen loop reads it, without a lock (the race detector reports it).
func RunConfig(t *testing.T, line Line) {
	runEach(t, line, []behaviour{
		{"ReadMerges", readMerges},
		{"Missing", missing},
		{"Watch", watchChanges},
		{"Malformed", malformed},
		{"Write", write},
		{"Stop", stopSource},
		{"BadOptions", badSourceOptions},
	})
}

// source returns a source of the line on this env for the dataIds.
func (e *env) source(t testing.TB, o SourceOptions) *Source {
	t.Helper()
	o.Addrs, o.Timeout, o.Namespace = []string{e.Addr}, 3*time.Second, e.Namespace
	if u, p := e.base(Options{}).User, e.base(Options{}).Password; u != "" {
		o.User, o.Password = u, p
	}
	return e.line.source(t, o)
}

// decode is the JSON of a ChangeSet, as go-micro's reader decodes it, after checking
// the ChangeSet is one of go-micro's: JSON, its checksum go-micro's, stamped, from "nacos".
func decode(t testing.TB, cs *ChangeSet) map[string]any {
	t.Helper()
	if cs.Format != "json" || cs.Checksum != fmt.Sprintf("%x", md5.Sum(cs.Data)) || cs.Timestamp.IsZero() || cs.Source != "nacos" {
		t.Fatalf("ChangeSet format %q checksum %q timestamp %v source %q", cs.Format, cs.Checksum, cs.Timestamp, cs.Source)
	}
	var v map[string]any
	if err := json.Unmarshal(cs.Data, &v); err != nil {
		t.Fatalf("ChangeSet data %q: %v", cs.Data, err)
	}
	return v
}

func read(t testing.TB, s *Source) map[string]any {
	t.Helper()
	cs, err := s.Read()
	must(t, err, "Read")
	return decode(t, cs)
}

// next waits for the watcher's next ChangeSet.
func next(t testing.TB, w *SourceWatcher) map[string]any {
	t.Helper()
	got := make(chan *ChangeSet, 1)
	failed := make(chan error, 1)
	go func() {
		cs, err := w.Next()
		if err != nil {
			failed <- err
			return
		}
		got <- cs
	}()
	select {
	case cs := <-got:
		return decode(t, cs)
	case err := <-failed:
		t.Fatalf("Next: %v", err)
	case <-time.After(testenv.ConfigChangeWithin):
		w.Stop()
		t.Fatalf("no change within %v", testenv.ConfigChangeWithin)
	}
	return nil
}

func same(t testing.TB, what string, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		panic(err)
	}
	if !reflect.DeepEqual(got, w) {
		b, _ := json.Marshal(got)
		t.Fatalf("%s: got %s, want %s", what, b, want)
	}
}

// Every format, by extension, merged in order: a key of a later dataId wins.
func readMerges(t *testing.T, line *Line) {
	e := newEnv(t, line)
	e.Publish(t, "app.yaml", "greeting: Hello\nport: 8080\nnested:\n  a: 1\n  b: 2\n")
	e.Publish(t, "app.json", `{"nested": {"b": 3}}`)
	e.Publish(t, "app.toml", "[limits]\ncpu = \"500m\"\n")
	e.Publish(t, "app.properties", "greeting=Bonjour\n")
	s := e.source(t, SourceOptions{DataIDs: []string{"app.yaml", "app.json", "app.toml", "app.properties"}})
	same(t, "merged", read(t, s), `{"greeting":"Bonjour","port":8080,"nested":{"a":1,"b":3},"limits":{"cpu":"500m"}}`)
}

// A dataId that does not exist reads as empty, or is an error under WithRequired.
func missing(t *testing.T, line *Line) {
	e := newEnv(t, line)
	e.Publish(t, "there.yaml", "a: 1")
	same(t, "a missing dataId", read(t, e.source(t, SourceOptions{DataIDs: []string{"there.yaml", "absent.yaml"}})), `{"a":1}`)
	_, err := e.source(t, SourceOptions{DataIDs: []string{"absent.yaml"}, Required: true}).Read()
	if err == nil || !strings.Contains(err.Error(), `"absent.yaml"`) {
		t.Fatalf("a required dataId that does not exist: %v", err)
	}
	clearly(t, "a required dataId that does not exist", err)
}

// A watcher gets every change of the merged content, and a deletion as empty.
func watchChanges(t *testing.T, line *Line) {
	e := newEnv(t, line)
	e.Publish(t, "base.yaml", "a: 1\nb: 1")
	e.Publish(t, "over.yaml", "b: 2")
	s := e.source(t, SourceOptions{DataIDs: []string{"base.yaml", "over.yaml"}})
	same(t, "first", read(t, s), `{"a":1,"b":2}`)
	w, err := s.Watch()
	must(t, err, "Watch")
	t.Cleanup(func() { w.Stop() })
	e.Publish(t, "base.yaml", "a: 5\nb: 1")
	same(t, "after a change", next(t, w), `{"a":5,"b":2}`)
	e.Remove(t, "over.yaml")
	same(t, "after a deletion", next(t, w), `{"a":5,"b":1}`)
}

// Content that does not parse is logged and skipped: the last good content stands and
// the next good change is delivered.
func malformed(t *testing.T, line *Line) {
	e := newEnv(t, line)
	e.Publish(t, "app.yaml", "a: 1")
	logs := new(Logs)
	s := e.source(t, SourceOptions{DataIDs: []string{"app.yaml"}, Logs: logs})
	read(t, s)
	w, err := s.Watch()
	must(t, err, "Watch")
	t.Cleanup(func() { w.Stop() })
	e.Publish(t, "app.yaml", "a: [1")
	testenvEventually(t, func() bool { return strings.Contains(logs.Text(), `"app.yaml"`) }, "no log line about the malformed content:\n%s", logs.Text)
	e.Publish(t, "app.yaml", "a: 2")
	same(t, "the next good content", next(t, w), `{"a":2}`)
}

func testenvEventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	eventually(t, testenv.ConfigChangeWithin, cond, format, args...)
}

// Write publishes to the first dataId, in its format.
func write(t *testing.T, line *Line) {
	e := newEnv(t, line)
	s := e.source(t, SourceOptions{DataIDs: []string{"written.yaml", "other.json"}})
	must(t, s.Write(&ChangeSet{Data: []byte(`{"greeting":"Hallo"}`), Format: "json"}), "Write")
	testenvEventually(t, func() bool {
		content, ok := e.Stored(t, "written.yaml")
		return ok && strings.TrimSpace(content) == "greeting: Hallo"
	}, "written.yaml is not the YAML of what was written")
	same(t, "read after the write", read(t, s), `{"greeting":"Hallo"}`)
}

// Stop unblocks Next, which then returns the line's source.ErrWatcherStopped; Stop is
// idempotent; Close stops the source's watchers too.
func stopSource(t *testing.T, line *Line) {
	e := newEnv(t, line)
	e.Publish(t, "app.yaml", "a: 1")
	s := e.source(t, SourceOptions{DataIDs: []string{"app.yaml"}})
	w, err := s.Watch()
	must(t, err, "Watch")
	ended := make(chan error, 1)
	go func() { _, err := w.Next(); ended <- err }()
	time.Sleep(50 * time.Millisecond)
	must(t, w.Stop(), "Stop")
	must(t, w.Stop(), "a second Stop")
	select {
	case err := <-ended:
		if err != line.ErrSourceStopped {
			t.Fatalf("Next after Stop: %v, want the line's source.ErrWatcherStopped", err)
		}
	case <-time.After(within):
		t.Fatal("Stop did not end a blocked Next")
	}
	other, err := s.Watch()
	must(t, err, "Watch")
	must(t, s.Close(), "Close")
	if _, err := other.Next(); err != line.ErrSourceStopped {
		t.Fatalf("Next after Close: %v", err)
	}
}

// A bad option never panics: Read, Watch and Write say what was wrong.
func badSourceOptions(t *testing.T, line *Line) {
	cases := map[string]SourceOptions{
		"no dataId":          {},
		"bad dataId":         {DataIDs: []string{"a b.yaml"}},
		"unknown extension":  {DataIDs: []string{"app.ini"}},
		"unknown format":     {DataIDs: []string{"app"}, Format: "xml"},
		"bad group":          {DataIDs: []string{"a.yaml"}, Group: "a/b"},
		"bad namespace":      {DataIDs: []string{"a.yaml"}, Namespace: "a b"},
		"empty address list": {DataIDs: []string{"a.yaml"}, Addrs: []string{}},
		"negative timeout":   {DataIDs: []string{"a.yaml"}, Timeout: -time.Second},
		"auth without user":  {DataIDs: []string{"a.yaml"}, Password: "x"},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			s := line.source(t, o)
			_, err := s.Read()
			clearly(t, "Read", err)
			w, err := s.Watch()
			if w != nil {
				w.Stop()
			}
			clearly(t, "Watch", err)
			clearly(t, "Write", s.Write(&ChangeSet{Data: []byte(`{"a":1}`), Format: "json"}))
		})
	}
}
