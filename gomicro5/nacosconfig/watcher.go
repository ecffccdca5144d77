package nacosconfig

import (
	"go-micro.dev/v5/config/source"

	"github.com/micro-registry/nacos/internal/configsource"
)

var _ source.Watcher = (*changeWatcher)(nil)

// changeWatcher is go-micro v5's source.Watcher over the core's: one ChangeSet per
// change of the merged content, in order, always the newest.
type changeWatcher struct{ w *configsource.ChangeWatcher }

// Next returns the next change, waiting for one; after Stop it returns
// source.ErrWatcherStopped.
func (w *changeWatcher) Next() (*source.ChangeSet, error) {
	cs, err := w.w.Next()
	if err != nil {
		return nil, source.ErrWatcherStopped
	}
	return toChangeSet(cs), nil
}

// Stop ends the watcher and unblocks Next. The last watcher of a source to stop ends the
// SDK listeners and releases the connection, waiting for that at most the timeout. Stop
// is idempotent.
func (w *changeWatcher) Stop() error {
	w.w.Stop()
	return nil
}
