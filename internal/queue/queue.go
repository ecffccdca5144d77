// Package queue is the watchers' queue, shared by the registry's watchers and the config
// source's: what a watcher has to report, handed to one reader at a time by a blocking
// Next, until Stop.
package queue

import (
	"errors"
	"sync"
)

// ErrStopped is Next's answer once the queue is stopped.
var ErrStopped = errors.New("watcher stopped")

// Queue holds items for a reader. Its zero value is not usable: use New.
type Queue[T any] struct {
	max     int           // 0: no limit
	wake    chan struct{} // one pending wake-up for Next
	stopped chan struct{} // closed by Stop
	stop    sync.Once
	next    sync.Mutex // one Next at a time: each item is handed out once

	mu    sync.Mutex // guards items
	items []T
}

// New returns a queue that keeps at most max items (0: no limit); a reader further
// behind loses the oldest.
func New[T any](max int) *Queue[T] {
	return &Queue[T]{max: max, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// Push queues items and wakes Next. It never blocks.
func (q *Queue[T]) Push(items ...T) {
	q.mu.Lock()
	q.items = append(q.items, items...)
	if q.max > 0 && len(q.items) > q.max {
		drop := len(q.items) - q.max
		clear(q.items[:drop])
		q.items = q.items[drop:]
	}
	q.mu.Unlock()
	q.Wake()
}

// Wake wakes Next, which calls its refill again. It never blocks.
func (q *Queue[T]) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Next returns the oldest item, waiting for one. When the queue is empty it asks
// refill (if not nil) for more before it waits. After Stop it returns ErrStopped.
func (q *Queue[T]) Next(refill func() []T) (T, error) {
	q.next.Lock()
	defer q.next.Unlock()
	var zero T
	for {
		select {
		case <-q.stopped:
			return zero, ErrStopped
		default:
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			item := q.items[0]
			q.items[0] = zero
			q.items = q.items[1:]
			q.mu.Unlock()
			return item, nil
		}
		q.mu.Unlock()
		if refill != nil {
			if more := refill(); len(more) > 0 {
				q.Push(more...)
				continue
			}
		}
		select {
		case <-q.wake:
		case <-q.stopped:
		}
	}
}

// Stop ends the queue: Next returns ErrStopped from now on. It is idempotent.
func (q *Queue[T]) Stop() { q.stop.Do(func() { close(q.stopped) }) }

// Stopped is closed once Stop has been called.
func (q *Queue[T]) Stopped() <-chan struct{} { return q.stopped }
