package nacos

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"strings"
	"testing"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// Decoding a list on the previous one (decodeInstances' base) and diffing decoded lists
// must give what decoding and diffing from scratch gives: these tests push random
// sequences of lists through both.

// randomLists returns n instance lists of one service, each a random change of the one
// before: nodes added, removed, changed, moved to another version, repeated, made
// unusable, foreign instances, reorderings; every list newly allocated, as pushes are.
func randomLists(rng *rand.Rand, n int) [][]model.Instance {
	next := 0
	newInstance := func() model.Instance {
		next++
		s := &registry.Service{Name: "svc", Version: fmt.Sprintf("v%d", rng.Intn(3)),
			Metadata: map[string]string{"gen": fmt.Sprint(rng.Intn(2))}, Endpoints: greeterService(rng.Intn(2)).Endpoints,
			Nodes: []*registry.Node{{Id: fmt.Sprintf("n%03d", next), Address: fmt.Sprintf("10.0.%d.%d:80", next/250, next%250),
				Metadata: map[string]string{"zone": fmt.Sprint(rng.Intn(3))}}}}
		if rng.Intn(10) == 0 {
			s.Nodes[0].Id = fmt.Sprintf("n%03d", rng.Intn(next)+1) // an id already used
		}
		nodes, _, err := encodeService(s, instanceFields{weight: 1, cluster: []string{"", "east"}[rng.Intn(2)]}, DefaultMetadataBudget)
		if err != nil {
			panic(err)
		}
		in := nodes[0].instance
		if rng.Intn(10) == 0 { // registered by another client
			in.Metadata = map[string]string{"version": s.Version}
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
				h.Metadata[keyVersion] += "+"
			case 3: // not served
				h.Healthy = !h.Healthy
			case 4: // new service fields
				h.Metadata = maps.Clone(h.Metadata)
				if p := h.Metadata[keyService]; p != "" {
					h.Metadata[keyService] = pack(serviceFields{Metadata: map[string]string{"gen": p[len(p)-6:]}})
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

// describeVersions shows decoded versions in full, to compare them.
func describeVersions(vs []*version) string {
	var b strings.Builder
	for _, v := range vs {
		eps, _ := json.Marshal(v.service.Endpoints)
		fmt.Fprintf(&b, "%s %s %v %s clusters=%v packed=%q\n", v.service.Name, v.service.Version, v.service.Metadata, eps, v.clusters, v.packed)
		for _, n := range v.service.Nodes {
			fmt.Fprintf(&b, "  %+v\n", *n)
		}
	}
	return b.String()
}

func describeResults(rs []*registry.Result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s %s %+v %v\n", r.Action, r.Service.Version, r.Service.Nodes[0].Id, *r.Service.Nodes[0], r.Service.Metadata)
	}
	return b.String()
}

func TestDecodeOnThePreviousListIsDecodingAfresh(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var base []*version
		var reportedFresh, reportedReused map[string]*version
		for i, hosts := range randomLists(rng, 8) {
			fresh := decodeInstances("svc", clonedInstances(hosts), nil)
			reused := decodeInstances("svc", hosts, base)
			if a, b := describeVersions(fresh), describeVersions(reused); a != b {
				t.Fatalf("seed %d list %d: decoded on the previous list:\n%s\nafresh:\n%s", seed, i, b, a)
			}
			var want, got []*registry.Result
			want, reportedFresh = diff("svc", reportedFresh, fresh)
			got, reportedReused = diff("svc", reportedReused, reused)
			if a, b := describeResults(want), describeResults(got); a != b {
				t.Fatalf("seed %d list %d: diff of lists decoded on the previous ones:\n%s\nafresh:\n%s", seed, i, b, a)
			}
			base = reused
		}
	}
}

// Nothing of an unchanged list is decoded again, in any order.
func TestDecodeReusesUnchangedNodes(t *testing.T) {
	in := service("svc", "v1", "a", "b", "c")
	in.Endpoints = greeterService(2).Endpoints
	encoded, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget)
	if err != nil {
		t.Fatal(err)
	}
	hosts := make([]model.Instance, len(encoded))
	for i, e := range encoded {
		hosts[i] = e.instance
	}
	first := decodeInstances("svc", hosts, nil)
	again := clonedInstances(hosts)
	again[0], again[2] = again[2], again[0]
	second := decodeInstances("svc", again, first)
	for i, n := range second[0].service.Nodes {
		if n != first[0].service.Nodes[i] {
			t.Fatalf("node %s decoded again", n.Id)
		}
	}
	if &second[0].service.Endpoints[0] != &first[0].service.Endpoints[0] {
		t.Fatal("endpoints decoded again")
	}
	if results, _ := diff("svc", map[string]*version{"v1": first[0]}, second); len(results) != 0 {
		t.Fatalf("an unchanged list gave results:\n%s", describeResults(results))
	}
}
