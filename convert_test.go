package nacos

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/wire"
)

// scribble changes everything reachable from s, as a careless caller might, appending to
// every slice it can.
func scribble(s *registry.Service) {
	var value func(v *registry.Value)
	value = func(v *registry.Value) {
		if v == nil {
			return
		}
		for _, sub := range v.Values {
			value(sub)
		}
		v.Name += "!"
		v.Values = append(v.Values, &registry.Value{Name: "appended"})
	}
	s.Name += "!"
	s.Metadata["scribbled"] = "yes"
	for _, e := range s.Endpoints {
		value(e.Request)
		value(e.Response)
		e.Name += "!"
		e.Metadata["scribbled"] = "yes"
	}
	s.Endpoints = append(s.Endpoints, &registry.Endpoint{Name: "appended"})
	for _, n := range s.Nodes {
		n.Id += "!"
		n.Metadata["scribbled"] = "yes"
	}
	s.Nodes = append(s.Nodes, &registry.Node{Id: "appended"})
}

// deepCopy is a copy of s made without the code under test (go-micro's JSON keeps nil
// and empty apart: its registry types have no omitempty).
func deepCopy(t testing.TB, s *registry.Service) *registry.Service {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c registry.Service
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// The core's values (here, a registered service as the core holds it, sharing the
// caller's maps) are shared by every reader: a copy toService hands out shares nothing
// a caller can change with them, or with another copy, however the caller changes it.
func TestToServiceSharesNothing(t *testing.T) {
	t.Parallel()
	in := threeNodeGreeter()
	in.Metadata = map[string]string{"team": "core"}
	in.Endpoints = append(in.Endpoints, typicalEndpoints(t, 3)...)
	want := deepCopy(t, in)
	core := fromService(in)
	a, b := toService(core, core.Nodes), toService(core, core.Nodes)
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("the copy differs:\n got %+v\nwant %+v", a, want)
	}
	scribble(a)
	if !reflect.DeepEqual(in, want) || !reflect.DeepEqual(toService(core, core.Nodes), want) || !reflect.DeepEqual(b, want) {
		t.Fatal("changing a copy changed the core's service or another copy")
	}
	// An append to one slice of a copy must not write over the next in its arrays.
	c := toService(core, core.Nodes)
	for _, e := range c.Endpoints {
		for _, v := range []*registry.Value{e.Request, e.Response} {
			if v != nil && v.Values != nil {
				v.Values = append(v.Values, &registry.Value{Name: "appended"})
				v.Values = v.Values[:len(v.Values)-1]
			}
		}
	}
	c.Endpoints = append(c.Endpoints, &registry.Endpoint{Name: "appended"})[:len(c.Endpoints)]
	c.Nodes = append(c.Nodes, &registry.Node{Id: "appended"})[:len(c.Nodes)]
	if !reflect.DeepEqual(c, want) {
		t.Fatal("an append to a copy's slice changed the rest of the copy")
	}
	// A watcher's result: the service with one of its nodes.
	res := toService(core, []*wire.Node{core.Nodes[1]})
	if len(res.Nodes) != 1 || !reflect.DeepEqual(res.Nodes[0], want.Nodes[1]) {
		t.Fatalf("a watch result's nodes: %+v, want %+v", res.Nodes, want.Nodes[1])
	}
	scribble(res)
	if !reflect.DeepEqual(in, want) || !reflect.DeepEqual(toService(core, core.Nodes), want) {
		t.Fatal("changing a watch result changed the core's service")
	}
}

// nilAndEmpty has nil and empty maps and slices, and nil endpoints and values, side by
// side.
func nilAndEmpty() *registry.Service {
	return &registry.Service{Name: "s", Endpoints: []*registry.Endpoint{nil, {Name: "e", Metadata: map[string]string{},
		Request: &registry.Value{Name: "r", Values: []*registry.Value{nil, {Name: "v", Values: []*registry.Value{}}}}}},
		Nodes: []*registry.Node{{Id: "n", Metadata: map[string]string{}}, {Id: "m"}}}
}

func TestConversionsKeepNilAndEmpty(t *testing.T) {
	t.Parallel()
	want := nilAndEmpty()
	// The core's values as the decoder makes them.
	core := &wire.Service{Name: "s", Endpoints: []*wire.Endpoint{nil, {Name: "e", Metadata: map[string]string{},
		Request: &wire.Value{Name: "r", Values: []*wire.Value{nil, {Name: "v", Values: []*wire.Value{}}}}}},
		Nodes: []*wire.Node{{Id: "n", Metadata: map[string]string{}}, {Id: "m"}}}
	if got := toService(core, core.Nodes); !reflect.DeepEqual(got, want) {
		t.Fatalf("toService: got %+v, want %+v", got, want)
	}
	if got := fromService(nilAndEmpty()); !reflect.DeepEqual(got, core) {
		t.Fatalf("fromService: got %+v, want %+v", got, core)
	}
	w := fromService(nilAndEmpty())
	if got := toService(w, w.Nodes); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
}

// fromService, for Register and Deregister, leaves the caller's service as it was, and
// what the core then does to the structs it got (the maps are the caller's, which the
// core only reads) does not reach the caller's service.
func TestFromServiceLeavesTheCallersServiceAlone(t *testing.T) {
	t.Parallel()
	if fromService(nil) != nil {
		t.Fatal("fromService(nil) is not nil")
	}
	in := threeNodeGreeter()
	in.Metadata = map[string]string{"team": "core"}
	in.Endpoints = append(in.Endpoints, typicalEndpoints(t, 3)...)
	want := deepCopy(t, in)
	core := fromService(in)
	if !reflect.DeepEqual(in, want) {
		t.Fatal("fromService changed the caller's service")
	}
	if got := toService(core, core.Nodes); !reflect.DeepEqual(got, want) {
		t.Fatalf("fromService lost something:\n got %+v\nwant %+v", got, want)
	}
	var value func(v *wire.Value)
	value = func(v *wire.Value) {
		if v == nil {
			return
		}
		for _, sub := range v.Values {
			value(sub)
		}
		v.Name += "!"
		v.Values = append(v.Values, &wire.Value{Name: "appended"})
	}
	core.Name += "!"
	for _, e := range core.Endpoints {
		value(e.Request)
		value(e.Response)
		e.Name += "!"
	}
	core.Endpoints = append(core.Endpoints, &wire.Endpoint{Name: "appended"})
	for _, n := range core.Nodes {
		n.Id += "!"
	}
	core.Nodes[0], core.Nodes[1] = core.Nodes[1], core.Nodes[0]
	core.Nodes = append(core.Nodes, &wire.Node{Id: "appended"})
	if !reflect.DeepEqual(in, want) {
		t.Fatal("changing fromService's structs changed the caller's service")
	}
}
