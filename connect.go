package nacos

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/asim/go-micro/v3/logger"
)

// The registry's SDK client is built in the background and switched without holding
// any lock across the network: Options, String, Init and Close never wait on Nacos,
// and a call waits for a client being built at most the registry's timeout.

// errConnecting says that the client is still being built.
var errConnecting = errors.New("still connecting")

// clientBuild is a client being built (see newNamingClient).
type clientBuild struct {
	cfg  *config
	done chan struct{} // closed once built or failed
	err  error         // set before done is closed
}

// namingClient returns the client, starting the first build if there is none, and
// waiting for it at most the registry's timeout. While Init's new client is being
// built, the current one serves.
func (r *nacosRegistry) namingClient() (naming, error) {
	var deadline time.Time
	for {
		r.mu.Lock()
		if err := r.usable(); err != nil {
			r.mu.Unlock()
			return nil, err
		}
		if r.client != nil {
			c := r.client
			r.mu.Unlock()
			return c, nil
		}
		b := r.build
		if b == nil {
			b = r.startBuild()
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(r.cfg.timeout())
		}
		r.mu.Unlock()
		wait := time.NewTimer(time.Until(deadline))
		select {
		case <-b.done:
			wait.Stop()
			if b.err != nil {
				return nil, b.err
			}
		case <-r.done:
			wait.Stop()
			return nil, errClosed
		case <-wait.C:
			return nil, fmt.Errorf("nacos: no connection to Nacos (%s) after %v: %w", b.cfg.addrs(), b.cfg.timeout(), errConnecting)
		}
	}
}

// currentClient returns the client, or nil if there is none yet. It never waits.
func (r *nacosRegistry) currentClient() naming {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.client
}

// startBuild builds a client for the current configuration, in the background,
// replacing a build under way. r.mu must be held.
func (r *nacosRegistry) startBuild() *clientBuild {
	b := &clientBuild{cfg: r.cfg, done: make(chan struct{})}
	r.build = b
	go r.runBuild(b)
	return b
}

// runBuild builds b's client and makes it the registry's. The subscriptions and
// publications of a client it replaces move to it (what fails to move, the maintain
// loop moves later), and the old client is closed.
func (r *nacosRegistry) runBuild(b *clientBuild) {
	c, err := newNamingClient(b.cfg)
	r.mu.Lock()
	wanted := r.build == b && !r.closed
	if wanted {
		r.build = nil
	}
	var old naming
	if wanted && err == nil {
		old, r.client = r.client, c
	}
	r.mu.Unlock()
	b.err = err
	close(b.done)
	switch {
	case err != nil:
		r.logf(logger.DebugLevel, "%v", err)
		return
	case !wanted: // closed, or replaced by a newer Init
		c.close()
		return
	}
	r.started(c)
	if old == nil {
		return
	}
	errs := append(r.subs.moveTo(c), r.pub.resync(c)...)
	for _, err := range errs {
		r.logf(logger.WarnLevel, "moving to the new client: %v (trying again)", err)
	}
	old.close()
	r.maintainSoon()
}

// started begins the upkeep of a new client (see maintain).
func (r *nacosRegistry) started(c *sdkClient) {
	afterRedo(c, func() {
		r.redone.Store(true)
		r.wakeMaintain() // never blocks: this runs on the SDK's event goroutine
	})
	r.maintainSoon()
}

// Close stops every watcher and the client: the connection to Nacos closes, so Nacos
// removes the nodes this registry registered. Close is safe to call more than once. It
// waits for the client's shutdown at most the registry's timeout; a client still being
// built is closed once the SDK gives it back.
func (r *nacosRegistry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	c := r.client
	r.client, r.build = nil, nil
	ws := make([]*watcher, 0, len(r.watchers))
	for w := range r.watchers {
		ws = append(ws, w)
	}
	timeout := DefaultTimeout
	if r.cfg != nil {
		timeout = r.cfg.timeout()
	}
	r.mu.Unlock()
	r.subs.closing.Store(true)
	for _, w := range ws {
		w.Stop()
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		r.wg.Wait()
		if c != nil {
			<-c.close()
		}
	}()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case <-ended:
	case <-wait.C:
	}
	return nil
}

// timeout is the SDK's request timeout (registry.Timeout).
func (c *config) timeout() time.Duration { return time.Duration(c.client.TimeoutMs) * time.Millisecond }

// addrs lists the servers, for messages.
func (c *config) addrs() string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = net.JoinHostPort(s.IpAddr, strconv.FormatUint(s.Port, 10))
	}
	return strings.Join(addrs, ", ")
}
