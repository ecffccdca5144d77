package core

import (
	"sync"
	"time"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/queue"
	"github.com/micro-registry/nacos/internal/wire"
)

// Result is one node created, updated or deleted, as a watcher reports it. Service and
// Node are shared with every reader and must not be modified: the adapter copies them.
// Service's own Nodes are not Node's siblings: only Node is reported.
type Result struct {
	Action  string // "create", "update" or "delete", as go-micro names them
	Service *wire.Service
	Node    *wire.Node
}

// Watcher turns Nacos pushes into results. It is level-triggered: a push only marks its
// service dirty; Next compares the service's latest state with what this watcher last
// reported and returns one result per created, updated or deleted node. Pushes that
// arrive while nobody reads coalesce, and the final state is never lost.
type Watcher struct {
	reg      *Registry
	group    string
	service  string   // "" watches every service of the group
	clusters []string // only nodes of these clusters, if any
	results  *queue.Queue[Result]

	mu       sync.Mutex // guards the fields below
	tracked  map[naming.ServiceKey]*subscription
	dirty    []naming.ServiceKey
	isDirty  map[naming.ServiceKey]bool
	reported map[naming.ServiceKey]map[string]*wire.Version // what was last reported, by service, then version
}

func newWatcher(r *Registry, group, service string, clusters []string) *Watcher {
	return &Watcher{
		reg: r, group: group, service: service, clusters: clusters,
		results:  queue.New[Result](0),
		tracked:  map[naming.ServiceKey]*subscription{},
		isDirty:  map[naming.ServiceKey]bool{},
		reported: map[naming.ServiceKey]map[string]*wire.Version{},
	}
}

func (w *Watcher) stopped() bool {
	select {
	case <-w.results.Stopped():
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
func (w *Watcher) track(key naming.ServiceKey) error {
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
	// Stop marks the queue stopped before it takes the tracked subscriptions: either it
	// sees this one, or this sees that the watcher stopped.
	keep := !w.stopped()
	if keep {
		w.tracked[key] = sub
		if w.reported[key] == nil {
			_, w.reported[key] = diff(nil, sub.handedOutAndGone(w.clusters))
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

// discover looks for new services every interval, for a watcher of all services, until
// the watcher stops.
func (w *Watcher) discover(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.results.Stopped():
			return
		case <-w.reg.done:
			return
		case <-t.C:
		}
		names, err := w.reg.serviceNames(w.group)
		if err != nil {
			w.reg.logf(logging.DebugLevel, "%v (a watcher listing services)", err)
			continue
		}
		for _, name := range names {
			if err := w.track(naming.ServiceKey{Group: w.group, Name: name}); err != nil {
				w.reg.logf(logging.DebugLevel, "%v (a watcher)", err)
			}
		}
	}
}

// notify marks a service dirty and wakes Next. It never blocks: it runs on the SDK's
// push goroutine.
func (w *Watcher) notify(key naming.ServiceKey) {
	w.mu.Lock()
	if !w.isDirty[key] {
		w.isDirty[key] = true
		w.dirty = append(w.dirty, key)
	}
	w.mu.Unlock()
	w.results.Wake()
}

// Next blocks until a node is created, updated or deleted, or the watcher is stopped
// (ErrWatcherStopped).
func (w *Watcher) Next() (Result, error) {
	r, err := w.results.Next(w.changes)
	if err != nil {
		return r, ErrWatcherStopped
	}
	return r, nil
}

// changes compares the dirty services with what was last reported.
func (w *Watcher) changes() []Result {
	for {
		w.mu.Lock()
		if len(w.dirty) == 0 {
			w.mu.Unlock()
			return nil
		}
		key := w.dirty[0]
		w.dirty = w.dirty[1:]
		delete(w.isDirty, key)
		sub, before := w.tracked[key], w.reported[key]
		w.mu.Unlock()
		if sub == nil {
			continue // still subscribing: track notifies again when done
		}
		results, after := diff(before, filterClusters(sub.latest(), w.clusters))
		w.mu.Lock()
		w.reported[key] = after
		w.mu.Unlock()
		if len(results) > 0 {
			return results
		}
	}
}

// Stop ends the watcher: Next returns ErrWatcherStopped from now on, and the watcher's
// subscriptions are released (unsubscribed when nothing else uses them). It never
// waits on Nacos; a discovery under way ends on its own.
func (w *Watcher) Stop() {
	if w.stopped() {
		return
	}
	w.results.Stop()
	w.reg.forgetWatcher(w)
	w.mu.Lock()
	tracked := w.tracked
	w.tracked = map[naming.ServiceKey]*subscription{}
	w.mu.Unlock()
	for _, sub := range tracked {
		if sub != nil { // nil: still subscribing; that track releases it
			w.reg.subs.release(sub, w)
		}
	}
}
