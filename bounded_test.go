package nacos

import (
	"fmt"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"go.uber.org/goleak"
)

// A scan of random names (go-micro's API gateway derives service names from URL paths)
// leaves nothing behind: the subscriptions of names without instances are released
// after 5 seconds, an all-services watcher does not subscribe to them, and the server's
// subscribers, the process's goroutines and its memory come back near where they were.
// Here through the SDK and the embedded server (or a real Nacos); the core's own test
// (internal/core) looks up 10,000 names.
func TestRandomLookupsLeaveNothingBehind(t *testing.T) {
	const lookups = 1000
	env := newEnv(t)
	r := env.registry(t)
	mustRegister(t, r, service("real", "v1", "n1"))
	all := watchAndRead(t, r) // a watcher of all services
	eventually(t, within, func() bool { return all.state() != "" }, "the watcher never saw the registered service")
	if _, err := r.GetService("real"); err != nil {
		t.Fatal(err)
	}
	connect(t, r)
	if env.srv != nil {
		quiet(t, env.srv, r)
	}
	keep := goleak.IgnoreCurrent()
	heap0, goroutines0 := heapAlloc(), runtime.NumGoroutine()

	names := make([]string, lookups)
	start := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("no-such-service-%d", rand.Int63())
		if _, err := r.GetService(names[i]); err != registry.ErrNotFound {
			t.Fatalf("GetService(%s): %v, want registry.ErrNotFound", names[i], err)
		}
	}
	took := time.Since(start)
	subscribers := func() int {
		checked := names
		if env.srv == nil {
			checked = names[len(names)-20:] // a real Nacos is asked over HTTP, name by name
		}
		n := 0
		for _, name := range checked {
			n += env.subscribers(t, env.namespace, DefaultGroup, name)
		}
		return n
	}
	atPeak, heapAtPeak := subscribers(), heapAlloc()
	eventually(t, 30*time.Second, func() bool { return subscribers() == 0 && r.core.Snapshot().Subscriptions == 1 },
		"%s subscribers remain on the server, %s subscriptions in the registry", func() string { return fmt.Sprint(subscribers()) },
		func() string { return fmt.Sprint(r.core.Snapshot().Subscriptions) })
	eventually(t, within, func() bool { return goleak.Find(keep) == nil }, "goroutines remain: %s",
		func() string { return fmtErr(goleak.Find(keep)) })
	heap1 := heapAlloc()
	t.Logf("%d lookups of names that do not exist in %v; server subscribers %d right after, 0 once released; goroutines %d before, %d after; heap %s before, %s at the peak, %s after",
		lookups, took.Round(time.Millisecond), atPeak, goroutines0, runtime.NumGoroutine(), megabytes(int64(heap0)), megabytes(int64(heapAtPeak)), megabytes(int64(heap1)))
	if grown := int64(heap1) - int64(heap0); grown > lookups*800 {
		t.Errorf("the heap grew by %s for %d lookups of names that do not exist", megabytes(grown), lookups)
	}
	if got := all.state(); got != stateOf(service("real", "v1", "n1")) {
		t.Errorf("the watcher of all services reports %s", got)
	}
	if _, err := r.GetService("real"); err != nil {
		t.Errorf("GetService of the registered service after the scan: %v", err)
	}
}

// The registry forgets a service once Nacos has confirmed it empty: dynamic service
// names cost nothing once deregistered, and a reconnection registers nothing for them.
func TestDeregisteredServicesAreForgotten(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { // the SDK races with itself as it reconnects
		env := newEnv(t)
		srv := env.embedded(t, "its request counts and dropping its connections")
		r := connectedRegistry(t, env)
		for i := range 50 {
			s := service(fmt.Sprintf("dynamic-%d", i), "v1", "n1")
			mustRegister(t, r, s)
			mustDeregister(t, r, s)
		}
		if n := r.core.Snapshot().Publications; n != 0 {
			t.Fatalf("after 50 register+deregister cycles the registry holds %d services", n)
		}
		kept := service("kept", "v1", "n1")
		mustRegister(t, r, kept)
		quiet(t, srv, r)
		registrations := func() int64 {
			return srv.Requests(nacostest.InstanceRequest) + srv.Requests(nacostest.BatchInstanceRequest)
		}
		before := registrations()
		srv.DropConnections()
		held := func() string { return serverState(srv, "", "", "kept") }
		eventually(t, recovery, func() bool { return held() == stateOf(kept) }, "after the reconnection the server holds %s", held)
		quiet(t, srv, r)
		if n := registrations() - before; n > 2 {
			t.Fatalf("the reconnection sent %d registrations for the 1 service registered (and 50 deregistered)", n)
		}
	})
}

// An error response to every registration is retried with growing delays, and does not
// turn into a storm of requests: the SDK answers each failed request by checking the
// connection and redoing its subscriptions (and, left to itself, its registrations).
func TestServerErrorsOnRegistrationAreNoStorm(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { // the SDK races with itself as it redoes
		env := newEnv(t)
		srv := env.embedded(t, "failing registrations and counting requests")
		r := connectedRegistry(t, env, registry.Timeout(time.Second))
		watchAndRead(t, r, registry.WatchService("storm")) // a subscription the SDK redoes
		quiet(t, srv, r)
		srv.FailRequests(nacostest.InstanceRequest, nacostest.FailWithError)
		registers := func() int64 { return srv.Requests(nacostest.InstanceRequest) }
		subscribes := func() int64 { return srv.Requests(nacostest.SubscribeServiceRequest) }
		r0, s0 := registers(), subscribes()
		mustFailClearly(t, "Register while Nacos fails it", r.Register(service("storm", "v1", "n1")))
		testkit.Consistently(t, 5*time.Second, func() bool { return registers()-r0 <= 8 && subscribes()-s0 <= 3 }, func() string {
			return fmt.Sprintf("Nacos failing every registration got %d register and %d subscribe requests, want at most 8 and 3 in 5s", registers()-r0, subscribes()-s0)
		})
		t.Logf("Nacos failing every registration got %d register and %d subscribe requests in 5s", registers()-r0, subscribes()-s0)
	})
}

// A subscription that a watcher made and lookups then used is released once the
// watcher has stopped and the lookups' expiry has passed.
func TestLookupOfAWatchedServiceIsReleasedAfterTheWatcherStops(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	pub := env.registry(t)
	r := connectedRegistry(t, env, WithLookupExpiry(300*time.Millisecond))
	mustRegister(t, pub, service("shared", "v1", "n1"))
	w := watchAndRead(t, r, registry.WatchService("shared"))
	eventually(t, within, func() bool { return w.state() != "" }, "the watcher saw nothing")
	if _, err := r.GetService("shared"); err != nil {
		t.Fatal(err)
	}
	w.stop()
	subscriptions := func() int { return r.core.Snapshot().Subscriptions }
	eventually(t, within, func() bool { return subscriptions() == 0 }, "%s subscriptions remain", func() string { return fmt.Sprint(subscriptions()) })
	eventually(t, within, func() bool { return env.subscribers(t, env.namespace, DefaultGroup, "shared") == 0 }, "the server still has a subscriber")
}

// A lookup that finds another lookup of the same name still subscribing waits for it at
// most the timeout.
func TestLookupWaitingForAStalledSubscribeIsBounded(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { // the SDK races with itself as it reconnects
		env := newEnv(t)
		srv := env.embedded(t, "stalling subscriptions")
		const timeout = 500 * time.Millisecond
		r := connectedRegistry(t, env, registry.Timeout(timeout))
		undo := srv.FailRequests(nacostest.SubscribeServiceRequest, nacostest.FailTimeout)
		defer undo()
		first := make(chan error, 1)
		go func() { _, err := r.GetService("stalled"); first <- err }()
		eventually(t, within, func() bool { return srv.Requests(nacostest.SubscribeServiceRequest) > 0 }, "the first lookup never subscribed")
		start := time.Now()
		_, err := r.GetService("stalled")
		if took := time.Since(start); took > timeout+250*time.Millisecond {
			t.Fatalf("the second lookup waited %v, with a timeout of %v (%v)", took, timeout, err)
		}
		mustFailClearly(t, "the second lookup", err)
		undo()
		<-first
	})
}

// Close waits for nothing longer than the timeout, even while a watcher of all services
// is stalled subscribing to a service it has just discovered.
func TestCloseWhileDiscoveryStallsIsBounded(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { // the SDK races with itself as it reconnects
		env := newEnv(t)
		srv := env.embedded(t, "stalling subscriptions")
		const timeout = 500 * time.Millisecond
		r := connectedRegistry(t, env, registry.Timeout(timeout), WithDiscoveryInterval(50*time.Millisecond))
		watchAndRead(t, r)
		undo := srv.FailRequests(nacostest.SubscribeServiceRequest, nacostest.FailTimeout)
		defer undo()
		subscribed := srv.Requests(nacostest.SubscribeServiceRequest)
		mustRegister(t, env.registry(t), service("discovered", "v1", "n1"))
		eventually(t, within, func() bool { return srv.Requests(nacostest.SubscribeServiceRequest) > subscribed }, "the watcher never subscribed to the new service")
		start := time.Now()
		r.Close()
		if took := time.Since(start); took > timeout+250*time.Millisecond {
			t.Fatalf("Close took %v, with a timeout of %v", took, timeout)
		}
		undo()
		select {
		case <-r.core.Ended():
		case <-time.After(recovery):
			t.Fatal("the closed registry never ended")
		}
	})
}
