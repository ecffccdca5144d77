package nacos

import (
	"maps"

	"go-micro.dev/v5/registry"

	"github.com/micro-registry/nacos/internal/translate"
	"github.com/micro-registry/nacos/internal/wire"
)

// Translation between go-micro v5's registry types and the core's (package wire), which
// have the same fields, in another order (v5's Node and Endpoint put Metadata first):
// every literal below names its fields.
//
// Into the core (fromService), for Register and Deregister: the core only reads what it
// is given, so maps are shared and only the structs are new, each kind in one array.
//
// Out of the core (toService), for GetService and watchers: callers own what they get
// (go-micro's cache and selector modify it), and the core's decoded state is shared by
// every reader, so everything is copied, each kind in one array. Every slice handed out
// has its capacity capped at its length, so a caller's append reallocates instead of
// writing over its neighbour.

var (
	valuesIn = translate.Tree[registry.Value, wire.Value]{
		Children:    func(v *registry.Value) []*registry.Value { return v.Values },
		HasChildren: func(v *registry.Value) bool { return v.Values != nil },
		Copy:        func(to *wire.Value, from *registry.Value) { to.Name, to.Type = from.Name, from.Type },
		SetChildren: func(to *wire.Value, children []*wire.Value) { to.Values = children },
	}
	valuesOut = translate.Tree[wire.Value, registry.Value]{
		Children:    func(v *wire.Value) []*wire.Value { return v.Values },
		HasChildren: func(v *wire.Value) bool { return v.Values != nil },
		Copy:        func(to *registry.Value, from *wire.Value) { to.Name, to.Type = from.Name, from.Type },
		SetChildren: func(to *registry.Value, children []*registry.Value) { to.Values = children },
	}
)

// fromService is s in the core's types (nil for nil).
func fromService(s *registry.Service) *wire.Service {
	if s == nil {
		return nil
	}
	c := &wire.Service{Name: s.Name, Version: s.Version, Metadata: s.Metadata}
	if s.Nodes != nil {
		c.Nodes = make([]*wire.Node, len(s.Nodes))
		nodes := make([]wire.Node, len(s.Nodes))
		for i, n := range s.Nodes {
			if n != nil {
				nodes[i] = wire.Node{Id: n.Id, Address: n.Address, Metadata: n.Metadata}
				c.Nodes[i] = &nodes[i]
			}
		}
	}
	if s.Endpoints != nil {
		c.Endpoints = make([]*wire.Endpoint, len(s.Endpoints))
		endpoints := make([]wire.Endpoint, len(s.Endpoints))
		a := valuesIn.NewArena()
		for _, e := range s.Endpoints {
			if e != nil {
				a.Count(e.Request)
				a.Count(e.Response)
			}
		}
		a.Alloc()
		for i, e := range s.Endpoints {
			if e != nil {
				endpoints[i] = wire.Endpoint{Name: e.Name, Request: a.Copy(e.Request), Response: a.Copy(e.Response), Metadata: e.Metadata}
				c.Endpoints[i] = &endpoints[i]
			}
		}
	}
	return c
}

// toService is a copy of s, with the given nodes, for a caller.
func toService(s *wire.Service, nodes []*wire.Node) *registry.Service {
	c := &registry.Service{Name: s.Name, Version: s.Version, Metadata: maps.Clone(s.Metadata)}
	c.Nodes = make([]*registry.Node, len(nodes))
	backing := make([]registry.Node, len(nodes))
	for i, n := range nodes {
		backing[i] = registry.Node{Id: n.Id, Address: n.Address, Metadata: maps.Clone(n.Metadata)}
		c.Nodes[i] = &backing[i]
	}
	if s.Endpoints != nil {
		c.Endpoints = make([]*registry.Endpoint, len(s.Endpoints))
		endpoints := make([]registry.Endpoint, len(s.Endpoints))
		a := valuesOut.NewArena()
		for _, e := range s.Endpoints {
			if e != nil {
				a.Count(e.Request)
				a.Count(e.Response)
			}
		}
		a.Alloc()
		for i, e := range s.Endpoints {
			if e != nil {
				endpoints[i] = registry.Endpoint{Name: e.Name, Request: a.Copy(e.Request), Response: a.Copy(e.Response), Metadata: maps.Clone(e.Metadata)}
				c.Endpoints[i] = &endpoints[i]
			}
		}
	}
	return c
}
