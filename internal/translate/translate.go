// Package translate copies endpoints between the core's model (package wire) and a
// go-micro line's registry types, which have the same fields: each line's adapter
// describes its Endpoint and Value types once (a Line), and this package does the rest.
//
// Into the core (In): the core only reads what it is given, so maps are shared and only
// the structs are new. A Line remembers the endpoints it translated last and hands the
// same translation out again while the caller's endpoints are equal to them: go-micro's
// server registers the same endpoints every interval.
//
// Out of the core (Out): callers own what they get (go-micro's cache and selector modify
// it), and the core's decoded state is shared by every reader, so everything is copied,
// each kind in one array: the endpoints, their values, and the pointers the values'
// Values slices hold. Every slice handed out has its capacity capped at its length, so a
// caller's append reallocates instead of writing over its neighbour.
package translate

import (
	"maps"
	"sync"

	"github.com/micro-registry/nacos/internal/wire"
)

// Line describes a go-micro line's Endpoint type E and Value type V.
type Line[E, V any] struct {
	Endpoint    func(e *E) (name string, request, response *V, metadata map[string]string)
	SetEndpoint func(e *E, name string, request, response *V, metadata map[string]string)
	Value       func(v *V) (name, typ string, values []*V)
	SetValue    func(v *V, name, typ string, values []*V)

	mu   sync.Mutex // guards last
	last struct {
		in  []*E // a copy of the slice: its endpoints are the caller's
		out []*wire.Endpoint
	}
}

// In returns eps in the core's types, to be read only (nil for nil).
func (l *Line[E, V]) In(eps []*E) []*wire.Endpoint {
	if eps == nil {
		return nil
	}
	l.mu.Lock()
	in, out := l.last.in, l.last.out
	l.mu.Unlock()
	if len(in) == len(eps) && l.same(eps, out) {
		return out
	}
	out = l.in(eps)
	l.mu.Lock()
	l.last.in, l.last.out = append(in[:0:0], eps...), out
	l.mu.Unlock()
	return out
}

func (l *Line[E, V]) in(eps []*E) []*wire.Endpoint {
	out := make([]*wire.Endpoint, len(eps))
	backing := make([]wire.Endpoint, len(eps))
	var a arena[wire.Value]
	for _, e := range eps {
		if e != nil {
			_, req, resp, _ := l.Endpoint(e)
			l.countIn(&a, req)
			l.countIn(&a, resp)
		}
	}
	a.alloc()
	for i, e := range eps {
		if e != nil {
			name, req, resp, md := l.Endpoint(e)
			backing[i] = wire.Endpoint{Name: name, Request: l.copyIn(&a, req), Response: l.copyIn(&a, resp), Metadata: md}
			out[i] = &backing[i]
		}
	}
	return out
}

func (l *Line[E, V]) countIn(a *arena[wire.Value], v *V) {
	if v != nil {
		_, _, values := l.Value(v)
		a.nValues++
		a.nRefs += len(values)
		for _, sub := range values {
			l.countIn(a, sub)
		}
	}
}

func (l *Line[E, V]) copyIn(a *arena[wire.Value], v *V) *wire.Value {
	if v == nil {
		return nil
	}
	c := a.next()
	var values []*V
	c.Name, c.Type, values = l.Value(v)
	if values != nil {
		c.Values = a.refsOf(len(values))
		for i, sub := range values {
			c.Values[i] = l.copyIn(a, sub)
		}
	}
	return c
}

// same says whether eps are equal to w, as marshalled: nil and empty apart.
func (l *Line[E, V]) same(eps []*E, w []*wire.Endpoint) bool {
	for i, e := range eps {
		if e == nil || w[i] == nil {
			if (e == nil) != (w[i] == nil) {
				return false
			}
			continue
		}
		name, req, resp, md := l.Endpoint(e)
		if name != w[i].Name || !sameMap(md, w[i].Metadata) || !l.sameValue(req, w[i].Request) || !l.sameValue(resp, w[i].Response) {
			return false
		}
	}
	return true
}

func (l *Line[E, V]) sameValue(v *V, w *wire.Value) bool {
	if v == nil || w == nil {
		return v == nil && w == nil
	}
	name, typ, values := l.Value(v)
	if name != w.Name || typ != w.Type || (values == nil) != (w.Values == nil) || len(values) != len(w.Values) {
		return false
	}
	for i, sub := range values {
		if !l.sameValue(sub, w.Values[i]) {
			return false
		}
	}
	return true
}

func sameMap(a, b map[string]string) bool { return (a == nil) == (b == nil) && maps.Equal(a, b) }

// Out returns a copy of w in the line's types, for a caller (nil for nil).
func (l *Line[E, V]) Out(w []*wire.Endpoint) []*E {
	if w == nil {
		return nil
	}
	out := make([]*E, len(w))
	backing := make([]E, len(w))
	var a arena[V]
	for _, e := range w {
		if e != nil {
			countOut(&a, e.Request)
			countOut(&a, e.Response)
		}
	}
	a.alloc()
	for i, e := range w {
		if e != nil {
			l.SetEndpoint(&backing[i], e.Name, l.copyOut(&a, e.Request), l.copyOut(&a, e.Response), maps.Clone(e.Metadata))
			out[i] = &backing[i]
		}
	}
	return out
}

func countOut[V any](a *arena[V], v *wire.Value) {
	if v != nil {
		a.nValues++
		a.nRefs += len(v.Values)
		for _, sub := range v.Values {
			countOut(a, sub)
		}
	}
}

func (l *Line[E, V]) copyOut(a *arena[V], v *wire.Value) *V {
	if v == nil {
		return nil
	}
	c := a.next()
	var values []*V
	if v.Values != nil {
		values = a.refsOf(len(v.Values))
		for i, sub := range v.Values {
			values[i] = l.copyOut(a, sub)
		}
	}
	l.SetValue(c, v.Name, v.Type, values)
	return c
}

// arena hands out values of type T from two arrays: the values, and the pointers their
// Values slices hold. Count them first, then alloc.
type arena[T any] struct {
	values         []T
	refs           []*T
	nValues, nRefs int
}

func (a *arena[T]) alloc() {
	a.values = make([]T, a.nValues)
	a.refs = make([]*T, a.nRefs)
}

func (a *arena[T]) next() *T {
	c := &a.values[0]
	a.values = a.values[1:]
	return c
}

// refsOf returns a slice of n pointers, its capacity capped at n.
func (a *arena[T]) refsOf(n int) []*T {
	r := a.refs[:n:n]
	a.refs = a.refs[n:]
	return r
}
