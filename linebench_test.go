package nacos

import (
	"fmt"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/testenv"
)

// The benchmarks of the paths go-micro takes most, which every line runs on the same
// service, for comparison with benchstat. The root module's other benchmarks
// (bench_test.go) go deeper, through the v3 line; the watcher's diff of a 10,000-node
// push is the core's alone (internal/core's BenchmarkWatcherDiff10000), whatever the
// line.

// greeterService looks like what go-micro's RPC server registers (see the contract doc):
// an IPv6 address, nil service metadata, a subscriber endpoint without a response.
func greeterService(endpoints int) *registry.Service {
	s := &registry.Service{
		Name:    "greeter",
		Version: "1.0.0",
		Nodes: []*registry.Node{{
			Id:      "greeter-314f0c6e-3c1b-4c3b-9a55-5f8d7c2a1e90",
			Address: "[fd00::2]:45393",
			Metadata: map[string]string{
				"broker": "http", "protocol": "mucp", "registry": "nacos", "server": "mucp", "transport": "http",
			},
		}},
	}
	for i := 0; i < endpoints; i++ {
		s.Endpoints = append(s.Endpoints, &registry.Endpoint{
			Name: fmt.Sprintf("Greeter.Method%d", i),
			Request: &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{
				{Name: "name", Type: "string"}, {Name: "count", Type: "int32"},
			}},
			Response: &registry.Value{Name: "Response", Type: "Response", Values: []*registry.Value{
				{Name: "msg", Type: "string"},
			}},
			Metadata: map[string]string{},
		})
	}
	s.Endpoints = append(s.Endpoints, &registry.Endpoint{
		Name:     "Func",
		Request:  &registry.Value{Name: "Event", Type: "Event"},
		Metadata: map[string]string{"subscriber": "true", "topic": "topic.a"},
	})
	return s
}

// benchRegistry is a registry on an embedded Nacos (or NACOS_ADDR's) with
// greeterService(20) registered. The registry is the concrete type: through the
// interface the per-call option functions escape to the heap (two allocations more),
// whatever the line.
func benchRegistry(b *testing.B) (*nacosRegistry, *registry.Service) {
	env := testenv.NewConfigEnv(b)
	r := NewRegistry(registry.Addrs(env.Addr), registry.Timeout(3*time.Second), WithNamespace(env.Namespace)).(*nacosRegistry)
	b.Cleanup(func() { r.Close() })
	s := greeterService(20)
	if err := r.Register(s); err != nil {
		b.Fatal(err)
	}
	return r, s
}

// BenchmarkGetServiceCached is a lookup answered from the pushed state: what go-micro's
// selector asks for every call whose cache entry expired.
func BenchmarkGetServiceCached(b *testing.B) {
	r, s := benchRegistry(b)
	if _, err := r.GetService(s.Name); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.GetService(s.Name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegisterUnchanged is go-micro's server re-registering its node every
// RegisterInterval: nothing is sent to Nacos.
func BenchmarkRegisterUnchanged(b *testing.B) {
	r, s := benchRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Register(s, registry.RegisterTTL(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}
