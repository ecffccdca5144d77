package suite

import (
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
	"github.com/micro-registry/nacos/nacostest"
)

// restarter returns what restarts the env's Nacos: the embedded server's Restart, or
// the command in NACOS_RESTART for the real one (the test is skipped without it).
func restarter(t *testing.T, e *env) func() {
	t.Helper()
	if e.Srv != nil {
		return func() { must(t, e.Srv.Restart(), "Restart") }
	}
	command := os.Getenv("NACOS_RESTART")
	if command == "" {
		t.Skip("restarts the real Nacos at NACOS_ADDR with the command in NACOS_RESTART (e.g. scripts/real-nacos.sh restart PORT); set both")
	}
	return func() {
		if out, err := exec.Command("sh", "-c", command).CombinedOutput(); err != nil {
			t.Fatalf("NACOS_RESTART %q: %v\n%s", command, err, out)
		}
	}
}

// Refusals: what Nacos would refuse is refused before anything is sent (a cluster name
// its register handler rejects), and what Nacos refuses is refused clearly, not retried,
// and changes nothing (nacostest's refusal).
func refusal(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	r := e.registry(t, Options{Cluster: "east_1"})
	err := r.Register(service("refused-cluster", "v1", "n1"), 0, nil)
	if err == nil || !strings.Contains(err.Error(), `cluster "east_1"`) || strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("a cluster Nacos refuses: %v", err)
	}
	srv := e.Embedded(t, "FailRequests, to refuse a registration")
	ok := e.registry(t, Options{})
	kept := service("refused-kept", "v1", "k1")
	must(t, ok.Register(kept, 0, nil), "register")
	eventually(t, within, func() bool { return seen(ok, "refused-kept") == "v1/k1" }, "not seen")
	undo := srv.FailRequests(nacostest.InstanceRequest, nacostest.FailRefused)
	err = ok.Register(service("refused-new", "v1", "n1"), 0, nil)
	undo()
	if err == nil || !strings.Contains(err.Error(), "refused by the server") || strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("a registration Nacos refused: %v", err)
	}
	time.Sleep(time.Second) // nothing retried meanwhile
	if n := len(srv.Instances("", "", "refused-new")); n != 0 {
		t.Fatalf("the refused registration was retried: the server holds %d instances", n)
	}
	if got := seen(ok, "refused-kept"); got != "v1/k1" {
		t.Fatalf("after a refusal the registered node is %q", got)
	}
}

// Wrong credentials fail clearly, say the login was refused, and never show the password.
func wrongCredentials(t *testing.T, line *Line) {
	t.Parallel()
	user, password := testkit.AuthUser(t, "nacos", "s3cret-pw")
	var e *env
	if testkit.RealNacos == "" {
		e = newEnv(t, line, nacostest.WithAuth(user, password))
	} else {
		e = newEnv(t, line)
	}
	good := e.registry(t, Options{User: user, Password: password})
	must(t, good.Register(service("svc", "v1", "n1"), 0, nil), "right credentials")
	logs := new(Logs)
	bad := e.registry(t, Options{User: user, Password: "wrong-password", Logs: logs})
	err := bad.Register(service("svc", "v1", "n2"), 0, nil)
	clearly(t, "Register with wrong credentials", err)
	if _, err := bad.GetService("svc", nil); err == nil || err == line.ErrNotFound || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("wrong credentials: GetService must say the login was refused, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") || strings.Contains(logs.Text(), "wrong-password") {
		t.Fatal("the password appears in an error or a log line")
	}
}

// Bad input is refused with an error of the plugin's and loses nothing.
func badInput(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	r := e.registry(t, Options{})
	good := service("svc", "v1", "keep")
	must(t, r.Register(good, 0, nil), "register")
	node := func(addr string) *wire.Service {
		return &wire.Service{Name: "svc", Version: "v1", Nodes: []*wire.Node{{Id: "bad", Address: addr}}}
	}
	named := func(name string) *wire.Service { return service(name, "v1", "bad") }
	param := func(p vo.RegisterInstanceParam) func() error {
		return func() error { return r.Register(good, 0, core.WithParam(nil, core.RegisterInstanceParamKey, p)) }
	}
	cases := map[string]func() error{
		"nil service":           func() error { return r.Register(nil, 0, nil) },
		"empty name":            func() error { return r.Register(named(""), 0, nil) },
		"no nodes":              func() error { return r.Register(&wire.Service{Name: "svc"}, 0, nil) },
		"nil node":              func() error { return r.Register(&wire.Service{Name: "svc", Nodes: []*wire.Node{nil}}, 0, nil) },
		"no port":               func() error { return r.Register(node("10.0.0.1"), 0, nil) },
		"port out of range":     func() error { return r.Register(node("10.0.0.1:70000"), 0, nil) },
		"name with @@":          func() error { return r.Register(named("a@@b"), 0, nil) },
		"group Nacos rejects":   param(vo.RegisterInstanceParam{GroupName: "a/b"}),
		"weight NaN":            param(vo.RegisterInstanceParam{Weight: math.NaN()}),
		"negative TTL":          func() error { return r.Register(good, -time.Second, nil) },
		"deregister nil":        func() error { return r.Deregister(nil, nil) },
		"deregister without id": func() error { s := node("10.0.0.1:1"); s.Nodes[0].Id = ""; return r.Deregister(s, nil) },
		"get empty name":        func() error { _, err := r.GetService("", nil); return err },
		"watch bad name":        func() error { _, err := r.Watch("@x", nil); return err },
	}
	for name, call := range cases {
		clearly(t, name, call())
	}
	if got := seen(e.registry(t, Options{}), "svc"); got != "v1/keep" {
		t.Fatalf("after bad input the registered node is %q", got)
	}
}

// A bad option never panics: every method says what was wrong.
func badOptions(t *testing.T, line *Line) {
	t.Parallel()
	cases := map[string]Options{
		"negative timeout":   {Timeout: -time.Second},
		"weight NaN":         {Weight: math.NaN()},
		"weight over 10000":  {Weight: 10001},
		"empty address list": {Addrs: []string{}},
		"empty address":      {Addrs: []string{""}},
		"malformed URL":      {Addrs: []string{"http://[::1"}},
		"bad namespace":      {Namespace: "a b"},
		"bad group":          {Group: "a@@b"},
		"bad cluster":        {Cluster: "a,b"},
		"negative budget":    {MetadataBudget: -1},
		"negative interval":  {DiscoveryInterval: -time.Second},
		"auth without user":  {Password: "x"},
		"half an access key": {AccessKey: "ak"},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if o.Addrs == nil {
				o.Addrs = []string{"127.0.0.1:8848"}
			}
			r := line.newRegistry(t, o)
			clearly(t, "Init", r.Init(Options{}))
			clearly(t, "Register", r.Register(service("svc", "v1", "n"), 0, nil))
			clearly(t, "Deregister", r.Deregister(service("svc", "v1", "n"), nil))
			_, err := r.GetService("svc", nil)
			clearly(t, "GetService", err)
			_, err = r.ListServices(nil)
			clearly(t, "ListServices", err)
			w, err := r.Watch("", nil)
			if w != nil {
				w.Stop()
			}
			clearly(t, "Watch", err)
		})
	}
}

// A closed registry stops its watchers and refuses calls; its nodes leave Nacos.
func closed(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	r, b := e.registry(t, Options{}), e.registry(t, Options{})
	must(t, r.Register(service("svc", "v1", "n1"), 0, nil), "register")
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "not seen")
	w, err := r.Watch("svc", nil)
	must(t, err, "Watch")
	must(t, r.Close(), "Close")
	must(t, r.Close(), "a second Close")
	if _, err := w.Next(); err != line.ErrWatcherStopped {
		t.Fatalf("watcher after Close: %v", err)
	}
	if err := r.Register(service("svc", "v1", "n2"), 0, nil); err != core.ErrClosed {
		t.Fatalf("Register after Close: %v", err)
	}
	eventually(t, within, func() bool { _, err := b.GetService("svc", nil); return err == line.ErrNotFound }, "the closed registry's node is still seen")
}
