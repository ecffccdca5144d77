package nacosconfig

import (
	"fmt"
	"io"

	"go-micro.dev/v5/config/source"
	"go-micro.dev/v5/logger"

	"github.com/micro-registry/nacos/internal/configsource"
)

var (
	_ source.Source = (*nacosSource)(nil)
	_ io.Closer     = (*nacosSource)(nil)
)

// nacosSource is go-micro v5's source.Source over the plugin's config core: it
// translates go-micro's options and ChangeSets to the core's and back.
type nacosSource struct{ core *configsource.Source }

// NewSource returns a go-micro config source that reads the dataIds from Nacos and
// watches them. It never fails: a bad option makes Read, Write and Watch return an
// error saying what was wrong (it is also logged once). It connects on first use; the
// connection is released when the last watcher stops, or by Close.
func NewSource(opts ...source.Option) source.Source {
	o := source.NewOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	core, err := configsource.New(coreOptions(o))
	if err != nil {
		logger.Logf(logger.ErrorLevel, "%v", err)
	}
	return &nacosSource{core}
}

func (s *nacosSource) String() string { return configsource.Name }

// Close releases a source made by NewSource: it stops its watchers and ends its
// connection to Nacos. It is the source's own Close (io.Closer), reachable without a
// type assertion. A source of another package is closed if it is an io.Closer.
//
// It waits for the connection to end at most the source's timeout (WithTimeout): the
// SDK's listen round under way must end first, and another client of the process, a
// registry's included, must not be being built or querying a config meanwhile
// (nacos-sdk-go's shutdown must not overlap them). Past the timeout, the source's
// logger says what it waits for, and the connection ends in the background.
func Close(src source.Source) error {
	if c, ok := src.(io.Closer); ok {
		return c.Close()
	}
	return fmt.Errorf("nacos: a %T cannot be closed", src)
}

// Close is Close(s): it stops every watcher and ends the connection to Nacos; a Read
// or Write still running then fails. It is idempotent.
func (s *nacosSource) Close() error { return s.core.Close() }

// Read returns the merged content of every dataId, as JSON.
func (s *nacosSource) Read() (*source.ChangeSet, error) {
	cs, err := s.core.Read()
	if err != nil {
		return nil, err
	}
	return toChangeSet(cs), nil
}

// Write publishes the ChangeSet to the first dataId, in that dataId's format.
func (s *nacosSource) Write(cs *source.ChangeSet) error {
	if cs == nil {
		return s.core.Write(nil)
	}
	return s.core.Write(&configsource.ChangeSet{Data: cs.Data, Checksum: cs.Checksum, Format: cs.Format, Source: cs.Source, Timestamp: cs.Timestamp})
}

// Watch returns a watcher of every dataId. The watchers of a source share one SDK
// listener per dataId, which Nacos tells of each change; the first watcher starts them,
// the last one to stop ends them and releases the connection.
func (s *nacosSource) Watch() (source.Watcher, error) {
	w, err := s.core.Watch()
	if err != nil {
		return nil, err
	}
	return &changeWatcher{w}, nil
}

// toChangeSet is the core's ChangeSet as go-micro's. Data is shared: go-micro's readers
// only read it.
func toChangeSet(cs *configsource.ChangeSet) *source.ChangeSet {
	return &source.ChangeSet{Data: cs.Data, Checksum: cs.Checksum, Format: cs.Format, Source: cs.Source, Timestamp: cs.Timestamp}
}
