package core

import (
	"time"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// The registry's client is built in the background and switched without holding any
// lock across the network: Init and Close never wait on Nacos, and a call waits for a
// client being built at most the timeout. These fields of Registry are guarded by its
// mu.
type connection struct {
	client  naming.Client     // the current client; nil until the first is built
	health  *sdkclient.Health // follows client's connection; nil with it
	build   *clientBuild      // a client being built, if any
	built   *clientBuild      // the last build started, under way or ended
	running bool              // the publisher's and the subscriptions' loops run
}

// clientBuild is a client being built.
type clientBuild struct {
	settings *Settings
	health   *sdkclient.Health // follows the client built, from the start of the build
	done     chan struct{}     // closed once built or failed
	err      error             // set before done is closed
}

// connect starts building the first client, if there is none and none is being built.
func (r *Registry) connect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.usable() == nil && r.client == nil && r.build == nil {
		r.startBuild()
	}
}

// namingClient returns the client, starting the first build if there is none, and
// waiting for it at most the timeout. While Init's new client is being built, the
// current one serves.
func (r *Registry) namingClient() (naming.Client, *Settings, error) {
	var deadline time.Time
	for {
		r.mu.Lock()
		if err := r.usable(); err != nil {
			r.mu.Unlock()
			return nil, nil, err
		}
		s := r.settings
		if r.client != nil {
			c := r.client
			r.mu.Unlock()
			return c, s, nil
		}
		b := r.build
		if b == nil {
			b = r.startBuild()
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.Timeout())
			defer s.diagnoser().StartAfter()() // why, if the client does not come in time
		}
		r.mu.Unlock()
		wait := time.NewTimer(time.Until(deadline))
		select {
		case <-b.done:
			wait.Stop()
			if b.err != nil {
				return nil, nil, b.err
			}
		case <-r.done:
			wait.Stop()
			return nil, nil, ErrClosed
		case <-wait.C:
			b.health.Failed()
			return nil, nil, &opError{op: "connect to Nacos", err: b.settings.diagnoser().Explain(nil, deadline), retrying: true}
		}
	}
}

// currentClient returns the client, or nil if there is none yet. It never waits.
func (r *Registry) currentClient() naming.Client {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.client
}

// lastBuild returns the last build started, under way or failed, when there is no
// client yet; nil otherwise.
func (r *Registry) lastBuild() *clientBuild {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.client != nil {
		return nil
	}
	return r.built
}

// startBuild builds a client for the current settings, in the background, replacing a
// build under way, and starts the registry's loops if they do not run yet. r.mu must be
// held.
func (r *Registry) startBuild() *clientBuild {
	b := &clientBuild{settings: r.settings, done: make(chan struct{})}
	b.health = sdkclient.NewHealth("the registry keeps trying", b.settings.diagnoser(), b.settings.log)
	r.build, r.built = b, b
	// Not one of the goroutines Close waits for: the SDK's connect cannot be cut short,
	// and a client built after Close is closed at once.
	go r.runBuild(b)
	if !r.running {
		r.running = true
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			r.pub.run(r.done)
		}()
		go func() {
			defer r.wg.Done()
			r.subs.run(r.done)
		}()
	}
	return b
}

// runBuild builds b's client and makes it the registry's. The publications and
// subscriptions of a client it replaces move to it, and the old client is closed.
// A failed build is retried by the next call that needs a client.
func (r *Registry) runBuild(b *clientBuild) {
	c, err := r.dial(b.settings, r.pub.reconnect)
	if err != nil {
		err = opErr(err, "connect to Nacos (%s)", b.settings.addrs())
	}
	r.mu.Lock()
	wanted := r.build == b && !r.closed
	if wanted {
		r.build = nil
	}
	var old naming.Client
	var oldHealth *sdkclient.Health
	if wanted && err == nil {
		old, r.client = r.client, c
		oldHealth, r.health = r.health, b.health
	}
	r.mu.Unlock()
	b.err = err
	close(b.done)
	switch {
	case err != nil:
		b.health.Stop()
		b.settings.logf(logging.DebugLevel, "%v", err)
		return
	case !wanted: // closed, or replaced by a newer Init
		b.health.Stop()
		<-c.Close()
		return
	}
	if oldHealth != nil {
		oldHealth.Stop()
	}
	if cc, ok := c.(interface{ Connected() bool }); ok {
		b.health.Follow(cc.Connected)
	}
	adopted := r.pub.setClient(c)
	r.subs.wakeUp()
	if old == nil {
		return
	}
	// Nacos drops what a closed connection registered: the old client stays until the
	// new one holds everything (or the timeout has passed).
	timer := time.NewTimer(b.settings.Timeout())
	defer timer.Stop()
	select {
	case <-adopted:
	case <-timer.C:
	case <-r.done:
	}
	<-old.Close()
}

// Close stops every watcher and the client: the connection to Nacos closes, so Nacos
// removes the nodes this registry registered. Close is safe to call more than once. It
// waits for the registry's goroutines and the client's shutdown at most the timeout; a
// client still being built is closed once the SDK gives it back.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	c, h, b := r.client, r.health, r.build
	r.client, r.health, r.build = nil, nil, nil
	if h != nil {
		h.Stop()
	}
	if b != nil {
		b.health.Stop()
	}
	ws := make([]*Watcher, 0, len(r.watchers))
	for w := range r.watchers {
		ws = append(ws, w)
	}
	timeout := DefaultTimeout
	if r.settings != nil {
		timeout = r.settings.Timeout()
	}
	r.mu.Unlock()
	for _, w := range ws {
		w.Stop() // never waits on Nacos
	}
	go func() {
		defer close(r.ended)
		r.wg.Wait()
		if c != nil {
			<-c.Close()
		}
		if h != nil {
			<-h.Ended()
		}
	}()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case <-r.ended:
	case <-wait.C:
	}
	return nil
}

// Ended is closed once a closed registry has ended everything it ran: its goroutines and
// its client. Close waits for that at most the timeout.
func (r *Registry) Ended() <-chan struct{} { return r.ended }

// connected says whether there is a client and it says its connection is up (a client
// that cannot tell is taken at its word).
func (r *Registry) connected() bool {
	c := r.currentClient()
	if c == nil {
		return false
	}
	cc, ok := c.(interface{ Connected() bool })
	return !ok || cc.Connected()
}

// healthNow returns what follows the connection of the client, or of the one being
// built; nil if there is neither.
func (r *Registry) healthNow() *sdkclient.Health {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case r.health != nil:
		return r.health
	case r.build != nil:
		return r.build.health
	}
	return nil
}

// reached tells the health what a request's outcome says of the connection: nil is an
// answer, an unreachable error none; other errors are Nacos answering.
func (r *Registry) reached(err error) {
	h := r.healthNow()
	switch {
	case h == nil:
	case err == nil || !naming.IsUnreachable(err):
		h.Succeeded()
	default:
		h.Failed()
	}
}

// explain turns an error that says Nacos is unreachable (or, err nil, a call that
// timed out without an answer) into one that says why: what the address and its gRPC
// port met when dialed, and what to check. It waits for that at most until deadline,
// the call's; retrying says that the registry keeps trying. Other errors pass unchanged.
func (r *Registry) explain(s *Settings, op string, err error, deadline time.Time, retrying bool) error {
	if err != nil && !naming.IsUnreachable(err) {
		return err
	}
	if h := r.healthNow(); h != nil {
		h.Failed()
	}
	var cause error
	if err != nil {
		cause = sdkclient.Cause(err)
	}
	return &opError{op: op, err: s.diagnoser().Explain(cause, deadline), retrying: retrying}
}
