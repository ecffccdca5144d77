package core

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/wire"
)

// subscriptions holds one Nacos subscription per service for the registry, whoever
// needs it. Watchers hold theirs until they stop. GetService keeps one so that later
// lookups cost no round trip, until it has gone unused for the lookup expiry (see
// WithLookupExpiry; a service without instances, e.g. a name that does not exist, for
// at most emptyLookupExpiry).
//
// The first subscribe to a service is made by the caller that needs it. Everything else
// (unsubscribing what is no longer used, subscribing anew through a new client or after
// a failure) is done by run, one subscription at a time.
type subscriptions struct {
	settings     func() *Settings
	client       func() naming.Client // the registry's current client; nil if none yet
	wake         chan struct{}        // one pending wake-up for run
	protectEmpty atomic.Bool          // see WithPushEmptyProtection

	mu      sync.RWMutex // guards byKey and leaving
	byKey   map[naming.ServiceKey]*subscription
	leaving map[naming.ServiceKey]chan struct{} // being unsubscribed; closed when done
}

// emptyLookupExpiry bounds how long a lookup keeps a subscription to a service without
// instances: a gateway deriving service names from URL paths looks up names that do
// not exist, and each would otherwise hold a subscription for the full expiry. A
// variable only for the core's tests, like firstRetry.
var emptyLookupExpiry = 5 * time.Second

// subscription is one service's subscription and the latest instance list Nacos pushed.
type subscription struct {
	key       naming.ServiceKey
	ready     chan struct{} // closed once the first subscribe has been answered
	err       error         // why it failed; set before ready is closed
	validName bool          // the name passes wire.CheckServiceName

	mu          sync.Mutex // guards the fields below
	client      naming.Client
	unsubscribe func()     // nil while not subscribed through client
	state       *pushState // nil until Nacos has answered
	stamp       uint64     // the version stamp of state, on client
	watchers    map[*Watcher]bool
	answers     []answered // the states GetService answered from lately, oldest first

	lookedUp atomic.Int64 // the last GetService, on lookupClock; 0 if none
	used     atomic.Bool  // a GetService since lookedUp (see lookup)
	found    atomic.Bool  // the last GetService found instances
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
// latest list decoded before it (see wire.Decode).
type pushState struct {
	name     string
	hosts    []model.Instance
	base     atomic.Pointer[pushState] // decoded; dropped once this one is
	once     sync.Once
	done     atomic.Bool
	versions []*wire.Version

	handedOut atomic.Bool // GetService answered from it
}

// newPushState takes hosts (a copy of the SDK's list) for the list after last (nil if
// none).
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

func (p *pushState) decoded() []*wire.Version {
	p.once.Do(func() {
		var base []*wire.Version
		if b := p.base.Load(); b != nil {
			base = b.versions
		}
		p.versions = wire.Decode(p.name, p.hosts, base)
		p.done.Store(true)
		p.base.Store(nil)
	})
	return p.versions
}

func newSubscriptions(settings func() *Settings, client func() naming.Client) *subscriptions {
	return &subscriptions{
		settings: settings, client: client, wake: make(chan struct{}, 1),
		byKey: map[naming.ServiceKey]*subscription{}, leaving: map[naming.ServiceKey]chan struct{}{},
	}
}

func (s *subscriptions) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// acquire returns the subscription to key, subscribing through c first if there is
// none (created). A watcher w (if not nil) is told of every push and holds the
// subscription until release; without one it is a lookup, which keeps it until the
// lookup expiry. It waits for another caller's subscribe, or an unsubscribe under way,
// until deadline or until closed is closed.
func (s *subscriptions) acquire(c naming.Client, key naming.ServiceKey, w *Watcher, deadline time.Time, closed <-chan struct{}) (sub *subscription, created bool, err error) {
	s.mu.Lock()
	for s.leaving[key] != nil {
		// Subscribing while the SDK still unsubscribes could reach Nacos in either order.
		left := s.leaving[key]
		s.mu.Unlock()
		if err := waitFor(left, deadline, closed); err != nil {
			return nil, false, opErr(err, "subscribe to service %q (group %q)", key.Name, key.Group)
		}
		s.mu.Lock()
	}
	sub = s.byKey[key]
	created = sub == nil
	if created {
		sub = &subscription{key: key, ready: make(chan struct{}), watchers: map[*Watcher]bool{}, validName: wire.CheckServiceName(key.Name) == nil}
		s.byKey[key] = sub
	}
	sub.mu.Lock()
	if w != nil {
		sub.watchers[w] = true
	} else {
		sub.lookedUp.Store(lookupClock(time.Now()))
	}
	sub.mu.Unlock()
	s.mu.Unlock()

	if created {
		sub.err = s.subscribe(c, sub)
		if sub.err != nil {
			s.mu.Lock()
			delete(s.byKey, key)
			s.mu.Unlock()
		}
		close(sub.ready)
		if w == nil {
			s.wakeUp() // a lookup's expiry to keep
		}
	}
	if err := waitFor(sub.ready, deadline, closed); err != nil {
		s.release(sub, w)
		return nil, false, opErr(err, "subscribe to service %q (group %q)", key.Name, key.Group)
	}
	return sub, created, sub.err
}

// waitFor waits until ch is closed, deadline passes or closed is closed.
func waitFor(ch <-chan struct{}, deadline time.Time, closed <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-closed:
		return ErrClosed
	case <-timer.C:
		return errors.New("no answer from Nacos in time (the registry keeps trying)")
	}
}

// lookup returns the subscription to key if a lookup holds it already and it is
// subscribed, or nil (then acquire). It is GetService's way: it takes a read lock, reads
// no clock and allocates nothing. It only marks the subscription used; run's next pass
// takes that as a lookup at its own time, which is at most emptyLookupExpiry later (its
// longest sleep while lookups hold subscriptions), so a subscription can outlive its
// expiry by that much, never expire early.
func (s *subscriptions) lookup(key naming.ServiceKey) *subscription {
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
func (s *subscriptions) subscribe(c naming.Client, sub *subscription) error {
	sub.mu.Lock()
	sub.client, sub.unsubscribe, sub.stamp = c, nil, 0 // a new client: its server's clock
	sub.mu.Unlock()
	unsubscribe, err := c.Subscribe(sub.key, func(hosts []model.Instance, stamp uint64) { s.update(sub, c, hosts, stamp) })
	if err != nil {
		return opErr(err, "subscribe to service %q (group %q)", sub.key.Name, sub.key.Group)
	}
	sub.mu.Lock()
	if sub.client == c {
		sub.unsubscribe = unsubscribe
	}
	sub.mu.Unlock()
	return nil
}

// release drops w's hold on sub (a lookup's, if w is nil); run unsubscribes it once
// nothing holds it.
func (s *subscriptions) release(sub *subscription, w *Watcher) {
	sub.mu.Lock()
	delete(sub.watchers, w)
	sub.mu.Unlock()
	s.wakeUp()
}

// run keeps the subscriptions in step until done is closed: it unsubscribes those
// nothing holds any more and those only lookups held that went unused for their
// expiry, and subscribes anew through the current client those that are not
// subscribed through it (after a client switch, or a failed subscribe), with growing
// delays while that fails.
func (s *subscriptions) run(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	retry := firstRetry
	for {
		select {
		case <-done:
			return
		case <-s.wake:
		case <-timer.C:
		}
		settings := s.settings()
		now := time.Now()
		wait := time.Hour
		if next := s.dropUnused(now, settings.lookupExpiry, done); !next.IsZero() {
			// A lookup made after this pass may expire sooner than next.
			wait = min(time.Until(next), emptyLookupExpiry)
		}
		if c := s.client(); c != nil {
			if errs := s.moveTo(c, done); len(errs) > 0 {
				for _, err := range errs {
					settings.logf(logging.DebugLevel, "%v (trying again in %v)", err, retry)
				}
				wait = min(wait, retry)
				retry = min(2*retry, lastRetry)
			} else {
				retry = firstRetry
			}
		}
		timer.Reset(wait)
	}
}

// all returns every subscription.
func (s *subscriptions) all() []*subscription {
	s.mu.RLock()
	defer s.mu.RUnlock()
	subs := make([]*subscription, 0, len(s.byKey))
	for _, sub := range s.byKey {
		subs = append(subs, sub)
	}
	return subs
}

// moveTo subscribes through c every subscription that is not subscribed through it.
// The old client's subscriptions end with it.
func (s *subscriptions) moveTo(c naming.Client, done <-chan struct{}) []error {
	var errs []error
	for _, sub := range s.all() {
		select {
		case <-sub.ready:
		default:
			continue // its first subscribe is under way
		}
		select {
		case <-done:
			return errs
		default:
		}
		sub.mu.Lock()
		due := sub.client != c || sub.unsubscribe == nil
		sub.mu.Unlock()
		if due && s.current(sub) {
			if err := s.subscribe(c, sub); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// current says whether sub is still the subscription to its service.
func (s *subscriptions) current(sub *subscription) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byKey[sub.key] == sub
}

// dropUnused unsubscribes the subscriptions nothing holds: no watcher, and no lookup
// within its expiry. It says when the next lookup would expire (zero if none).
func (s *subscriptions) dropUnused(now time.Time, expiry time.Duration, done <-chan struct{}) (next time.Time) {
	for _, sub := range s.all() {
		select {
		case <-sub.ready:
		default:
			continue
		}
		if sub.used.Swap(false) {
			sub.lookedUp.Store(lookupClock(now))
		}
		s.mu.Lock()
		sub.mu.Lock()
		unused := s.byKey[sub.key] == sub && len(sub.watchers) == 0
		if last := sub.lookedUp.Load(); unused && last != 0 {
			at := clockStart.Add(time.Duration(last-1) + sub.expiry(expiry))
			if at.After(now) {
				unused = false
				if next.IsZero() || at.Before(next) {
					next = at
				}
			}
		}
		var unsubscribe func()
		left := make(chan struct{})
		if unused && !sub.used.Load() {
			delete(s.byKey, sub.key)
			s.leaving[sub.key] = left
			unsubscribe, sub.unsubscribe = sub.unsubscribe, nil
		} else {
			unused = false
		}
		sub.mu.Unlock()
		s.mu.Unlock()
		if !unused {
			continue
		}
		select {
		case <-done: // closing: the client's end unsubscribes everything
		default:
			if unsubscribe != nil {
				unsubscribe()
			}
		}
		s.mu.Lock()
		delete(s.leaving, sub.key)
		s.mu.Unlock()
		close(left)
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

// count says how many subscriptions there are.
func (s *subscriptions) count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byKey)
}

// update takes an instance list pushed through client from, with its version stamp,
// unless it is older than the one sub has or came through another client.
func (s *subscriptions) update(sub *subscription, from naming.Client, hosts []model.Instance, stamp uint64) {
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
	sub.state = newPushState(sub.key.Name, hosts, sub.state)
	sub.stamp = max(sub.stamp, stamp)
	watchers := make([]*Watcher, 0, len(sub.watchers))
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
// that have left since (see Watcher.track). A state handed out is remembered once it
// is superseded (see update), so answering costs a lookup no clock and no bookkeeping.
func (sub *subscription) answer() (versions []*wire.Version, newlyFound bool) {
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
func (sub *subscription) handedOutAndGone(clusters []string) []*wire.Version {
	sub.mu.Lock()
	answers := append([]answered(nil), sub.answers...)
	latest := sub.state
	sub.mu.Unlock()
	answers = recent(answers, time.Now())
	present := map[wire.NodeKey]bool{}
	if latest != nil {
		for _, v := range latest.decoded() {
			for _, n := range v.Service.Nodes {
				present[wire.NodeKey{Version: v.Service.Version, ID: n.Id}] = true
			}
		}
	}
	gone := map[string]*wire.Version{}
	in := inClusters(clusters)
	for _, a := range answers {
		for _, v := range a.state.decoded() {
			for i, n := range v.Service.Nodes {
				k := wire.NodeKey{Version: v.Service.Version, ID: n.Id}
				if present[k] || !in(v, i) {
					continue
				}
				present[k] = true // once
				g := gone[k.Version]
				if g == nil {
					g = v.WithoutNodes()
					gone[k.Version] = g
				}
				g.Service.Nodes = append(g.Service.Nodes, n)
			}
		}
	}
	out := make([]*wire.Version, 0, len(gone))
	for _, g := range gone {
		out = append(out, g)
	}
	return out
}

// latest returns the latest decoded versions, or nil if Nacos has not answered yet.
func (sub *subscription) latest() []*wire.Version {
	sub.mu.Lock()
	st := sub.state
	sub.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.decoded()
}
