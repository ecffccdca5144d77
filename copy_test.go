package nacos

import (
	"reflect"
	"testing"

	"github.com/asim/go-micro/v3/registry"
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

// A copy shares nothing a caller can change with what it was made from, or with another
// copy, however the caller changes it.
func TestCopiesShareNothing(t *testing.T) {
	in := threeNodeGreeter()
	in.Metadata = map[string]string{"team": "core"}
	in.Endpoints = append(in.Endpoints, typicalEndpoints(t, 3)...)
	want := copyService(in, true)
	a, b := copyService(in, true), copyService(in, true)
	if !reflect.DeepEqual(a, in) {
		t.Fatalf("the copy differs:\n got %+v\nwant %+v", a, in)
	}
	scribble(a)
	if !reflect.DeepEqual(in, want) || !reflect.DeepEqual(b, want) {
		t.Fatal("changing a copy changed the original or another copy")
	}
	// An append to one slice of a copy must not write over the next in its arrays.
	c := copyService(in, true)
	for _, e := range c.Endpoints {
		for _, v := range []*registry.Value{e.Request, e.Response} {
			if v != nil && v.Values != nil {
				v.Values = append(v.Values, &registry.Value{Name: "appended"})
				v.Values = v.Values[:len(v.Values)-1]
			}
		}
	}
	c.Nodes = append(c.Nodes, &registry.Node{Id: "appended"})[:len(c.Nodes)]
	if !reflect.DeepEqual(c, in) {
		t.Fatal("an append to a copy's slice changed the rest of the copy")
	}
	res := result(registry.Update, in, in.Nodes[1])
	scribble(res.Service)
	if !reflect.DeepEqual(in, want) {
		t.Fatal("changing a watch result changed the original")
	}
}

func TestCopyKeepsNilAndEmpty(t *testing.T) {
	in := &registry.Service{Name: "s", Endpoints: []*registry.Endpoint{nil, {Name: "e", Metadata: map[string]string{},
		Request: &registry.Value{Name: "r", Values: []*registry.Value{nil, {Name: "v", Values: []*registry.Value{}}}}}},
		Nodes: []*registry.Node{{Id: "n", Metadata: map[string]string{}}, {Id: "m"}}}
	if got := copyService(in, true); !reflect.DeepEqual(got, in) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
}
