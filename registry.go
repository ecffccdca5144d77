package nacos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/asim/go-micro/v3/cmd"
	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/logging"
)

func init() { cmd.DefaultRegistries["nacos"] = NewRegistry }

var (
	_ registry.Registry = (*nacosRegistry)(nil)
	_ io.Closer         = (*nacosRegistry)(nil)
)

// nacosRegistry is go-micro v3's registry.Registry over the plugin's core: it translates
// go-micro's options and types to the core's and back.
type nacosRegistry struct {
	core *core.Registry

	mu   sync.RWMutex // guards opts
	opts registry.Options
}

// NewRegistry returns a go-micro registry backed by Nacos. It never fails: it connects
// on first use, in the background, and a bad option makes every method return an error
// saying what was wrong (it is also logged once, to the registry's logger: see
// WithLogger). Release it with Close:
//
//	defer nacos.Close(r)
func NewRegistry(opts ...registry.Option) registry.Registry {
	return newRegistry(core.DialSDK, opts...)
}

func newRegistry(dial core.Dialer, opts ...registry.Option) *nacosRegistry {
	r := &nacosRegistry{core: core.New(dial), opts: registry.Options{Context: context.Background()}}
	if err := r.Init(opts...); err != nil {
		logging.Logf(pluginLogger(r.Options()), logging.ErrorLevel, "%v", err)
	}
	return r
}

// Close releases a registry made by NewRegistry: it stops its watchers and ends its
// connection to Nacos, which then removes the nodes it registered. It waits for that at
// most the registry's timeout. It is the registry's own Close (io.Closer), reachable
// without a type assertion. A registry of another package is closed if it is an
// io.Closer.
func Close(r registry.Registry) error {
	if c, ok := r.(io.Closer); ok {
		return c.Close()
	}
	return fmt.Errorf("nacos: a %T cannot be closed", r)
}

// Close is Close(r).
func (r *nacosRegistry) Close() error { return r.core.Close() }

// Init applies options on top of the current ones. Options it refuses change nothing.
// If the client settings changed and a client exists, a new client is built in the
// background; once it is up, everything registered and subscribed moves to it and the
// old one is closed. Init never waits on Nacos.
func (r *nacosRegistry) Init(opts ...registry.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.opts
	for _, o := range opts {
		if o != nil {
			o(&next)
		}
	}
	err := r.core.Init(coreOptions(next))
	if _, unusable := r.core.Settings(); err == nil || unusable != nil && !errors.Is(err, core.ErrClosed) {
		r.opts = next // taken, or nothing usable yet: every method says why
	}
	return err
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
	return r.core.Register(fromService(s), o.TTL, o.Context)
}

// Deregister withdraws the nodes of s (matched by version and id); the other nodes this
// registry registered under the same name stay. Like Register, it keeps trying in the
// background when Nacos cannot be told, and changes nothing when Nacos refuses.
func (r *nacosRegistry) Deregister(s *registry.Service, opts ...registry.DeregisterOption) error {
	return r.core.Deregister(fromService(s), apply(opts).Context)
}

// GetService returns one Service per version, each with its healthy, enabled nodes, or
// registry.ErrNotFound. The first lookup of a name subscribes to it; later lookups are
// answered from the pushed state, with no round trip to Nacos. A subscription only
// lookups use is released once none has asked for it for the lookup expiry
// (WithLookupExpiry), or for 5 seconds if the service has no instances, e.g. a name
// that does not exist.
func (r *nacosRegistry) GetService(name string, opts ...registry.GetOption) ([]*registry.Service, error) {
	found, err := r.core.GetService(name, apply(opts).Context)
	if err != nil {
		return nil, microError(err)
	}
	services := make([]*registry.Service, len(found))
	for i, v := range found {
		services[i] = toService(v.Service, v.Service.Nodes)
	}
	return services, nil
}

// ListServices returns every service name of the registry's group (one Service per
// name, with only Name set), across all pages.
func (r *nacosRegistry) ListServices(opts ...registry.ListOption) ([]*registry.Service, error) {
	names, err := r.core.ListServices(apply(opts).Context)
	if err != nil {
		return nil, err
	}
	services := make([]*registry.Service, len(names))
	for i, n := range names {
		services[i] = &registry.Service{Name: n}
	}
	return services, nil
}

// Watch watches one service (registry.WatchService) or every service of the group,
// including services that appear later.
func (r *nacosRegistry) Watch(opts ...registry.WatchOption) (registry.Watcher, error) {
	o := apply(opts)
	w, err := r.core.Watch(o.Service, o.Context)
	if err != nil {
		return nil, err
	}
	return &watcher{w}, nil
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

// microError turns the core's errors into go-micro's.
func microError(err error) error {
	switch {
	case errors.Is(err, core.ErrNotFound):
		return registry.ErrNotFound
	case errors.Is(err, core.ErrWatcherStopped):
		return registry.ErrWatcherStopped
	}
	return err
}
