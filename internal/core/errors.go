package core

import (
	"errors"
	"fmt"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
)

// The errors each adapter turns into its go-micro line's own.
var (
	ErrNotFound       = errors.New("service not found")
	ErrWatcherStopped = errors.New("watcher stopped")
)

// ErrClosed is the answer of every method of a closed registry.
var ErrClosed = errors.New("nacos: registry is closed")

// opError is an operation that failed: "nacos: <op>: <cause>", without the "nacos: "
// the cause may begin with (one prefix, whatever the depth of wrapping).
type opError struct {
	op       string
	err      error
	retrying bool // the registry keeps trying
}

func (e *opError) Error() string {
	s := "nacos: " + e.op + ": " + logging.Unprefixed(e.err.Error())
	if e.retrying {
		s += " (the registry keeps trying)"
	}
	return s
}

func (e *opError) Unwrap() error { return e.err }

// opErr says which operation err failed.
func opErr(err error, format string, args ...any) error {
	return &opError{op: fmt.Sprintf(format, args...), err: err}
}

// hinted is an error with what to check added: err's text, then the hint.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() + e.hint }
func (e *hinted) Unwrap() error { return e.err }

// withAuthHint adds to a refusal that may be about credentials whether credentials were
// given and what to set.
func (s *Settings) withAuthHint(err error) error {
	var h *hinted
	if !naming.MayBeAuth(err) || errors.As(err, &h) {
		return err
	}
	return &hinted{err, s.diagnoser().AuthHint()}
}
