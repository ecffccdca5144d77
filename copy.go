package nacos

import (
	"maps"

	"github.com/asim/go-micro/v3/registry"
)

// Copies handed to callers, who own them: go-micro's cache and selector modify what they
// receive, and the registry's decoded state is shared by every reader.
//
// GetService runs on every call whose cache entry expired and every HTTP broker
// publish, so the copies are made with few allocations: the nodes of a service, its
// endpoints, and all their values each share one backing array. Every slice handed out
// has its capacity capped at its length, so a caller's append reallocates instead of
// writing over its neighbour.

func copyService(s *registry.Service, withNodes bool) *registry.Service {
	c := &registry.Service{
		Name:      s.Name,
		Version:   s.Version,
		Metadata:  maps.Clone(s.Metadata),
		Endpoints: copyEndpoints(s.Endpoints),
	}
	if withNodes {
		c.Nodes = make([]*registry.Node, len(s.Nodes))
		nodes := make([]registry.Node, len(s.Nodes))
		for i, n := range s.Nodes {
			nodes[i] = registry.Node{Id: n.Id, Address: n.Address, Metadata: maps.Clone(n.Metadata)}
			c.Nodes[i] = &nodes[i]
		}
	}
	return c
}

func copyNode(n *registry.Node) *registry.Node {
	return &registry.Node{Id: n.Id, Address: n.Address, Metadata: maps.Clone(n.Metadata)}
}

func copyEndpoints(eps []*registry.Endpoint) []*registry.Endpoint {
	if eps == nil {
		return nil
	}
	values, refs := 0, 0
	for _, e := range eps {
		if e != nil {
			for _, v := range []*registry.Value{e.Request, e.Response} {
				n, r := countValues(v)
				values, refs = values+n, refs+r
			}
		}
	}
	a := valueArena{values: make([]registry.Value, values), refs: make([]*registry.Value, refs)}
	out := make([]*registry.Endpoint, len(eps))
	backing := make([]registry.Endpoint, len(eps))
	for i, e := range eps {
		if e == nil {
			continue
		}
		backing[i] = registry.Endpoint{
			Name:     e.Name,
			Request:  a.copy(e.Request),
			Response: a.copy(e.Response),
			Metadata: maps.Clone(e.Metadata),
		}
		out[i] = &backing[i]
	}
	return out
}

// countValues says how many values copying v takes, and how many pointers their
// Values slices hold.
func countValues(v *registry.Value) (values, refs int) {
	if v == nil {
		return 0, 0
	}
	values, refs = 1, len(v.Values)
	for _, sub := range v.Values {
		n, r := countValues(sub)
		values, refs = values+n, refs+r
	}
	return values, refs
}

// valueArena hands out the values of copied endpoints from two arrays: the values, and
// the pointers of their Values slices.
type valueArena struct {
	values []registry.Value
	refs   []*registry.Value
}

func (a *valueArena) copy(v *registry.Value) *registry.Value {
	if v == nil {
		return nil
	}
	c := &a.values[0]
	a.values = a.values[1:]
	c.Name, c.Type = v.Name, v.Type
	if v.Values != nil {
		n := len(v.Values)
		c.Values, a.refs = a.refs[:n:n], a.refs[n:]
		for i, sub := range v.Values {
			c.Values[i] = a.copy(sub)
		}
	}
	return c
}
