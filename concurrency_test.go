package nacos

// Concurrency: many callers at once on one registry, and the orders in which the SDK
// calls back.

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
)

// 50 goroutines register, deregister, look up, list and watch (starting and stopping
// watchers) 200 services at once on one registry, for 3 seconds. Each goroutine owns
// eight (service, node) pairs, sharing services with its neighbours, and remembers
// whether each pair is registered after its last operation; in the end the server,
// another registry, the registry itself and a watcher of all services that ran
// throughout hold exactly that. Under -race the detector must stay silent.
func TestReliabilityConcurrentCallers(t *testing.T) {
	t.Parallel()
	concurrentCallers(t, true)
}

// The same, without looking every service up first: stopping watchers then drop
// subscriptions while other goroutines look the same services up, which exposes the bug
// of TestReliabilityWatchStopRacingALookupKeepsTheSubscription (in about one run in six).
func TestReliabilityConcurrentCallersUnpinned(t *testing.T) {
	t.Parallel()
	concurrentCallers(t, false)
}

// concurrentCallers runs the concurrency test. With pin, the registry looks every service
// up before the goroutines start, so that its subscriptions are kept for its life and
// a stopping watcher never unsubscribes.
func concurrentCallers(t *testing.T, pin bool) {
	const (
		workers  = 50
		services = 200
		pairs    = 8
		run      = 3 * time.Second
	)
	env := newEnv(t)
	r := connectedRegistry(t, env)
	names := make([]string, services)
	for i := range names {
		names[i] = fmt.Sprintf("rel-conc-%03d", i)
	}
	all := watchAndRead(t, r)
	if pin {
		for _, name := range names {
			if _, err := r.GetService(name); err != registry.ErrNotFound {
				t.Fatalf("GetService(%s): %v", name, err)
			}
		}
	}

	type pair struct{ service, node string }
	registered := make([][]bool, workers)
	var ops, lookups, watches atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...interface{}) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		own := make([]pair, pairs)
		for k := range own {
			own[k] = pair{names[(g*4+k)%services], fmt.Sprintf("w%02d-k%d", g, k)}
		}
		registered[g] = make([]bool, pairs)
		wg.Add(1)
		go func(g int, own []pair) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g) + 1))
			var w *watchReader
			stopWatcher := func() {
				if w == nil {
					return
				}
				w.stop()
				w.mu.Lock()
				err, problems := w.err, w.problems
				w.mu.Unlock()
				if err != registry.ErrWatcherStopped {
					fail("worker %d: Next after Stop: %v", g, err)
				}
				if len(problems) > 0 {
					fail("worker %d: watcher: %s", g, strings.Join(problems, "; "))
				}
				w = nil
			}
			defer stopWatcher()
			for time.Now().Before(deadline) {
				ops.Add(1)
				k := rng.Intn(pairs)
				p := own[k]
				switch op := rng.Intn(100); {
				case op < 35:
					if err := r.Register(service(p.service, "v1", p.node)); err != nil {
						fail("worker %d: register %v: %v", g, p, err)
						continue
					}
					registered[g][k] = true
				case op < 60:
					if err := r.Deregister(service(p.service, "v1", p.node)); err != nil {
						fail("worker %d: deregister %v: %v", g, p, err)
						continue
					}
					registered[g][k] = false
				case op < 85:
					lookups.Add(1)
					if _, err := r.GetService(names[rng.Intn(services)]); err != nil && err != registry.ErrNotFound {
						fail("worker %d: GetService: %v", g, err)
					}
				case op < 97:
					if w != nil {
						stopWatcher()
						continue
					}
					watches.Add(1)
					ww, err := r.Watch(registry.WatchService(names[rng.Intn(services)]))
					if err != nil {
						fail("worker %d: Watch: %v", g, err)
						continue
					}
					w = newWatchReader(ww)
				default:
					if _, err := r.ListServices(); err != nil {
						fail("worker %d: ListServices: %v", g, err)
					}
				}
			}
		}(g, own)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("calls failed under concurrency:\n%s", strings.Join(failures, "\n"))
	}
	var final []*registry.Service
	for g := 0; g < workers; g++ {
		for k := 0; k < pairs; k++ {
			if registered[g][k] {
				final = append(final, service(names[(g*4+k)%services], "v1", fmt.Sprintf("w%02d-k%d", g, k)))
			}
		}
	}
	want := stateOf(final...)
	t.Logf("%d operations in %v by %d goroutines on %d services (%d lookups, %d watchers started); %d of %d nodes registered at the end",
		ops.Load(), run, workers, services, lookups.Load(), watches.Load(), len(final), workers*pairs)
	if srv := env.srv; srv != nil {
		eventually(t, within, func() bool { return serverState(srv, "", "", names...) == want },
			"the server does not hold what the callers asked for: %s", func() string { return stateDiff(serverState(srv, "", "", names...), want) })
	}
	other := env.registry(t)
	eventually(t, within, func() bool { return seenState(other, names) == want },
		"another registry's GetService: %s", func() string { return stateDiff(seenState(other, names), want) })
	stale := func() string {
		var out []string
		if env.srv != nil {
			for _, name := range names {
				if seenState(r, []string{name}) != stateOfNamed(final, name) {
					out = append(out, fmt.Sprintf("%s (server subscribers: %d)", name, env.srv.Subscribers("", "", name)))
				}
			}
		}
		return strings.Join(out, ", ")
	}
	eventually(t, within, func() bool { return seenState(r, names) == want }, "the registry's own GetService: %s; stale services: %s",
		func() string { return stateDiff(seenState(r, names), want) }, stale)
	eventually(t, within, func() bool { return all.state() == want }, "the watcher of all services: %s", func() string { return stateDiff(all.state(), want) })
	all.check(t, "of all services")
}

// A watcher that stops while another caller looks the same service up must not leave
// the registry unsubscribed: the lookup's subscription is kept for the registry's life,
// and must keep receiving pushes. subscriptions.release sends the SDK's Unsubscribe
// after letting go of its lock, so it can reach Nacos after the lookup's new Subscribe.
func TestReliabilityWatchStopRacingALookupKeepsTheSubscription(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r, pub := connectedPair(t, env)
	const rounds, parallel = 10, 25
	var names []string
	for i := 0; i < rounds; i++ {
		begin := make(chan struct{})
		var wg sync.WaitGroup
		for j := 0; j < parallel; j++ {
			name := fmt.Sprintf("rel-unsub-%02d-%02d", i, j)
			names = append(names, name)
			w, err := r.Watch(registry.WatchService(name))
			must(t, err, "watch")
			wg.Add(2)
			go func() { defer wg.Done(); <-begin; w.Stop() }()
			go func() {
				defer wg.Done()
				<-begin
				if _, err := r.GetService(name); err != nil && err != registry.ErrNotFound {
					t.Errorf("GetService: %v", err)
				}
			}()
		}
		close(begin)
		wg.Wait()
	}
	// Every service was looked up, so the registry must see what is registered next.
	for _, name := range names {
		mustRegister(t, pub, service(name, "v1", "n1"))
	}
	lost := func() []string {
		var lost []string
		for _, name := range names {
			if seenState(r, []string{name}) != stateOf(service(name, "v1", "n1")) {
				lost = append(lost, fmt.Sprintf("%s (server subscribers %d)", name, env.subscribers(t, env.namespace, "", name)))
			}
		}
		return lost
	}
	eventually(t, within, func() bool { return len(lost()) == 0 }, "in %s of %d rounds the registry stopped receiving pushes for a service it looked up: %s",
		func() string { return fmt.Sprint(len(lost())) }, len(names), func() string { return strings.Join(lost(), ", ") })
}
