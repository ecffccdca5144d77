package nacos

// Load: thousands of instances and many watchers; memory and goroutines.

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"go.uber.org/goleak"
)

var longLoad = flag.Bool("load", false, "run the long load test of reliability_test.go (10,000 instances, 100 watchers)")

// nodeBits records which nodes a watcher has reported, one bit per node.
type nodeBits struct {
	w       registry.Watcher
	done    chan struct{}
	mu      sync.Mutex
	bits    []uint64
	have    int
	problem string
}

func (b *nodeBits) run(perPublisher int) {
	defer close(b.done)
	for {
		res, err := b.w.Next()
		if err != nil {
			return
		}
		if len(res.Service.Nodes) != 1 || res.Action != "create" {
			b.fail(fmt.Sprintf("unexpected %s of %d nodes", res.Action, len(res.Service.Nodes)))
			continue
		}
		var p, n int
		if _, err := fmt.Sscanf(res.Service.Nodes[0].Id, "p%02d-n%05d", &p, &n); err != nil {
			b.fail("unexpected node " + res.Service.Nodes[0].Id)
			continue
		}
		i := p*perPublisher + n
		b.mu.Lock()
		if i >= len(b.bits)*64 || b.bits[i/64]&(1<<(i%64)) != 0 {
			b.mu.Unlock()
			b.fail("node " + res.Service.Nodes[0].Id + " created twice or out of range")
			continue
		}
		b.bits[i/64] |= 1 << (i % 64)
		b.have++
		b.mu.Unlock()
	}
}

func (b *nodeBits) fail(problem string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.problem == "" {
		b.problem = problem
	}
}

func (b *nodeBits) count() (int, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.have, b.problem
}

func goroutineCount() string { return fmt.Sprint(runtime.NumGoroutine()) }

// loadTest watches one service with watchers watchers spread over readers registries,
// then registers publishers × perPublisher instances of it, each publisher in one batch,
// all at once. Every watcher must end with every node (every push arrives and is
// delivered); the memory of a cached service and of a watcher is measured, and the
// goroutines must come back to their number at the start after Stop and Close.
func loadTest(t *testing.T, publishers, perPublisher, readers, watchers int) {
	total := publishers * perPublisher
	g0, leftAtStart := runtime.NumGoroutine(), goleak.IgnoreCurrent()
	env := newEnv(t)
	pubs := make([]*nacosRegistry, publishers)
	for i := range pubs {
		// A batch of 1,000 instances while the same process serves Nacos and takes the
		// pushes of 100 watchers can take more than the tests' usual 3 s under -race.
		pubs[i] = env.registry(t, registry.Timeout(30*time.Second))
	}
	regs := make([]*nacosRegistry, readers+1) // the last one only looks up, for the cost of a cached service
	for i := range regs {
		regs[i] = env.registry(t)
	}
	looker := regs[readers]
	connect(t, append(append([]*nacosRegistry{}, pubs...), regs...)...)
	gIdle := runtime.NumGoroutine()

	// The watchers, before any instance exists.
	before := heapAlloc()
	ws := make([]*nodeBits, watchers)
	for i := range ws {
		w, err := regs[i%readers].Watch(registry.WatchService("rel-load"))
		must(t, err, "watcher %d", i)
		ws[i] = &nodeBits{w: w, done: make(chan struct{}), bits: make([]uint64, (total+63)/64)}
		go ws[i].run(perPublisher)
	}
	gWatching := runtime.NumGoroutine()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, publishers)
	for p := range pubs {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			s := &registry.Service{Name: "rel-load", Version: "v1"}
			for n := 0; n < perPublisher; n++ {
				s.Nodes = append(s.Nodes, &registry.Node{
					Id:       fmt.Sprintf("p%02d-n%05d", p, n),
					Address:  fmt.Sprintf("10.%d.%d.%d:8080", 100+p, n/250, n%250),
					Metadata: map[string]string{"protocol": "grpc", "zone": fmt.Sprintf("z%d", n%3)},
				})
			}
			errs[p] = pubs[p].Register(s)
		}(p)
	}
	wg.Wait()
	for p, err := range errs {
		must(t, err, "publisher %d", p)
	}
	registeredIn := time.Since(start)
	held := func() int { return env.count(t, env.namespace, "", "rel-load") }
	eventually(t, time.Minute, func() bool { return held() == total },
		"the server holds %s of %d instances", func() string { return fmt.Sprint(held()) }, total)
	inServer := time.Since(start)
	eventually(t, 5*time.Minute, func() bool {
		for _, w := range ws {
			if n, _ := w.count(); n != total {
				return false
			}
		}
		return true
	}, "not every watcher has all %d nodes", total)
	delivered := time.Since(start)
	for i, w := range ws {
		if _, problem := w.count(); problem != "" {
			t.Fatalf("watcher %d: %s", i, problem)
		}
	}
	t.Logf("%d instances registered by %d registries (one batch each) in %s, all in the server after %s; all %d watchers on %d registries had every node after %s",
		total, publishers, millis(registeredIn), millis(inServer), watchers, readers, millis(delivered))
	watching := int64(heapAlloc()) - int64(before)

	// A cached service: the first GetService subscribes and decodes; the heap grows by
	// the SDK's copy of the instance list, the registry's copy and the decoded nodes.
	before = heapAlloc()
	eventually(t, time.Minute, func() bool {
		got, err := looker.GetService("rel-load")
		return err == nil && len(got) == 1 && len(got[0].Nodes) == total
	}, "GetService does not answer %d nodes", total)
	perService := int64(heapAlloc()) - int64(before)
	// Each reading registry holds one such cached service for its watchers.
	perWatcher := (watching - int64(readers)*perService) / int64(watchers)
	t.Logf("memory: a cached service of %d instances %s (%d bytes per instance, the SDK's copy included); a watcher %s (%d bytes per node; the test's %d-byte bitmap included)",
		total, megabytes(perService), perService/int64(total), megabytes(perWatcher), perWatcher/int64(total), (total+63)/64*8)

	for _, w := range ws {
		w.w.Stop()
		<-w.done
	}
	eventually(t, within, func() bool { return runtime.NumGoroutine() <= gIdle }, "after Stop: %s goroutines, %d before the watchers", goroutineCount, gIdle)
	gStopped := runtime.NumGoroutine()
	for _, r := range append(pubs, regs...) {
		r.Close()
	}
	if env.srv != nil {
		env.srv.Close()
	}
	eventually(t, within, func() bool { return goleak.Find(leftAtStart, sdkLeftovers) == nil }, "after Close, goroutines remain: %s",
		func() string { return fmtErr(goleak.Find(leftAtStart, sdkLeftovers)) })
	t.Logf("goroutines: %d at the start, %d with %d idle clients, %d with %d watchers and the test's %d reader goroutines, %d after Stop, %d after Close",
		g0, gIdle, publishers+readers+1, gWatching, watchers, watchers, gStopped, runtime.NumGoroutine())
}

// The default suite's load: 1,000 instances and 10 watchers.
func TestReliabilityLoad(t *testing.T) {
	loadTest(t, 2, 500, 2, 10)
}

// The full load: 10,000 instances from 10 registries and 100 watchers on 4 registries.
// Run it with -load (it takes a while, more so with -race):
//
//	go test -race -run TestReliabilityLoad10000 -load -v .
func TestReliabilityLoad10000(t *testing.T) {
	if !*longLoad {
		t.Skip("the long load test; run with -load")
	}
	loadTest(t, 10, 1000, 4, 100)
}
