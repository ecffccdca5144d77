package nacos

import (
	"fmt"
	"maps"
	"sync/atomic"
	"testing"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Benchmarks of the paths go-micro takes most often (issue 13). The other benchmarks:
// BenchmarkGetServiceCached and BenchmarkRegisterUnchanged (linebench_test.go, which
// every line runs), BenchmarkWatcherDiff10000 (internal/core) and
// BenchmarkCodec20Endpoints (internal/wire).

// threeNodeGreeter is a greeter with the two endpoints of go-micro's example server (one
// handler method, one subscriber) on three nodes.
func threeNodeGreeter() *registry.Service {
	s := greeterService(1)
	for i := 2; i <= 3; i++ {
		n := *s.Nodes[0]
		n.Id = fmt.Sprintf("greeter-%d", i)
		n.Address = fmt.Sprintf("[fd00::%d]:45393", i)
		n.Metadata = maps.Clone(n.Metadata)
		s.Nodes = append(s.Nodes, &n)
	}
	return s
}

// BenchmarkGetServiceCached3Nodes is what go-micro's selector asks for every call whose
// cache entry expired, and what the HTTP broker asks for every publish.
func BenchmarkGetServiceCached3Nodes(b *testing.B) {
	env := newEnv(b)
	r := env.registry(b)
	s := threeNodeGreeter()
	mustRegister(b, r, s)
	eventually(b, within, func() bool { return len(seenNodes(r, s.Name)) == 3 }, "3 nodes not seen")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.GetService(s.Name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyForCaller is the floor under GetService, which returns copies the caller
// may change: the copy of the benchmarked services alone, made as GetService makes it.
func BenchmarkCopyForCaller(b *testing.B) {
	for _, c := range []struct {
		name string
		s    *registry.Service
	}{{"3Nodes", threeNodeGreeter()}, {"20Endpoints", greeterService(20)}} {
		b.Run(c.name, func(b *testing.B) {
			w := fromService(c.s) // the core's service, as GetService copies it
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				copySink = []*registry.Service{toService(w, w.Nodes)}
			}
		})
	}
}

// copySink keeps the compiler from dropping BenchmarkCopyForCaller's copies.
var copySink []*registry.Service

// seenNodes returns the nodes r's GetService returns for name, all versions together.
func seenNodes(r registry.Registry, name string) []*registry.Node {
	services, _ := r.GetService(name)
	var nodes []*registry.Node
	for _, s := range services {
		nodes = append(nodes, s.Nodes...)
	}
	return nodes
}

// BenchmarkCachedServiceMemory measures what a registry holds for a service it looked
// up: the heap's growth from the first GetService of a 2,000-node service, per instance,
// and of that the part the SDK holds itself (its cache of the instance list, measured by
// subscribing through the SDK alone).
func BenchmarkCachedServiceMemory(b *testing.B) {
	const n = 2000
	env := newEnv(b)
	pub := env.registry(b)
	s := &registry.Service{Name: "big", Version: "v1", Endpoints: greeterService(1).Endpoints}
	for i := 0; i < n; i++ {
		s.Nodes = append(s.Nodes, &registry.Node{
			Id:       fmt.Sprintf("big-%08x-%04d", i*2654435761, i),
			Address:  fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255),
			Metadata: map[string]string{"broker": "http", "protocol": "mucp", "registry": "nacos", "server": "mucp", "transport": "http"},
		})
	}
	mustRegister(b, pub, s)
	measure := func(b *testing.B, lookUp func(r *nacosRegistry)) {
		var grown int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			r := env.registry(b)
			if _, err := r.ListServices(); err != nil { // the client is built before measuring
				b.Fatal(err)
			}
			before := heapAlloc()
			b.StartTimer()
			lookUp(r)
			b.StopTimer()
			grown += int64(heapAlloc()) - int64(before)
			r.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(grown)/float64(b.N)/n, "B/instance")
	}
	b.Run("registry", func(b *testing.B) {
		measure(b, func(r *nacosRegistry) {
			eventually(b, within, func() bool { return len(seenNodes(r, s.Name)) == n }, "not all %d nodes seen", n)
		})
	})
	b.Run("sdk", func(b *testing.B) {
		measure(b, func(r *nacosRegistry) {
			var got atomic.Int64
			err := sdkOf(b, r).Subscribe(&vo.SubscribeParam{ServiceName: s.Name, SubscribeCallback: func(hosts []model.Instance, err error) {
				got.Store(int64(len(hosts)))
			}})
			if err != nil {
				b.Fatal(err)
			}
			eventually(b, within, func() bool { return got.Load() == n }, "the SDK has %d of %d instances", got.Load(), n)
		})
	})
}
