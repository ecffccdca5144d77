package core

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/wire"
)

// Delays of the publisher's retries: after a failure, a service is asked for again
// after firstRetry, doubling up to lastRetry. A reconnection cures a failure to reach
// Nacos, so such a service is asked for again as soon as the SDK has reconnected; a
// failure of Nacos itself (an error response) waits out its delay: the SDK answers each
// by checking the connection and redoing its subscriptions, so asking sooner would turn
// one failing registration into a storm of requests.
//
// A caller that waits (Register, Deregister) does not wait out the delay: its attempt
// is made at once. Neither a caller nor a reconnection brings an attempt sooner than
// minSpacing after the service's last one: a connection that keeps dropping must not
// make a storm either.
//
// Variables only for the core's tests, which shorten them all alike before any registry
// starts (see TestMain); nothing else changes them.
var (
	firstRetry = 2 * time.Second
	lastRetry  = 30 * time.Second
	minSpacing = time.Second
)

// publisher is the one owner of the registry's registrations in Nacos. It holds, per
// service, the nodes Nacos must hold (the desired state). Register, Deregister and TTL
// expiry only change that, then wait for the outcome; run publishes, one service at a
// time:
//
//   - a change, as the whole set of the service's nodes: Nacos 2.x keeps one
//     registration per service per connection (a later one replaces it), so several
//     nodes go as one batch. An unchanged set is not sent again.
//   - after a failure, again (see firstRetry);
//   - everything again through a new client, and after every reconnection;
//   - nothing of a service Nacos refused: the caller hears why, and the service goes
//     back to what Nacos held before;
//   - and it forgets a service whose nodes are all gone once Nacos has confirmed it
//     empty: dynamic service names cost nothing once deregistered.
type publisher struct {
	settings    func() *Settings
	reached     func(error)   // told each request's outcome (Registry.reached); nil: nobody
	wake        chan struct{} // one pending wake-up for run
	reconnected atomic.Bool   // the connection is up again: retry what found it down
	upAt        atomic.Int64  // when it was last reported up, in Unix nanoseconds
	lost        atomic.Bool   // a connection was lost: publish everything again

	mu         sync.Mutex // guards the fields below and every publication's; never held across a request
	client     naming.Client
	services   map[naming.ServiceKey]*publication
	queue      []naming.ServiceKey // publications due now, in the order they became due
	queued     map[naming.ServiceKey]bool
	nextExpiry time.Time       // when the first TTL runs out; zero if none will
	nextRetry  time.Time       // when the first retry delay ends; zero if none runs
	recent     []sentRequest   // requests that ended lately, oldest first (see reconnect)
	adopters   []chan struct{} // closed once nothing is due through client (see adopt)
}

// publication is one service's desired state and what Nacos holds of it. It is guarded
// by publisher.mu.
type publication struct {
	nodes   map[wire.NodeKey]publishedNode // what Nacos must hold
	gen     uint64                         // counts the changes of nodes
	held    map[wire.NodeKey]publishedNode // what Nacos holds: the nodes of heldGen; nil once a connection was lost
	heldGen uint64
	heldBy  naming.Client  // nil: Nacos holds nothing of it that the registry knows of
	sent    bool           // a request was sent: withdrawing it takes a deregistration
	named   model.Instance // an instance published before, for deregistering

	failure     error     // why the last attempt failed, until one succeeds
	unreachable bool      // failure is Nacos being unreachable
	failures    int       // attempts failed in a row
	retryAt     time.Time // when to try again if nobody waits for it
	lastAttempt time.Time
	waiters     []*waiter
}

type publishedNode struct {
	instance model.Instance
	expires  time.Time // zero: lives as long as the registry
}

// waiter is a Register or Deregister waiting for the outcome of generation gen.
type waiter struct {
	gen  uint64
	done chan error // buffered: told once
}

func newPublisher(settings func() *Settings) *publisher {
	return &publisher{
		settings: settings,
		wake:     make(chan struct{}, 1),
		services: map[naming.ServiceKey]*publication{},
		queued:   map[naming.ServiceKey]bool{},
	}
}

func (p *publisher) wakeUp() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// due queues a publication for run. p.mu must be held.
func (p *publisher) due(key naming.ServiceKey) {
	if !p.queued[key] {
		p.queued[key] = true
		p.queue = append(p.queue, key)
	}
}

// inStep says whether Nacos holds exactly pub's nodes through the current client.
// p.mu must be held.
func (p *publisher) inStep(pub *publication) bool {
	return p.client != nil && pub.heldBy == p.client && pub.heldGen == pub.gen
}

// register adds or refreshes nodes of a service. It returns a waiter for the outcome,
// or nil and the answer at once: nil when Nacos already holds them (their TTL renewed),
// or the error of a failing service, which stands and is retried.
func (p *publisher) register(key naming.ServiceKey, nodes []wire.EncodedNode, ttl time.Duration) (*waiter, error) {
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pub := p.services[key]
	if pub == nil {
		pub = &publication{nodes: map[wire.NodeKey]publishedNode{}}
		p.services[key] = pub
	}
	changed := false
	for _, n := range nodes {
		old, ok := pub.nodes[n.Key]
		changed = changed || !ok || !wire.SameInstance(old.instance, n.Instance)
	}
	if changed {
		pub.nodes = cloneNodes(pub.nodes, len(nodes))
		pub.gen++
	}
	for _, n := range nodes {
		pub.nodes[n.Key] = publishedNode{instance: n.Instance, expires: expires}
	}
	if !expires.IsZero() && (p.nextExpiry.IsZero() || expires.Before(p.nextExpiry)) {
		p.nextExpiry = expires
		p.wakeUp()
	}
	return p.await(key, pub, changed)
}

// deregister removes nodes by version and id; a node given with a version it was not
// registered under is matched by id alone. Unknown nodes are ignored. found says
// whether the registry holds anything of the service.
func (p *publisher) deregister(key naming.ServiceKey, ids []wire.NodeKey) (w *waiter, found bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub := p.services[key]
	if pub == nil {
		return nil, false, nil
	}
	next := cloneNodes(pub.nodes, 0)
	for _, id := range ids {
		if _, ok := next[id]; ok {
			delete(next, id)
			continue
		}
		for k := range next {
			if k.ID == id.ID {
				delete(next, k)
			}
		}
	}
	changed := len(next) != len(pub.nodes)
	if changed {
		pub.nodes = next
		pub.gen++
	}
	w, err = p.await(key, pub, changed)
	return w, true, err
}

// await answers a change of pub: at once if there is nothing to wait for, otherwise
// with a waiter, after queueing pub. p.mu must be held.
func (p *publisher) await(key naming.ServiceKey, pub *publication, changed bool) (*waiter, error) {
	switch {
	case !changed && p.inStep(pub):
		return nil, nil
	case changed && len(pub.nodes) == 0 && !pub.sent:
		delete(p.services, key) // never sent: nothing to withdraw
		pub.answer(pub.gen, nil)
		return nil, nil
	}
	w := &waiter{gen: pub.gen, done: make(chan error, 1)}
	pub.waiters = append(pub.waiters, w)
	if p.client != nil {
		p.due(key)
		p.wakeUp()
	}
	return w, nil
}

// attemptAt is when pub may next be sent: at once, unless its last attempt failed. Then
// a caller waiting for it waits at most minSpacing after that attempt; otherwise the
// retry delay runs, which a reconnection cuts short if Nacos was unreachable.
func (pub *publication) attemptAt() time.Time {
	switch {
	case pub.failure == nil:
		return time.Time{}
	case len(pub.waiters) > 0:
		return pub.lastAttempt.Add(minSpacing)
	}
	return pub.retryAt
}

// answer tells the waiters of generations up to gen.
func (pub *publication) answer(gen uint64, err error) {
	keep := pub.waiters[:0]
	for _, w := range pub.waiters {
		if w.gen <= gen {
			w.done <- err
		} else {
			keep = append(keep, w)
		}
	}
	clear(pub.waiters[len(keep):])
	pub.waiters = keep
}

// setClient makes c the client Nacos is told through, and publishes everything through
// it. adopted is closed once nothing is due through c any more (published, or failing).
func (p *publisher) setClient(c naming.Client) (adopted <-chan struct{}) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.client = c
	p.adopters = append(p.adopters, ch)
	for key := range p.services {
		p.due(key)
	}
	p.mu.Unlock()
	p.wakeUp()
	return ch
}

// reconnect is called when the client's connection is up again: what failed to reach
// Nacos is sent again, and everything if a connection was lost (Nacos then holds
// nothing of this registry's).
//
// What was sent lately is sent again too, a withdrawal included: the SDK's own redo,
// which runs just before, can resend a registration that was under way when it began
// (naming keeps it from doing so but at the SDK's first connection event, which the SDK
// may handle late). The registry sends one request at a time, and the redo sends the
// one it found under way right after, so a request that ended more than redoWindow
// before the connection was reported up cannot have been resent.
//
// It never blocks: it runs on the SDK's event goroutine.
func (p *publisher) reconnect(lost bool) {
	if lost {
		p.lost.Store(true)
	}
	p.upAt.Store(time.Now().UnixNano())
	p.reconnected.Store(true)
	p.wakeUp()
}

// sentRequest is a request that ended: its service, an instance of it (for a
// withdrawal), and when.
type sentRequest struct {
	key   naming.ServiceKey
	named model.Instance
	ended time.Time
}

// redoWindow is how long after it ends a request may have been resent by the SDK's redo
// (see reconnect): twice the SDK's longest request.
func redoWindow(s *Settings) time.Duration { return 2 * s.Timeout() }

// count says how many services the publisher holds.
func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.services)
}

// job is one request run sends.
type job struct {
	client    naming.Client
	key       naming.ServiceKey
	gen       uint64
	nodes     map[wire.NodeKey]publishedNode
	instances []model.Instance
	named     model.Instance
}

// run publishes until done is closed.
func (p *publisher) run(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		j, wait := p.next(time.Now())
		if j != nil {
			err := j.client.Publish(j.key, j.instances, j.named)
			if p.reached != nil {
				p.reached(err)
			}
			p.finish(j, err)
			select {
			case <-done:
				return
			default:
				continue
			}
		}
		timer.Reset(wait)
		select {
		case <-done:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// next withdraws expired nodes, and returns the next request to send, or how long to
// wait for one.
func (p *publisher) next(now time.Time) (*job, time.Duration) {
	s := p.settings()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reconnected.Swap(false) {
		lost := p.lost.Swap(false)
		if !lost {
			p.resendRecent(time.Unix(0, p.upAt.Load()).Add(-redoWindow(s)))
		}
		p.recent = p.recent[:0]
		for key, pub := range p.services {
			if lost {
				pub.held, pub.heldBy = nil, nil // the new connection holds nothing
			}
			if pub.unreachable {
				pub.retryAt = pub.lastAttempt.Add(minSpacing) // cured: at once, unless the connection keeps dropping
			}
			if lost || pub.unreachable {
				p.due(key)
			}
		}
	}
	if !p.nextExpiry.IsZero() && !now.Before(p.nextExpiry) {
		p.expire(s, now)
	}
	if !p.nextRetry.IsZero() && !now.Before(p.nextRetry) {
		p.nextRetry = time.Time{}
		for key, pub := range p.services {
			if pub.failure != nil {
				p.due(key) // the queue's pass below waits for those not due yet
			}
		}
	}
	for len(p.queue) > 0 && p.client != nil {
		key := p.queue[0]
		p.queue = p.queue[1:]
		delete(p.queued, key)
		pub := p.services[key]
		if pub == nil || p.inStep(pub) {
			continue
		}
		if at := pub.attemptAt(); now.Before(at) {
			p.retryNoLater(at)
			continue
		}
		return p.jobFor(key, pub), 0
	}
	for _, ch := range p.adopters {
		close(ch)
	}
	p.adopters = nil
	wait := time.Hour
	for _, at := range []time.Time{p.nextExpiry, p.nextRetry} {
		if !at.IsZero() {
			wait = min(wait, at.Sub(now))
		}
	}
	return nil, wait
}

// resendRecent makes due again what was sent since: the services it was about, a
// forgotten one as a withdrawal again. p.mu must be held.
func (p *publisher) resendRecent(since time.Time) {
	for _, r := range p.recent {
		if r.ended.Before(since) {
			continue
		}
		pub := p.services[r.key]
		if pub == nil {
			pub = &publication{nodes: map[wire.NodeKey]publishedNode{}, sent: true, named: r.named}
			p.services[r.key] = pub
		}
		if pub.heldBy == p.client {
			pub.heldBy = nil
		}
		p.due(r.key)
	}
}

func (p *publisher) retryNoLater(at time.Time) {
	if p.nextRetry.IsZero() || at.Before(p.nextRetry) {
		p.nextRetry = at
	}
}

// jobFor builds the request that makes Nacos hold pub's nodes. p.mu must be held.
func (p *publisher) jobFor(key naming.ServiceKey, pub *publication) *job {
	keys := make([]wire.NodeKey, 0, len(pub.nodes))
	for k := range pub.nodes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b wire.NodeKey) int {
		return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.ID, b.ID))
	})
	j := &job{client: p.client, key: key, gen: pub.gen, nodes: pub.nodes, instances: make([]model.Instance, len(keys)), named: pub.named}
	for i, k := range keys {
		j.instances[i] = pub.nodes[k].instance
	}
	if len(j.instances) > 0 {
		pub.named = j.instances[len(j.instances)-1]
	}
	pub.sent, pub.lastAttempt = true, time.Now()
	return j
}

// finish records the outcome of a request.
func (p *publisher) finish(j *job, err error) {
	s := p.settings()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	named := j.named
	if len(j.instances) > 0 {
		named = j.instances[len(j.instances)-1]
	}
	for len(p.recent) > 0 && now.Sub(p.recent[0].ended) > redoWindow(s) {
		p.recent = p.recent[1:]
	}
	p.recent = append(p.recent, sentRequest{j.key, named, now})
	pub := p.services[j.key]
	if pub == nil {
		return
	}
	switch {
	case err == nil:
		wasFailing := pub.failures
		pub.held, pub.heldGen, pub.heldBy = j.nodes, j.gen, j.client
		pub.failure, pub.unreachable, pub.failures, pub.retryAt = nil, false, 0, time.Time{}
		pub.answer(j.gen, nil)
		if wasFailing > 0 {
			s.logf(logging.InfoLevel, "Nacos holds service %q (group %q) again, after %d attempts", j.key.Name, j.key.Group, wasFailing+1)
		}
		if pub.gen == j.gen && len(pub.nodes) == 0 {
			delete(p.services, j.key) // confirmed empty: forgotten
		}
	case naming.IsRefusal(err):
		err = s.withAuthHint(wrapErr(j, err))
		waited := len(pub.waiters) > 0
		pub.answer(j.gen, err)
		if pub.gen != j.gen {
			break // changed meanwhile: the change is published next
		}
		if len(pub.held) == 0 {
			// Nacos holds nothing of it: nothing to keep.
			if !waited {
				s.logf(logging.ErrorLevel, "%v: withdrawn, and not sent again until it is registered again", err)
			}
			delete(p.services, j.key)
			break
		}
		// A refusal changes nothing in Nacos: what it held through this connection
		// stands, and is again what it must hold. The nodes whose TTL ran out are not
		// taken back, though: their withdrawal is not asked for again, and the
		// connection's end takes them.
		if !waited {
			s.logf(logging.ErrorLevel, "%v: what Nacos held before stands", err)
		}
		pub.nodes, pub.gen = unexpired(pub.held, time.Now()), pub.gen+1
		pub.heldGen, pub.heldBy = pub.gen, j.client
	default:
		err = wrapErr(j, err)
		pub.failure, pub.unreachable = retrying(err), naming.IsUnreachable(err)
		pub.failures++
		delay := firstRetry << min(pub.failures-1, 4)
		pub.retryAt = time.Now().Add(min(delay, lastRetry))
		p.retryNoLater(pub.retryAt)
		level := logging.DebugLevel
		if pub.failures == 1 && len(pub.waiters) == 0 && !pub.unreachable {
			level = logging.WarnLevel // an unreachable Nacos is the connection's health's to log
		}
		s.logf(level, "%v (attempt %d; trying again in %v)", err, pub.failures, time.Until(pub.retryAt).Round(time.Second))
		pub.answer(j.gen, pub.failure)
	}
	if pub.gen != j.gen || j.client != p.client {
		p.due(j.key) // changed meanwhile, or a new client
	}
}

// expire withdraws the nodes whose TTL ran out. p.mu must be held.
func (p *publisher) expire(s *Settings, now time.Time) {
	p.nextExpiry = time.Time{}
	for key, pub := range p.services {
		var gone []wire.NodeKey
		for k, n := range pub.nodes {
			switch {
			case n.expires.IsZero():
			case !n.expires.After(now):
				gone = append(gone, k)
			case p.nextExpiry.IsZero() || n.expires.Before(p.nextExpiry):
				p.nextExpiry = n.expires
			}
		}
		if len(gone) == 0 {
			continue
		}
		pub.nodes = cloneNodes(pub.nodes, 0)
		for _, k := range gone {
			delete(pub.nodes, k)
			s.logf(logging.InfoLevel, "withdrew node %q of service %q version %q: not registered again within its TTL", k.ID, key.Name, k.Version)
		}
		pub.gen++
		if len(pub.nodes) == 0 && !pub.sent {
			delete(p.services, key)
			continue
		}
		p.due(key)
	}
}

// unexpired returns the nodes of m whose TTL has not run out.
func unexpired(m map[wire.NodeKey]publishedNode, now time.Time) map[wire.NodeKey]publishedNode {
	c := make(map[wire.NodeKey]publishedNode, len(m))
	for k, n := range m {
		if n.expires.IsZero() || n.expires.After(now) {
			c[k] = n
		}
	}
	return c
}

// cloneNodes copies a publication's nodes, with room for extra more. A change of nodes
// makes a new map: the one a request took (job.nodes, then publication.held) keeps
// what was sent; only the expiry of its nodes is renewed in place.
func cloneNodes(m map[wire.NodeKey]publishedNode, extra int) map[wire.NodeKey]publishedNode {
	c := make(map[wire.NodeKey]publishedNode, len(m)+extra)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// wrapErr says which service a failed request was about.
func wrapErr(j *job, err error) error {
	what := "register"
	if len(j.instances) == 0 {
		what = "deregister"
	}
	return opErr(err, "%s service %q (group %q)", what, j.key.Name, j.key.Group)
}

// retrying says, of an error that is not a refusal, that the registry keeps trying.
func retrying(err error) error {
	if naming.IsRefusal(err) || errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("%w (the registry keeps trying)", err)
}
