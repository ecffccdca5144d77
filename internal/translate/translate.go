// Package translate copies trees of values between the core's model (package wire) and
// a go-micro line's registry types, which have the same fields: each line's adapter
// describes its Value type once (a Tree), and copies whole endpoint lists with two
// allocations, one array of values and one of the pointers their Values slices hold.
package translate

// Tree describes how to copy a tree of From values into To values.
type Tree[From, To any] struct {
	Children    func(v *From) []*From        // v's Values
	Copy        func(to *To, from *From)     // every field but Values
	SetChildren func(to *To, children []*To) // sets Values
	HasChildren func(v *From) bool           // Values is not nil (nil and empty stay apart)
}

// Arena copies trees out of two arrays: Count every root first, then Alloc, then Copy
// every root.
type Arena[From, To any] struct {
	tree           *Tree[From, To]
	values         []To
	refs           []*To
	nValues, nRefs int
}

// NewArena returns an empty arena for t's trees.
func (t *Tree[From, To]) NewArena() Arena[From, To] { return Arena[From, To]{tree: t} }

// Count makes room for the tree rooted at v (nil: nothing).
func (a *Arena[From, To]) Count(v *From) {
	if v == nil {
		return
	}
	children := a.tree.Children(v)
	a.nValues++
	a.nRefs += len(children)
	for _, c := range children {
		a.Count(c)
	}
}

// Alloc allocates what Count made room for.
func (a *Arena[From, To]) Alloc() {
	a.values = make([]To, a.nValues)
	a.refs = make([]*To, a.nRefs)
}

// Copy copies the tree rooted at v (nil: nil). Every Values slice has its capacity
// capped at its length, so a caller's append reallocates instead of writing over its
// neighbour.
func (a *Arena[From, To]) Copy(v *From) *To {
	if v == nil {
		return nil
	}
	c := &a.values[0]
	a.values = a.values[1:]
	a.tree.Copy(c, v)
	if a.tree.HasChildren(v) {
		from := a.tree.Children(v)
		n := len(from)
		children := a.refs[:n:n]
		a.refs = a.refs[n:]
		for i, sub := range from {
			children[i] = a.Copy(sub)
		}
		a.tree.SetChildren(c, children)
	}
	return c
}
