package nacosconfig

import (
	"sync"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
)

var _ source.Watcher = (*watcher)(nil)

// watcher delivers the source's changes in order, one ChangeSet per change of the
// merged content.
type watcher struct {
	src     *nacosSource
	wake    chan struct{} // signals that queue grew
	stopped chan struct{} // closed by Stop
	once    sync.Once

	mu    sync.Mutex
	queue []*source.ChangeSet
}

// Watch returns a watcher of every dataId. The watchers of a source share one SDK
// listener per dataId, which Nacos tells of each change; the first watcher starts them,
// the last one to stop ends them and releases the connection.
func (s *nacosSource) Watch() (source.Watcher, error) {
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
		return nil, errClosed
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
		for _, id := range s.cfg.dataIDs {
			// The SDK checks nothing here that the options did not.
			_ = c.listen(id, func(_, _, dataID, content string) { s.changed(c, dataID, content) })
		}
		s.listening = true
	}
	w := &watcher{src: s, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	s.watchers[w] = true
	s.mu.Unlock()
	if started {
		c.start()
	}
	return w, nil
}

// changed is the SDK listeners' callback: content is the dataId's content after a
// change, or "" if it was deleted.
func (s *nacosSource) changed(c *sdkClient, dataID, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	format, ours := s.cfg.formats[dataID]
	if s.client != c || !s.listening || !ours || !c.isNewest(dataID, content) {
		return // a listener of a closed client, or an older content called back late
	}
	old := s.last[dataID]
	now := dataState{md5: util.Md5(content)}
	if now.md5 == old.md5 {
		return
	}
	switch values, err := configformat.Decode(format, []byte(content)); {
	case content == "" && s.cfg.keepOnDelete:
		now.values = old.values
	case err != nil:
		s.cfg.logf(logger.ErrorLevel, "dataId %q (%s) now holds content that does not parse; keeping its last good content: %v", dataID, format, err)
		now.values = old.values
	default:
		now.values = values
	}
	s.last[dataID] = now
	cs, err := s.changeSet(s.last)
	if err != nil {
		s.cfg.logf(logger.ErrorLevel, "%v", err)
		return
	}
	if cs.Checksum == s.merged {
		return
	}
	s.merged = cs.Checksum
	for w := range s.watchers {
		w.push(cs)
	}
}

// push queues a change; a reader more than maxPending changes behind loses the oldest.
func (w *watcher) push(cs *source.ChangeSet) {
	w.mu.Lock()
	if len(w.queue) == maxPending {
		w.queue[0] = nil
		w.queue = w.queue[1:]
	}
	w.queue = append(w.queue, cs)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Next returns the next change, waiting for one; after Stop it returns
// source.ErrWatcherStopped.
func (w *watcher) Next() (*source.ChangeSet, error) {
	for {
		select {
		case <-w.stopped:
			return nil, source.ErrWatcherStopped
		default:
		}
		w.mu.Lock()
		if len(w.queue) > 0 {
			cs := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return cs, nil
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.stopped:
		}
	}
}

// Stop ends the watcher and unblocks Next. The last watcher of a source to stop ends the
// SDK listeners and releases the connection. Stop is idempotent.
func (w *watcher) Stop() error {
	w.once.Do(func() {
		close(w.stopped)
		s := w.src
		s.mu.Lock()
		delete(s.watchers, w)
		c := s.detachIfIdle()
		s.mu.Unlock()
		if c != nil {
			c.close()
		}
	})
	return nil
}
