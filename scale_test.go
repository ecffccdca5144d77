package nacos

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/micro-registry/nacos/nacostest"
	"go.uber.org/goleak"
)

// The scale test (issue 13): services × instances registered in batches by many
// registries, while one registry watches every service and 100 watchers each watch one.
// It is not part of the default run; docs/performance.md has the command and figures.
var (
	scaleTest      = flag.Bool("scale", false, "run TestScale (1,000 services of 100 instances by default; minutes)")
	scaleServices  = flag.Int("scale.services", 1000, "services in TestScale")
	scaleInstances = flag.Int("scale.instances", 100, "instances per service in TestScale")
)

const (
	scalePublishers = 50  // registries that register, each its share of the services
	scaleReaders    = 4   // registries that hold the WatchService watchers
	scaleWatchers   = 100 // WatchService watchers, on services spread over the range
)

// scaleWatch follows one watcher's results, keeping the node ids it currently knows.
type scaleWatch struct {
	w       registry.Watcher
	want    int
	mu      sync.Mutex
	nodes   map[string]bool
	results int
	done    chan struct{}
}

func (s *scaleWatch) run() {
	defer close(s.done)
	for {
		res, err := s.w.Next()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.results++
		for _, n := range res.Service.Nodes {
			s.nodes[res.Service.Name+"/"+n.Id] = res.Action != "delete"
			if res.Action == "delete" {
				delete(s.nodes, res.Service.Name+"/"+n.Id)
			}
		}
		s.mu.Unlock()
	}
}

func (s *scaleWatch) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.nodes) == s.want
}

// cpuSeconds is the CPU time the process has used so far: the registries, the SDK, and
// the embedded server, which runs in the same process.
func cpuSeconds() float64 {
	samples := []metrics.Sample{{Name: "/cpu/classes/user:cpu-seconds"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(samples)
	return samples[0].Value.Float64() + samples[1].Value.Float64()
}

func TestScale(t *testing.T) {
	if !*scaleTest {
		t.Skip("the scale test; run with -scale (docs/performance.md)")
	}
	services, perService := *scaleServices, *scaleInstances
	total := services * perService
	name := func(i int) string { return fmt.Sprintf("scale-%04d", i) }
	ours := append([]goleak.Option{goleak.IgnoreCurrent()}, notOurs...)
	g0 := runtime.NumGoroutine()
	env := newEnv(t)
	pubs := make([]*nacosRegistry, min(scalePublishers, services))
	for i := range pubs {
		pubs[i] = env.registry(t, registry.Timeout(30*time.Second))
	}
	all := env.registry(t, WithDiscoveryInterval(time.Second))
	readers := make([]*nacosRegistry, scaleReaders)
	for i := range readers {
		readers[i] = env.registry(t)
	}
	regs := append(append([]*nacosRegistry{all}, pubs...), readers...)
	for _, r := range regs { // every client is up before the clock starts
		if _, err := r.core.Client(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range regs {
		connect(t, r)
	}
	gIdle := runtime.NumGoroutine()
	heapIdle := heapAlloc()

	// The watchers, before any service exists: every push must reach them.
	start := func(r *nacosRegistry, want int, opts ...registry.WatchOption) *scaleWatch {
		w, err := r.Watch(opts...)
		if err != nil {
			t.Fatal(err)
		}
		s := &scaleWatch{w: w, want: want, nodes: map[string]bool{}, done: make(chan struct{})}
		go s.run()
		return s
	}
	watches := []*scaleWatch{start(all, total)}
	for i := 0; i < scaleWatchers; i++ {
		watches = append(watches, start(readers[i%scaleReaders], perService, registry.WatchService(name(i*services/scaleWatchers))))
	}
	lists := func() int64 { // instance lists sent to the registries: pushes and subscribe replies
		if env.srv == nil {
			return 0
		}
		return env.srv.Requests(nacostest.NotifySubscriberResponse) + env.srv.Requests(nacostest.SubscribeServiceRequest)
	}
	lists0 := lists()
	cpu0, t0 := cpuSeconds(), time.Now()

	// Every publisher registers its services one after the other, each as one batch.
	var wg sync.WaitGroup
	var failed atomic.Value
	for p := range pubs {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := p; i < services; i += len(pubs) {
				s := &registry.Service{Name: name(i), Version: "v1"}
				for n := 0; n < perService; n++ {
					s.Nodes = append(s.Nodes, &registry.Node{
						Id:       fmt.Sprintf("n%03d", n),
						Address:  fmt.Sprintf("10.%d.%d.%d:8080", i/250, i%250, n),
						Metadata: map[string]string{"protocol": "grpc", "zone": fmt.Sprintf("z%d", n%3)},
					})
				}
				if err := pubs[p].Register(s); err != nil {
					failed.Store(err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	registered := time.Since(t0)
	eventually(t, 10*time.Minute, func() bool {
		for _, s := range watches {
			if !s.complete() {
				return false
			}
		}
		return true
	}, "not every watcher has every node")
	delivered, cpu := time.Since(t0), cpuSeconds()-cpu0
	sent := lists() - lists0
	heapPeak, gPeak := heapAlloc(), runtime.NumGoroutine()
	results := 0
	for _, s := range watches {
		s.mu.Lock()
		results += s.results
		s.mu.Unlock()
	}

	t.Logf("%d services × %d instances = %d, registered in batches by %d registries in %v: %.0f instances/s",
		services, perService, total, len(pubs), registered.Round(time.Millisecond), float64(total)/registered.Seconds())
	t.Logf("1 registry watching every service and %d WatchService watchers on %d registries: all had every node after %v (%d results)",
		scaleWatchers, scaleReaders, delivered.Round(time.Millisecond), results)
	who := "registries and SDK clients"
	if env.srv != nil {
		who += ", and the embedded server"
	}
	t.Logf("process CPU (%s) %.1f s: %.1f µs per instance delivered to the watchers", who, cpu, cpu*1e6/float64(total+scaleWatchers*perService))
	if sent > 0 {
		t.Logf("%d instance lists (pushes and subscribe replies) sent to the watching registries: %.2f ms of CPU each", sent, cpu*1000/float64(sent))
	}
	t.Logf("live heap: %s with %d idle clients, %s at the peak; goroutines: %d at the start, %d idle, %d at the peak",
		megabytes(int64(heapIdle)), len(regs), megabytes(int64(heapPeak)), g0, gIdle, gPeak)

	for _, s := range watches {
		s.w.Stop()
		<-s.done
		s.nodes = nil
	}
	for _, r := range regs {
		r.Close()
	}
	if env.srv != nil {
		env.srv.Close()
	}
	goleak.VerifyNone(t, ours...)
	pubs, readers, regs, all, watches = nil, nil, nil, nil, nil // what a program would drop after Close
	t.Logf("after Close: live heap %s, %d goroutines", megabytes(int64(heapAlloc())), runtime.NumGoroutine())
}
