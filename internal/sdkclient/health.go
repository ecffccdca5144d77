package sdkclient

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/micro-registry/nacos/internal/logging"
)

// What the log says of a client's connection, at the default level (info): one warning
// when Nacos becomes unreachable, with the cause; while it stays so, at most one
// reminder every ReminderEvery, with the cause as found then; and one info line when it
// is reachable again. The SDK's own lines about it go to debug (see sdkLogger).
//
// Variables only for tests, which scale them all alike; nothing else changes them.
var (
	// ReminderEvery is the least time between two lines that say Nacos is unreachable.
	ReminderEvery = time.Minute
	// DownAfter is how long a client that reports its connection down stays so before
	// the log says Nacos is unreachable: the SDK reconnects within it after a blip.
	DownAfter = 3 * time.Second
	// PollEvery is how often the connection state is read from the SDK.
	PollEvery = time.Second
)

// Health follows whether one client reaches Nacos, and logs its changes (see
// ReminderEvery). What it learns comes from the requests' outcomes (Failed, Succeeded)
// and, for a client that can tell (Connected), from polling it. It runs a goroutine
// until Stop.
type Health struct {
	what     string // who keeps trying, and how: "the registry keeps trying"
	diag     *Diagnoser
	log      logging.Logger
	wake     chan struct{}
	stop     chan struct{}
	stopping sync.Once
	ended    chan struct{}

	mu          sync.Mutex
	connected   func() (up bool) // nil until Follow
	everUp      bool             // Nacos answered once: the start-up diagnosis may run
	down        bool             // the log said Nacos is unreachable, and not yet that it is back
	failingFrom time.Time        // when the first sign of trouble came since the last success; zero: none
	failedAgain bool             // a failure was reported since the last line
	downSince   time.Time
	lastLine    time.Time
}

// NewHealth starts following a client's connection; what says who keeps trying, for
// the log ("the registry keeps trying").
func NewHealth(what string, diag *Diagnoser, log logging.Logger) *Health {
	if log == nil {
		log = logging.Discard
	}
	h := &Health{what: what, diag: diag, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), ended: make(chan struct{})}
	go h.run()
	return h
}

// Follow makes the health poll connected, which reads the SDK client's connection state,
// once the client is built.
func (h *Health) Follow(connected func() bool) {
	h.mu.Lock()
	h.connected = connected
	h.mu.Unlock()
	h.poke()
}

// Failed reports a request that found Nacos unreachable.
func (h *Health) Failed() {
	h.mu.Lock()
	if h.failingFrom.IsZero() {
		h.failingFrom = time.Now()
	}
	h.failedAgain = true
	h.mu.Unlock()
	h.poke()
}

// Succeeded reports a request Nacos answered.
func (h *Health) Succeeded() {
	h.mu.Lock()
	was := h.down || !h.failingFrom.IsZero() || !h.everUp
	h.failingFrom, h.everUp = time.Time{}, true
	h.mu.Unlock()
	if was {
		h.poke()
	}
}

func (h *Health) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Stop ends the goroutine; it does not wait for it.
func (h *Health) Stop() { h.stopping.Do(func() { close(h.stop) }) }

// Ended is closed once the goroutine has ended.
func (h *Health) Ended() <-chan struct{} { return h.ended }

func (h *Health) run() {
	defer close(h.ended)
	poll := time.NewTicker(PollEvery)
	defer poll.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.wake:
		case <-poll.C:
		}
		h.check(time.Now())
		h.mu.Lock()
		up := h.everUp
		h.mu.Unlock()
		if up {
			h.diag.introduced.Do(func() { h.diag.introduce(h.log, h.stop) })
		}
	}
}

// check decides, at now, whether a line is due, and writes it.
func (h *Health) check(now time.Time) {
	h.mu.Lock()
	connected := h.connected
	h.mu.Unlock()
	if connected != nil {
		if connected() {
			h.Succeeded()
		} else {
			h.mu.Lock()
			if h.failingFrom.IsZero() {
				h.failingFrom = now
			}
			h.failedAgain = true
			h.mu.Unlock()
		}
	}
	h.mu.Lock()
	switch {
	case h.down && h.failingFrom.IsZero():
		h.down = false
		since := h.downSince
		h.mu.Unlock()
		logging.Logf(h.log, logging.InfoLevel, "Nacos at %s is reachable again, after %v", h.servers(), now.Sub(since).Round(time.Second))
		return
	case !h.down && !h.failingFrom.IsZero() && now.Sub(h.failingFrom) >= DownAfter:
		h.down, h.downSince, h.lastLine, h.failedAgain = true, h.failingFrom, now, false
		h.mu.Unlock()
		logging.Logf(h.log, logging.WarnLevel, "%s; %s", h.cause(), h.what)
		return
	case h.down && h.failedAgain && now.Sub(h.lastLine) >= ReminderEvery:
		h.lastLine, h.failedAgain = now, false
		since := h.downSince
		h.mu.Unlock()
		findings := h.diag.Diagnose(time.Now().Add(h.diag.timeout))
		if allAnswer(findings) {
			return // Nacos answers again: the next request says whether it is back
		}
		logging.Logf(h.log, logging.WarnLevel, "Nacos still unreachable after %v: %s; %s", now.Sub(since).Round(time.Second), (&UnreachableError{Findings: findings}).Error(), h.what)
		return
	}
	h.mu.Unlock()
}

func allAnswer(findings []Finding) bool {
	for _, f := range findings {
		if !f.OK() {
			return false
		}
	}
	return len(findings) > 0
}

// cause probes the servers (at most the client's timeout: the goroutine's own time).
func (h *Health) cause() string {
	findings := h.diag.Diagnose(time.Now().Add(h.diag.timeout))
	return (&UnreachableError{Findings: findings}).Error()
}

func (h *Health) servers() string {
	addrs := make([]string, len(h.diag.servers))
	for i, sc := range h.diag.servers {
		addrs[i] = hostPort(sc.IpAddr, sc.Port)
	}
	return strings.Join(addrs, ", ")
}

// Answered says whether the last request was answered (a refusal included) and none
// failed since.
func (h *Health) Answered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.everUp && h.failingFrom.IsZero()
}

// Down says whether the log says Nacos is unreachable now.
func (h *Health) Down() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

func (h *Health) String() string { return fmt.Sprintf("health of %s", h.what) }
