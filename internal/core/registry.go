// Package core is the registry, free of go-micro: what every go-micro line's adapter
// serves. It owns the desired state of this registry's registrations and the one loop
// that publishes them (publisher.go), the subscriptions that lookups and watchers share
// (subscriptions.go), the watchers and their diff (watcher.go, diff.go), the client's
// life (connect.go), and the settings and per-call parameters (settings.go, params.go).
// It talks to Nacos through naming.Client and knows services in wire's model.
package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/wire"
)

// serviceListPageSize is how many names ListServices asks for at a time.
const serviceListPageSize = 500

// Dialer builds a naming client for the settings; reconnected is to be called whenever
// its connection is up again, saying whether one was lost (see naming.Dial).
type Dialer func(s *Settings, reconnected func(lost bool)) (naming.Client, error)

// DialSDK builds the nacos-sdk-go client of the settings: the Dialer of every registry
// outside the core's own tests.
func DialSDK(s *Settings, reconnected func(lost bool)) (naming.Client, error) {
	return naming.Dial(s.servers, s.client, s.log, reconnected)
}

// Registry is the registry of one go-micro registry value.
type Registry struct {
	dial  Dialer
	pub   *publisher
	subs  *subscriptions
	done  chan struct{}  // closed by Close
	ended chan struct{}  // closed once Close has ended everything (see Ended)
	wg    sync.WaitGroup // the registry's goroutines

	mu sync.RWMutex // guards the fields below, connection's included; never held across a network call
	connection
	settings *Settings
	unusable error // why the options are unusable; every method returns it
	closed   bool
	watchers map[*Watcher]bool
}

// New returns a registry that builds its clients with dial. It does nothing until used.
func New(dial Dialer) *Registry {
	r := &Registry{dial: dial, done: make(chan struct{}), ended: make(chan struct{}), watchers: map[*Watcher]bool{}}
	r.pub = newPublisher(r.currentSettings)
	r.pub.reached = r.reached
	r.subs = newSubscriptions(r.currentSettings, r.currentClient)
	return r
}

// Init applies options. Options it refuses change nothing, unless there were no usable
// ones yet: every method then says why. If the client settings changed and a client
// exists, a new client is built in the background; once it is up, everything
// registered and subscribed moves to it and the old one is closed. Init never waits on
// Nacos.
func (r *Registry) Init(o Options) error {
	s, err := NewSettings(o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if err != nil {
		if r.settings == nil {
			r.unusable = err
		}
		return err
	}
	old := r.settings
	r.settings, r.unusable = s, nil
	r.subs.protectEmpty.Store(s.pushEmptyProtect)
	if (r.client != nil || r.build != nil) && !old.sameClient(s) {
		r.startBuild()
	}
	return nil
}

// Settings returns the current settings, or why there are none.
func (r *Registry) Settings() (*Settings, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.settings, r.usable()
}

// usable says why the registry cannot be used, if it cannot. r.mu must be held.
func (r *Registry) usable() error {
	if r.closed {
		return ErrClosed
	}
	return r.unusable
}

// currentSettings returns the settings (nil if there are none).
func (r *Registry) currentSettings() *Settings {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.settings == nil {
		return &Settings{log: logging.Discard}
	}
	return r.settings
}

func (r *Registry) logf(level logging.Level, format string, args ...any) {
	r.currentSettings().logf(level, format, args...)
}

// Register publishes every node of s. Nodes this registry registered earlier under the
// same name stay registered; registering the same nodes again sends nothing to Nacos
// and only renews their TTL (ttl), after which a node not registered again is
// withdrawn. Invalid input is refused and changes nothing; so does a registration Nacos
// refuses: Register returns why, and nothing is retried. When Nacos cannot be told (it
// fails or is unreachable), Register says so, and the registry keeps trying in the
// background until Nacos holds the nodes or they are deregistered. Register waits for
// Nacos at most the timeout. ctx carries the per-call parameters (see params.go).
func (r *Registry) Register(s *wire.Service, ttl time.Duration, ctx context.Context) error {
	if ttl < 0 {
		return fmt.Errorf("nacos: register TTL must not be negative, got %v", ttl)
	}
	settings, err := r.Settings()
	if err != nil {
		return err
	}
	group, fields, err := settings.registerTarget(ctx)
	if err != nil {
		return err
	}
	nodes, dropped, err := wire.Encode(s, fields, settings.metadataBudget)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := wire.CheckInstance(s.Name, n.Key.ID, n.Instance); err != nil {
			return err
		}
	}
	key := naming.ServiceKey{Group: group, Name: s.Name}
	r.connect()
	w, err := r.pub.register(key, nodes, ttl)
	if w == nil {
		return err
	}
	if err := r.await(w, settings, "register", key); err != nil {
		return err
	}
	if dropped != "" {
		settings.logf(logging.WarnLevel, "service %q version %q: %s left out of Nacos, over the metadata budget of %d characters", s.Name, s.Version, dropped, settings.metadataBudget)
	}
	r.announce(key)
	return nil
}

// await waits for the outcome of a change at most the timeout. A build of the client
// that fails meanwhile is the outcome: nothing can be published without a client. An
// outcome that says Nacos is unreachable, or none in time, says why (see explain).
func (r *Registry) await(w *waiter, s *Settings, what string, key naming.ServiceKey) error {
	deadline := time.Now().Add(s.Timeout())
	timer := time.NewTimer(s.Timeout())
	defer timer.Stop()
	op := fmt.Sprintf("%s service %q (group %q)", what, key.Name, key.Group)
	b := r.lastBuild()
	if !r.connected() {
		defer s.diagnoser().StartAfter()() // why, if no answer comes in time
	}
	for {
		var built <-chan struct{}
		if b != nil {
			built = b.done
		}
		select {
		case err := <-w.done:
			if err != nil && naming.IsUnreachable(err) {
				return r.explain(s, op, err, deadline, true)
			}
			return s.withAuthHint(err)
		case <-r.done:
			return ErrClosed
		case <-built:
			if b.err != nil {
				return &opError{op: op, err: b.err, retrying: !naming.IsRefusal(b.err)}
			}
			b = nil
			continue
		case <-timer.C:
		}
		break
	}
	if r.currentClient() == nil {
		return r.explain(s, op, nil, deadline, true)
	}
	// A client, and no answer: the probe says whether the server is the cause.
	if f := s.diagnoser().Diagnose(time.Now()); !allOK(f) {
		return r.explain(s, op, nil, deadline, true)
	}
	return &opError{op: op, err: fmt.Errorf("Nacos did not answer within %v, though its gRPC port answers a dial: it may be overloaded (check its log)", s.Timeout()), retrying: true}
}

func allOK(findings []sdkclient.Finding) bool {
	for _, f := range findings {
		if !f.OK() {
			return false
		}
	}
	return true
}

// Deregister withdraws the nodes of s (matched by version and id); the other nodes this
// registry registered under the same name stay. Like Register, it keeps trying in the
// background when Nacos cannot be told, and changes nothing when Nacos refuses.
func (r *Registry) Deregister(s *wire.Service, ctx context.Context) error {
	settings, err := r.Settings()
	if err != nil {
		return err
	}
	if s == nil {
		return errors.New("nacos: service is nil")
	}
	if err := wire.CheckServiceName(s.Name); err != nil {
		return err
	}
	if len(s.Nodes) == 0 {
		return fmt.Errorf("nacos: service %q has no nodes to deregister", s.Name)
	}
	ids := make([]wire.NodeKey, len(s.Nodes))
	for i, n := range s.Nodes {
		if n == nil || n.Id == "" {
			return fmt.Errorf("nacos: service %q: a node to deregister has no id", s.Name)
		}
		ids[i] = wire.NodeKey{Version: s.Version, ID: n.Id}
	}
	group, err := settings.deregisterTarget(ctx)
	if err != nil {
		return err
	}
	key := naming.ServiceKey{Group: group, Name: s.Name}
	w, found, err := r.pub.deregister(key, ids)
	if !found {
		settings.logf(logging.DebugLevel, "deregister service %q: this registry registered nothing under that name in group %q, so there is nothing to withdraw", s.Name, group)
	}
	if w == nil {
		return err
	}
	return r.await(w, settings, "deregister", key)
}

// GetService returns one version per version of the service (its Service, with its
// healthy, enabled nodes), or ErrNotFound. They are shared and must not be modified:
// the adapter copies them. The first lookup of a name subscribes to it; later lookups are answered from
// the pushed state, with no round trip to Nacos. A subscription only lookups use is
// released once none has asked for it for the lookup expiry, or for 5 seconds if the
// service has no instances, e.g. a name that does not exist.
func (r *Registry) GetService(name string, ctx context.Context) ([]*wire.Version, error) {
	settings, err := r.Settings()
	if err != nil {
		return nil, err
	}
	group, clusters, targetErr := settings.lookupTarget(ctx)
	key := naming.ServiceKey{Group: group, Name: name}
	var sub *subscription
	if targetErr == nil {
		sub = r.subs.lookup(key) // the name was checked when it was subscribed
	}
	if sub == nil {
		if err := wire.CheckServiceName(name); err != nil {
			return nil, err
		}
		if targetErr != nil {
			return nil, targetErr
		}
		if sub, err = r.subscribe(key, nil); err != nil {
			return nil, r.closedOr(err)
		}
	}
	all, newlyFound := sub.answer()
	if newlyFound {
		// Only names with instances, once: a lookup of any name must stay cheap, and a
		// watcher started later finds the name by listing.
		r.announce(key)
	}
	versions := filterClusters(all, clusters)
	if len(versions) == 0 {
		return nil, ErrNotFound
	}
	return versions, nil
}

// subscribe returns the subscription to key for watcher w, or for a lookup if w is nil
// (see subscriptions.acquire).
func (r *Registry) subscribe(key naming.ServiceKey, w *Watcher) (*subscription, error) {
	c, s, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(s.Timeout())
	sub, _, err := r.subs.acquire(c, key, w, deadline, r.done)
	if err != nil {
		r.reached(err)
		return nil, s.withAuthHint(r.explain(s, fmt.Sprintf("subscribe to service %q (group %q)", key.Name, key.Group), err, deadline, false))
	}
	r.reached(nil)
	return sub, nil
}

// ListServices returns every service name of the registry's group, across all pages
// (or the one page the per-call parameters name), sorted.
func (r *Registry) ListServices(ctx context.Context) ([]string, error) {
	settings, err := r.Settings()
	if err != nil {
		return nil, err
	}
	param, err := settings.listTarget(ctx)
	if err != nil {
		return nil, err
	}
	c, s, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	names, err := r.listServiceNames(c, s, param)
	return names, r.closedOr(err)
}

// listServiceNames lists service names through c, saying why if Nacos is unreachable.
func (r *Registry) listServiceNames(c naming.Client, s *Settings, param vo.GetAllServiceInfoParam) ([]string, error) {
	deadline := time.Now().Add(s.Timeout())
	names, err := listServiceNames(c, param)
	r.reached(err)
	op := fmt.Sprintf("list services of group %q", param.GroupName)
	switch {
	case err == nil:
		return names, nil
	case naming.IsUnreachable(err):
		return nil, r.explain(s, op, err, deadline, false)
	}
	return nil, s.withAuthHint(opErr(err, "%s", op))
}

// serviceNames lists every service name of a group in the registry's namespace.
func (r *Registry) serviceNames(group string) ([]string, error) {
	c, s, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	return r.listServiceNames(c, s, vo.GetAllServiceInfoParam{GroupName: group})
}

// listServiceNames reads one page if param names one, otherwise every page.
func listServiceNames(c naming.Client, param vo.GetAllServiceInfoParam) ([]string, error) {
	onePage := param.PageNo > 0
	if !onePage {
		param.PageNo, param.PageSize = 1, serviceListPageSize
	}
	var names []string
	for {
		page, total, err := c.ServiceNames(param)
		if err != nil {
			return nil, err
		}
		names = append(names, page...)
		if onePage || len(page) < int(param.PageSize) || int64(len(names)) >= total {
			break
		}
		param.PageNo++
	}
	sort.Strings(names)
	return names, nil
}

// Watch watches one service (service, or the per-call parameters' ServiceName) or, if
// none is named, every service of the group, including services that appear later.
func (r *Registry) Watch(service string, ctx context.Context) (*Watcher, error) {
	settings, err := r.Settings()
	if err != nil {
		return nil, err
	}
	key, clusters, err := settings.watchTarget(service, ctx)
	if err != nil {
		return nil, err
	}
	if key.Name != "" {
		if err := wire.CheckServiceName(key.Name); err != nil {
			return nil, err
		}
	}
	w := newWatcher(r, key.Group, key.Name, clusters)
	if err := r.addWatcher(w); err != nil {
		return nil, err
	}
	if err := r.startWatcher(w, settings.discoveryInterval); err != nil {
		w.Stop()
		return nil, r.closedOr(err)
	}
	return w, nil
}

// closedOr is ErrClosed if the registry was closed while a call failed (its client was
// shut down under it), and err otherwise.
func (r *Registry) closedOr(err error) error {
	if err != nil {
		select {
		case <-r.done:
			return ErrClosed
		default:
		}
	}
	return err
}

func (r *Registry) startWatcher(w *Watcher, interval time.Duration) error {
	if w.service != "" {
		return w.track(naming.ServiceKey{Group: w.group, Name: w.service})
	}
	names, err := r.serviceNames(w.group)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := w.track(naming.ServiceKey{Group: w.group, Name: name}); err != nil {
			r.logf(logging.WarnLevel, "%v (a watcher; trying again at its next discovery)", err)
		}
	}
	return r.goRun(func() { w.discover(interval) })
}

func (r *Registry) addWatcher(w *Watcher) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return err
	}
	r.watchers[w] = true
	return nil
}

func (r *Registry) forgetWatcher(w *Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers, w)
}

// Watchers says how many watchers are running.
func (r *Registry) Watchers() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.watchers)
}

// announce tells the watchers of all services of a group about a name this registry
// registered, or looked up and found, so that they need not wait for their next
// discovery. They subscribe in the background: the caller does not wait for Nacos to
// answer them.
func (r *Registry) announce(key naming.ServiceKey) {
	r.mu.RLock()
	var ws []*Watcher
	for w := range r.watchers {
		if w.service == "" && w.group == key.Group {
			ws = append(ws, w)
		}
	}
	r.mu.RUnlock()
	if len(ws) == 0 {
		return
	}
	_ = r.goRun(func() { // fails only once closed, when the watchers are stopped
		for _, w := range ws {
			if err := w.track(key); err != nil {
				r.logf(logging.DebugLevel, "%v (a watcher)", err)
			}
		}
	})
}

// goRun runs f in a goroutine that Close waits for, unless the registry is closed.
func (r *Registry) goRun(f func()) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return nil
}

// Snapshot is what a registry holds, for tests and diagnostics.
type Snapshot struct {
	Publications  int            // services the publisher holds
	Subscriptions int            // services subscribed to
	Watchers      int            // watchers running
	Reported      map[string]int // by watched service ("" for all): nodes reported so far
	Client        naming.Client  // nil if none yet
}

// Snapshot returns what the registry holds now.
func (r *Registry) Snapshot() Snapshot {
	s := Snapshot{Publications: r.pub.count(), Subscriptions: r.subs.count(), Reported: map[string]int{}, Client: r.currentClient()}
	r.mu.RLock()
	ws := make([]*Watcher, 0, len(r.watchers))
	for w := range r.watchers {
		ws = append(ws, w)
	}
	r.mu.RUnlock()
	for _, w := range ws {
		w.mu.Lock()
		n := 0
		for _, reported := range w.reported {
			for _, v := range reported {
				n += len(v.Service.Nodes)
			}
		}
		w.mu.Unlock()
		s.Reported[w.service] += n
	}
	s.Watchers = len(ws)
	return s
}

// Client returns the registry's client, waiting for it at most the timeout.
func (r *Registry) Client() (naming.Client, error) {
	c, _, err := r.namingClient()
	return c, err
}
