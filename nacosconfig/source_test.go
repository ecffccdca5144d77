package nacosconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/micro-registry/nacos/internal/gomicro3"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/source"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// decoded is the JSON of a ChangeSet as a Go value.
func decoded(t testing.TB, cs *source.ChangeSet) map[string]interface{} {
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

func read(t testing.TB, s source.Source) map[string]interface{} {
	t.Helper()
	cs, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if cs.Format != "json" || cs.Checksum != cs.Sum() || cs.Timestamp.IsZero() || cs.Source != "nacos" {
		t.Fatalf("ChangeSet format %q checksum %q timestamp %v source %q", cs.Format, cs.Checksum, cs.Timestamp, cs.Source)
	}
	return decoded(t, cs)
}

func TestReadEveryFormat(t *testing.T) {
	env := newEnv(t)
	want := `{"server":{"port":8080,"name":"greeter"},"tags":["a","b"]}`
	contents := map[string]string{
		"app.json": want,
		"app.yaml": "server:\n  port: 8080\n  name: greeter\ntags: [a, b]\n",
		"app.yml":  "# comment\nserver: {port: 8080, name: greeter}\ntags:\n  - a\n  - b\n",
		"app.toml": "tags = [\"a\", \"b\"]\n[server]\nport = 8080\nname = \"greeter\"\n",
	}
	for id, content := range contents {
		env.publish(t, id, content)
		if got := read(t, env.source(t, []string{id})); !reflect.DeepEqual(got, asJSON(t, want)) {
			t.Errorf("%s: got %v", id, got)
		}
	}
	env.publish(t, "app.properties", "# comment\nserver.port = 8080\nserver.name:greeter\n! other comment\nmotd=hello \\\n  world\nunicode=caf\\u00e9\n")
	got := read(t, env.source(t, []string{"app.properties"}))
	wantProps := asJSON(t, `{"server":{"port":"8080","name":"greeter"},"motd":"hello world","unicode":"café"}`)
	if !reflect.DeepEqual(got, wantProps) {
		t.Errorf("properties: got %v", got)
	}
	env.publish(t, "plain", `{"a":1}`)
	if got := read(t, env.source(t, []string{"plain"}, WithFormat("json"))); got["a"] != 1.0 {
		t.Errorf("WithFormat: got %v", got)
	}
}

func TestReadMergesInOrderLaterWins(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "base.yaml", "a: 1\nnested:\n  x: base\n  y: base\n")
	env.publish(t, "local.json", `{"b":2,"nested":{"y":"local"}}`)
	got := read(t, env.source(t, []string{"base.yaml", "local.json"}))
	if want := asJSON(t, `{"a":1,"b":2,"nested":{"x":"base","y":"local"}}`); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = read(t, env.source(t, []string{"local.json", "base.yaml"}))
	if want := asJSON(t, `{"a":1,"b":2,"nested":{"x":"base","y":"base"}}`); !reflect.DeepEqual(got, want) {
		t.Fatalf("reversed: got %v, want %v", got, want)
	}
}

func TestMissingAndRequiredDataIDs(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "there.yaml", "a: 1")
	if got := read(t, env.source(t, []string{"there.yaml", "missing.yaml"})); !reflect.DeepEqual(got, map[string]interface{}{"a": 1.0}) {
		t.Fatalf("a missing dataId is empty: got %v", got)
	}
	_, err := env.source(t, []string{"there.yaml", "missing.yaml"}, WithRequired(true)).Read()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), `"missing.yaml"`) {
		t.Fatalf("WithRequired: %v", err)
	}
}

func TestMalformedContentOnReadNamesTheDataIDAndLine(t *testing.T) {
	env := newEnv(t)
	cases := map[string]string{
		"bad.yaml":       "a: 1\nb: 2\nc: d: e\n",
		"bad.json":       "{\n  \"a\": 1,\n  \"b\": ,\n}",
		"bad.toml":       "a = 1\nb = 2\nc = = 3\n",
		"bad.properties": "a=1\na.b=2\nc=\\u12\n",
	}
	lines := map[string]string{"bad.yaml": "line 3", "bad.json": "line 3", "bad.toml": "line 3", "bad.properties": "line 2"}
	for id, content := range cases {
		env.publish(t, id, content)
		_, err := env.source(t, []string{id}).Read()
		if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), lines[id]) {
			t.Errorf("%s: want an error naming it and %s, got %v", id, lines[id], err)
		}
	}
}

func TestBadOptionsNeverPanic(t *testing.T) {
	cases := map[string][]source.Option{
		"no dataId":           {},
		"empty dataId list":   {WithDataID()},
		"bad dataId":          {WithDataID("a b.yaml")},
		"unknown extension":   {WithDataID("app.ini")},
		"unknown format":      {WithDataID("app"), WithFormat("xml")},
		"bad group":           {WithDataID("a.yaml"), WithGroup("a/b")},
		"bad namespace":       {WithDataID("a.yaml"), WithNamespace("a b")},
		"empty address list":  {WithDataID("a.yaml"), WithAddress([]string{})},
		"bad address":         {WithDataID("a.yaml"), WithAddress([]string{"ftp://nacos"})},
		"negative timeout":    {WithDataID("a.yaml"), WithTimeout(-time.Second)},
		"half an access key":  {WithDataID("a.yaml"), WithAccessKey("ak", "")},
		"auth without user":   {WithDataID("a.yaml"), WithAuth("", "x")},
		"TLS certs in memory": {WithDataID("a.yaml"), WithTLSConfig(&tls.Config{RootCAs: x509.NewCertPool()})},
		"nil option":          {nil},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			s := NewSource(opts...)
			defer s.(interface{ Close() error }).Close()
			_, readErr := s.Read()
			_, watchErr := s.Watch()
			writeErr := s.Write(&source.ChangeSet{Data: []byte(`{"a":1}`), Format: "json"})
			for i, err := range []error{readErr, watchErr, writeErr} {
				if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
					t.Fatalf("call %d: want a nacos: error, got %v", i, err)
				}
			}
		})
	}
}

func TestWatchDeliversEachChangeInOrder(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "live.yaml", "greeting: v0")
	s := env.source(t, []string{"live.yaml"})
	w := watch(t, s)
	for _, v := range []string{"v1", "v2", "v3"} {
		env.publish(t, "live.yaml", "greeting: "+v)
		cs := next(t, w, changeWithin)
		if got := decoded(t, cs)["greeting"]; got != v || cs.Checksum != cs.Sum() || cs.Timestamp.IsZero() {
			t.Fatalf("got %v (checksum %q, timestamp %v), want %s", got, cs.Checksum, cs.Timestamp, v)
		}
	}
	// A change that leaves the config as it was is no change.
	env.publish(t, "live.yaml", "# same\ngreeting: v3")
	env.remove(t, "live.yaml")
	if got := decoded(t, next(t, w, changeWithin)); len(got) != 0 {
		t.Fatalf("a deleted dataId is empty, got %v", got)
	}
}

func TestKeepOnDelete(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "a.yaml", "a: 1")
	env.publish(t, "b.yaml", "b: 1")
	s := env.source(t, []string{"a.yaml", "b.yaml"}, WithKeepOnDelete(true))
	w := watch(t, s)
	env.remove(t, "a.yaml")
	env.publish(t, "b.yaml", "b: 2")
	if got := decoded(t, next(t, w, changeWithin)); !reflect.DeepEqual(got, map[string]interface{}{"a": 1.0, "b": 2.0}) {
		t.Fatalf("got %v: the deleted dataId should keep its last content", got)
	}
}

func TestMalformedPushIsLoggedAndTheLastGoodStands(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "app.yaml", "a: 1")
	log := gomicro3.NewLogRecorder()
	s := env.source(t, []string{"app.yaml"}, WithLogger(log))
	w := watch(t, s)
	env.publish(t, "app.yaml", "a: [broken\n")
	eventually(t, changeWithin, func() bool { return strings.Contains(log.Text(), `"app.yaml"`) }, "no log line about the malformed content: %s", log.Text())
	if !strings.Contains(log.Text(), "line") {
		t.Fatalf("the log line does not say where: %s", log.Text())
	}
	env.publish(t, "app.yaml", "a: 2")
	if got := decoded(t, next(t, w, changeWithin)); got["a"] != 2.0 {
		t.Fatalf("after a malformed push: got %v, want a: 2", got)
	}
}

// An older content that the SDK calls back after a newer one (each callback runs in a
// goroutine of its own) is recognised by its md5 and dropped.
func TestOlderContentCalledBackLateNeverWins(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "app.yaml", "v: 1")
	s := env.source(t, []string{"app.yaml"})
	w := watch(t, s)
	env.publish(t, "app.yaml", "v: 2")
	if got := decoded(t, next(t, w, changeWithin)); got["v"] != 2.0 {
		t.Fatalf("got %v", got)
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	s.changed(c, "app.yaml", "v: 1") // the late callback of the first content
	env.publish(t, "app.yaml", "v: 3")
	if got := decoded(t, next(t, w, changeWithin)); got["v"] != 3.0 {
		t.Fatalf("got %v after an old content came late, want v: 3", got)
	}
}

func TestManyWatchersShareOneListener(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "app.yaml", "v: 0")
	s := env.source(t, []string{"app.yaml"})
	read(t, s)
	var watchers []source.Watcher
	for range 20 {
		w, err := s.Watch()
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, w)
	}
	if srv := env.srv; srv != nil {
		eventually(t, changeWithin, func() bool { return srv.ConfigListeners("", "", "app.yaml") == 1 }, "listeners: %d", srv.ConfigListeners("", "", "app.yaml"))
	}
	env.publish(t, "app.yaml", "v: 1")
	for _, w := range watchers {
		if got := decoded(t, next(t, w, changeWithin)); got["v"] != 1.0 {
			t.Fatalf("got %v", got)
		}
	}
	for _, w := range watchers[1:] {
		w.Stop()
	}
	env.publish(t, "app.yaml", "v: 2")
	if got := decoded(t, next(t, watchers[0], changeWithin)); got["v"] != 2.0 {
		t.Fatalf("the remaining watcher got %v", got)
	}
	watchers[0].Stop()
	s.mu.Lock()
	released := s.client == nil
	s.mu.Unlock()
	if !released {
		t.Fatal("the last watcher to stop kept the SDK client")
	}
	if srv := env.srv; srv != nil {
		eventually(t, 5*time.Second, func() bool { return srv.ConfigListeners("", "", "app.yaml") == 0 }, "Nacos still has a listener")
	}
}

func TestStopIsIdempotentAndUnblocksNext(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml"})
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Next()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Next block; it must return either way
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, source.ErrWatcherStopped) {
			t.Fatalf("Next: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not unblock Next")
	}
	if _, err := w.Next(); !errors.Is(err, source.ErrWatcherStopped) {
		t.Fatalf("Next after Stop: %v", err)
	}
	s.Close()
	if _, err := s.Watch(); err == nil {
		t.Fatal("Watch after Close")
	}
}

// With auth on, a wrong password is refused clearly, naming neither password in the
// error or the log; the right one reads.
func TestAuthRefusal(t *testing.T) {
	user, password := testkit.AuthUser(t, "nacos", "good-secret")
	env := newEnv(t, nacostest.WithAuth(user, password)) // a real Nacos has its own users
	env.publish(t, "app.yaml", "a: 1")
	log := gomicro3.NewLogRecorder()
	_, err := env.source(t, []string{"app.yaml"}, WithAuth(user, "wrong-secret"), WithLogger(log)).Read()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("wrong password: %v", err)
	}
	for _, secret := range []string{"wrong-secret", password} {
		if strings.Contains(err.Error(), secret) || strings.Contains(log.Text(), secret) {
			t.Fatalf("a password appears in the error or the log: %v\n%s", err, log.Text())
		}
	}
	if got := read(t, env.source(t, []string{"app.yaml"}, WithAuth(user, password))); got["a"] != 1.0 {
		t.Fatalf("good password: %v", got)
	}
}

// Each namespace has its own configs; "public" and "" both name the default one (id
// ""), on every Nacos version.
func TestNamespaceIsolation(t *testing.T) {
	env := newEnv(t)
	dataID := fmt.Sprintf("iso-%d.yaml", rand.Int64()) // the public namespace is shared
	dev, test := "dev", "test"
	if env.namespace != "" {
		dev, test = env.namespace+"-dev", env.namespace+"-test"
	}
	for ns, v := range map[string]string{"": "public", dev: "dev", test: "test"} {
		env.publishIn(t, ns, dataID, "ns: "+v)
	}
	if env.srv == nil {
		t.Cleanup(func() { realRemove(t, "", dataID) })
	}
	for ns, want := range map[string]string{"": "public", "public": "public", dev: "dev", test: "test"} {
		if got := read(t, env.source(t, []string{dataID}, WithNamespace(ns))); got["ns"] != want {
			t.Errorf("namespace %q: got %v", ns, got)
		}
	}
}

func TestWriteConvertsToTheFirstDataIDsFormat(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml", "other.json"})
	if err := s.Write(&source.ChangeSet{Data: []byte(`{"server":{"port":8080}}`), Format: "json"}); err != nil {
		t.Fatal(err)
	}
	// Nacos acknowledges a publish a few milliseconds before its queries serve it.
	stored := func() string { content, _ := env.stored(t, "app.yaml"); return content }
	eventually(t, changeWithin, func() bool { return strings.Contains(stored(), "server:\n") }, "stored as %q, want YAML", stored)
	if got := read(t, s); !reflect.DeepEqual(got, asJSON(t, `{"server":{"port":8080}}`)) {
		t.Fatalf("read back %v", got)
	}
	yamlIn := "# kept as written\nserver:\n  port: 9090\n"
	if err := s.Write(&source.ChangeSet{Data: []byte(yamlIn), Format: "yaml"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, changeWithin, func() bool { return stored() == yamlIn }, "stored as %q, want the YAML as given", stored)
	props := env.source(t, []string{"app.properties"})
	err := props.Write(&source.ChangeSet{Data: []byte(`{"hosts":["a","b"]}`), Format: "json"})
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), "list") {
		t.Fatalf("a list into properties: %v", err)
	}
	if err := props.Write(&source.ChangeSet{Data: []byte(`{"a":`), Format: "json"}); err == nil {
		t.Fatal("malformed ChangeSet data was written")
	}
}

// Neither snapshots nor SDK logs are written unless asked for: the SDK's defaults are
// directories beside the executable.
func TestNoFilesUnlessAsked(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "app.yaml", "a: 1")
	s := env.source(t, []string{"app.yaml"})
	read(t, s)
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"cache", "log"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(exe), dir)); !os.IsNotExist(err) {
			t.Errorf("the SDK wrote %s beside the executable (%v)", dir, err)
		}
	}
	if s.cfg.client.LogDir != "" || !s.cfg.client.DisableUseSnapShot {
		t.Fatalf("SDK settings: %+v", s.cfg.client)
	}
	cache := t.TempDir()
	read(t, env.source(t, []string{"app.yaml"}, WithCacheDir(cache)))
	if _, err := os.Stat(filepath.Join(cache, "config")); err != nil {
		t.Fatalf("WithCacheDir: the SDK kept no snapshot: %v", err)
	}
}

// A push that reaches the SDK while a listen round waits for its answer is not lost:
// nacos-sdk-go v2.3.5 ends the round by marking every config Nacos did not report
// changed as in step, over the push's mark, and would not ask again before its
// 5-minute full sync. Here the round about a.yaml's change is answered late, and b.yaml
// changes meanwhile. (With a cache directory, the SDK starts a listener afresh from its
// snapshot: the recovery differs.)
func TestChangePushedDuringAListenRoundIsDelivered(t *testing.T) {
	t.Run("no cache directory", func(t *testing.T) { changePushedDuringAListenRound(t) })
	t.Run("WithCacheDir", func(t *testing.T) { changePushedDuringAListenRound(t, WithCacheDir(t.TempDir())) })
}

func changePushedDuringAListenRound(t *testing.T, opts ...source.Option) {
	env := newEnv(t)
	srv := env.embedded(t, "FailLateAnswer, to answer a listen round late")
	// Names of their own: the SDK's process-wide limit of 5 queries a second per config
	// would make a repeated run (-count) read the snapshot of WithCacheDir.
	a, b := fmt.Sprintf("a-%d.yaml", rand.Int64()), fmt.Sprintf("b-%d.yaml", rand.Int64())
	env.publish(t, a, "a: 0")
	env.publish(t, b, "b: 0")
	s := env.source(t, []string{a, b}, opts...)
	w := watch(t, s)

	undo := srv.FailRequests("ConfigBatchListenRequest", nacostest.FailLateAnswer)
	defer undo()
	acks := srv.Requests("NotifySubscriberResponse") // the SDK acknowledges every push so
	env.publish(t, a, "a: 1")
	eventually(t, changeWithin, func() bool { return srv.HeldAnswers() == 1 }, "the SDK asked nothing about %s's change", a)
	env.publish(t, b, "b: 1")
	eventually(t, changeWithin, func() bool { return srv.Requests("NotifySubscriberResponse") == acks+2 }, "the SDK did not take %s's push", b)
	undo()

	deadline := time.Now().Add(changeWithin)
	for {
		got := decoded(t, next(t, w, time.Until(deadline)))
		if got["a"] == 1.0 && got["b"] == 1.0 {
			return
		}
		if got["b"] != 0.0 {
			t.Fatalf("got %v", got)
		}
	}
}
