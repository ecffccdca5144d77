package core

import (
	"slices"
	"sort"
	"strings"

	"github.com/micro-registry/nacos/internal/wire"
)

// The go-micro event types a watcher reports.
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// diff compares a service's versions now with what was reported before and returns one
// result per created, updated or deleted node, and what has now been reported.
//
// Decoded versions are never modified and decoding reuses the node of an unchanged
// instance (wire.Decode), so the same version or node means no change, and the nodes
// of a version, sorted by id, are compared in one merging pass.
func diff(before map[string]*wire.Version, now []*wire.Version) ([]Result, map[string]*wire.Version) {
	var results, deletes []Result
	after := make(map[string]*wire.Version, len(now))
	for _, v := range now {
		after[v.Service.Version] = v
		prev := before[v.Service.Version]
		if prev == v {
			continue
		}
		var old []*wire.Node
		if prev != nil {
			old = sortedNodes(prev)
		}
		fieldsChanged := prev != nil && !prev.SameFields(v)
		cur := sortedNodes(v)
		for len(old) > 0 || len(cur) > 0 {
			switch {
			case !fieldsChanged && len(old) > 0 && len(cur) > 0 && old[0] == cur[0] &&
				(len(old) == 1 || old[1].Id != old[0].Id) && (len(cur) == 1 || cur[1].Id != cur[0].Id):
				old, cur = old[1:], cur[1:] // the same node, with no other of its id
			case len(cur) == 0 || len(old) > 0 && old[0].Id < cur[0].Id:
				deletes = append(deletes, Result{Delete, prev.Service, lastOfID(&old)})
			case len(old) == 0 || cur[0].Id < old[0].Id:
				results = append(results, Result{Create, v.Service, lastOfID(&cur)})
			default:
				o, n := lastOfID(&old), lastOfID(&cur)
				if fieldsChanged || o != n && !sameNode(o, n) {
					results = append(results, Result{Update, v.Service, n})
				}
			}
		}
	}
	versions := make([]string, 0, len(before))
	for ver := range before {
		if after[ver] == nil {
			versions = append(versions, ver)
		}
	}
	sort.Strings(versions)
	for _, ver := range versions {
		nodes := sortedNodes(before[ver])
		for len(nodes) > 0 {
			deletes = append(deletes, Result{Delete, before[ver].Service, lastOfID(&nodes)})
		}
	}
	sort.SliceStable(deletes, func(i, j int) bool { return deletes[i].Service.Version < deletes[j].Service.Version })
	return append(results, deletes...), after
}

// sortedNodes returns v's nodes sorted by id: as decoded, or sorted for versions built
// otherwise.
func sortedNodes(v *wire.Version) []*wire.Node {
	less := func(a, b *wire.Node) int { return strings.Compare(a.Id, b.Id) }
	if v.Decoded() || slices.IsSortedFunc(v.Service.Nodes, less) {
		return v.Service.Nodes
	}
	return slices.SortedStableFunc(slices.Values(v.Service.Nodes), less)
}

// lastOfID takes from nodes, sorted by id, the nodes of its first id, and returns the
// last of them: like go-micro's cache, a watcher knows one node per id.
func lastOfID(nodes *[]*wire.Node) *wire.Node {
	n := *nodes
	i := 1
	for i < len(n) && n[i].Id == n[0].Id {
		i++
	}
	*nodes = n[i:]
	return n[i-1]
}

func sameNode(a, b *wire.Node) bool {
	if a.Address != b.Address || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// filterClusters keeps the nodes of the given clusters (all nodes when none are given)
// of decoded versions.
func filterClusters(versions []*wire.Version, clusters []string) []*wire.Version {
	if len(clusters) == 0 {
		return versions
	}
	in := inClusters(clusters)
	var out []*wire.Version
	for _, v := range versions {
		f := v.WithoutNodes()
		for i, n := range v.Service.Nodes {
			if in(v, i) {
				f.Service.Nodes = append(f.Service.Nodes, n)
			}
		}
		if len(f.Service.Nodes) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// inClusters says whether node i of a decoded version is in one of the clusters, or
// whether there are none.
func inClusters(clusters []string) func(v *wire.Version, i int) bool {
	if len(clusters) == 0 {
		return func(*wire.Version, int) bool { return true }
	}
	want := make(map[string]bool, len(clusters))
	for _, c := range clusters {
		want[c] = true
	}
	return func(v *wire.Version, i int) bool { return want[v.Cluster(i)] }
}
