package configsource

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

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
		env.Publish(t, id, content)
		if got := read(t, env.source(t, []string{id})); !reflect.DeepEqual(got, asJSON(t, want)) {
			t.Errorf("%s: got %v", id, got)
		}
	}
	env.Publish(t, "app.properties", "# comment\nserver.port = 8080\nserver.name:greeter\n! other comment\nmotd=hello \\\n  world\nunicode=caf\\u00e9\n")
	got := read(t, env.source(t, []string{"app.properties"}))
	wantProps := asJSON(t, `{"server":{"port":"8080","name":"greeter"},"motd":"hello world","unicode":"café"}`)
	if !reflect.DeepEqual(got, wantProps) {
		t.Errorf("properties: got %v", got)
	}
	env.Publish(t, "plain", `{"a":1}`)
	if got := read(t, env.source(t, []string{"plain"}, with(FormatKey{}, "json"))); got["a"] != 1.0 {
		t.Errorf("WithFormat: got %v", got)
	}
}

func TestReadMergesInOrderLaterWins(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "base.yaml", "a: 1\nnested:\n  x: base\n  y: base\n")
	env.Publish(t, "local.json", `{"b":2,"nested":{"y":"local"}}`)
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
	env.Publish(t, "there.yaml", "a: 1")
	if got := read(t, env.source(t, []string{"there.yaml", "missing.yaml"})); !reflect.DeepEqual(got, map[string]interface{}{"a": 1.0}) {
		t.Fatalf("a missing dataId is empty: got %v", got)
	}
	_, err := env.source(t, []string{"there.yaml", "missing.yaml"}, with(RequiredKey{}, true)).Read()
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
		env.Publish(t, id, content)
		_, err := env.source(t, []string{id}).Read()
		if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), lines[id]) {
			t.Errorf("%s: want an error naming it and %s, got %v", id, lines[id], err)
		}
	}
}

// With auth on, a wrong password is refused clearly, naming neither password in the
// error or the log; the right one reads.
func TestAuthRefusal(t *testing.T) {
	user, password := testkit.AuthUser(t, "nacos", "good-secret")
	env := newEnv(t, nacostest.WithAuth(user, password)) // a real Nacos has its own users
	env.Publish(t, "app.yaml", "a: 1")
	log := &testkit.LogLines{}
	_, err := env.source(t, []string{"app.yaml"}, with(sdkclient.AuthKey{}, sdkclient.Credentials{User: user, Secret: "wrong-secret"}), withLogger(log)).Read()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("wrong password: %v", err)
	}
	for _, secret := range []string{"wrong-secret", password} {
		if strings.Contains(err.Error(), secret) || strings.Contains(log.Text(), secret) {
			t.Fatalf("a password appears in the error or the log: %v\n%s", err, log.Text())
		}
	}
	if got := read(t, env.source(t, []string{"app.yaml"}, with(sdkclient.AuthKey{}, sdkclient.Credentials{User: user, Secret: password}))); got["a"] != 1.0 {
		t.Fatalf("good password: %v", got)
	}
}

// Each namespace has its own configs; "public" and "" both name the default one (id
// ""), on every Nacos version.
func TestNamespaceIsolation(t *testing.T) {
	env := newEnv(t)
	dataID := fmt.Sprintf("iso-%d.yaml", rand.Int64()) // the public namespace is shared
	dev, test := "dev", "test"
	if env.Namespace != "" {
		dev, test = env.Namespace+"-dev", env.Namespace+"-test"
	}
	for ns, v := range map[string]string{"": "public", dev: "dev", test: "test"} {
		env.PublishIn(t, ns, dataID, "ns: "+v)
	}
	if env.Srv == nil {
		t.Cleanup(func() { env.RemoveIn(t, "", dataID) })
	}
	for ns, want := range map[string]string{"": "public", "public": "public", dev: "dev", test: "test"} {
		src := env.source(t, []string{dataID}, with(sdkclient.NamespaceKey{}, ns))
		// A real Nacos acknowledges a publish a moment before its queries serve it.
		var got map[string]any
		eventually(t, changeWithin, func() bool { got = read(t, src); return got["ns"] == want }, "namespace %q: got %v", ns, func() string { return fmt.Sprint(got) })
	}
}

func TestWriteConvertsToTheFirstDataIDsFormat(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml", "other.json"})
	if err := s.Write(&ChangeSet{Data: []byte(`{"server":{"port":8080}}`), Format: "json"}); err != nil {
		t.Fatal(err)
	}
	// Nacos acknowledges a publish a few milliseconds before its queries serve it.
	stored := func() string { content, _ := env.Stored(t, "app.yaml"); return content }
	eventually(t, changeWithin, func() bool { return strings.Contains(stored(), "server:\n") }, "stored as %q, want YAML", stored)
	if got := read(t, s); !reflect.DeepEqual(got, asJSON(t, `{"server":{"port":8080}}`)) {
		t.Fatalf("read back %v", got)
	}
	yamlIn := "# kept as written\nserver:\n  port: 9090\n"
	if err := s.Write(&ChangeSet{Data: []byte(yamlIn), Format: "yaml"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, changeWithin, func() bool { return stored() == yamlIn }, "stored as %q, want the YAML as given", stored)
	props := env.source(t, []string{"app.properties"})
	err := props.Write(&ChangeSet{Data: []byte(`{"hosts":["a","b"]}`), Format: "json"})
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), "list") {
		t.Fatalf("a list into properties: %v", err)
	}
	if err := props.Write(&ChangeSet{Data: []byte(`{"a":`), Format: "json"}); err == nil {
		t.Fatal("malformed ChangeSet data was written")
	}
}

// Neither snapshots nor SDK logs are written unless asked for: the SDK's defaults are
// directories beside the executable.
func TestNoFilesUnlessAsked(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "app.yaml", "a: 1")
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
	if s.settings.sdkSettings.LogDir != "" || !s.settings.sdkSettings.DisableUseSnapShot {
		t.Fatalf("SDK settings: %+v", s.settings.sdkSettings)
	}
	cache := t.TempDir()
	read(t, env.source(t, []string{"app.yaml"}, with(sdkclient.CacheDirKey{}, cache)))
	if _, err := os.Stat(filepath.Join(cache, "config")); err != nil {
		t.Fatalf("WithCacheDir: the SDK kept no snapshot: %v", err)
	}
}
