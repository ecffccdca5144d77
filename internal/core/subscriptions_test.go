package core

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/testkit"
)

// wantReleased waits until every subscription is released, and checks that each was
// released between expiry after the first lookup and latest after the last one.
func wantReleased(t *testing.T, srv *fakenaming.Server, r *Registry, firstLookup, lastLookup time.Time, expiry, latest time.Duration) {
	t.Helper()
	testkit.Eventually(t, time.Until(lastLookup.Add(latest+slack)), func() bool { return r.Snapshot().Subscriptions == 0 },
		"%d subscriptions left", func() string { return fmt.Sprint(r.Snapshot().Subscriptions) })
	for _, at := range srv.Requests(fakenaming.Unsubscribe) {
		if at.Sub(firstLookup) < expiry || at.Sub(lastLookup) > latest+slack {
			t.Fatalf("released %v after the first lookup and %v after the last, want at least %v and at most %v", at.Sub(firstLookup), at.Sub(lastLookup), expiry, latest)
		}
	}
}

// A subscription a watcher made serves lookups too, with no request of their own; once
// the watcher stops, it is released when the lookup expiry has passed since the last
// lookup (never sooner; later by at most emptyLookupExpiry, see subscriptions.lookup).
func TestALookupKeepsAWatchersSubscriptionForTheLookupExpiry(t *testing.T) {
	t.Parallel()
	const expiry = 200 * time.Millisecond
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient, setting{LookupExpiryKey{}, expiry})
	register(t, r, service("shared", "a"), 0)
	w, err := r.Watch("shared", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantResults(t, w, "create v1/a")
	lookup(t, r, "shared") // subscribes as a lookup too
	firstLookup := time.Now()
	if got := lookup(t, r, "shared"); got != "v1/a" { // answered from the pushed state
		t.Fatalf("GetService found %q, want v1/a", got)
	}
	lastLookup := time.Now()
	if n := requests(srv, fakenaming.Subscribe); n != 1 {
		t.Fatalf("%d subscribe requests, want the watcher's alone", n)
	}
	w.Stop()
	wantReleased(t, srv, r, firstLookup, lastLookup, expiry, expiry+emptyLookupExpiry)
}

// A lookup of a name without instances (a gateway deriving names from URL paths looks
// up names that do not exist) holds its subscription for emptyLookupExpiry at most (5
// s, unscaled), or the lookup expiry if that is shorter.
func TestLookupsOfUnknownNamesAreReleased(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expiry time.Duration // the lookup expiry; 0 for the default
		want   time.Duration
	}{
		{"default expiry", 0, emptyLookupExpiry},
		{"short expiry", 50 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakenaming.NewServer()
			var settings []setting
			if tc.expiry > 0 {
				settings = append(settings, setting{LookupExpiryKey{}, tc.expiry})
			}
			r := newRegistry(t, srv, patient, settings...)
			firstLookup := time.Now()
			for i := range 100 {
				if got := lookup(t, r, fmt.Sprintf("unknown-%d", i)); got != "" {
					t.Fatalf("found %q", got)
				}
			}
			wantReleased(t, srv, r, firstLookup, time.Now(), tc.want, tc.want)
			if n := requests(srv, fakenaming.Unsubscribe); n != 100 {
				t.Fatalf("%d unsubscribe requests, want 100", n)
			}
		})
	}
}

// A lookup waits at most the timeout for Nacos to answer another request about the
// same service: another lookup's subscribe, or the unsubscribe of an expired lookup's.
func TestALookupWaitsForNacosAtMostTheTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		stalled fakenaming.Kind
	}{
		{"another lookup's subscribe", fakenaming.Subscribe},
		{"an expired lookup's unsubscribe", fakenaming.Unsubscribe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakenaming.NewServer()
			r := newRegistry(t, srv, short, setting{LookupExpiryKey{}, 10 * time.Millisecond})
			register(t, r, service("slow", "a"), 0)
			release := stall(t, srv, tc.stalled)
			first := make(chan error, 1)
			go func() {
				_, err := r.GetService("slow", context.Background())
				first <- err
			}()
			testkit.Eventually(t, within, func() bool { return requests(srv, tc.stalled) == 1 }, "no %v request", tc.stalled)
			var err error
			returnsWithin(t, short+slack, "GetService", func() { _, err = r.GetService("slow", context.Background()) })
			if err == nil || !strings.Contains(err.Error(), "no answer from Nacos") {
				t.Fatalf("GetService returned %v, want Nacos not answering", err)
			}
			release()
			if err := <-first; err != nil {
				t.Fatalf("the first GetService returned %v once Nacos answered", err)
			}
			testkit.Eventually(t, within, func() bool { return lookup(t, r, "slow") == "v1/a" }, "GetService does not find the service")
		})
	}
}
