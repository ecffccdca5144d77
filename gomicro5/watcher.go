package nacos

import (
	"go-micro.dev/v5/registry"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/wire"
)

var _ registry.Watcher = (*watcher)(nil)

// watcher is go-micro v5's registry.Watcher over the core's: one result per created,
// updated or deleted node, level-triggered, so that pushes nobody reads coalesce and the
// final state is never lost.
type watcher struct{ w *core.Watcher }

// Next blocks until a node is created, updated or deleted, or the watcher is stopped
// (registry.ErrWatcherStopped). The result is the caller's: go-micro's cache keeps and
// modifies it.
func (w *watcher) Next() (*registry.Result, error) {
	res, err := w.w.Next()
	if err != nil {
		return nil, microError(err)
	}
	return &registry.Result{Action: res.Action, Service: toService(res.Service, []*wire.Node{res.Node})}, nil
}

// Stop ends the watcher: Next returns registry.ErrWatcherStopped from now on, and the
// watcher's subscriptions are released (unsubscribed when nothing else uses them).
func (w *watcher) Stop() { w.w.Stop() }
