package nacos

import (
	"maps"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/translate"
	"github.com/micro-registry/nacos/internal/wire"
)

// Translation between go-micro v3's registry types and the core's (package wire), which
// have the same fields (in another order in some lines: every literal below names its
// fields). Into the core, for Register and Deregister: the core only reads
// what it is given. Out of the core, for GetService and watchers: callers own what they
// get, so everything is copied (see package translate).

// endpoints is go-micro v3's Endpoint and Value, for package translate.
var endpoints = translate.Line[registry.Endpoint, registry.Value]{
	Endpoint: func(e *registry.Endpoint) (string, *registry.Value, *registry.Value, map[string]string) {
		return e.Name, e.Request, e.Response, e.Metadata
	},
	SetEndpoint: func(e *registry.Endpoint, name string, request, response *registry.Value, metadata map[string]string) {
		*e = registry.Endpoint{Name: name, Request: request, Response: response, Metadata: metadata}
	},
	Value: func(v *registry.Value) (string, string, []*registry.Value) { return v.Name, v.Type, v.Values },
	SetValue: func(v *registry.Value, name, typ string, values []*registry.Value) {
		*v = registry.Value{Name: name, Type: typ, Values: values}
	},
}

// fromService is s in the core's types (nil for nil).
func fromService(s *registry.Service) *wire.Service {
	if s == nil {
		return nil
	}
	c := &wire.Service{Name: s.Name, Version: s.Version, Metadata: s.Metadata, Endpoints: endpoints.In(s.Endpoints)}
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
	return c
}

// toService is a copy of s, with the given nodes, for a caller.
func toService(s *wire.Service, nodes []*wire.Node) *registry.Service {
	c := &registry.Service{Name: s.Name, Version: s.Version, Metadata: maps.Clone(s.Metadata), Endpoints: endpoints.Out(s.Endpoints)}
	c.Nodes = make([]*registry.Node, len(nodes))
	backing := make([]registry.Node, len(nodes))
	for i, n := range nodes {
		backing[i] = registry.Node{Id: n.Id, Address: n.Address, Metadata: maps.Clone(n.Metadata)}
		c.Nodes[i] = &backing[i]
	}
	return c
}
