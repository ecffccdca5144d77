package nacos

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
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
	key     serviceKey
	mu      sync.Mutex // serialises the publishing of this service
	nodes   map[nodeKey]publishedNode
	heldBy  naming         // the client through which Nacos holds exactly nodes, if any
	refused error          // why Nacos refused nodes for good; not published again until they change,
	refuser naming         // through this client
	named   model.Instance // an instance published before, for deregistering
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

// count says how many services the registry has published.
func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.services)
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
func (p *publisher) register(c naming, key serviceKey, nodes []encodedNode, ttl time.Duration) (changed bool, err error) {
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
	changed = pub.heldBy != c
	for _, n := range nodes {
		old, ok := pub.nodes[n.key]
		changed = changed || !ok || !sameInstance(old.instance, n.instance)
		next[n.key] = publishedNode{instance: n.instance, expires: expires}
	}
	if !changed {
		pub.nodes = next // renewed TTLs
		return false, nil
	}
	return true, pub.change(c, next)
}

// deregister removes nodes by version and id; a node given with a version it was not
// registered under is matched by id alone. Unknown nodes are ignored. found reports
// whether this registry registered anything under the name.
func (p *publisher) deregister(c naming, key serviceKey, ids []nodeKey) (found bool, err error) {
	pub := p.get(key, false)
	if pub == nil {
		return false, nil
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
	if len(next) == len(pub.nodes) && pub.heldBy == c {
		return len(pub.nodes) > 0, nil
	}
	return true, pub.change(c, next)
}

// expire withdraws the nodes whose TTL ran out. It says which it withdrew, and when the
// next TTL runs out (zero if none will).
func (p *publisher) expire(c naming, now time.Time) (next time.Time, expired []string, errs []error) {
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
			pub.nodes = keep
			if err := pub.sync(c); err != nil {
				errs = append(errs, err)
			}
			expired = append(expired, gone...)
		}
		pub.mu.Unlock()
	}
	return next, expired, errs
}

// resync publishes through c every publication Nacos does not hold through it: whose
// last publish failed, or went through another client. Refused ones are left out.
func (p *publisher) resync(c naming) []error {
	return p.each(c, func(pub *publication) bool { return pub.heldBy != c })
}

// republish sends every publication again, empty ones as a deregistration, except those
// Nacos refused.
func (p *publisher) republish(c naming) []error {
	return p.each(c, func(*publication) bool { return true })
}

func (p *publisher) each(c naming, due func(*publication) bool) []error {
	var errs []error
	for _, pub := range p.all() {
		pub.mu.Lock()
		if (pub.refused == nil || pub.refuser != c) && due(pub) {
			if err := pub.sync(c); err != nil {
				errs = append(errs, err)
			}
		}
		pub.mu.Unlock()
	}
	return errs
}

// change makes next what Nacos must hold, through c (nil while the registry has no
// client yet). A change Nacos refuses changes nothing: the
// previous nodes stand. When Nacos held them it still does (a refusal changes nothing
// there either), and they are registered again, which puts them back in the SDK's
// reconnect cache in place of the refused request (see sdkClient.publish); otherwise
// the publication is withdrawn.
//
// When publishing fails for any other reason, next still stands as what Nacos must
// hold, and the registry's maintain loop publishes it again until Nacos has it. Rolling
// back instead would fight the SDK: it caches a registration for its reconnect redo
// before sending it (and forgets a deregistered service even when the request failed),
// so after the next reconnect it would apply the failed request anyway.
func (pub *publication) change(c naming, next map[nodeKey]publishedNode) error {
	if c == nil { // no client yet: next stands, and is published once there is one
		pub.nodes, pub.heldBy = next, nil
		return nil
	}
	prev, prevHeldBy, prevRefused, prevRefuser := pub.nodes, pub.heldBy, pub.refused, pub.refuser
	pub.nodes = next
	err := pub.publish(c)
	if !isRefusal(err) {
		return err
	}
	pub.nodes, pub.refused, pub.refuser = prev, prevRefused, prevRefuser
	if prevRefused != nil || len(prev) == 0 {
		pub.withdraw(c)
		return err
	}
	if again := pub.publish(c); isRefusal(again) {
		pub.heldBy, pub.refused = prevHeldBy, nil // as it was
	}
	return err
}

// sync publishes the publication's nodes, and withdraws them when Nacos refuses them.
func (pub *publication) sync(c naming) error {
	err := pub.publish(c)
	if isRefusal(err) {
		pub.withdraw(c)
	}
	return err
}

// withdraw deregisters a publication Nacos refused, or an empty one: Nacos then holds
// nothing of it, and the SDK drops it from its reconnect cache, whatever Nacos answers.
// Nodes it still has stay refused, and are not published again until they change.
func (pub *publication) withdraw(c naming) {
	_ = c.publish(pub.key, nil, pub.named)
	if len(pub.nodes) == 0 {
		pub.heldBy, pub.refused = c, nil
	}
}

// publish tells Nacos to hold exactly the publication's nodes from this connection.
func (pub *publication) publish(c naming) error {
	pub.heldBy = nil
	keys := make([]nodeKey, 0, len(pub.nodes))
	for k := range pub.nodes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.version < b.version || (a.version == b.version && a.id < b.id)
	})
	instances := make([]model.Instance, len(keys))
	for i, k := range keys {
		instances[i] = pub.nodes[k].instance
		pub.named = instances[i]
	}
	err := c.publish(pub.key, instances, pub.named)
	switch {
	case err == nil:
		pub.heldBy, pub.refused = c, nil
		return nil
	case isRefusal(err):
		pub.refused, pub.refuser = err, c
	}
	what := "register"
	if len(instances) == 0 {
		what = "deregister"
	}
	return wrapErr(what, pub.key, err)
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
