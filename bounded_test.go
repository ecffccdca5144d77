package nacos

import (
	"fmt"
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
