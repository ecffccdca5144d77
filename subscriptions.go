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
	mu           sync.RWMutex
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
	refs        int          // watchers holding it
	lookedUp    atomic.Int64 // the last GetService, on lookupClock; 0 if none
	used        atomic.Bool  // a GetService since lookedUp (see lookup)
	found       atomic.Bool  // the last GetService found instances
	answers     []answered   // the states GetService answered from lately, oldest first
	validName   bool         // the name passes checkServiceName
}

// answered is a state GetService answered from, and when it stopped being the latest.
type answered struct {
	at    time.Time
	state *pushState
}

// answerMemory is how long GetService answers are remembered: as long as go-micro's
// cache keeps one.
const answerMemory = time.Minute

// recent drops the answers older than answerMemory.
func recent(answers []answered, now time.Time) []answered {
	for len(answers) > 0 && now.Sub(answers[0].at) > answerMemory {
		answers = answers[1:]
	}
	return answers
}

// clockStart is where lookupClock counts from.
var clockStart = time.Now()

// lookupClock is now (a time read with its monotonic clock) as subscription.lookedUp
// holds it; never 0.
func lookupClock(now time.Time) int64 { return int64(now.Sub(clockStart)) + 1 }

// pushState is one instance list as Nacos pushed it, decoded when first needed, on the
// latest list decoded before it (see decodeInstances).
type pushState struct {
	name     string
	hosts    []model.Instance
	base     atomic.Pointer[pushState] // decoded; dropped once this one is
	once     sync.Once
	done     atomic.Bool
	versions []*version

	handedOut atomic.Bool // GetService answered from it
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
		sub = &subscription{key: key, ready: make(chan struct{}), watchers: map[*watcher]bool{}, validName: checkServiceName(key.name) == nil}
		s.byKey[key] = sub
	}
	sub.mu.Lock()
	if w != nil {
		sub.watchers[w] = true
		sub.refs++
	} else {
		sub.lookedUp.Store(lookupClock(time.Now()))
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

// lookup returns the subscription to key if a lookup holds it already and it is
// subscribed, or nil (then acquire). It is GetService's way: it takes a read lock, reads
// no clock and allocates nothing. It only marks the subscription used; the maintain
// loop's next pass takes that as a lookup at its own time, which is at most
// emptyLookupExpiry later (the loop's longest sleep while lookups hold subscriptions),
// so a subscription can outlive its expiry by that much, never expire early.
func (s *subscriptions) lookup(key serviceKey) *subscription {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sub := s.byKey[key]
	if sub == nil || !sub.validName || sub.lookedUp.Load() == 0 {
		return nil
	}
	select {
	case <-sub.ready: // and it stays in byKey: it did not fail
	default:
		return nil
	}
	// Under the read lock: drop, which takes the write lock, sees this lookup.
	if !sub.used.Load() { // written only when it changes
		sub.used.Store(true)
	}
	return sub
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
	unused := sub.refs == 0 && sub.lookedUp.Load() == 0
	sub.mu.Unlock()
	if unused {
		s.drop(sub, func(sub *subscription) bool { return sub.refs == 0 && sub.lookedUp.Load() == 0 })
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
		if sub.used.Swap(false) {
			sub.lookedUp.Store(lookupClock(now))
		}
		last := sub.lookedUp.Load()
		if sub.refs > 0 || last == 0 {
			return false
		}
		at := clockStart.Add(time.Duration(last-1) + sub.expiry(expiry))
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
	if old := sub.state; old != nil && old.handedOut.Load() {
		now := time.Now()
		sub.answers = recent(append(sub.answers, answered{now, old}), now)
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

// answer returns the latest decoded versions for GetService, and whether instances were
// found where the lookup before found none (or this is the first). It remembers that
// they were handed out: a watcher started later reports as deleted the nodes handed out
// that have left since (see watcher.track). A state handed out is remembered once it
// is superseded (see update), so answering costs a lookup no clock and no bookkeeping.
func (sub *subscription) answer() (versions []*version, newlyFound bool) {
	sub.mu.Lock()
	st := sub.state
	if st != nil && !st.handedOut.Load() {
		st.handedOut.Store(true)
	}
	sub.mu.Unlock()
	if st != nil {
		versions = st.decoded()
	}
	found := len(versions) > 0
	if sub.found.Load() != found { // written only when it changes
		newlyFound = !sub.found.Swap(found) && found
	}
	return versions, newlyFound
}

// handedOutAndGone returns, as versions, the nodes of the given clusters (of all when
// none are given) that GetService handed out lately and that are not in the latest
// state.
func (sub *subscription) handedOutAndGone(clusters []string) []*version {
	sub.mu.Lock()
	answers := append([]answered(nil), sub.answers...)
	latest := sub.state
	sub.mu.Unlock()
	answers = recent(answers, time.Now())
	present := map[nodeKey]bool{}
	if latest != nil {
		for _, v := range latest.decoded() {
			for _, n := range v.service.Nodes {
				present[nodeKey{v.service.Version, n.Id}] = true
			}
		}
	}
	gone := map[string]*version{}
	in := inClusters(clusters)
	for _, a := range answers {
		for _, v := range a.state.decoded() {
			for i, n := range v.service.Nodes {
				k := nodeKey{v.service.Version, n.Id}
				if present[k] || !in(v, i) {
					continue
				}
				present[k] = true // once
				g := gone[k.version]
				if g == nil {
					g = v.withoutNodes()
					gone[k.version] = g
				}
				g.service.Nodes = append(g.service.Nodes, n)
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
