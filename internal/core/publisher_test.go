package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
)

var refused = &naming.RefusedError{Reason: "no permission"}

// Changes made while Nacos is still answering an earlier one are published after it,
// in the order they were made: the last Register or Deregister wins.
func TestTheLastChangeWins(t *testing.T) {
	t.Parallel()
	a, b := service("order", "a"), service("order", "b")
	aV2 := service("order", "a")
	aV2.Version = "v2"
	registering := func(s *wire.Service) func(*Registry) error {
		return func(r *Registry) error { return r.Register(s, 0, context.Background()) }
	}
	deregistering := func(s *wire.Service) func(*Registry) error {
		return func(r *Registry) error { return r.Deregister(s, context.Background()) }
	}
	for _, tc := range []struct {
		name    string
		changes []func(*Registry) error
		want    string
	}{
		{"deregistered", []func(*Registry) error{registering(a), deregistering(a)}, ""},
		{"registered again", []func(*Registry) error{registering(a), deregistering(a), registering(aV2)}, "v2/a"},
		{"another node", []func(*Registry) error{registering(a), registering(b)}, "v1/a v1/b"},
		{"one of two deregistered", []func(*Registry) error{registering(a), registering(b), deregistering(a)}, "v1/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakenaming.NewServer()
			r := newRegistry(t, srv, short/4) // every change times out
			release := stall(t, srv, fakenaming.Publish)
			for i, change := range tc.changes {
				wantKeepsTrying(t, change(r)) // Nacos does not answer: each waits out the timeout
				if i == 0 {
					testkit.Eventually(t, within, func() bool { return requests(srv, fakenaming.Publish) == 1 }, "the first change was not sent")
				}
			}
			release()
			eventuallyHeld(t, srv, "order", tc.want)
		})
	}
}

// Registers of one service's nodes made at once end in Nacos holding them all.
func TestConcurrentRegistersEndInTheUnion(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient)
	var ids []string
	var wg sync.WaitGroup
	for i := range 20 {
		id := fmt.Sprintf("n%02d", i)
		ids = append(ids, "v1/"+id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Register(service("union", id), 0, context.Background()); err != nil {
				t.Errorf("register %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	if got, want := held(srv, "union"), strings.Join(ids, " "); got != want {
		t.Fatalf("Nacos holds %q, want %q", got, want)
	}
}

// A registration Nacos fails is retried: one that failed in Nacos after the backoff,
// even across a reconnection (the SDK checks its connection after each such failure:
// were it retried at once, one failing registration would become a storm); one that did
// not reach Nacos as soon as the client has reconnected (though not within minSpacing
// of its last attempt).
func TestFailuresAreRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		reconnect bool
		soon      bool // retried before the backoff ends
	}{
		{"server error", fakenaming.ErrServer, false, false},
		{"server error, reconnected", fakenaming.ErrServer, true, false},
		{"unreachable, reconnected", fakenaming.ErrUnreachable, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakenaming.NewServer()
			r := newRegistry(t, srv, patient)
			srv.Fail(fakenaming.Publish, tc.err)
			err := r.Register(service("retried", "a"), 0, context.Background())
			wantKeepsTrying(t, err)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Register returned %v, want it to say why: %v", err, tc.err)
			}
			srv.Fail(fakenaming.Publish, nil)
			if tc.reconnect {
				client(t, r).Reconnect()
			}
			eventuallyHeld(t, srv, "retried", "v1/a")
			at := srv.Requests(fakenaming.Publish)
			if len(at) != 2 {
				t.Fatalf("%d attempts, want 2", len(at))
			}
			if gap := at[1].Sub(at[0]); gap < firstRetry != tc.soon {
				t.Fatalf("retried %v after the failure; the backoff is %v", gap, firstRetry)
			}
		})
	}
}

// A change Nacos refuses is refused to the caller, once, and never sent again; the
// service goes back to what Nacos held, which is what a reconnection publishes again:
// nothing for a refused first registration, the nodes accepted before for a refused
// later one, the node for a refused deregistration.
func TestARefusalIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		before      []string                // nodes registered before Nacos refuses
		change      func(r *Registry) error // the change refused
		held        string                  // what Nacos holds after the refusal
		republished string                  // and after a reconnection
	}{
		{"first registration", nil, func(r *Registry) error { return r.Register(service("refused", "a"), 0, context.Background()) }, "", ""},
		{"another node", []string{"a"}, func(r *Registry) error { return r.Register(service("refused", "b"), 0, context.Background()) }, "v1/a", "v1/a"},
		{"deregistration", []string{"a"}, func(r *Registry) error { return r.Deregister(service("refused", "a"), context.Background()) }, "v1/a", "v1/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakenaming.NewServer()
			r := newRegistry(t, srv, patient)
			for _, id := range tc.before {
				register(t, r, service("refused", id), 0)
			}
			srv.Fail(fakenaming.Publish, refused)
			if err := tc.change(r); !errors.Is(err, refused) {
				t.Fatalf("the change returned %v, want the refusal", err)
			}
			sent := requests(srv, fakenaming.Publish)
			never(t, firstRetry+slack, func() bool { return requests(srv, fakenaming.Publish) > sent }, "a refused change was sent again")
			if got := held(srv, "refused"); got != tc.held {
				t.Fatalf("after the refusal, Nacos holds %q, want %q", got, tc.held)
			}

			srv.Fail(fakenaming.Publish, nil)
			client(t, r).Reconnect() // Nacos drops what the connection held
			settled(t, srv)
			if got := held(srv, "refused"); got != tc.republished {
				t.Fatalf("after a reconnection, Nacos holds %q, want %q", got, tc.republished)
			}
			if n := r.Snapshot().Publications; (n == 0) != (tc.republished == "") {
				t.Fatalf("the registry holds %d services, and Nacos %q", n, tc.republished)
			}
		})
	}
}

// A node whose TTL ran out and that Nacos refused to withdraw is not withdrawn again
// (Nacos holds it until the connection ends), nor published again after a
// reconnection; the other nodes live on.
func TestARefusedWithdrawalIsNotRetried(t *testing.T) {
	t.Parallel()
	const ttl = 200 * time.Millisecond
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient)
	register(t, r, service("dead", "a"), ttl)
	register(t, r, service("alive", "b"), ttl)
	srv.Fail(fakenaming.Publish, refused)
	renewals := time.NewTicker(ttl / 10) // later expiries are checked for (see publisher.expire)
	defer renewals.Stop()
	for end := time.Now().Add(3 * ttl); time.Now().Before(end); <-renewals.C {
		register(t, r, service("alive", "b"), ttl)
	}
	if n := requests(srv, fakenaming.Publish); n != 3 {
		t.Fatalf("%d requests, want 3: two registrations, one refused withdrawal", n)
	}
	if got := held(srv, "dead"); got != "v1/a" {
		t.Fatalf("Nacos holds %q, want the node it refused to withdraw", got)
	}
	srv.Fail(fakenaming.Publish, nil)
	client(t, r).Reconnect()
	register(t, r, service("alive", "b"), 0) // from now on without a TTL
	settled(t, srv)
	if got := held(srv, "dead") + "|" + held(srv, "alive"); got != "|v1/b" {
		t.Fatalf("after a reconnection, Nacos holds %q of dead|alive, want %q", got, "|v1/b")
	}
}

// A node not registered again within its TTL is withdrawn; registering it again renews
// it, and sends nothing to Nacos. A node registered without a TTL stays.
func TestANodeNotRegisteredAgainWithinItsTTLIsWithdrawn(t *testing.T) {
	t.Parallel()
	const ttl = 200 * time.Millisecond
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient)
	register(t, r, service("ttl", "forever"), 0)
	register(t, r, service("ttl", "renewed"), ttl)
	renewals := time.NewTicker(ttl / 10) // go-micro's re-registration, every RegisterInterval
	defer renewals.Stop()
	var last time.Time
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); <-renewals.C {
		last = time.Now()
		register(t, r, service("ttl", "renewed"), ttl)
		if got := held(srv, "ttl"); got != "v1/forever v1/renewed" {
			t.Fatalf("while renewed, Nacos holds %q", got)
		}
	}
	if n := requests(srv, fakenaming.Publish); n != 2 {
		t.Fatalf("%d requests, want 2: renewing sends nothing", n)
	}
	eventuallyHeld(t, srv, "ttl", "v1/forever")
	if withdrawn := srv.Requests(fakenaming.Publish)[2]; withdrawn.Sub(last) < ttl {
		t.Fatalf("withdrawn %v after it was last registered, within its TTL of %v", withdrawn.Sub(last), ttl)
	}
}

// Dynamic service names cost nothing once deregistered: the registry forgets a service
// once Nacos confirmed it empty, and a reconnection afterwards publishes nothing of it.
func TestDeregisteredServicesAreForgotten(t *testing.T) {
	t.Parallel()
	const cycles = 10000
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient)
	for i := range cycles {
		s := service(fmt.Sprintf("dynamic-%d", i), "a")
		register(t, r, s, 0)
		deregister(t, r, s)
	}
	if n := r.Snapshot().Publications; n != 0 {
		t.Fatalf("the registry holds %d services after they were all deregistered", n)
	}
	sent := requests(srv, fakenaming.Publish)
	client(t, r).Reconnect()
	register(t, r, service("after", "a"), 0) // published once the reconnection is taken in
	never(t, 3*minSpacing, func() bool { return requests(srv, fakenaming.Publish) > sent+1 }, "the reconnection published forgotten services")
}

// An error-response storm is bounded: while Nacos fails every registration, a service
// nobody registers again is asked for again after the backoff, which doubles (attempts
// at 0, 2 s and 6 s, unscaled: two within 5 s); one registered again and again, while
// the connection keeps dropping, at most once per minSpacing, whether Nacos answers
// with errors or does not answer.
func TestAFailingNacosIsNotStormed(t *testing.T) {
	t.Parallel()
	window := 5 * time.Second / timeScale
	failing := func(t *testing.T, err error) (*fakenaming.Server, *Registry, *wire.Service) {
		srv := fakenaming.NewServer()
		r := newRegistry(t, srv, patient)
		srv.Fail(fakenaming.Publish, err)
		s := service("stormed", "a")
		wantKeepsTrying(t, r.Register(s, 0, context.Background()))
		return srv, r, s
	}
	attemptsWithin := func(srv *fakenaming.Server, window time.Duration) int {
		at := srv.Requests(fakenaming.Publish)
		n := 0
		for n < len(at) && at[n].Sub(at[0]) < window {
			n++
		}
		return n
	}

	t.Run("registered once", func(t *testing.T) {
		t.Parallel()
		srv, _, _ := failing(t, fakenaming.ErrServer)
		testkit.Eventually(t, 3*firstRetry+within, func() bool { return requests(srv, fakenaming.Publish) >= 3 }, "not retried")
		at := srv.Requests(fakenaming.Publish)
		if at[1].Sub(at[0]) < firstRetry || at[2].Sub(at[1]) < 2*firstRetry {
			t.Fatalf("attempts after %v and %v, want after the backoff, %v then %v", at[1].Sub(at[0]), at[2].Sub(at[1]), firstRetry, 2*firstRetry)
		}
		if n := attemptsWithin(srv, window); n != 2 {
			t.Fatalf("%d attempts within %v, want 2", n, window)
		}
	})

	for _, tc := range []struct {
		name        string
		err         error
		registering int // goroutines registering again as soon as Register returns
	}{
		{"registered again and again, reconnecting", fakenaming.ErrServer, 4},
		{"unreachable, registered again and again, reconnecting", fakenaming.ErrUnreachable, 4},
		{"unreachable, reconnecting", fakenaming.ErrUnreachable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, r, s := failing(t, tc.err)
			end := srv.Requests(fakenaming.Publish)[0].Add(window)
			var wg sync.WaitGroup
			for range tc.registering {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(end) {
						if err := r.Register(s, 0, context.Background()); err == nil {
							t.Error("Register succeeded while Nacos fails")
							return
						}
					}
				}()
			}
			c := client(t, r)
			flapping := time.NewTicker(time.Millisecond) // the connection, dropped and made again
			defer flapping.Stop()
			for time.Now().Before(end) {
				c.Reconnect()
				<-flapping.C
			}
			wg.Wait()
			if n, most := attemptsWithin(srv, window), int(window/minSpacing)+1; n > most {
				t.Fatalf("%d attempts within %v, want at most %d", n, window, most)
			}
		})
	}
}

// Register and Deregister wait for Nacos at most the timeout, and then say that the
// registry keeps trying.
func TestChangesWaitAtMostTheTimeout(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, short)
	register(t, r, service("stalled", "a"), 0)
	release := stall(t, srv, fakenaming.Publish)
	s := service("stalled", "b")
	for _, change := range []struct {
		name string
		call func() error
	}{
		{"Register", func() error { return r.Register(s, 0, context.Background()) }},
		{"Deregister", func() error { return r.Deregister(s, context.Background()) }},
	} {
		var err error
		returnsWithin(t, short+slack, change.name, func() { err = change.call() })
		wantKeepsTrying(t, err)
	}
	release()
	eventuallyHeld(t, srv, "stalled", "v1/a")
}

// Register waits for Nacos at most the timeout even when a watcher of every service is
// told of the new service: that watcher's subscribe is not Register's to wait for.
func TestRegisterDoesNotWaitForAWatchersSubscribe(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, short)
	w, err := r.Watch("", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release := stall(t, srv, fakenaming.Subscribe)
	returnsWithin(t, short+slack, "Register", func() { err = r.Register(service("announced", "a"), 0, context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	release()
	wantResults(t, w, "create v1/a")
}
