package nacos

import (
	"time"

	"github.com/asim/go-micro/v3/logger"
)

// maintainSoon makes sure the maintain loop runs, and wakes it.
func (r *nacosRegistry) maintainSoon() {
	r.mu.Lock()
	if !r.maintained && !r.closed {
		r.maintained = true
		r.wg.Add(1)
		go r.maintain()
	}
	r.mu.Unlock()
	r.wakeMaintain()
}

func (r *nacosRegistry) wakeMaintain() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Delays of the maintain loop.
const (
	settleDelay = time.Second            // after a client starts, publish everything again
	firstRetry  = 100 * time.Millisecond // after a publish failed, then doubling
	lastRetry   = 10 * time.Second
)

// maintain keeps Nacos holding what the registry holds, for as long as the registry is
// open:
//
//   - It withdraws nodes that were not registered again within their TTL, and releases
//     the subscriptions of lookups unused for their expiry (see subscriptions).
//   - It publishes again, with growing delays (firstRetry doubling to lastRetry), every
//     service Nacos does not hold through the current client: a failed Register or
//     Deregister stands (see publication.change), and a new client gets everything.
//     Subscriptions that failed to move to a new client are moved again. Each attempt
//     is logged at debug level, the first of a run of failures at warning level. What
//     Nacos refused is not retried.
//   - It publishes everything again after the SDK's reconnect redo (see afterRedo), and
//     once more a second after a client started: the redo sends what the SDK cached
//     when it began, which can be older than what the registry published meanwhile,
//     and nacos-sdk-go v2.3.5 can run its first redo late, after the registry's first
//     publishes, before the registry can hear of it.
//
// Nacos ignores a registration that changes nothing, so publishing again is harmless.
func (r *nacosRegistry) maintain() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	retry, attempts := firstRetry, 0 // attempts: failed in a row
	for {
		select {
		case <-r.done:
			return
		case <-r.wake:
		case <-timer.C:
		}
		wait := time.Hour
		cfg, err := r.config()
		if err != nil {
			timer.Reset(wait)
			continue // closed, or unusable options: Init wakes it again
		}
		now := time.Now()
		if next := r.subs.expireLookups(now, cfg.lookupExpiry); !next.IsZero() {
			// A lookup made after this pass may expire sooner than next.
			wait = min(time.Until(next), emptyLookupExpiry)
		}
		c, err := r.namingClient()
		if err != nil {
			if !isRefusal(err) && r.pub.count() > 0 {
				r.logf(logger.DebugLevel, "%v (trying again in %v)", err, retry)
				wait = min(wait, retry)
				retry = min(2*retry, lastRetry)
			}
			timer.Reset(wait)
			continue
		}
		next, expired, errs := r.pub.expire(c, now)
		for _, n := range expired {
			r.logf(logger.InfoLevel, "withdrew %s: not registered again within its TTL", n)
		}
		republished := false
		republish := func() {
			errs = append(errs, r.pub.republish(c)...)
			republished = true
		}
		settleAt := c.settle(now, republish)
		switch {
		case republished:
			r.redone.Store(false) // covered
		case r.redone.Swap(false):
			republish()
		default:
			errs = append(errs, r.pub.resync(c)...)
		}
		errs = append(errs, r.subs.moveTo(c)...)
		for _, at := range []time.Time{next, settleAt} {
			if !at.IsZero() {
				wait = min(wait, time.Until(at))
			}
		}
		var failed []error
		for _, err := range errs {
			if isRefusal(err) {
				r.logf(logger.ErrorLevel, "%v: withdrawn, and not sent again until it is registered again", err)
			} else {
				failed = append(failed, err)
			}
		}
		switch {
		case len(failed) > 0:
			attempts++
			level := logger.DebugLevel
			if attempts == 1 {
				level = logger.WarnLevel
			}
			for _, err := range failed {
				r.logf(level, "%v (attempt %d; trying again in %v)", err, attempts, retry)
			}
			wait = min(wait, retry)
			retry = min(2*retry, lastRetry)
		case attempts > 0:
			r.logf(logger.InfoLevel, "Nacos holds everything again, after %d attempts", attempts+1)
			attempts, retry = 0, firstRetry
		}
		timer.Reset(wait)
	}
}
