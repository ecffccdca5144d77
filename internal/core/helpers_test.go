package core

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
)

// The core's tests run registries over fakenaming, in real time, on the registry's
// delays divided by timeScale: what takes the registry seconds takes them a tenth. They
// state every bound in terms of those delays (firstRetry, minSpacing,
// emptyLookupExpiry), and never sleep for an outcome: they wait for it, with a
// deadline.
const timeScale = 10

func TestMain(m *testing.M) {
	testkit.WaitersInParallel(8) // most tests wait on the registry's delays
	firstRetry /= timeScale
	lastRetry /= timeScale
	minSpacing /= timeScale
	emptyLookupExpiry /= timeScale
	goleak.VerifyTestMain(m)
}

// Timeouts of the registries under test: patient where a call is expected to succeed,
// short where the test waits for a call to give up.
const (
	patient = 5 * time.Second
	short   = 200 * time.Millisecond
)

// within is how long a test waits for what should happen at once.
const within = 5 * time.Second

// slack is how late a call may return after its timeout, or a delay may end.
const slack = 100 * time.Millisecond

// setting is one of the registry's options: a key of settings.go and its value.
type setting struct{ key, value any }

// newRegistry returns a registry over srv with the timeout and the settings, closed
// when the test ends.
func newRegistry(t *testing.T, srv *fakenaming.Server, timeout time.Duration, settings ...setting) *Registry {
	t.Helper()
	ctx := context.Background()
	for _, s := range settings {
		ctx = context.WithValue(ctx, s.key, s.value)
	}
	r := New(func(s *Settings, reconnected func(lost bool)) (naming.Client, error) {
		_, cc := s.SDKConfig()
		return srv.Dial(cc.NamespaceId, reconnected), nil
	})
	if err := r.Init(Options{Addrs: []string{"127.0.0.1:8848"}, Timeout: timeout, Context: ctx}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// stall holds requests of a kind until the test ends, or until the release it returns
// is called.
func stall(t *testing.T, srv *fakenaming.Server, kind fakenaming.Kind) (release func()) {
	release = srv.Stall(kind)
	t.Cleanup(release) // before the registry's Close, which runs first (cleanups run last in, first out)
	return release
}

// client returns the registry's fake client.
func client(t *testing.T, r *Registry) *fakenaming.Client {
	t.Helper()
	c, err := r.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*fakenaming.Client)
}

// service returns version v1 of a service with nodes of the given ids, each at an
// address of its own.
func service(name string, ids ...string) *wire.Service {
	s := &wire.Service{Name: name, Version: "v1"}
	for _, id := range ids {
		s.Nodes = append(s.Nodes, node(id))
	}
	return s
}

// node returns a node with an address of its own: the fake, like Nacos, keeps one
// instance per address.
func node(id string, metadata ...string) *wire.Node {
	h := fnv.New32a()
	h.Write([]byte(id))
	sum := h.Sum32()
	n := &wire.Node{Id: id, Address: fmt.Sprintf("10.%d.%d.%d:8080", sum>>16&255, sum>>8&255, sum&255), Metadata: map[string]string{}}
	for i := 0; i+1 < len(metadata); i += 2 {
		n.Metadata[metadata[i]] = metadata[i+1]
	}
	return n
}

func register(t *testing.T, r *Registry, s *wire.Service, ttl time.Duration) {
	t.Helper()
	if err := r.Register(s, ttl, context.Background()); err != nil {
		t.Fatalf("register %s: %v", describe([]*wire.Service{s}), err)
	}
}

func deregister(t *testing.T, r *Registry, s *wire.Service) {
	t.Helper()
	if err := r.Deregister(s, context.Background()); err != nil {
		t.Fatalf("deregister %s: %v", describe([]*wire.Service{s}), err)
	}
}

// describe lists the nodes of services as version/id, sorted: "" for none.
func describe(services []*wire.Service) string {
	var nodes []string
	for _, s := range services {
		for _, n := range s.Nodes {
			nodes = append(nodes, s.Version+"/"+n.Id)
		}
	}
	slices.Sort(nodes)
	return strings.Join(nodes, " ")
}

// held describes the nodes Nacos holds of a service (of the default group in the
// public namespace), as another client would see them.
func held(srv *fakenaming.Server, name string) string {
	return describeHosts(name, srv.Instances("", naming.ServiceKey{Group: DefaultGroup, Name: name}))
}

// describeHosts describes the nodes of a service's instance list.
func describeHosts(name string, hosts []model.Instance) string {
	return describeVersions(wire.Decode(name, hosts, nil))
}

// describeVersions is describe of the versions' services.
func describeVersions(versions []*wire.Version) string {
	services := make([]*wire.Service, len(versions))
	for i, v := range versions {
		services[i] = v.Service
	}
	return describe(services)
}

// eventuallyHeld waits until Nacos holds exactly the nodes want describes.
func eventuallyHeld(t *testing.T, srv *fakenaming.Server, name, want string) {
	t.Helper()
	testkit.Eventually(t, within, func() bool { return held(srv, name) == want },
		"Nacos holds %q of %s, want %q", func() string { return held(srv, name) }, name, want)
}

// requests says how many requests of a kind the server received.
func requests(srv *fakenaming.Server, kind fakenaming.Kind) int {
	return len(srv.Requests(kind))
}

// never fails the test if cond holds at any time during d.
func never(t *testing.T, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			t.Fatalf(format, args...)
		}
	}
}

// returnsWithin runs f and fails the test unless it returns within d. f runs on a
// goroutine of its own: it must not stop the test (t.Fatal).
func returnsWithin(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
	t.Logf("%s returned after %v", what, time.Since(start).Round(time.Millisecond))
}

// wantKeepsTrying fails the test unless err says that the registry keeps trying.
func wantKeepsTrying(t *testing.T, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "the registry keeps trying") {
		t.Fatalf("got %v, want an error saying that the registry keeps trying", err)
	}
}

// settled waits until the registry has sent no Publish for minSpacing from now on.
func settled(t *testing.T, srv *fakenaming.Server) {
	t.Helper()
	for deadline := time.Now().Add(within); ; {
		n := requests(srv, fakenaming.Publish)
		for quiet := time.Now().Add(minSpacing); time.Now().Before(quiet) && requests(srv, fakenaming.Publish) == n; {
			time.Sleep(time.Millisecond)
		}
		if requests(srv, fakenaming.Publish) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry still publishes after %v", within)
		}
	}
}

// lookup returns what GetService answers for a service, described ("" for not found).
func lookup(t *testing.T, r *Registry, name string) string {
	t.Helper()
	versions, err := r.GetService(name, context.Background())
	if errors.Is(err, ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("GetService(%q): %v", name, err)
	}
	return describeVersions(versions)
}

// wantResults reads what the watcher reports next, described as "action version/id",
// and fails unless it is want, in that order.
func wantResults(t *testing.T, w *Watcher, want ...string) {
	t.Helper()
	got := make(chan string, len(want))
	go func() {
		for range want {
			r, err := w.Next()
			if err != nil {
				got <- err.Error()
				return
			}
			got <- r.Action + " " + describe([]*wire.Service{{Version: r.Service.Version, Nodes: []*wire.Node{r.Node}}})
		}
	}()
	var results []string
	timeout := time.After(within)
	for range want {
		select {
		case r := <-got:
			results = append(results, r)
		case <-timeout:
			t.Fatalf("the watcher reported %q, then nothing for %v; want %q", results, within, want)
		}
	}
	if strings.Join(results, ", ") != strings.Join(want, ", ") {
		t.Fatalf("the watcher reported %q, want %q", results, want)
	}
}
