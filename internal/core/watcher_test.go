package core

import (
	"context"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/testkit"
)

// A watcher reports each node created, updated or deleted by another registry, once,
// including the nodes a closed registry's connection took with it.
func TestAWatcherReportsEachChange(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r, other := newRegistry(t, srv, patient), newRegistry(t, srv, patient)
	w, err := r.Watch("watched", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	zoned := service("watched", "a")
	zoned.Nodes[0].Metadata["zone"] = "east"
	v2 := service("watched", "c")
	v2.Version = "v2"
	for _, step := range []struct {
		change func()
		want   []string
	}{
		{func() { register(t, other, service("watched", "a"), 0) }, []string{"create v1/a"}},
		{func() { register(t, other, service("watched", "b"), 0) }, []string{"create v1/b"}},
		{func() { register(t, other, zoned, 0) }, []string{"update v1/a"}},
		{func() { register(t, other, zoned, 0) }, nil}, // unchanged
		{func() { deregister(t, other, service("watched", "b")) }, []string{"delete v1/b"}},
		{func() { register(t, other, v2, 0) }, []string{"create v2/c"}},
		{func() { other.Close() }, []string{"delete v1/a", "delete v2/c"}},
	} {
		step.change()
		wantResults(t, w, step.want...)
	}
}

// A watcher of every service finds a service another registry registered at its next
// discovery, and one its own registry registered at once.
func TestAWatcherOfAllServicesFindsNewOnes(t *testing.T) {
	t.Parallel()
	const interval = 50 * time.Millisecond
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, patient, setting{DiscoveryIntervalKey{}, time.Hour})
	discovering := newRegistry(t, srv, patient, setting{DiscoveryIntervalKey{}, interval})
	register(t, r, service("before", "a"), 0)
	mine, err := r.Watch("", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := discovering.Watch("", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantResults(t, mine, "create v1/a")
	wantResults(t, theirs, "create v1/a")
	register(t, r, service("after", "b"), 0)
	wantResults(t, mine, "create v1/b") // announced: no discovery for an hour
	wantResults(t, theirs, "create v1/b")
}

// Close waits for Nacos at most the timeout, even while a watcher's discovery waits for
// Nacos to list the services; the client closes once the discovery has ended, and
// Nacos drops the registry's nodes.
func TestCloseReturnsWithinTheTimeoutWhileDiscoveryStalls(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r := newRegistry(t, srv, short, setting{DiscoveryIntervalKey{}, 10 * time.Millisecond})
	register(t, r, service("closing", "a"), 0)
	if _, err := r.Watch("", context.Background()); err != nil {
		t.Fatal(err)
	}
	listed := requests(srv, fakenaming.ServiceNames)
	release := stall(t, srv, fakenaming.ServiceNames)
	testkit.Eventually(t, within, func() bool { return requests(srv, fakenaming.ServiceNames) > listed }, "no discovery")
	returnsWithin(t, short+slack, "Close", func() { r.Close() })
	release()
	eventuallyHeld(t, srv, "closing", "")
	if n := srv.Clients(); n != 0 {
		t.Fatalf("%d clients open after Close", n)
	}
}
