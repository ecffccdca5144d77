package nacos

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// subscriptions holds one Nacos subscription per service for the registry, whoever needs
// it: GetService keeps it for the registry's life (so that later lookups cost no round
// trip, as the SDK's own cache does), watchers hold it until they stop.
type subscriptions struct {
	mu           sync.Mutex
	byKey        map[serviceKey]*subscription
	leaving      map[serviceKey]chan struct{} // being unsubscribed; closed when done
	protectEmpty atomic.Bool                  // see WithPushEmptyProtection
}

// subscription is one service's subscription and the latest instance list Nacos pushed.
type subscription struct {
	key   serviceKey
	ready chan struct{} // closed once the first subscribe has been answered
	err   error         // why it failed; set before ready is closed

	mu       sync.Mutex
	param    *vo.SubscribeParam // the very value subscribed with: the SDK unsubscribes by pointer
	state    *pushState         // nil until Nacos has answered
	stamp    uint64             // the SDK's lastRefTime of state, when known
	watchers map[*watcher]bool
	refs     int        // watchers holding it
	pinned   bool       // looked up by GetService: kept until the registry closes
	answers  []answered // the states GetService answered from lately, oldest first
}

// answered is a state GetService answered from, and when.
type answered struct {
	at    time.Time
	state *pushState
}

// answerMemory is how long GetService answers are remembered: as long as go-micro's
// cache keeps one.
const answerMemory = time.Minute

// pushState is one instance list as Nacos pushed it, decoded when first needed, on the
// latest list decoded before it (see decodeInstances).
type pushState struct {
	name     string
	hosts    []model.Instance
	base     atomic.Pointer[pushState] // decoded; dropped once this one is
	once     sync.Once
	done     atomic.Bool
	versions []*version
}

// newPushState copies hosts, which the SDK owns, for the list after last (nil if none).
func newPushState(name string, hosts []model.Instance, last *pushState) *pushState {
	p := &pushState{name: name, hosts: append([]model.Instance(nil), hosts...)}
	if last != nil {
		base := last.base.Load()
		if last.done.Load() { // after base: last may be done, its base dropped, just now
			base = last
		}
		p.base.Store(base)
	}
	return p
}

func (p *pushState) decoded() []*version {
	p.once.Do(func() {
		var base []*version
		if b := p.base.Load(); b != nil {
			base = b.versions
		}
		p.versions = decodeInstances(p.name, p.hosts, base)
		p.done.Store(true)
		p.base.Store(nil)
	})
	return p.versions
}

func newSubscriptions() *subscriptions {
	return &subscriptions{byKey: map[serviceKey]*subscription{}, leaving: map[serviceKey]chan struct{}{}}
}

// acquire returns the subscription to key, subscribing first if there is none. A watcher
// w (if not nil) is told of every push and holds the subscription until release; without
// one the subscription is pinned.
func (s *subscriptions) acquire(c naming_client.INamingClient, key serviceKey, w *watcher) (*subscription, error) {
	s.mu.Lock()
	for s.leaving[key] != nil {
		// Subscribing while the SDK still unsubscribes could reach Nacos in either order.
		left := s.leaving[key]
		s.mu.Unlock()
		<-left
		s.mu.Lock()
	}
	sub := s.byKey[key]
	creator := sub == nil
	if creator {
		sub = &subscription{key: key, ready: make(chan struct{}), watchers: map[*watcher]bool{}}
		s.byKey[key] = sub
	}
	sub.mu.Lock()
	if w != nil {
		sub.watchers[w] = true
		sub.refs++
	} else {
		sub.pinned = true
	}
	sub.mu.Unlock()
	s.mu.Unlock()

	if creator {
		sub.err = s.subscribe(c, sub)
		if sub.err != nil {
			s.mu.Lock()
			delete(s.byKey, key)
			s.mu.Unlock()
		}
		close(sub.ready)
	}
	<-sub.ready
	return sub, sub.err
}

// subscribe subscribes sub on client c.
func (s *subscriptions) subscribe(c naming_client.INamingClient, sub *subscription) error {
	cache := serviceCache(c)
	param := &vo.SubscribeParam{ServiceName: sub.key.name, GroupName: sub.key.group, SubscribeCallback: s.onPush(sub, cache)}
	sub.mu.Lock()
	sub.param = param
	sub.stamp = 0 // a new client: its server's clock
	sub.mu.Unlock()
	if err := c.Subscribe(param); err != nil {
		_ = c.Unsubscribe(param) // the SDK keeps the callback and a redo entry even on failure
		return wrapErr("subscribe to", sub.key, err)
	}
	// The SDK calls back at once for a service it had not cached, but not for one it had;
	// and it reports a refused subscription as success, with no callback.
	if sub.current() == nil {
		svc, err := c.GetService(vo.GetServiceParam{ServiceName: sub.key.name, GroupName: sub.key.group})
		if err == nil && svc.Name != sub.key.name {
			err = errors.New("refused by the server (check the credentials and the namespace)")
		}
		if err != nil {
			_ = c.Unsubscribe(param)
			return wrapErr("subscribe to", sub.key, err)
		}
		s.update(sub, cache, svc.Hosts)
	}
	return nil
}

// resubscribe moves every subscription to a new client.
func (s *subscriptions) resubscribe(c naming_client.INamingClient) []error {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.byKey))
	for _, sub := range s.byKey {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	var errs []error
	for _, sub := range subs {
		<-sub.ready
		if err := s.subscribe(c, sub); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// release drops w's hold on sub and unsubscribes when nothing holds it any more. With a
// nil client (the registry is closing) nothing is sent.
func (s *subscriptions) release(c naming_client.INamingClient, sub *subscription, w *watcher) {
	s.mu.Lock()
	sub.mu.Lock()
	if sub.watchers[w] {
		delete(sub.watchers, w)
		sub.refs--
	}
	drop := sub.refs == 0 && !sub.pinned && s.byKey[sub.key] == sub
	var left chan struct{}
	if drop {
		left = make(chan struct{})
		delete(s.byKey, sub.key)
		s.leaving[sub.key] = left
	}
	param := sub.param
	sub.mu.Unlock()
	s.mu.Unlock()
	if !drop {
		return
	}
	if c != nil && param != nil {
		_ = c.Unsubscribe(param)
	}
	s.mu.Lock()
	delete(s.leaving, sub.key)
	s.mu.Unlock()
	close(left)
}

// onPush is the SDK callback. The SDK calls it synchronously on the goroutine that
// handles every push of the connection, and owns hosts (it sorts its cached lists in
// place), so it copies and returns at once: decoding waits for the first reader, and
// watchers are only flagged.
func (s *subscriptions) onPush(sub *subscription, cache *naming_cache.ServiceInfoHolder) func([]model.Instance, error) {
	return func(hosts []model.Instance, err error) {
		if err == nil {
			s.update(sub, cache, hosts)
		}
	}
}

// update takes a new instance list for sub. With the SDK's cache at hand it takes the
// cache's list instead, the newest, and only if it is newer than the one it has.
func (s *subscriptions) update(sub *subscription, cache *naming_cache.ServiceInfoHolder, hosts []model.Instance) {
	var stamp uint64
	if cache != nil {
		if svc, ok := cache.GetServiceInfo(sub.key.name, sub.key.group, ""); ok {
			hosts, stamp = svc.Hosts, svc.LastRefTime
		}
	}
	sub.mu.Lock()
	if stamp != 0 && stamp <= sub.stamp ||
		s.protectEmpty.Load() && len(hosts) == 0 && sub.state != nil && len(sub.state.hosts) > 0 {
		sub.mu.Unlock()
		return
	}
	sub.state = newPushState(sub.key.name, hosts, sub.state)
	sub.stamp = max(sub.stamp, stamp)
	watchers := make([]*watcher, 0, len(sub.watchers))
	for w := range sub.watchers {
		watchers = append(watchers, w)
	}
	sub.mu.Unlock()
	for _, w := range watchers {
		w.notify(sub.key)
	}
}

// answer returns the latest decoded versions for GetService, and remembers that they
// were handed out: a watcher started later reports as deleted the nodes handed out that
// have left since (see watcher.track).
func (sub *subscription) answer() []*version {
	sub.mu.Lock()
	st := sub.state
	if st != nil {
		now := time.Now()
		if n := len(sub.answers); n == 0 || sub.answers[n-1].state != st {
			sub.answers = append(sub.answers, answered{now, st})
		} else {
			sub.answers[n-1].at = now
		}
		for len(sub.answers) > 0 && now.Sub(sub.answers[0].at) > answerMemory {
			sub.answers = sub.answers[1:]
		}
	}
	sub.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.decoded()
}

// handedOutAndGone returns, as versions, the nodes GetService handed out lately that
// are not in the latest state.
func (sub *subscription) handedOutAndGone() []*version {
	sub.mu.Lock()
	answers := append([]answered(nil), sub.answers...)
	latest := sub.state
	sub.mu.Unlock()
	present := map[nodeKey]bool{}
	if latest != nil {
		for _, v := range latest.decoded() {
			for _, n := range v.service.Nodes {
				present[nodeKey{v.service.Version, n.Id}] = true
			}
		}
	}
	gone := map[string]*version{}
	for _, a := range answers {
		for _, v := range a.state.decoded() {
			for i, n := range v.service.Nodes {
				k := nodeKey{v.service.Version, n.Id}
				if present[k] {
					continue
				}
				present[k] = true // once
				g := gone[k.version]
				if g == nil {
					g = v.withoutNodes()
					gone[k.version] = g
				}
				g.service.Nodes = append(g.service.Nodes, n)
				g.clusters = append(g.clusters, v.clusters[i])
			}
		}
	}
	out := make([]*version, 0, len(gone))
	for _, g := range gone {
		out = append(out, g)
	}
	return out
}

// current returns the latest decoded versions, or nil if Nacos has not answered yet.
func (sub *subscription) current() []*version {
	sub.mu.Lock()
	st := sub.state
	sub.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.decoded()
}
