package configsource

import (
	"errors"
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/util"

	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/queue"
)

// ErrWatcherStopped is Next's answer once the watcher is stopped; each adapter turns it
// into its go-micro line's own.
var ErrWatcherStopped = errors.New("watcher stopped")

// ChangeWatcher delivers the source's changes in order, one ChangeSet per change of the
// merged content. The ChangeSets are shared by every watcher of the source: readers
// must not modify them.
type ChangeWatcher struct {
	src      *Source
	changes  *queue.Queue[*ChangeSet]
	stopping sync.Once
}

// Watch returns a watcher of every dataId. The watchers of a source share one SDK
// listener per dataId, which Nacos tells of each change; the first watcher starts them
// (and waits for the SDK's listen round, at most the timeout), the last one to stop
// ends them and releases the connection.
func (s *Source) Watch() (*ChangeWatcher, error) {
	c, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	s.mu.Lock()
	baseline := len(s.last) == 0
	s.mu.Unlock()
	var fetched map[string]dataState
	if baseline { // never read: what Nacos holds now is what later changes are compared with
		if fetched, err = s.fetch(c, false); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	started := !s.listening
	if started {
		if fetched != nil && len(s.last) == 0 {
			s.last = fetched
		}
		cs, err := s.changeSet(s.last)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.merged = cs.Checksum
		for _, id := range s.settings.dataIDs {
			// Local to the SDK (its listen cache, and the snapshot file of a cache
			// directory), and it checks nothing here that the options did not.
			_ = c.listen(id, func(dataID, content string) { s.changed(c, dataID, content) })
		}
		s.listening = true
	}
	w := &ChangeWatcher{src: s, changes: queue.New[*ChangeSet](maxPending)}
	s.watchers[w] = true
	s.mu.Unlock()
	if started {
		c.start()
	}
	return w, nil
}

// changed is the SDK listeners' callback: content is the dataId's content after a
// change, or "" if it was deleted. It runs on the SDK's goroutines.
func (s *Source) changed(c *configClient, dataID, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	format, ours := s.settings.formats[dataID]
	if s.client != c || !s.listening || !ours || !c.isNewest(dataID, content) {
		return // a listener of a closed client, or an older content called back late
	}
	old := s.last[dataID]
	now := dataState{md5: util.Md5(content)}
	if now.md5 == old.md5 {
		return
	}
	switch values, err := configformat.Decode(format, []byte(content)); {
	case content == "" && s.settings.keepOnDelete:
		now.values = old.values
	case err != nil:
		s.settings.logf(logging.ErrorLevel, "dataId %q (%s) now holds content that does not parse; keeping its last good content: %v", dataID, format, err)
		now.values = old.values
	default:
		now.values = values
	}
	s.last[dataID] = now
	cs, err := s.changeSet(s.last)
	if err != nil {
		s.settings.logf(logging.ErrorLevel, "%v", err)
		return
	}
	if cs.Checksum == s.merged {
		return
	}
	s.merged = cs.Checksum
	for w := range s.watchers {
		w.changes.Push(cs) // never blocks: a reader maxPending changes behind loses the oldest
	}
}

// Next returns the next change, waiting for one; after Stop it returns
// ErrWatcherStopped.
func (w *ChangeWatcher) Next() (*ChangeSet, error) {
	cs, err := w.changes.Next(nil)
	if err != nil {
		return nil, ErrWatcherStopped
	}
	return cs, nil
}

// Stop ends the watcher and unblocks Next. The last watcher of a source to stop ends the
// SDK listeners and releases the connection, waiting for that at most the timeout.
// Stop is idempotent.
func (w *ChangeWatcher) Stop() {
	w.stopping.Do(func() {
		w.changes.Stop()
		s := w.src
		s.mu.Lock()
		delete(s.watchers, w)
		c := s.detachIfIdle()
		s.mu.Unlock()
		if c != nil {
			s.end(c)
		}
	})
}
