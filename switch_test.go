package nacos

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/micro-registry/nacos/internal/testkit"
)

// Registers racing Init's switch to another server all end up on the new server: what
// Nacos holds is tied to the client that carried it, so a Register sent through the
// old client just before the switch is published again through the new one.
func TestRegisterRacingInitEndsUpOnTheNewServer(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		a, b := newEnv(t), newEnv(t)
		srvA, srvB := a.embedded(t, "instance lists"), b.embedded(t, "instance lists")
		r := connectedRegistry(t, a)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			services []*registry.Service
		)
		servers := []string{b.addr, a.addr, b.addr}
		for round, addr := range servers {
			for i := 0; i < 20; i++ {
				s := service(fmt.Sprintf("switch-%d-%d", round, i), "v1", "n1")
				mu.Lock()
				services = append(services, s)
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.Register(s) // may fail while the old client closes: it stands and is retried
				}()
			}
			must(t, r.Init(registry.Addrs(addr)), "Init")
			wg.Wait()
		}
		final := srvB
		var names []string
		for _, s := range services {
			names = append(names, s.Name)
		}
		state := func() string { return serverState(final, "", "", names...) }
		eventually(t, recovery, func() bool { return state() == stateOf(services...) },
			"the new server holds %s", func() string { return stateDiff(state(), stateOf(services...)) })
		eventually(t, recovery, func() bool { return serverState(srvA, "", "", names...) == "" },
			"the old server still holds %s", func() string { return serverState(srvA, "", "", names...) })
	})
}

// One registry closing while another builds its client must not crash the process:
// nacos-sdk-go v2.3.5's Shutdown deletes from a process-wide map that a build writes.
func TestCloseWhileAnotherBuildsItsClient(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for i := 0; i < 20; i++ {
		closing, building := env.registry(t), env.registry(t)
		if _, err := closing.ListServices(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); building.ListServices() }()
		go func() { defer wg.Done(); time.Sleep(time.Duration(i) * time.Millisecond); closing.Close() }()
		wg.Wait()
		building.Close()
	}
}

// Lists the SDK calls back are copied without racing its in-place sort of the list it
// caches: a publisher switches between instance lists of the same length (the SDK sorts
// the older one when a newer one arrives) while a reader subscribes again and again.
func TestCachedListsAreCopiedWithoutARace(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		env := newEnv(t)
		pub, r := connectedPair(t, env)
		lists := []*registry.Service{service("sorted", "v1", "a", "b", "c"), service("sorted", "v1", "d", "e", "f")}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				mustDeregister(t, pub, lists[(i+1)%2])
				mustRegister(t, pub, lists[i%2])
			}
		}()
		for i := 0; i < 50; i++ {
			w := watchAndRead(t, r, registry.WatchService("sorted"))
			eventually(t, within, func() bool { return w.state() != "" }, "the watcher saw nothing")
			w.stop()
		}
		close(done)
		wg.Wait()
	})
}
