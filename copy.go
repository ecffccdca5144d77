package nacos

import "github.com/asim/go-micro/v3/registry"

// Copies handed to callers, who own them: go-micro's cache and selector modify what they
// receive, and the registry's decoded state is shared by every reader.

func copyService(s *registry.Service, withNodes bool) *registry.Service {
	c := &registry.Service{
		Name:      s.Name,
		Version:   s.Version,
		Metadata:  copyMap(s.Metadata),
		Endpoints: make([]*registry.Endpoint, len(s.Endpoints)),
	}
	for i, e := range s.Endpoints {
		c.Endpoints[i] = copyEndpoint(e)
	}
	if s.Endpoints == nil {
		c.Endpoints = nil
	}
	if withNodes {
		c.Nodes = make([]*registry.Node, len(s.Nodes))
		for i, n := range s.Nodes {
			c.Nodes[i] = copyNode(n)
		}
	}
	return c
}

func copyNode(n *registry.Node) *registry.Node {
	return &registry.Node{Id: n.Id, Address: n.Address, Metadata: copyMap(n.Metadata)}
}

func copyEndpoint(e *registry.Endpoint) *registry.Endpoint {
	if e == nil {
		return nil
	}
	return &registry.Endpoint{
		Name:     e.Name,
		Request:  copyValue(e.Request),
		Response: copyValue(e.Response),
		Metadata: copyMap(e.Metadata),
	}
}

func copyValue(v *registry.Value) *registry.Value {
	if v == nil {
		return nil
	}
	c := &registry.Value{Name: v.Name, Type: v.Type}
	if v.Values != nil {
		c.Values = make([]*registry.Value, len(v.Values))
		for i, sub := range v.Values {
			c.Values[i] = copyValue(sub)
		}
	}
	return c
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
