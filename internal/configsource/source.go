// Package configsource is the config source, free of go-micro: what every go-micro
// line's adapter serves. A Source reads a list of dataIds of one Nacos group, merges
// them in order into one JSON object (source.go), watches them (watch.go) and writes the
// first; its settings come from the adapter's options (settings.go), its ChangeSets
// are go-micro's, field for field (changeset.go), and the formats are configformat's.
// It talks to Nacos through configClient, its boundary with nacos-sdk-go's config
// client and the SDK's defects (sdk.go), and logs to a logging.Logger.
//
// No lock is held across a call to Nacos, and every wait has a bound: each request
// waits at most its timeout (the client's, or the SDK's own), and Watch, a watcher's
// Stop and Close wait for the SDK's listen loop and shutdown at most the client's
// timeout (WithTimeout in the adapters), then say in the log what they did not wait
// for.
package configsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/util"

	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// ErrClosed is the answer of Read, Write and Watch once the source is closed.
var ErrClosed = errors.New("nacos: config source is closed")

// Source is the config source of one go-micro source value.
type Source struct {
	settings *settings
	unusable error // why the options are unusable; returned by Read, Write and Watch

	mu        sync.Mutex    // guards the fields below; never held across a call to Nacos
	client    *configClient // built on first use, closed when the last watcher stops or by Close
	inFlight  int           // Read, Write and Watch calls using client
	listening bool          // client has the SDK listeners of the dataIds
	closed    bool
	watchers  map[*ChangeWatcher]bool
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

// New returns the source of o. The source is never nil: when the options are unusable,
// New returns why, and so do Read, Write and Watch. It connects on first use; the
// connection is released when the last watcher stops, or by Close.
func New(o Options) (*Source, error) {
	s := &Source{watchers: map[*ChangeWatcher]bool{}, last: map[string]dataState{}}
	s.settings, s.unusable = newSettings(o)
	return s, s.unusable
}

// acquire returns the client, building it if need be, for one Read, Write or Watch; the
// caller calls release when done.
func (s *Source) acquire() (*configClient, error) {
	if s.unusable != nil {
		return nil, s.unusable
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	s.inFlight++
	c := s.client
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	built, err := newConfigClient(s.settings) // not under the lock: it logs in over the network
	s.mu.Lock()
	switch {
	case err != nil:
		s.inFlight--
		s.mu.Unlock()
		return nil, err
	case s.closed:
		s.inFlight--
		s.mu.Unlock()
		s.end(built)
		return nil, ErrClosed
	case s.client != nil: // built meanwhile by another call
		c = s.client
		s.mu.Unlock()
		s.end(built)
		return c, nil
	}
	s.client = built
	s.mu.Unlock()
	return built, nil
}

// release ends a call that acquired the client, closing the client if the last watcher
// stopped meanwhile.
func (s *Source) release() {
	s.mu.Lock()
	s.inFlight--
	c := s.detachIfIdle()
	s.mu.Unlock()
	if c != nil {
		s.end(c)
	}
}

// detachIfIdle takes the client away when no call uses it and the last watcher stopped
// (a client only read through is kept for the next call, until Close). s.mu must be
// held; the caller ends what it returns, outside the lock.
func (s *Source) detachIfIdle() *configClient {
	if s.client == nil || s.inFlight > 0 || !s.listening || len(s.watchers) > 0 {
		return nil
	}
	c := s.client
	s.client, s.listening = nil, false
	return c
}

// end closes c and waits for it to end, at most the timeout: past that, it logs what
// the client still waits for, and the client ends in the background.
func (s *Source) end(c *configClient) {
	ended := c.Close()
	limit := time.NewTimer(s.settings.timeout)
	defer limit.Stop()
	select {
	case <-ended:
	case <-limit.C:
		s.settings.logf(logging.WarnLevel, "the config client did not end within %v: it waits for %s; it ends in the background",
			s.settings.timeout, c.waitingFor())
	}
}

// Close stops every watcher and ends the connection to Nacos; a Read or Write still
// running then fails. It waits for the connection to end at most the timeout (then the
// log says what it waits for, and it ends in the background). It is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	watchers := make([]*ChangeWatcher, 0, len(s.watchers))
	for w := range s.watchers {
		watchers = append(watchers, w)
	}
	c := s.client
	s.client, s.listening = nil, false
	s.mu.Unlock()
	for _, w := range watchers {
		w.Stop() // the client is taken already: nothing waits
	}
	if c != nil {
		s.end(c)
	}
	return nil
}

// Read returns the merged content of every dataId, as JSON.
func (s *Source) Read() (*ChangeSet, error) {
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
func (s *Source) fetch(c *configClient, strict bool) (map[string]dataState, error) {
	set := s.settings
	states := make(map[string]dataState, len(set.dataIDs))
	for _, id := range set.dataIDs {
		content, err := c.get(id)
		if err != nil {
			return nil, fmt.Errorf("nacos: read dataId %q in group %q: %w", id, set.group, set.withAuthHint(err))
		}
		if content == "" && set.required && strict {
			return nil, fmt.Errorf("nacos: dataId %q in group %q of namespace %q does not exist, and WithRequired is set",
				id, set.group, set.sdkSettings.NamespaceId)
		}
		values, err := configformat.Decode(set.formats[id], []byte(content))
		if err != nil && strict {
			return nil, fmt.Errorf("nacos: dataId %q (%s): %v", id, set.formats[id], err)
		}
		states[id] = dataState{md5: util.Md5(content), values: values}
	}
	return states, nil
}

// changeSet merges the dataIds in order into one JSON ChangeSet.
func (s *Source) changeSet(states map[string]dataState) (*ChangeSet, error) {
	merged := map[string]interface{}{}
	for _, id := range s.settings.dataIDs {
		configformat.Merge(merged, states[id].values)
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("nacos: encode the merged config: %v", err)
	}
	cs := &ChangeSet{Data: data, Format: configformat.JSON, Source: Name, Timestamp: time.Now()}
	cs.Checksum = cs.Sum()
	return cs, nil
}

// Write publishes the ChangeSet to the first dataId, in that dataId's format.
func (s *Source) Write(cs *ChangeSet) error {
	if s.unusable != nil {
		return s.unusable
	}
	if cs == nil {
		return fmt.Errorf("nacos: Write of a nil ChangeSet")
	}
	set := s.settings
	id := set.dataIDs[0]
	content, err := convert(cs, set.formats[id])
	if err != nil {
		return fmt.Errorf("nacos: cannot write to dataId %q: %v", id, err)
	}
	c, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	ok, err := c.publish(id, content, set.formats[id])
	switch {
	case sdkclient.IsUnreachable(err):
		return fmt.Errorf("nacos: write dataId %q in group %q: %w", id, set.group, err)
	case err != nil:
		return fmt.Errorf("nacos: write dataId %q in group %q: Nacos refused: %w", id, set.group, set.withAuthHint(err))
	case !ok:
		return fmt.Errorf("nacos: write dataId %q in group %q: Nacos refused, and nacos-sdk-go does not pass on why (a permission, or content Nacos does not take)%s",
			id, set.group, set.diagnoser().AuthHint())
	}
	return nil
}

// convert turns the ChangeSet's data into content of the format: as it is if it is of
// that format already (comments and order kept), re-encoded otherwise.
func convert(cs *ChangeSet, to string) (string, error) {
	from := cs.Format
	if from == "" {
		from = configformat.JSON
	}
	from, ok := configformat.Known(from)
	if !ok {
		return "", fmt.Errorf("the ChangeSet's format %q is not one of %s", cs.Format, configformat.Names)
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
