package nacos

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
)

var _ registry.Watcher = (*watcher)(nil)

// watcher turns Nacos pushes into go-micro results. It is level-triggered: a push only
// marks its service dirty; Next compares the service's latest state with what this
// watcher last reported and returns one result per created, updated or deleted node.
// Pushes that arrive while nobody reads coalesce, and the final state is never lost.
type watcher struct {
	reg      *nacosRegistry
	group    string
	service  string   // "" watches every service of the group
	clusters []string // only nodes of these clusters, if any

	done       chan struct{}
	stopOnce   sync.Once
	discovered chan struct{} // closed when the discovery loop of an all-services watcher ends
	signal     chan struct{} // one pending wake-up for Next
	nextMu     sync.Mutex    // one Next at a time: each result is reported once

	mu       sync.Mutex
	tracked  map[serviceKey]*subscription
	dirty    []serviceKey
	isDirty  map[serviceKey]bool
	reported map[serviceKey]map[string]*version // what was last reported, by service, then version
	pending  []*registry.Result
}

func newWatcher(r *nacosRegistry, group, service string, clusters []string) *watcher {
	return &watcher{
		reg: r, group: group, service: service, clusters: clusters,
		done:     make(chan struct{}),
		signal:   make(chan struct{}, 1),
		tracked:  map[serviceKey]*subscription{},
		isDirty:  map[serviceKey]bool{},
		reported: map[serviceKey]map[string]*version{},
	}
}

func (w *watcher) stopped() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// track subscribes the watcher to a service and queues its current nodes as creates.
//
// Nodes this registry's GetService handed out lately that have left since are reported
// as deleted: go-micro's cache starts its watcher a moment after its first lookup, and
// only a delete takes a node out of it.
//
// Concurrent calls for one service (announcements from several goroutines, discovery)
// subscribe once: the first claims the key, the others return at once.
func (w *watcher) track(key serviceKey) error {
	w.mu.Lock()
	if _, ok := w.tracked[key]; ok || w.stopped() {
		w.mu.Unlock()
		return nil
	}
	w.tracked[key] = nil // claimed; set once subscribed
	w.mu.Unlock()

	sub, err := w.reg.subscribe(key, w)
	w.mu.Lock()
	if err != nil {
		if claimed, ok := w.tracked[key]; ok && claimed == nil {
			delete(w.tracked, key) // a later track tries again
		}
		w.mu.Unlock()
		return err
	}
	// Stop closes done before it takes the tracked subscriptions: either it sees this
	// one, or this sees that the watcher stopped.
	keep := !w.stopped()
	if keep {
		w.tracked[key] = sub
		if w.reported[key] == nil {
			_, w.reported[key] = diff(key.name, nil, filterClusters(sub.handedOutAndGone(), w.clusters))
		}
	}
	w.mu.Unlock()
	if !keep {
		w.reg.subs.release(sub, w)
		return nil
	}
	w.notify(key)
	return nil
}

// startDiscovery starts discover for a watcher of all services, unless the watcher has
// stopped. Stop may run concurrently (Close stops every watcher), so discovered is only
// touched under w.mu.
func (w *watcher) startDiscovery(interval time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped() || w.discovered != nil {
		return
	}
	w.discovered = make(chan struct{})
	go w.discover(interval)
}

// discover looks for new services every interval, for a watcher of all services.
func (w *watcher) discover(interval time.Duration) {
	defer close(w.discovered)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		names, err := w.reg.serviceNames(w.group)
		if err != nil {
			w.reg.logf(logger.DebugLevel, "watcher: listing services: %v", err)
			continue
		}
		for _, name := range names {
			if err := w.track(serviceKey{w.group, name}); err != nil {
				w.reg.logf(logger.DebugLevel, "watcher: %v", err)
			}
		}
	}
}

// notify marks a service dirty and wakes Next. It never blocks: it runs on the SDK's
// push goroutine.
func (w *watcher) notify(key serviceKey) {
	w.mu.Lock()
	if !w.isDirty[key] {
		w.isDirty[key] = true
		w.dirty = append(w.dirty, key)
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Next blocks until a node is created, updated or deleted, or the watcher is stopped.
func (w *watcher) Next() (*registry.Result, error) {
	w.nextMu.Lock()
	defer w.nextMu.Unlock()
	for {
		if w.stopped() {
			return nil, registry.ErrWatcherStopped
		}
		w.mu.Lock()
		if len(w.pending) > 0 {
			res := w.pending[0]
			w.pending[0] = nil
			w.pending = w.pending[1:]
			w.mu.Unlock()
			return res, nil
		}
		if len(w.dirty) > 0 {
			key := w.dirty[0]
			w.dirty = w.dirty[1:]
			delete(w.isDirty, key)
			sub, before := w.tracked[key], w.reported[key]
			w.mu.Unlock()
			if sub == nil {
				continue // still subscribing: track notifies again when done
			}
			now := filterClusters(sub.current(), w.clusters)
			results, after := diff(key.name, before, now)
			w.mu.Lock()
			w.reported[key] = after
			w.pending = append(w.pending, results...)
			w.mu.Unlock()
			continue
		}
		w.mu.Unlock()
		select {
		case <-w.signal:
		case <-w.done:
		}
	}
}

// Stop ends the watcher: Next returns registry.ErrWatcherStopped from now on, and the
// watcher's subscriptions are released (unsubscribed when nothing else uses them).
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		close(w.done)
		w.mu.Lock()
		discovered := w.discovered
		w.mu.Unlock()
		if discovered != nil {
			<-discovered // the discovery loop has ended
		}
		w.reg.forgetWatcher(w)
		w.mu.Lock()
		tracked := w.tracked
		w.tracked = map[serviceKey]*subscription{}
		w.mu.Unlock()
		for _, sub := range tracked {
			if sub != nil { // nil: still subscribing; that track releases it
				w.reg.subs.release(sub, w)
			}
		}
	})
}

// diff compares a service's versions now with what was reported before and returns one
// result per created, updated or deleted node, and what has now been reported.
//
// Decoded versions are never modified and decoding reuses the node of an unchanged
// instance (decodeInstances), so the same version or node means no change, and the
// nodes of a version, sorted by id, are compared in one merging pass.
func diff(name string, before map[string]*version, now []*version) ([]*registry.Result, map[string]*version) {
	var results, deletes []*registry.Result
	after := make(map[string]*version, len(now))
	for _, v := range now {
		after[v.service.Version] = v
		prev := before[v.service.Version]
		if prev == v {
			continue
		}
		var old []*registry.Node
		if prev != nil {
			old = sortedNodes(prev)
		}
		fieldsChanged := prev != nil && prev.packed != v.packed
		cur := sortedNodes(v)
		for len(old) > 0 || len(cur) > 0 {
			switch {
			case !fieldsChanged && len(old) > 0 && len(cur) > 0 && old[0] == cur[0] &&
				(len(old) == 1 || old[1].Id != old[0].Id) && (len(cur) == 1 || cur[1].Id != cur[0].Id):
				old, cur = old[1:], cur[1:] // the same node, with no other of its id
			case len(cur) == 0 || len(old) > 0 && old[0].Id < cur[0].Id:
				o := lastOfID(&old)
				deletes = append(deletes, result(registry.Delete, prev.service, o))
			case len(old) == 0 || cur[0].Id < old[0].Id:
				results = append(results, result(registry.Create, v.service, lastOfID(&cur)))
			default:
				o, n := lastOfID(&old), lastOfID(&cur)
				if fieldsChanged || o != n && !sameNode(o, n) {
					results = append(results, result(registry.Update, v.service, n))
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
			deletes = append(deletes, result(registry.Delete, before[ver].service, lastOfID(&nodes)))
		}
	}
	sort.SliceStable(deletes, func(i, j int) bool { return deletes[i].Service.Version < deletes[j].Service.Version })
	return append(results, deletes...), after
}

// sortedNodes returns v's nodes sorted by id: as decoded, or sorted for versions built
// otherwise.
func sortedNodes(v *version) []*registry.Node {
	less := func(a, b *registry.Node) int { return strings.Compare(a.Id, b.Id) }
	if v.list != nil || slices.IsSortedFunc(v.service.Nodes, less) {
		return v.service.Nodes
	}
	return slices.SortedStableFunc(slices.Values(v.service.Nodes), less)
}

// lastOfID takes from nodes, sorted by id, the nodes of its first id, and returns the
// last of them: like go-micro's cache, a watcher knows one node per id.
func lastOfID(nodes *[]*registry.Node) *registry.Node {
	n := *nodes
	i := 1
	for i < len(n) && n[i].Id == n[0].Id {
		i++
	}
	*nodes = n[i:]
	return n[i-1]
}

// result builds a Result the receiver owns: go-micro's cache keeps and modifies it.
func result(action registry.EventType, s *registry.Service, n *registry.Node) *registry.Result {
	svc := copyService(s, false)
	svc.Nodes = []*registry.Node{copyNode(n)}
	return &registry.Result{Action: action.String(), Service: svc}
}

func sameNode(a, b *registry.Node) bool {
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

// filterClusters keeps the nodes of the given clusters (all nodes when none are given).
func filterClusters(versions []*version, clusters []string) []*version {
	if len(clusters) == 0 {
		return versions
	}
	want := make(map[string]bool, len(clusters))
	for _, c := range clusters {
		want[c] = true
	}
	var out []*version
	for _, v := range versions {
		f := v.withoutNodes()
		for i, n := range v.service.Nodes {
			if want[v.clusters[i]] {
				f.service.Nodes = append(f.service.Nodes, n)
				f.clusters = append(f.clusters, v.clusters[i])
			}
		}
		if len(f.service.Nodes) > 0 {
			out = append(out, f)
		}
	}
	return out
}
