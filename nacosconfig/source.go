package nacosconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

var (
	_ source.Source = (*nacosSource)(nil)
	_ io.Closer     = (*nacosSource)(nil)
)

var errClosed = errors.New("nacos: config source is closed")

type nacosSource struct {
	cfg    *settings
	cfgErr error // why the options are unusable; returned by Read, Write and Watch

	mu        sync.Mutex
	client    *sdkClient // built on first use, closed when the last watcher stops
	inFlight  int        // Read, Write and Watch calls using client
	listening bool       // client has the SDK listeners of the dataIds
	closed    bool
	watchers  map[*watcher]bool
	// last is what the last Read or the watch saw of each dataId: the baseline that
	// the first watcher compares Nacos's changes with.
	last   map[string]dataState
	merged string // checksum of the merged content the watchers last got
}

// dataState is what the source holds of one dataId.
type dataState struct {
	md5    string                 // of the raw content; "" when the dataId does not exist
	values map[string]interface{} // the last content that parsed
}

// NewSource returns a go-micro config source that reads the dataIds from Nacos and
// watches them. It never fails: a bad option makes Read, Write and Watch return an
// error saying what was wrong. It connects on first use; the connection is released
// when the last watcher stops, or by Close.
func NewSource(opts ...source.Option) source.Source {
	o := source.NewOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	s := &nacosSource{watchers: map[*watcher]bool{}, last: map[string]dataState{}}
	s.cfg, s.cfgErr = newSettings(o)
	if s.cfgErr != nil {
		logger.Logf(logger.ErrorLevel, "%v", s.cfgErr)
	}
	return s
}

func (s *nacosSource) String() string { return "nacos" }

// acquire returns the SDK client, building it if need be, for one Read or Write; the
// caller calls release when done.
func (s *nacosSource) acquire() (*sdkClient, error) {
	if s.cfgErr != nil {
		return nil, s.cfgErr
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.inFlight++
	c := s.client
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	built, err := newSDKClient(s.cfg) // not under the lock: it logs in over the network
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.inFlight--
		return nil, err
	case s.closed:
		s.inFlight--
		defer built.close()
		return nil, errClosed
	case s.client != nil: // built meanwhile by another call
		defer built.close()
		return s.client, nil
	}
	s.client = built
	return built, nil
}

// release ends a call that acquired the client, closing the client if the last watcher
// stopped meanwhile.
func (s *nacosSource) release() {
	s.mu.Lock()
	s.inFlight--
	c := s.detachIfIdle()
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// detachIfIdle takes the client away when no call uses it and the last watcher stopped
// (a client only read through is kept for the next call, until Close). s.mu must be
// held; the caller closes what it returns, outside the lock.
func (s *nacosSource) detachIfIdle() *sdkClient {
	if s.client == nil || s.inFlight > 0 || !s.listening || len(s.watchers) > 0 {
		return nil
	}
	c := s.client
	s.client, s.listening = nil, false
	return c
}

// Close releases a source made by NewSource: it stops its watchers and ends its
// connection to Nacos. It is the source's own Close (io.Closer), reachable without a
// type assertion. A source of another package is closed if it is an io.Closer.
//
// Ending the connection waits while another client of the process, a registry's
// included, is being built or is querying a config: nacos-sdk-go's shutdown must not
// overlap them (internal/sdkclient). Against a server that does not answer, that is at
// most three times the SDK's gRPC timeout.
func Close(src source.Source) error {
	if c, ok := src.(io.Closer); ok {
		return c.Close()
	}
	return fmt.Errorf("nacos: a %T cannot be closed", src)
}

// Close stops every watcher and ends the connection to Nacos before it returns; a Read
// or Write still running then fails. It is idempotent.
func (s *nacosSource) Close() error {
	s.mu.Lock()
	s.closed = true
	watchers := make([]*watcher, 0, len(s.watchers))
	for w := range s.watchers {
		watchers = append(watchers, w)
	}
	c := s.client
	s.client, s.listening = nil, false
	s.mu.Unlock()
	for _, w := range watchers {
		w.Stop()
	}
	if c != nil {
		c.close()
	}
	return nil
}

// Read returns the merged content of every dataId, as JSON.
func (s *nacosSource) Read() (*source.ChangeSet, error) {
	c, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	states, err := s.fetch(c, true)
	if err != nil {
		return nil, err
	}
	cs, err := s.changeSet(states)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if !s.listening { // a watch keeps its own view, which its changes are compared with
		s.last = states
	}
	s.mu.Unlock()
	return cs, nil
}

// fetch reads every dataId. Strict, for Read, it fails on a missing required dataId and
// on content that does not parse; otherwise, for a watch's baseline, such a dataId is
// empty.
func (s *nacosSource) fetch(c *sdkClient, strict bool) (map[string]dataState, error) {
	states := make(map[string]dataState, len(s.cfg.dataIDs))
	for _, id := range s.cfg.dataIDs {
		content, err := c.get(id)
		if err != nil {
			return nil, fmt.Errorf("nacos: read dataId %q in group %q: %v", id, s.cfg.group, err)
		}
		if content == "" && s.cfg.required && strict {
			return nil, fmt.Errorf("nacos: dataId %q in group %q of namespace %q does not exist, and WithRequired is set",
				id, s.cfg.group, s.cfg.client.NamespaceId)
		}
		values, err := configformat.Decode(s.cfg.formats[id], []byte(content))
		if err != nil && strict {
			return nil, fmt.Errorf("nacos: dataId %q (%s): %v", id, s.cfg.formats[id], err)
		}
		states[id] = dataState{md5: util.Md5(content), values: values}
	}
	return states, nil
}

// changeSet merges the dataIds in order into one JSON ChangeSet.
func (s *nacosSource) changeSet(states map[string]dataState) (*source.ChangeSet, error) {
	merged := map[string]interface{}{}
	for _, id := range s.cfg.dataIDs {
		configformat.Merge(merged, states[id].values)
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("nacos: encode the merged config: %v", err)
	}
	cs := &source.ChangeSet{Data: data, Format: FormatJSON, Source: s.String(), Timestamp: time.Now()}
	cs.Checksum = cs.Sum()
	return cs, nil
}

// Write publishes the ChangeSet to the first dataId, in that dataId's format.
func (s *nacosSource) Write(cs *source.ChangeSet) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if cs == nil {
		return fmt.Errorf("nacos: Write of a nil ChangeSet")
	}
	id := s.cfg.dataIDs[0]
	content, err := convert(cs, s.cfg.formats[id])
	if err != nil {
		return fmt.Errorf("nacos: cannot write to dataId %q: %v", id, err)
	}
	c, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	done := sdkclient.UseClientMap()
	ok, err := c.PublishConfig(vo.ConfigParam{DataId: id, Group: s.cfg.group, Content: content, Type: s.cfg.formats[id]})
	done()
	if err != nil || !ok {
		return fmt.Errorf("nacos: write dataId %q in group %q: Nacos refused: %v", id, s.cfg.group, err)
	}
	return nil
}

// convert turns the ChangeSet's data into content of the format: as it is if it is of
// that format already (comments and order kept), re-encoded otherwise.
func convert(cs *source.ChangeSet, to string) (string, error) {
	from := cs.Format
	if from == "" {
		from = FormatJSON
	}
	from, ok := configformat.Known(from)
	if !ok {
		return "", fmt.Errorf("the ChangeSet's format %q is not one of json, yaml, yml, toml, properties", cs.Format)
	}
	values, err := configformat.Decode(from, cs.Data)
	if err != nil {
		return "", fmt.Errorf("the ChangeSet's %s data does not parse: %v", from, err)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("the ChangeSet is empty, and Nacos stores no empty config")
	}
	if from == to {
		return string(cs.Data), nil
	}
	out, err := configformat.Encode(to, values)
	if err != nil {
		return "", fmt.Errorf("its content has no %s form: %v", to, err)
	}
	return string(out), nil
}
