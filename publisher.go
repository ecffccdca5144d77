package nacos

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// serviceKey names a Nacos service within the registry's namespace.
type serviceKey struct{ group, name string }

func (k serviceKey) String() string { return k.group + "@@" + k.name }

// publisher keeps the nodes this registry has registered and publishes them to Nacos.
// Nacos 2.x keeps one registration per service per client connection (a later register
// replaces the earlier one), so the nodes of one service are always published together,
// as a batch when there are several, and every change republishes the whole set. An
// unchanged set is not published again.
type publisher struct {
	mu       sync.Mutex
	services map[serviceKey]*publication
}

type publication struct {
	key    serviceKey
	mu     sync.Mutex // serialises the publishing of this service
	nodes  map[nodeKey]publishedNode
	synced bool           // Nacos was last told exactly nodes, and accepted it
	named  model.Instance // an instance published before, for deregistering
}

type publishedNode struct {
	instance model.Instance
	expires  time.Time // zero: lives as long as the connection
}

func newPublisher() *publisher {
	return &publisher{services: map[serviceKey]*publication{}}
}

func (p *publisher) get(key serviceKey, create bool) *publication {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub := p.services[key]
	if pub == nil && create {
		pub = &publication{key: key, nodes: map[nodeKey]publishedNode{}}
		p.services[key] = pub
	}
	return pub
}

func (p *publisher) all() []*publication {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := make([]*publication, 0, len(p.services))
	for _, pub := range p.services {
		all = append(all, pub)
	}
	return all
}

// register adds or refreshes nodes. changed reports whether Nacos was sent anything.
func (p *publisher) register(c naming_client.INamingClient, key serviceKey, nodes []encodedNode, ttl time.Duration) (changed bool, err error) {
	pub := p.get(key, true)
	pub.mu.Lock()
	defer pub.mu.Unlock()
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	next := make(map[nodeKey]publishedNode, len(pub.nodes)+len(nodes))
	for k, n := range pub.nodes {
		next[k] = n
	}
	changed = !pub.synced
	for _, n := range nodes {
		old, ok := pub.nodes[n.key]
		changed = changed || !ok || !sameInstance(old.instance, n.instance)
		next[n.key] = publishedNode{instance: n.instance, expires: expires}
	}
	pub.nodes = next // what Nacos must hold, even if it cannot be told now: see publish
	if changed {
		return true, pub.publish(c, next)
	}
	return false, nil
}

// deregister removes nodes by version and id; a node given with a version it was not
// registered under is matched by id alone. Unknown nodes are ignored.
func (p *publisher) deregister(c naming_client.INamingClient, key serviceKey, ids []nodeKey) error {
	pub := p.get(key, false)
	if pub == nil {
		return nil
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	next := make(map[nodeKey]publishedNode, len(pub.nodes))
	for k, n := range pub.nodes {
		next[k] = n
	}
	for _, id := range ids {
		if _, ok := next[id]; ok {
			delete(next, id)
			continue
		}
		for k := range next {
			if k.id == id.id {
				delete(next, k)
			}
		}
	}
	if len(next) == len(pub.nodes) && pub.synced {
		return nil
	}
	pub.nodes = next
	return pub.publish(c, next)
}

// expire withdraws the nodes whose TTL ran out. It says which it withdrew, and when the
// next TTL runs out (zero if none will).
func (p *publisher) expire(c naming_client.INamingClient, now time.Time) (next time.Time, expired []string, errs []error) {
	for _, pub := range p.all() {
		pub.mu.Lock()
		keep := make(map[nodeKey]publishedNode, len(pub.nodes))
		var gone []string
		for k, n := range pub.nodes {
			if n.expires.IsZero() || n.expires.After(now) {
				keep[k] = n
				if !n.expires.IsZero() && (next.IsZero() || n.expires.Before(next)) {
					next = n.expires
				}
			} else {
				gone = append(gone, fmt.Sprintf("node %q of service %q version %q", k.id, pub.key.name, k.version))
			}
		}
		if len(gone) > 0 {
			// Withdrawn whether or not Nacos hears of it now: resync tries again.
			if err := pub.publish(c, keep); err != nil {
				errs = append(errs, err)
			}
			pub.nodes = keep
			expired = append(expired, gone...)
		}
		pub.mu.Unlock()
	}
	return next, expired, errs
}

// resync publishes again every publication whose last publish failed.
func (p *publisher) resync(c naming_client.INamingClient) []error {
	var errs []error
	for _, pub := range p.all() {
		pub.mu.Lock()
		if !pub.synced {
			if err := pub.publish(c, pub.nodes); err != nil {
				errs = append(errs, err)
			}
		}
		pub.mu.Unlock()
	}
	return errs
}

// republish sends every publication again, empty ones as a deregistration.
func (p *publisher) republish(c naming_client.INamingClient) []error {
	var errs []error
	for _, pub := range p.all() {
		pub.mu.Lock()
		if err := pub.publish(c, pub.nodes); err != nil {
			errs = append(errs, err)
		}
		pub.mu.Unlock()
	}
	return errs
}

// publish makes Nacos hold exactly nodes for this service from this connection.
//
// When it fails, the nodes still stand as what Nacos must hold, and the registry's
// maintain loop publishes them again until Nacos has them. Rolling back instead would
// fight the SDK: it caches a registration for its reconnect redo before sending it (and
// forgets a deregistered service even when the request failed), so after the next
// reconnect it would apply the failed request anyway.
func (pub *publication) publish(c naming_client.INamingClient, nodes map[nodeKey]publishedNode) error {
	pub.synced = false
	keys := make([]nodeKey, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.version < b.version || (a.version == b.version && a.id < b.id)
	})
	params := make([]vo.RegisterInstanceParam, len(keys))
	for i, k := range keys {
		params[i] = registerParam(pub.key, nodes[k].instance)
		pub.named = nodes[k].instance
	}
	var ok bool
	var err error
	switch len(params) {
	case 0:
		ok, err = c.DeregisterInstance(deregisterParam(pub))
	case 1:
		// A single register works on every Nacos 2.x; batches need 2.2 or later.
		ok, err = c.RegisterInstance(params[0])
	default:
		ok, err = c.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
			ServiceName: pub.key.name, GroupName: pub.key.group, Instances: params,
		})
	}
	what := "register"
	if len(params) == 0 {
		what = "deregister"
	}
	if err == nil && !ok {
		// The SDK reports some refusals, authentication among them, without a reason.
		err = errors.New("refused by the server (check the credentials and the namespace)")
	}
	if err != nil {
		return wrapErr(what, pub.key, err)
	}
	pub.synced = true
	return nil
}

func registerParam(key serviceKey, in model.Instance) vo.RegisterInstanceParam {
	return vo.RegisterInstanceParam{
		Ip: in.Ip, Port: in.Port, Weight: in.Weight, Enable: in.Enable, Healthy: in.Healthy,
		Metadata: in.Metadata, ClusterName: in.ClusterName, ServiceName: key.name,
		GroupName: key.group, Ephemeral: in.Ephemeral,
	}
}

// deregisterParam names an instance published before: Nacos removes the connection's
// whole registration for the service whichever it names, but it checks the address.
func deregisterParam(pub *publication) vo.DeregisterInstanceParam {
	return vo.DeregisterInstanceParam{
		Ip: pub.named.Ip, Port: pub.named.Port, Cluster: pub.named.ClusterName,
		ServiceName: pub.key.name, GroupName: pub.key.group, Ephemeral: true,
	}
}

func sameInstance(a, b model.Instance) bool {
	if a.Ip != b.Ip || a.Port != b.Port || a.Weight != b.Weight || a.ClusterName != b.ClusterName ||
		a.Enable != b.Enable || a.Healthy != b.Healthy || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// wrapErr says which service a failed request was about.
func wrapErr(action string, key serviceKey, err error) error {
	return fmt.Errorf("nacos: %s service %q (group %q): %w", action, key.name, key.group, err)
}
