package nacos

// Security: namespaces stay apart, wrong credentials fail clearly, and no credential or
// token appears in an error or a log line.

import (
	"fmt"
	"github.com/micro-registry/nacos/internal/gomicro3"
	"github.com/micro-registry/nacos/internal/microlog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
)

// A registry in namespace A never sees nor changes namespace B, where the same service
// names and node ids live.
func TestReliabilityNamespaceIsolation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	nsA, nsB := "rel-ns-a", "rel-ns-b"
	if env.namespace != "" {
		nsA, nsB = env.namespace+"-a", env.namespace+"-b"
	}
	env.createNamespace(t, nsA)
	env.createNamespace(t, nsB)
	inNamespace := func(ns string) *nacosRegistry {
		return env.registry(t, WithNamespace(ns), WithDiscoveryInterval(100*time.Millisecond))
	}
	a, b, readerA, readerB := inNamespace(nsA), inNamespace(nsB), inNamespace(nsA), inNamespace(nsB)
	connect(t, a, b, readerA, readerB)

	// The same names and ids in both, with different addresses.
	inA := []*registry.Service{service("iso-svc", "v1", "shared", "a1"), service("iso-only-a", "v1", "x")}
	inB := []*registry.Service{service("iso-svc", "v1", "shared", "b1"), service("iso-only-b", "v1", "y")}
	inB[0].Nodes[0].Address = "10.200.0.2:9000"
	for _, s := range inA {
		must(t, a.Register(s), "register in A")
	}
	for _, s := range inB {
		must(t, b.Register(s), "register in B")
	}
	names := []string{"iso-svc", "iso-only-a", "iso-only-b", "iso-new-b"}
	wantA, wantB := stateOf(inA...), stateOf(inB...)
	seenA := func() string { return seenState(readerA, names) }
	seenB := func() string { return seenState(readerB, names) }
	eventually(t, within, func() bool { return seenA() == wantA }, "A sees %s, want %s", seenA, wantA)
	eventually(t, within, func() bool { return seenB() == wantB }, "B sees %s, want %s", seenB, wantB)
	one := watchAndRead(t, readerA, registry.WatchService("iso-svc"))
	all := watchAndRead(t, readerA)
	wantOneA := stateOfNamed(inA, "iso-svc")
	eventually(t, within, func() bool { return one.state() == wantOneA && all.state() == wantA }, "A's watchers: %s / %s", one.state, all.state)
	list, err := readerA.ListServices()
	if got := nameList(list); err != nil || got != "iso-only-a iso-svc" {
		t.Fatalf("ListServices in A: %q, %v", got, err)
	}
	if _, err := readerA.GetService("iso-only-b"); err != registry.ErrNotFound {
		t.Fatalf("A looks up B's service: %v", err)
	}

	// Changes in B never reach A: B adds a node and a service, then A adds a node; once
	// A's watchers have A's change, after many discovery rounds, they have none of B's.
	must(t, b.Register(service("iso-svc", "v1", "b2")), "register in B")
	must(t, b.Register(service("iso-new-b", "v1", "z")), "register in B")
	inB = append(inB, service("iso-svc", "v1", "b2"), service("iso-new-b", "v1", "z"))
	eventually(t, within, func() bool { return seenB() == stateOf(inB...) }, "B sees %s", seenB)
	time.Sleep(500 * time.Millisecond) // five discovery rounds of A's watcher of all services; nothing to wait for
	late := service("iso-svc", "v1", "a2")
	must(t, a.Register(late), "register in A")
	inA = append(inA, late)
	wantA, wantOneA = stateOf(inA...), stateOfNamed(inA, "iso-svc")
	eventually(t, within, func() bool { return one.state() == wantOneA && all.state() == wantA && seenA() == wantA },
		"A sees B's changes or misses its own: watchers %s / %s, GetService %s, want %s", one.state, all.state, seenA, wantA)

	// Deregister in A leaves B intact, whatever it names.
	must(t, a.Deregister(service("iso-svc", "v1", "shared", "b1", "b2")), "deregister in A")
	must(t, a.Deregister(service("iso-only-b", "v1", "y")), "deregister in A")
	inA = []*registry.Service{service("iso-svc", "v1", "a1"), service("iso-only-a", "v1", "x"), late}
	wantA, wantB = stateOf(inA...), stateOf(inB...)
	eventually(t, within, func() bool { return seenA() == wantA && all.state() == wantA }, "A after its deregister: %s / %s, want %s", seenA, all.state, wantA)
	if got := seenB(); got != wantB {
		t.Fatalf("a deregister in A changed B: %s, want %s", got, wantB)
	}
	if got := env.held(t, nsB, "", names...); got != wantB {
		t.Fatalf("a deregister in A changed B on the server: %s, want %s", got, wantB)
	}
	if got := env.held(t, "public", "", names...); got != "" {
		t.Fatalf("the public namespace got %s", got)
	}
	one.check(t, "of iso-svc in A")
	all.check(t, "of all services in A")
}

// captureLogs sends everything logged to a recorder at trace level: the plugin's lines
// through logger.DefaultLogger, and the SDK's, which the plugin sends to the
// DefaultLogger of the moment when no registry named a logger first. Both loggers are
// process-wide and read without synchronisation by every client's goroutines, so the
// test runs in a child process of its own (testkit.RunChecked) and sets them before any
// client exists, for good.
func captureLogs(t *testing.T) *gomicro3.LogRecorder {
	t.Helper()
	if !testkit.InChild(t) {
		t.Fatal("captureLogs changes process-wide loggers: run the test with testkit.RunChecked(t, true, ...)")
	}
	sdkclient.InstallLogger(constant.ClientConfig{}, microlog.Logger(nil)) // SDK lines go to logger.DefaultLogger
	rec := gomicro3.NewLogRecorder()
	logger.DefaultLogger = rec
	return rec
}

// With auth on, wrong credentials fail clearly at every call and register nothing; no
// password and no secret key appears in a log line or an error.
func TestReliabilityWrongCredentialsFailClearlyAndLeakNothing(t *testing.T) {
	testkit.RunChecked(t, true, wrongCredentials)
}

func wrongCredentials(t *testing.T) {
	const (
		badPassword = "rel-wrong-pa55word"
		secretKey   = "rel-secret-key-0123456789"
	)
	log := captureLogs(t)
	env, user, goodPassword := authEnv(t, "nacos", "rel-good-pa55word")
	own := gomicro3.NewLogRecorder()
	good := env.registry(t, WithAuth(user, goodPassword), WithAccessKey("rel-access-key-id", secretKey), WithLogger(own))
	registered := service("rel-sec", "v1", "g1")
	must(t, good.Register(registered), "right credentials")
	eventually(t, within, func() bool { return seenState(good, []string{"rel-sec"}) == stateOf(registered) }, "not seen")
	w := watchAndRead(t, good, registry.WatchService("rel-sec"))
	eventually(t, within, func() bool { return w.state() == stateOf(registered) }, "not watched")

	var errs []string
	for _, creds := range [][2]string{{user, badPassword}, {"intruder", goodPassword}, {user, ""}} {
		bad := env.registry(t, WithAuth(creds[0], creds[1]), WithLogger(own))
		who := fmt.Sprintf("user %q with a wrong password", creds[0])
		if creds[0] != user {
			who = fmt.Sprintf("unknown user %q", creds[0])
		}
		calls := map[string]func() error{
			"Register":     func() error { return bad.Register(service("rel-sec", "v1", "intruder")) },
			"Register new": func() error { return bad.Register(service("rel-sec-new", "v1", "intruder")) },
			"GetService":   func() error { _, err := bad.GetService("rel-sec"); return err },
			"ListServices": func() error { _, err := bad.ListServices(); return err },
			"Watch":        func() error { _, err := bad.Watch(registry.WatchService("rel-sec")); return err },
			"Deregister":   func() error { return bad.Deregister(registered) },
		}
		for name, call := range calls {
			err := call()
			if name == "Deregister" {
				// Nothing was registered through bad, so there is nothing to send.
				if err != nil {
					errs = append(errs, err.Error())
				}
				continue
			}
			mustFailClearly(t, who+": "+name, err)
			if err == registry.ErrNotFound || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("%s: %s must say the login was refused, got %v", who, name, err)
			}
			errs = append(errs, err.Error())
		}
	}
	if got := env.held(t, env.namespace, "", "rel-sec", "rel-sec-new"); got != stateOf(registered) {
		t.Fatalf("wrong credentials changed what is registered: %s", got)
	}
	if got := env.services(t, env.namespace, ""); fmt.Sprint(got) != "[rel-sec]" {
		t.Fatalf("wrong credentials created services: %v", got)
	}
	if got := w.state(); got != stateOf(registered) {
		t.Fatalf("the watcher with the right credentials saw %s", got)
	}
	text := strings.Join(errs, "\n") + "\n" + log.Text() + "\n" + own.Text()
	if !strings.Contains(log.Text(), "nacos-sdk:") {
		t.Fatal("no SDK line was captured: the check below would prove nothing")
	}
	for _, secret := range []string{goodPassword, badPassword, secretKey} {
		if i := strings.Index(text, secret); i >= 0 {
			t.Fatalf("a credential appears in an error or a log line: ...%s...", text[max(0, i-200):min(len(text), i+100)])
		}
	}
	t.Logf("%d errors and %d log lines checked for credentials", len(errs), strings.Count(log.Text(), "\n")+strings.Count(own.Text(), "\n")+2)
}

// No access token appears in a log line, at any level: it is a credential for as long
// as it lives (5 hours by default).
func TestReliabilityAuthTokenNeverLogged(t *testing.T) {
	testkit.RunChecked(t, true, func(t *testing.T) {
		log := captureLogs(t)
		env, user, password := authEnv(t, "nacos", "rel-token-pa55word")
		r := env.registry(t, WithAuth(user, password))
		s := service("rel-token", "v1", "n1")
		mustRegister(t, r, s)
		eventually(t, within, func() bool { return seenState(r, []string{"rel-token"}) == stateOf(s) }, "the registered service is never found")
		token := regexp.MustCompile(`accessToken\W{1,12}(?:value\W{1,4})?([A-Za-z0-9._\-]{8,})`)
		for _, line := range strings.Split(log.Text(), "\n") {
			if token.MatchString(line) {
				t.Fatalf("an access token is logged: %.300s", line)
			}
		}
	})
}
