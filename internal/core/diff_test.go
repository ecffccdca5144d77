package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/wire"
)

// Diffing lists decoded on the previous ones (wire.Decode's base) must give what
// decoding and diffing from scratch gives: these tests push random sequences of lists
// through both. (That the decoded lists themselves are the same is internal/wire's
// decode_test.go.)

// The metadata keys of wire's encoding (unexported there) that randomLists changes
// directly; randomLists fails if the encoder no longer writes them.
const (
	versionKey = "version"       // the version, where the original plugin kept it
	fieldsKey  = "micro.service" // the packed service fields
)

// endpoints returns n handler endpoints and a subscriber, as go-micro's server
// registers them.
func endpoints(n int) []*wire.Endpoint {
	var eps []*wire.Endpoint
	for i := 0; i < n; i++ {
		eps = append(eps, &wire.Endpoint{
			Name: fmt.Sprintf("Greeter.Method%d", i),
			Request: &wire.Value{Name: "Request", Type: "Request", Values: []*wire.Value{
				{Name: "name", Type: "string"}, {Name: "count", Type: "int32"},
			}},
			Response: &wire.Value{Name: "Response", Type: "Response", Values: []*wire.Value{
				{Name: "msg", Type: "string"},
			}},
			Metadata: map[string]string{},
		})
	}
	return append(eps, &wire.Endpoint{
		Name:     "Func",
		Request:  &wire.Value{Name: "Event", Type: "Event"},
		Metadata: map[string]string{"subscriber": "true", "topic": "topic.a"},
	})
}

// packedFields is what the encoder writes under fieldsKey for service metadata md and
// no endpoints.
func packedFields(md map[string]string) string {
	s := &wire.Service{Name: "svc", Metadata: md, Nodes: []*wire.Node{{Id: "n", Address: "10.0.0.1:80"}}}
	nodes, _, err := wire.Encode(s, wire.InstanceFields{Weight: 1}, wire.MetadataLimit)
	if err != nil {
		panic(err)
	}
	p := nodes[0].Instance.Metadata[fieldsKey]
	if p == "" {
		panic("wire.Encode no longer writes the service fields under " + fieldsKey)
	}
	return p
}

// randomLists returns n instance lists of one service, each a random change of the one
// before: nodes added, removed, changed, moved to another version, repeated, made
// unusable, foreign instances, reorderings; every list newly allocated, as pushes are.
func randomLists(rng *rand.Rand, n int) [][]model.Instance {
	next := 0
	newInstance := func() model.Instance {
		next++
		s := &wire.Service{Name: "svc", Version: fmt.Sprintf("v%d", rng.Intn(3)),
			Metadata: map[string]string{"gen": fmt.Sprint(rng.Intn(2))}, Endpoints: endpoints(rng.Intn(2)),
			Nodes: []*wire.Node{{Id: fmt.Sprintf("n%03d", next), Address: fmt.Sprintf("10.0.%d.%d:80", next/250, next%250),
				Metadata: map[string]string{"zone": fmt.Sprint(rng.Intn(3))}}}}
		if rng.Intn(10) == 0 {
			s.Nodes[0].Id = fmt.Sprintf("n%03d", rng.Intn(next)+1) // an id already used
		}
		nodes, _, err := wire.Encode(s, wire.InstanceFields{Weight: 1, Cluster: []string{"", "east"}[rng.Intn(2)]}, wire.MetadataLimit)
		if err != nil {
			panic(err)
		}
		in := nodes[0].Instance
		if in.Metadata[versionKey] != s.Version || in.Metadata[fieldsKey] == "" {
			panic(fmt.Sprintf("wire.Encode no longer writes the keys %s and %s: %v", versionKey, fieldsKey, in.Metadata))
		}
		if rng.Intn(10) == 0 { // registered by another client
			in.Metadata = map[string]string{versionKey: s.Version}
			in.InstanceId = fmt.Sprintf("%s#%d#DEFAULT#DEFAULT_GROUP@@svc", in.Ip, in.Port)
		}
		return in
	}
	var lists [][]model.Instance
	var cur []model.Instance
	for i := 0; i < 5; i++ {
		cur = append(cur, newInstance())
	}
	for len(lists) < n {
		next := make([]model.Instance, 0, len(cur)+2)
		for _, h := range cur {
			switch rng.Intn(12) {
			case 0: // gone
				continue
			case 1: // changed node metadata
				h.Metadata = maps.Clone(h.Metadata)
				h.Metadata["zone"] += "+"
			case 2: // another version
				h.Metadata = maps.Clone(h.Metadata)
				h.Metadata[versionKey] += "+"
			case 3: // not served
				h.Healthy = !h.Healthy
			case 4: // new service fields
				h.Metadata = maps.Clone(h.Metadata)
				if p := h.Metadata[fieldsKey]; p != "" {
					h.Metadata[fieldsKey] = packedFields(map[string]string{"gen": p[len(p)-6:]})
				}
			}
			next = append(next, h)
		}
		for rng.Intn(2) == 0 {
			next = append(next, newInstance())
		}
		if rng.Intn(4) == 0 {
			rng.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
		}
		cur = next
		lists = append(lists, clonedInstances(cur))
	}
	return lists
}

// clonedInstances copies instances deeply, as each push arrives.
func clonedInstances(hosts []model.Instance) []model.Instance {
	out := make([]model.Instance, len(hosts))
	for i, h := range hosts {
		out[i] = h
		out[i].Metadata = make(map[string]string, len(h.Metadata))
		for k, v := range h.Metadata {
			out[i].Metadata[k] = strings.Clone(v)
		}
	}
	return out
}

// describeResults shows results in full, to compare them.
func describeResults(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		eps, _ := json.Marshal(r.Service.Endpoints)
		fmt.Fprintf(&b, "%s %s %s %+v %v %s\n", r.Action, r.Service.Version, r.Node.Id, *r.Node, r.Service.Metadata, eps)
	}
	return b.String()
}

func TestDiffOfListsDecodedOnThePreviousOnes(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var base []*wire.Version
		var reportedFresh, reportedReused map[string]*wire.Version
		for i, hosts := range randomLists(rng, 8) {
			fresh := wire.Decode("svc", clonedInstances(hosts), nil)
			reused := wire.Decode("svc", hosts, base)
			var want, got []Result
			want, reportedFresh = diff(reportedFresh, fresh)
			got, reportedReused = diff(reportedReused, reused)
			if a, b := describeResults(want), describeResults(got); a != b {
				t.Fatalf("seed %d list %d: diff of lists decoded on the previous ones:\n%s\nafresh:\n%s", seed, i, b, a)
			}
			base = reused
		}
	}
}

// An unchanged list, in any order, gives no results.
func TestDiffOfAnUnchangedListIsEmpty(t *testing.T) {
	in := &wire.Service{Name: "svc", Version: "v1", Endpoints: endpoints(2)}
	for i, id := range []string{"a", "b", "c"} {
		in.Nodes = append(in.Nodes, &wire.Node{Id: id, Address: fmt.Sprintf("10.0.0.%d:80", i+1),
			Metadata: map[string]string{"protocol": "mucp", "node": id}})
	}
	encoded, _, err := wire.Encode(in, wire.InstanceFields{Weight: 1}, wire.MetadataLimit)
	if err != nil {
		t.Fatal(err)
	}
	hosts := make([]model.Instance, len(encoded))
	for i, e := range encoded {
		hosts[i] = e.Instance
	}
	first := wire.Decode("svc", hosts, nil)
	again := clonedInstances(hosts)
	again[0], again[2] = again[2], again[0]
	second := wire.Decode("svc", again, first)
	if results, _ := diff(map[string]*wire.Version{"v1": first[0]}, second); len(results) != 0 {
		t.Fatalf("an unchanged list gave results:\n%s", describeResults(results))
	}
}

// BenchmarkWatcherDiff10000 measures one push of a 10,000-node service in which one node
// changed: decoding the instance list and diffing it against what was reported.
func BenchmarkWatcherDiff10000(b *testing.B) {
	const n = 10000
	// A service with service metadata and one endpoint, as watchers see them.
	svc := &wire.Service{Name: "big", Version: "v1", Metadata: map[string]string{"team": "core", "version": "v1"},
		Endpoints: []*wire.Endpoint{{
			Name: "Greeter.Hello",
			Request: &wire.Value{Name: "Request", Type: "Request", Values: []*wire.Value{
				{Name: "name", Type: "string"},
			}},
			Response: &wire.Value{Name: "Response", Type: "Response", Values: []*wire.Value{
				{Name: "msg", Type: "v1"},
			}},
			Metadata: map[string]string{"stream": "false"},
		}}}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("node-%05d", i)
		svc.Nodes = append(svc.Nodes, &wire.Node{Id: id, Address: fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255),
			Metadata: map[string]string{"protocol": "mucp", "node": id}})
	}
	encoded, _, err := wire.Encode(svc, wire.InstanceFields{Weight: 1}, wire.MetadataLimit)
	if err != nil {
		b.Fatal(err)
	}
	hosts := make([]model.Instance, n)
	for i, e := range encoded {
		hosts[i] = e.Instance
		hosts[i].InstanceId = fmt.Sprintf("%s#%d#DEFAULT#DEFAULT_GROUP@@big", e.Instance.Ip, e.Instance.Port)
	}
	// Two states that differ in one node's metadata, alternated so that every diff
	// finds exactly one update.
	changed := append([]model.Instance(nil), hosts...)
	md := maps.Clone(changed[n/2].Metadata)
	md["gen"] = "2"
	changed[n/2].Metadata = md
	// Each push is a new list, as the SDK unmarshals it, decoded on the previous one.
	states := [2][]model.Instance{hosts, changed}
	decoded := wire.Decode("big", hosts, nil)
	_, reported := diff(nil, decoded)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pushed := clonedInstances(states[(i+1)%2])
		runtime.GC() // the SDK's unmarshalling is not what is measured
		b.StartTimer()
		decoded = wire.Decode("big", pushed, decoded)
		results, after := diff(reported, decoded)
		if len(results) != 1 || results[0].Action != Update {
			b.Fatalf("got %d results", len(results))
		}
		reported = after
	}
}
