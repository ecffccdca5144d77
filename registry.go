package nacos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asim/go-micro/v3/cmd"
	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

func init() { cmd.DefaultRegistries["nacos"] = NewRegistry }

var (
	_ registry.Registry = (*nacosRegistry)(nil)
	_ io.Closer         = (*nacosRegistry)(nil)
)

var errClosed = errors.New("nacos: registry is closed")

// serviceListPageSize is how many names ListServices asks for at a time.
const serviceListPageSize = 500

type nacosRegistry struct {
	pub  *publisher
	subs *subscriptions
	done chan struct{}  // closed by Close
	wg   sync.WaitGroup // the maintain loop

	mu         sync.RWMutex // never held across a network call
	opts       registry.Options
	cfg        *config
	cfgErr     error        // why the options are unusable; returned by every method
	client     naming       // the current client; nil until the first is built
	build      *clientBuild // a client being built, if any
	closed     bool
	watchers   map[*watcher]bool
	maintained bool          // the maintain loop runs
	wake       chan struct{} // wakes the maintain loop
	redone     atomic.Bool   // the SDK redid its registrations: publish everything again
}

// NewRegistry returns a go-micro registry backed by Nacos 2.x. It never fails: it
// connects on first use, in the background, and a bad option makes every method return
// an error saying what was wrong (it is also logged once). Release it with Close:
//
//	defer nacos.Close(r)
func NewRegistry(opts ...registry.Option) registry.Registry {
	r := &nacosRegistry{
		pub:      newPublisher(),
		subs:     newSubscriptions(),
		done:     make(chan struct{}),
		opts:     registry.Options{Context: context.Background()},
		watchers: map[*watcher]bool{},
		wake:     make(chan struct{}, 1),
	}
	if err := r.Init(opts...); err != nil {
		logger.Logf(logger.ErrorLevel, "%v", err)
	}
	return r
}

// Close releases a registry made by NewRegistry: it stops its watchers and ends its
// connection to Nacos, which then removes the nodes it registered. It waits for that at
// most the registry's timeout. It is the registry's own Close
// (io.Closer), reachable without a type assertion. A registry of another package is
// closed if it is an io.Closer.
func Close(r registry.Registry) error {
	if c, ok := r.(io.Closer); ok {
		return c.Close()
	}
	return fmt.Errorf("nacos: a %T cannot be closed", r)
}

// Init applies options on top of the current ones. Options it refuses change nothing.
// If the client settings changed and a client exists, a new client is built in the
// background; once it is up, everything registered and subscribed moves to it and the
// old one is closed. Init never waits on Nacos.
func (r *nacosRegistry) Init(opts ...registry.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	next := r.opts
	for _, o := range opts {
		if o != nil {
			o(&next)
		}
	}
	cfg, err := newConfig(next)
	if err != nil {
		if r.cfg == nil { // nothing usable yet: every method says why
			r.opts, r.cfgErr = next, err
		}
		return err
	}
	old := r.cfg
	r.opts, r.cfg, r.cfgErr = next, cfg, nil
	r.subs.protectEmpty.Store(cfg.pushEmptyProtect)
	if (r.client != nil || r.build != nil) && !(reflect.DeepEqual(old.servers, cfg.servers) && reflect.DeepEqual(old.client, cfg.client)) {
		r.startBuild()
	}
	return nil
}

// usable says why the registry cannot be used, if it cannot. r.mu must be held.
func (r *nacosRegistry) usable() error {
	if r.closed {
		return errClosed
	}
	return r.cfgErr
}

// config returns the current configuration, or why there is none.
func (r *nacosRegistry) config() (*config, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cfg, r.usable()
}

func (r *nacosRegistry) logf(level logger.Level, format string, args ...interface{}) {
	if cfg, _ := r.config(); cfg != nil {
		cfg.logf(level, format, args...)
		return
	}
	logger.Logf(level, "nacos: "+format, args...)
}

func (r *nacosRegistry) Options() registry.Options {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.opts
}

func (r *nacosRegistry) String() string { return "nacos" }

// Register publishes every node of s. Nodes this registry registered earlier under the
// same name stay registered; registering the same nodes again sends nothing to Nacos
// and only renews their TTL (registry.RegisterTTL), after which a node not registered
// again is withdrawn. Invalid input is refused and changes nothing; so does a
// registration Nacos refuses (a parameter it does not accept, a missing permission, or
// several nodes of one service on a server older than 2.2): Register returns why, and
// nothing is retried. When Nacos cannot be told (it fails or is unreachable), Register
// says so, and the registry keeps trying in the background until Nacos holds the nodes
// or they are deregistered.
func (r *nacosRegistry) Register(s *registry.Service, opts ...registry.RegisterOption) error {
	o := apply(opts)
	if o.TTL < 0 {
		return fmt.Errorf("nacos: register TTL must not be negative, got %v", o.TTL)
	}
	cfg, err := r.config()
	if err != nil {
		return err
	}
	key, fields, err := registerTarget(cfg, o.Context)
	if err != nil {
		return err
	}
	nodes, dropped, err := encodeService(s, fields, cfg.metadataBudget)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := checkInstance(s.Name, n.key.id, n.instance); err != nil {
			return err
		}
	}
	key.name = s.Name
	c, err := r.namingClient()
	if errors.Is(err, errConnecting) {
		r.pub.register(nil, key, nodes, o.TTL) // stands until the client is up
		r.maintainSoon()
		return retrying(err)
	}
	if err != nil {
		return err
	}
	changed, err := r.pub.register(c, key, nodes, o.TTL)
	if (err != nil && !isRefusal(err)) || o.TTL > 0 || r.currentClient() != c {
		r.maintainSoon() // retries, expires, or publishes on a client that replaced c
	}
	if err != nil {
		return retrying(err)
	}
	if changed && dropped != "" {
		cfg.logf(logger.WarnLevel, "service %q version %q: %s left out of Nacos, over the metadata budget of %d characters", s.Name, s.Version, dropped, cfg.metadataBudget)
	}
	r.announce(key)
	return nil
}

// retrying says, of an error that is not a refusal, that the registry keeps trying.
func retrying(err error) error {
	if isRefusal(err) {
		return err
	}
	return fmt.Errorf("%w (the registry keeps trying)", err)
}

// Deregister withdraws the nodes of s (matched by version and id); the other nodes this
// registry registered under the same name stay. Like Register, it keeps trying in the
// background when Nacos cannot be told, and changes nothing when Nacos refuses.
func (r *nacosRegistry) Deregister(s *registry.Service, opts ...registry.DeregisterOption) error {
	o := apply(opts)
	cfg, err := r.config()
	if err != nil {
		return err
	}
	if s == nil {
		return errors.New("nacos: service is nil")
	}
	if err := checkServiceName(s.Name); err != nil {
		return err
	}
	if len(s.Nodes) == 0 {
		return fmt.Errorf("nacos: service %q has no nodes to deregister", s.Name)
	}
	ids := make([]nodeKey, len(s.Nodes))
	for i, n := range s.Nodes {
		if n == nil || n.Id == "" {
			return fmt.Errorf("nacos: service %q: a node to deregister has no id", s.Name)
		}
		ids[i] = nodeKey{s.Version, n.Id}
	}
	key, err := deregisterTarget(cfg, o.Context)
	if err != nil {
		return err
	}
	key.name = s.Name
	if r.pub.get(key, false) == nil {
		cfg.logf(logger.DebugLevel, "deregister service %q: this registry registered nothing under that name in group %q, so there is nothing to withdraw", s.Name, key.group)
		return nil
	}
	c, err := r.namingClient()
	if errors.Is(err, errConnecting) {
		r.pub.deregister(nil, key, ids) // stands until the client is up
		r.maintainSoon()
		return retrying(err)
	}
	if err != nil {
		return err
	}
	found, err := r.pub.deregister(c, key, ids)
	if (err != nil && !isRefusal(err)) || r.currentClient() != c {
		r.maintainSoon()
	}
	if err != nil {
		return retrying(err)
	}
	if !found {
		cfg.logf(logger.DebugLevel, "deregister service %q: this registry holds no node of it in group %q any more, so there is nothing to withdraw", s.Name, key.group)
	}
	return nil
}

// GetService returns one Service per version, each with its healthy, enabled nodes, or
// registry.ErrNotFound. The first lookup of a name subscribes to it; later lookups are
// answered from the pushed state, with no round trip to Nacos. A subscription only
// lookups use is released once none has asked for it for the lookup expiry
// (WithLookupExpiry), or for 5 seconds if the service has no instances, e.g. a name
// that does not exist.
func (r *nacosRegistry) GetService(name string, opts ...registry.GetOption) ([]*registry.Service, error) {
	o := apply(opts)
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	key, clusters, targetErr := getTarget(cfg, o.Context)
	key.name = name
	var sub *subscription
	if targetErr == nil {
		sub = r.subs.lookup(key) // the name was checked when it was subscribed
	}
	if sub == nil {
		if err := checkServiceName(name); err != nil {
			return nil, err
		}
		if targetErr != nil {
			return nil, targetErr
		}
		if sub, err = r.subscribe(key, nil); err != nil {
			return nil, err
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
		return nil, registry.ErrNotFound
	}
	services := make([]*registry.Service, len(versions))
	for i, v := range versions {
		services[i] = copyService(v.service, true)
	}
	return services, nil
}

// subscribe returns the subscription to key for watcher w, or for a lookup if w is nil
// (see subscriptions.acquire).
func (r *nacosRegistry) subscribe(key serviceKey, w *watcher) (*subscription, error) {
	c, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	sub, created, err := r.subs.acquire(c, key, w)
	if err != nil {
		return nil, err
	}
	if created && w == nil || r.currentClient() != c {
		r.maintainSoon() // the lookup's expiry, or a move to a client that replaced c
	}
	return sub, nil
}

// ListServices returns every service name of the registry's group (one Service per name,
// with only Name set), across all pages.
func (r *nacosRegistry) ListServices(opts ...registry.ListOption) ([]*registry.Service, error) {
	o := apply(opts)
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	param, err := listTarget(cfg, o.Context)
	if err != nil {
		return nil, err
	}
	c, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	names, err := listServiceNames(c, param)
	if err != nil {
		return nil, err
	}
	services := make([]*registry.Service, len(names))
	for i, n := range names {
		services[i] = &registry.Service{Name: n}
	}
	return services, nil
}

// apply applies go-micro's per-call options, skipping nil ones. What an option function
// is given escapes to the heap, so a call without options allocates nothing.
func apply[O any, F ~func(*O)](opts []F) O {
	var o O
	if len(opts) == 0 {
		return o
	}
	p := new(O)
	for _, f := range opts {
		if f != nil {
			f(p)
		}
	}
	return *p
}

// serviceNames lists every service name of a group in the registry's namespace.
func (r *nacosRegistry) serviceNames(group string) ([]string, error) {
	c, err := r.namingClient()
	if err != nil {
		return nil, err
	}
	return listServiceNames(c, vo.GetAllServiceInfoParam{GroupName: group})
}

// listServiceNames reads one page if param names one, otherwise every page.
func listServiceNames(c naming, param vo.GetAllServiceInfoParam) ([]string, error) {
	onePage := param.PageNo > 0
	if !onePage {
		param.PageNo, param.PageSize = 1, serviceListPageSize
	}
	var names []string
	for {
		page, total, err := c.serviceNames(param)
		if err != nil {
			return nil, fmt.Errorf("nacos: list services of group %q: %w", param.GroupName, err)
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

// Watch watches one service (registry.WatchService) or every service of the group,
// including services that appear later.
func (r *nacosRegistry) Watch(opts ...registry.WatchOption) (registry.Watcher, error) {
	o := apply(opts)
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	key, clusters, err := watchTarget(cfg, o)
	if err != nil {
		return nil, err
	}
	if key.name != "" {
		if err := checkServiceName(key.name); err != nil {
			return nil, err
		}
	}
	w := newWatcher(r, key.group, key.name, clusters)
	if err := r.addWatcher(w); err != nil {
		return nil, err
	}
	if err := r.startWatcher(w, cfg.discoveryInterval); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

func (r *nacosRegistry) startWatcher(w *watcher, interval time.Duration) error {
	if w.service != "" {
		return w.track(serviceKey{w.group, w.service})
	}
	names, err := r.serviceNames(w.group)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := w.track(serviceKey{w.group, name}); err != nil {
			r.logf(logger.WarnLevel, "watcher: %v (trying again at the next discovery)", err)
		}
	}
	w.startDiscovery(interval)
	return nil
}

func (r *nacosRegistry) addWatcher(w *watcher) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.usable(); err != nil {
		return err
	}
	r.watchers[w] = true
	return nil
}

func (r *nacosRegistry) forgetWatcher(w *watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers, w)
}

// announce tells the watchers of all services of a group about a name this registry
// registered, or looked up and found, so that they need not wait for their next
// discovery.
func (r *nacosRegistry) announce(key serviceKey) {
	r.mu.RLock()
	var ws []*watcher
	for w := range r.watchers {
		if w.service == "" && w.group == key.group {
			ws = append(ws, w)
		}
	}
	r.mu.RUnlock()
	for _, w := range ws {
		if err := w.track(key); err != nil {
			r.logf(logger.DebugLevel, "watcher: %v", err)
		}
	}
}
