package suite

import (
	"io"
	"testing"
	"time"
)

// Source is a line's config source as the suite drives it.
type Source struct{ obj object }

// ChangeSet is a line's source.ChangeSet, in the suite's terms.
type ChangeSet struct {
	Data      []byte
	Checksum  string
	Format    string
	Source    string
	Timestamp time.Time
}

// source returns a new source of the line with the options, closed when the test ends.
func (l *Line) source(t testing.TB, o SourceOptions) *Source {
	t.Helper()
	s := &Source{objectOf(newWith(l.NewSource, l.SourceOptions(o)))}
	t.Cleanup(func() { s.Close() })
	return s
}

// Read is the source's Read.
func (s *Source) Read() (*ChangeSet, error) {
	res := s.obj.call("Read", callOptions{})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	var cs ChangeSet
	into(res[0], &cs)
	return &cs, nil
}

// Write is the source's Write.
func (s *Source) Write(cs *ChangeSet) error {
	return errorOf(s.obj.call("Write", callOptions{}, cs)[0])
}

// Watch is the source's Watch.
func (s *Source) Watch() (*SourceWatcher, error) {
	res := s.obj.call("Watch", callOptions{})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	return &SourceWatcher{objectOf(res[0].Interface())}, nil
}

// Close closes the source (it is an io.Closer).
func (s *Source) Close() error { return s.obj.v.Interface().(io.Closer).Close() }

// SourceWatcher is a line's config watcher as the suite drives it.
type SourceWatcher struct{ obj object }

// Next is the watcher's Next. Its error is the line's, untranslated.
func (w *SourceWatcher) Next() (*ChangeSet, error) {
	res := w.obj.call("Next", callOptions{})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	var cs ChangeSet
	into(res[0], &cs)
	return &cs, nil
}

// Stop is the watcher's Stop.
func (w *SourceWatcher) Stop() error { return errorOf(w.obj.call("Stop", callOptions{})[0]) }
