package wire

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// Decoding a list on the previous one (Decode's base) must give what decoding from
// scratch gives: this test pushes random sequences of lists through both. (That diffing
// lists decoded either way gives the same results is internal/core's diff_test.go.)

// randomLists returns n instance lists of one service, each a random change of the one
// before: nodes added, removed, changed, moved to another version, repeated, made
// unusable, foreign instances, reorderings; every list newly allocated, as pushes are.
func randomLists(rng *rand.Rand, n int) [][]model.Instance {
	next := 0
	newInstance := func() model.Instance {
		next++
		s := &Service{Name: "svc", Version: fmt.Sprintf("v%d", rng.Intn(3)),
			Metadata: map[string]string{"gen": fmt.Sprint(rng.Intn(2))}, Endpoints: greeterService(rng.Intn(2)).Endpoints,
			Nodes: []*Node{{Id: fmt.Sprintf("n%03d", next), Address: fmt.Sprintf("10.0.%d.%d:80", next/250, next%250),
				Metadata: map[string]string{"zone": fmt.Sprint(rng.Intn(3))}}}}
		if rng.Intn(10) == 0 {
			s.Nodes[0].Id = fmt.Sprintf("n%03d", rng.Intn(next)+1) // an id already used
		}
		nodes, _, err := Encode(s, InstanceFields{Weight: 1, Cluster: []string{"", "east"}[rng.Intn(2)]}, MetadataLimit)
		if err != nil {
			panic(err)
		}
		in := nodes[0].Instance
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
				h.Metadata[legacyVersion] += "+"
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

// describeVersions shows decoded versions in full, to compare them.
func describeVersions(vs []*Version) string {
	var b strings.Builder
	for _, v := range vs {
		eps, _ := json.Marshal(v.Service.Endpoints)
		fmt.Fprintf(&b, "%s %s %v %s packed=%q\n", v.Service.Name, v.Service.Version, v.Service.Metadata, eps, v.packed)
		for i, n := range v.Service.Nodes {
			fmt.Fprintf(&b, "  %+v cluster=%s\n", *n, v.Cluster(i))
		}
	}
	return b.String()
}

func TestDecodeOnThePreviousListIsDecodingAfresh(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var base []*Version
		for i, hosts := range randomLists(rng, 8) {
			fresh := Decode("svc", clonedInstances(hosts), nil)
			reused := Decode("svc", hosts, base)
			if a, b := describeVersions(fresh), describeVersions(reused); a != b {
				t.Fatalf("seed %d list %d: decoded on the previous list:\n%s\nafresh:\n%s", seed, i, b, a)
			}
			base = reused
		}
	}
}

// Nothing of an unchanged list is decoded again, in any order. (That diffing it then
// reports nothing is internal/core's TestDiffOfAnUnchangedListIsEmpty.)
func TestDecodeReusesUnchangedNodes(t *testing.T) {
	in := &Service{Name: "svc", Version: "v1", Endpoints: greeterService(2).Endpoints}
	for i, id := range []string{"a", "b", "c"} {
		in.Nodes = append(in.Nodes, &Node{Id: id, Address: fmt.Sprintf("10.0.0.%d:80", i+1),
			Metadata: map[string]string{"protocol": "mucp", "node": id}})
	}
	encoded, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit)
	if err != nil {
		t.Fatal(err)
	}
	hosts := make([]model.Instance, len(encoded))
	for i, e := range encoded {
		hosts[i] = e.Instance
	}
	first := Decode("svc", hosts, nil)
	again := clonedInstances(hosts)
	again[0], again[2] = again[2], again[0]
	second := Decode("svc", again, first)
	for i, n := range second[0].Service.Nodes {
		if n != first[0].Service.Nodes[i] {
			t.Fatalf("node %s decoded again", n.Id)
		}
	}
	if &second[0].Service.Endpoints[0] != &first[0].Service.Endpoints[0] {
		t.Fatal("endpoints decoded again")
	}
}
