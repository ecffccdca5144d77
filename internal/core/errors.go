package core

import "errors"

// The errors each adapter turns into its go-micro line's own.
var (
	ErrNotFound       = errors.New("service not found")
	ErrWatcherStopped = errors.New("watcher stopped")
)

// ErrClosed is the answer of every method of a closed registry.
var ErrClosed = errors.New("nacos: registry is closed")
