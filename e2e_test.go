package nacos

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/broker"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/registry/cache"
	"github.com/asim/go-micro/v3/selector"
	"github.com/asim/go-micro/v3/server"
)

// End to end: go-micro's own consumers of a registry (registry/cache, the selector, the
// RPC client and server) over this one, against the embedded Nacos.

// watchedBy reports whether r has a watcher of exactly this service (go-micro's cache
// starts one for the first service it looks up).
func watchedBy(r *nacosRegistry, service string) bool {
	_, ok := r.core.Snapshot().Reported[service]
	return ok
}

// reportedNodes counts the nodes r's watchers of service have reported so far (-1: none).
func reportedNodes(r *nacosRegistry, service string) int {
	n, ok := r.core.Snapshot().Reported[service]
	if !ok {
		return -1
	}
	return n
}

func watcherCount(r *nacosRegistry) int { return r.core.Snapshot().Watchers }

func TestE2ECacheSeesPushes(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, r := connectedPair(t, env)
	mustRegister(t, a, service("first", "v1", "n1"))
	mustRegister(t, a, service("second", "v1", "n1"))
	eventually(t, within, func() bool { return seen(r, "second") == "v1/n1" && seen(r, "first") == "v1/n1" }, "r sees first %q, second %q", func() string { return seen(r, "first") }, func() string { return seen(r, "second") })

	c := cache.New(r) // default TTL: a minute, far beyond this test
	t.Cleanup(c.Stop) // before r closes: a cache whose watcher fails re-watches forever
	if got := seen(c, "first"); got != "v1/n1" {
		t.Fatalf("cache: first is %q", got)
	}
	// The cache watches the first service it looks up, and only that one (contract §2.4).
	eventually(t, within, func() bool { return watchedBy(r, "first") }, "the cache never watched first")
	if got := seen(c, "second"); got != "v1/n1" {
		t.Fatalf("cache: second is %q", got)
	}

	t.Run("first service: a new and a removed node within one push", func(t *testing.T) {
		start := time.Now()
		mustRegister(t, a, service("first", "v1", "n2"))
		eventually(t, 2*time.Second, func() bool { return seen(c, "first") == "v1/n1,v1/n2" }, "cache sees %q", func() string { return seen(c, "first") })
		t.Logf("new node seen through the cache after %v", time.Since(start))
		start = time.Now()
		mustDeregister(t, a, service("first", "v1", "n1"))
		eventually(t, 2*time.Second, func() bool { return seen(c, "first") == "v1/n2" }, "cache sees %q", func() string { return seen(c, "first") })
		t.Logf("removed node gone from the cache after %v", time.Since(start))
		mustDeregister(t, a, service("first", "v1", "n2")) // the last node
		eventually(t, 2*time.Second, func() bool { _, err := c.GetService("first"); return err == registry.ErrNotFound }, "cache still sees %q", func() string { return seen(c, "first") })
	})

	t.Run("second service: go-micro's cache does not watch it", func(t *testing.T) {
		if n := watcherCount(r); n != 1 {
			t.Fatalf("%d watchers on the registry, want the cache's one", n)
		}
		mustRegister(t, a, service("second", "v1", "n2"))
		eventually(t, within, func() bool { return seen(r, "second") == "v1/n1,v1/n2" }, "r sees %q", func() string { return seen(r, "second") })
		// The registry knows, the cache keeps its copy until the TTL expires: the
		// documented limitation of go-micro v3.7.1's cache.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got := seen(c, "second"); got != "v1/n1" {
				t.Fatalf("cache sees second as %q: go-micro's cache watched a second service after all", got)
			}
		}
	})

	t.Run("second service: workaround, a short cache TTL", func(t *testing.T) {
		c2 := cache.New(r, cache.WithTTL(300*time.Millisecond))
		t.Cleanup(c2.Stop)
		seen(c2, "first") // watched
		if got := seen(c2, "second"); got != "v1/n1,v1/n2" {
			t.Fatalf("cache sees second as %q", got)
		}
		start := time.Now()
		mustRegister(t, a, service("second", "v1", "n3"))
		eventually(t, 3*time.Second, func() bool { return seen(c2, "second") == "v1/n1,v1/n2,v1/n3" }, "cache sees %q", func() string { return seen(c2, "second") })
		mustDeregister(t, a, service("second", "v1", "n1"))
		eventually(t, 3*time.Second, func() bool { return seen(c2, "second") == "v1/n2,v1/n3" }, "cache sees %q", func() string { return seen(c2, "second") })
		t.Logf("with a 300ms TTL the cache caught up with an unwatched service in %v", time.Since(start))
	})
}

// E2EGreeter is an RPC handler that says which node answered.
type E2EGreeter struct{ node string }

type E2EHelloRequest struct {
	Name string `json:"name"`
}

type E2EHelloResponse struct {
	Node string `json:"node"`
}

func (g *E2EGreeter) Hello(ctx context.Context, req *E2EHelloRequest, rsp *E2EHelloResponse) error {
	rsp.Node = g.node
	return nil
}

// startGreeter starts a go-micro RPC server named greeter on loopback, registered
// through r, and returns a function that stops it (once).
func startGreeter(t *testing.T, r registry.Registry, id string) (stop func()) {
	t.Helper()
	srv := server.NewServer(
		server.Name("greeter"),
		server.Id(id),
		server.Registry(r),
		server.Address("127.0.0.1:0"),
		server.Broker(broker.NewBroker(broker.Registry(r))),
	)
	if err := srv.Handle(srv.NewHandler(&E2EGreeter{node: id})); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := srv.Stop(); err != nil {
				t.Errorf("stop server %s: %v", id, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestE2ERPCClientStopsCallingADeregisteredNode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	regs := connectedRegistries(t, env, 3)
	r1, r2, rc := regs[0], regs[1], regs[2]
	startGreeter(t, r1, "one")
	stopTwo := startGreeter(t, r2, "two")

	sel := selector.NewSelector(selector.Registry(rc))
	t.Cleanup(func() { sel.Close() }) // stops the selector's cache before rc closes
	// PoolSize 0: no pooled connections outlive the test.
	cl := client.NewClient(client.Selector(sel), client.Registry(rc), client.PoolSize(0))
	call := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req := cl.NewRequest("greeter", "E2EGreeter.Hello", &E2EHelloRequest{Name: "e2e"}, client.WithContentType("application/json"))
		var rsp E2EHelloResponse
		err := cl.Call(ctx, req, &rsp)
		return rsp.Node, err
	}

	answered := map[string]int{}
	var lastErr error
	eventually(t, 10*time.Second, func() bool {
		node, err := call()
		if err != nil {
			lastErr = err
			return false
		}
		answered[node]++
		return answered["one"] > 0 && answered["two"] > 0
	}, "both nodes never answered: %v (last error %v)", answered, lastErr)
	t.Logf("calls before both nodes answered: %v", answered)
	// Wait until the cache's watch has taken in both nodes, so that the removal below
	// tests the watch rather than the lookup (TestE2ECacheSeesARemovalBeforeItsWatchStarts
	// covers that).
	eventually(t, within, func() bool { return reportedNodes(rc, "greeter") == 2 }, "the client's cache never watched greeter")

	start := time.Now()
	stopTwo() // deregisters its node, then stops
	const inARow = 20
	streak, failures, calls := 0, 0, 0
	var errs []string
	for deadline := time.Now().Add(5 * time.Second); streak < inARow; {
		if time.Now().After(deadline) {
			t.Fatalf("calls did not settle on the remaining node within 5s: %d calls, %d in a row, %d failed: %v", calls, streak, failures, errs)
		}
		node, err := call()
		calls++
		switch {
		case err != nil:
			failures++
			streak = 0
			if len(errs) < 5 {
				errs = append(errs, err.Error())
			}
		case node == "one":
			streak++
		default:
			t.Fatalf("the stopped node %q answered", node)
		}
	}
	t.Logf("%d calls in a row went to the remaining node %v after the other stopped (%d calls failed meanwhile)", inARow, time.Since(start), failures)
	if services, err := sel.Options().Registry.GetService("greeter"); err != nil || nodeIDs(services) != "latest/greeter-one" {
		t.Fatalf("the client's registry sees %s (%v)", nodeIDs(services), err)
	}
}

// slowWatch delays Watch, as go-micro's cache does by up to 99ms of jitter.
type slowWatch struct {
	registry.Registry
	delay time.Duration
}

func (s slowWatch) Watch(opts ...registry.WatchOption) (registry.Watcher, error) {
	time.Sleep(s.delay)
	return s.Registry.Watch(opts...)
}

// TestE2ECacheSeesARemovalBeforeItsWatchStarts: go-micro's cache looks a service up,
// then starts its watch 0-99ms later (random jitter, here made 200ms), and only a
// delete takes a node out of it. A node removed in between must be reported as deleted
// by the new watcher, or the selector keeps picking the dead node until the cache's TTL
// (a minute) expires.
func TestE2ECacheSeesARemovalBeforeItsWatchStarts(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, r := connectedPair(t, env)
	mustRegister(t, a, service("svc", "v1", "n1", "n2"))
	eventually(t, within, func() bool { return seen(r, "svc") == "v1/n1,v1/n2" }, "r sees %q", func() string { return seen(r, "svc") })
	c := cache.New(slowWatch{r, 200 * time.Millisecond})
	t.Cleanup(c.Stop)
	if got := seen(c, "svc"); got != "v1/n1,v1/n2" {
		t.Fatalf("cache sees %q", got)
	}
	mustDeregister(t, a, service("svc", "v1", "n2")) // before the cache watches
	eventually(t, within, func() bool { return seen(r, "svc") == "v1/n1" }, "r sees %q", func() string { return seen(r, "svc") })
	eventually(t, 2*time.Second, func() bool { return seen(c, "svc") == "v1/n1" }, "the cache still sees %q", func() string { return seen(c, "svc") })
}
