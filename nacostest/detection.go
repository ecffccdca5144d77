package nacostest

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Connection setup and client detection, as Nacos 2.3+ (GrpcBiStreamRequestAcceptor,
// NacosRuntimeConnectionEjector) does them.

// serverAbilities is what the SetupAckRequest announces. Java 2.5 says
// supportPersistentInstanceByGrpc true; nacostest keeps no persistent
// instances, so it says false.
var serverAbilities = map[string]bool{"supportPersistentInstanceByGrpc": false}

// setUpFrom takes the client's ConnectionSetupRequest. Like Java, a setup
// without labels is not taken (Java fails on it), and a client that sends
// its ability table (the Java client; not SDK v2.3.5, which sends none) is
// answered with a SetupAckRequest, without waiting for an ack.
func (c *connection) setUpFrom(body []byte) {
	var setup struct {
		Labels       map[string]string `json:"labels"`
		AbilityTable map[string]bool   `json:"abilityTable"`
	}
	if err := json.Unmarshal(body, &setup); err != nil || setup.Labels == nil {
		c.server.logf("nacostest: connection %s: setup without labels not taken: %s", c.id, body)
		return
	}
	c.active()
	c.setUp.Store(true)
	c.server.logf("nacostest: connection %s set up: %s", c.id, body)
	if setup.AbilityTable != nil {
		ack, err := json.Marshal(struct {
			Headers      map[string]string `json:"headers"`
			AbilityTable map[string]bool   `json:"abilityTable"`
			Module       string            `json:"module"`
		}{map[string]string{}, serverAbilities, "internal"})
		if err != nil {
			panic(err) // maps of strings and booleans always encode
		}
		c.sendServerRequest("SetupAckRequest", ack)
	}
}

// active notes that the client has just sent a request or a response.
func (c *connection) active() {
	c.lastActive.Store(time.Now().UnixNano())
}

// idleFor is how long the client has sent nothing.
func (c *connection) idleFor() time.Duration {
	return time.Since(time.Unix(0, c.lastActive.Load()))
}

// NacosClientIdle is how long Nacos lets a client connection send nothing
// before it probes it with a ClientDetectionRequest (RuntimeConnectionEjector.
// KEEP_ALIVE_TIME). The SDK sends a health check after 5 s of silence, so
// only a client that hangs is ever probed.
const NacosClientIdle = 20 * time.Second

// WithClientDetection sets how long a client connection may send nothing
// before the server probes it with a ClientDetectionRequest; a client that
// does not answer within a quarter of that is disconnected, its instances
// removed. Idle connections are looked for every 3/20 of it. The default is
// Java's: 20 s, every 3 s, 5 s to answer; 0 turns probing off.
func WithClientDetection(idle time.Duration) Option {
	return func(o *options) { o.clientIdle = max(idle, 0) }
}

// probe is a ClientDetectionRequest sent and its answer.
type probe struct {
	requestID string
	answer    chan struct{} // closed by a successful answer
	once      sync.Once
}

var probeCount atomic.Int64

// answered takes a ClientDetectionResponse. Like Java, a response counts if
// its resultCode is 200, whatever its success field says (SDK v2.3.5 sends
// false).
func (c *connection) answered(body []byte) {
	var resp struct {
		ResultCode int    `json:"resultCode"`
		RequestID  string `json:"requestId"`
	}
	p := c.probe.Load()
	if json.Unmarshal(body, &resp) != nil || p == nil || resp.RequestID != p.requestID || resp.ResultCode != resultSuccess {
		return
	}
	p.once.Do(func() { close(p.answer) })
}

// detectClients probes idle connections until the server closes.
func (s *Server) detectClients(idle time.Duration) {
	ticker := time.NewTicker(idle * 3 / 20)
	defer ticker.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-ticker.C:
			s.probeIdle(idle)
		}
	}
}

// probeIdle probes the connections that have been idle too long, waits for
// their answers and disconnects those that do not answer.
func (s *Server) probeIdle(idle time.Duration) {
	var probed []*connection
	for _, c := range s.openConnections() {
		if !c.setUp.Load() || c.idleFor() < idle {
			continue
		}
		p := &probe{requestID: "detect-" + strconv.FormatInt(probeCount.Add(1), 10), answer: make(chan struct{})}
		c.probe.Store(p)
		body, err := json.Marshal(map[string]any{"headers": map[string]string{}, "requestId": p.requestID, "module": "internal"})
		if err != nil {
			panic(err) // strings always encode
		}
		c.sendServerRequest("ClientDetectionRequest", body)
		probed = append(probed, c)
	}
	timeout := time.NewTimer(idle / 4)
	defer timeout.Stop()
	expired := false
	for _, c := range probed {
		answer := c.probe.Load().answer
		if !expired {
			select {
			case <-answer:
				c.active()
				continue
			case <-timeout.C:
				expired = true
			case <-s.quit:
				return
			}
		}
		select {
		case <-answer:
			c.active()
		default:
			s.logf("nacostest: connection %s did not answer a ClientDetectionRequest: closing it", c.id)
			s.closeConnection(c)
		}
	}
}

// closeConnection closes the client's transport, as Java's unregister does;
// its state goes when gRPC reports the end.
func (s *Server) closeConnection(c *connection) {
	s.life.Lock()
	defer s.life.Unlock()
	if !s.closed {
		s.grpcLis.closeRemote(c.remote)
	}
}
