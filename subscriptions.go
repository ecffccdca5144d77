package nacos

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// subscriptions holds one Nacos subscription per service for the registry, whoever needs
// it. Watchers hold theirs until they stop. GetService keeps one so that later lookups
// cost no round trip, as the SDK's own cache does, until it has gone unused for the
// lookup expiry (see WithLookupExpiry; a service without instances, e.g. a name that
// does not exist, for at most emptyLookupExpiry), after which the maintain loop
// releases it.
type subscriptions struct {
	mu           sync.Mutex
	byKey        map[serviceKey]*subscription
	leaving      map[serviceKey]chan struct{} // being unsubscribed; closed when done
	protectEmpty atomic.Bool                  // see WithPushEmptyProtection
	closing      atomic.Bool                  // the registry is closing: nothing is sent
}

// emptyLookupExpiry bounds how long a lookup keeps a subscription to a service without
// instances: a gateway deriving service names from URL paths looks up names that do
// not exist, and each would otherwise hold a subscription for the full expiry.
const emptyLookupExpiry = 5 * time.Second

// subscription is one service's subscription and the latest instance list Nacos pushed.
type subscription struct {
	key   serviceKey
	ready chan struct{} // closed once the first subscribe has been answered
	err   error         // why it failed; set before ready is closed
	move  sync.Mutex    // serialises subscribing it anew (subscriptions.moveTo)

	mu          sync.Mutex
	client      naming     // the client it is subscribed through
	unsubscribe func()     // nil while not subscribed through client
	state       *pushState // nil until Nacos has answered
	stamp       uint64     // the version stamp of state, on client
	watchers    map[*watcher]bool
	refs        int        // watchers holding it
	lookedUp    time.Time  // the last GetService; zero if none
	answers     []answered // the states GetService answered from lately, oldest first
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

// newPushState takes hosts (a copy of the SDK's list: see sdk.go) for the list after
// last (nil if none).
func newPushState(name string, hosts []model.Instance, last *pushState) *pushState {
	p := &pushState{name: name, hosts: hosts}
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

// acquire returns the subscription to key, subscribing through c first if there is
// none (created). A watcher w (if not nil) is told of every push and holds the
// subscription until release; without one it is a lookup, which keeps it until the
// lookup expiry.
func (s *subscriptions) acquire(c naming, key serviceKey, w *watcher) (sub *subscription, created bool, err error) {
	s.mu.Lock()
	for s.leaving[key] != nil {
		// Subscribing while the SDK still unsubscribes could reach Nacos in either order.
		left := s.leaving[key]
		s.mu.Unlock()
		<-left
		s.mu.Lock()
	}
	sub = s.byKey[key]
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
		sub.lookedUp = time.Now()
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
	return sub, creator, sub.err
}

// subscribe subscribes sub through client c.
func (s *subscriptions) subscribe(c naming, sub *subscription) error {
	sub.mu.Lock()
	sub.client, sub.unsubscribe, sub.stamp = c, nil, 0 // a new client: its server's clock
	sub.mu.Unlock()
	unsubscribe, err := c.subscribe(sub.key, func(hosts []model.Instance, stamp uint64) { s.update(sub, c, hosts, stamp) })
	if err != nil {
		return wrapErr("subscribe to", sub.key, err)
	}
	sub.mu.Lock()
	if sub.client == c {
		sub.unsubscribe = unsubscribe
	}
	sub.mu.Unlock()
	return nil
}

// moveTo subscribes through c every subscription that is not subscribed through it: all
// of them after a client switch, and those whose subscribing failed. The old client's
// subscriptions end with it.
func (s *subscriptions) moveTo(c naming) []error {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.byKey))
	for _, sub := range s.byKey {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	var errs []error
	for _, sub := range subs {
		select {
		case <-sub.ready:
		default:
			continue // its first subscribe is under way: the next pass sees it
		}
		sub.mu.Lock()
		due := sub.client != c || sub.unsubscribe == nil
		sub.mu.Unlock()
		if !due {
			continue
		}
		sub.move.Lock()
		s.mu.Lock()
		sub.mu.Lock()
		due = s.byKey[sub.key] == sub && (sub.client != c || sub.unsubscribe == nil)
		sub.mu.Unlock()
		s.mu.Unlock()
		if due && !s.closing.Load() {
			if err := s.subscribe(c, sub); err != nil {
				errs = append(errs, err)
			}
		}
		sub.move.Unlock()
	}
	return errs
}

// release drops w's hold on sub and unsubscribes when nothing holds it any more.
func (s *subscriptions) release(sub *subscription, w *watcher) {
	sub.mu.Lock()
	if sub.watchers[w] {
		delete(sub.watchers, w)
		sub.refs--
	}
	unused := sub.refs == 0 && sub.lookedUp.IsZero()
	sub.mu.Unlock()
	if unused {
		s.drop(sub, func(sub *subscription) bool { return sub.refs == 0 && sub.lookedUp.IsZero() })
	}
}

// expireLookups releases the subscriptions only lookups hold that have gone unused for
// their expiry, and says when the next one would expire (zero if none).
func (s *subscriptions) expireLookups(now time.Time, expiry time.Duration) (next time.Time) {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.byKey))
	for _, sub := range s.byKey {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	expired := func(sub *subscription) bool {
		if sub.refs > 0 || sub.lookedUp.IsZero() {
			return false
		}
		at := sub.lookedUp.Add(sub.expiry(expiry))
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			return false
		}
		return true
	}
	for _, sub := range subs {
		s.drop(sub, expired)
	}
	return next
}

// expiry is how long a lookup keeps sub unused. sub.mu must be held.
func (sub *subscription) expiry(expiry time.Duration) time.Duration {
	if sub.state == nil || len(sub.state.hosts) == 0 {
		return min(expiry, emptyLookupExpiry)
	}
	return expiry
}

// drop unsubscribes sub if it is still the subscription to its service and unused says
// so (checked under both locks).
func (s *subscriptions) drop(sub *subscription, unused func(*subscription) bool) {
	sub.move.Lock()
	defer sub.move.Unlock()
	s.mu.Lock()
	sub.mu.Lock()
	if s.byKey[sub.key] != sub || !unused(sub) {
		sub.mu.Unlock()
		s.mu.Unlock()
		return
	}
	left := make(chan struct{})
	delete(s.byKey, sub.key)
	s.leaving[sub.key] = left
	unsubscribe := sub.unsubscribe
	sub.unsubscribe = nil
	sub.mu.Unlock()
	s.mu.Unlock()
	if unsubscribe != nil && !s.closing.Load() {
		unsubscribe()
	}
	s.mu.Lock()
	delete(s.leaving, sub.key)
	s.mu.Unlock()
	close(left)
}

// count says how many subscriptions there are.
func (s *subscriptions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// update takes an instance list pushed through client from, with its version stamp,
// unless it is older than the one sub has or came through another client.
func (s *subscriptions) update(sub *subscription, from naming, hosts []model.Instance, stamp uint64) {
	sub.mu.Lock()
	if sub.client != from || stamp != 0 && stamp <= sub.stamp ||
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
