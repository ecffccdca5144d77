package sdkclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// nacos-sdk-go v2.3.5 hides why it cannot reach Nacos: a request answers "client not
// connected, current status:STARTING" whatever the cause, and a config query "get config
// from remote nacos server fail". The plugin finds the cause itself: it dials the gRPC
// port of each server once (the HTTP port + 1000, where the SDK connects), within a
// bound, and says what the dial met (probe). A Diagnoser keeps the last finding
// briefly, so that a burst of failing calls dials once.

// Finding is what a probe of one server found.
type Finding struct {
	Server  string // host:port as configured (the HTTP port)
	GRPC    string // host:port the SDK dials
	Problem string // what failed; "" when the gRPC port answered as an HTTP/2 server should
	Check   string // what to check
	// Silent says that the server took the connection and has not answered: a server
	// that is not Nacos, or one that hangs. A probe still waiting says so too.
	Silent bool
	// waiting is when a probe still under way took the connection; zero otherwise.
	waiting time.Time
}

// OK says whether the gRPC port answered.
func (f Finding) OK() bool { return f.Problem == "" }

func (f Finding) String() string {
	if f.OK() {
		return fmt.Sprintf("Nacos at %s (gRPC port %s) answers", f.Server, portOf(f.GRPC))
	}
	s := fmt.Sprintf("cannot reach Nacos at %s (gRPC port %s): %s", f.Server, portOf(f.GRPC), f.Problem)
	if f.Check != "" {
		s += "; " + f.Check
	}
	return s
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return p
}

// UnreachableError is a call that could not reach Nacos, with what a probe found: the
// address and gRPC port tried, what failed, and what to check. It wraps the SDK's own
// error, if any. Its text has no "nacos: " prefix: the caller's wrapping adds it.
type UnreachableError struct {
	Findings []Finding
	Cause    error // the SDK's error, or nil when the call timed out waiting
}

func (e *UnreachableError) Error() string {
	var parts []string
	for _, f := range e.Findings {
		if !f.OK() {
			parts = append(parts, f.String())
		}
	}
	if len(parts) == 0 {
		// Every gRPC port answered a dial: the SDK's connection is what is down.
		addrs := make([]string, len(e.Findings))
		for i, f := range e.Findings {
			addrs[i] = f.Server + " (gRPC port " + portOf(f.GRPC) + ")"
		}
		cause := "no answer in time"
		if e.Cause != nil {
			cause = e.Cause.Error()
		}
		return fmt.Sprintf("cannot reach Nacos at %s: %s, though the gRPC port answers a dial: the client is (re)connecting, "+
			"or Nacos is overloaded; if it lasts, check Nacos's log", strings.Join(addrs, ", "), cause)
	}
	return strings.Join(parts, "; and ")
}

func (e *UnreachableError) Unwrap() error { return e.Cause }

// Texts of the SDK's own errors for a request that got no answer.
const (
	sdkNotConnected = "client not connected"
	sdkNoAnswer     = "request fail, unknown error"
)

// Cause is the innermost error err wraps: the SDK's own, as it said it.
func Cause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// IsUnreachable says whether err is a request that got no answer from Nacos, as the SDK
// reports it (it names no cause), or an UnreachableError.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var u *UnreachableError
	if errors.As(err, &u) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, sdkNotConnected) || strings.Contains(msg, sdkNoAnswer)
}

// The bounds of a probe.
var (
	// FindingTTL is how long a finding is reused before a call that fails dials again.
	FindingTTL = 2 * time.Second
)

// Diagnoser probes the servers of one client, at most one probe at a time, and keeps the
// last finding for FindingTTL. Its methods are safe for concurrent use.
type Diagnoser struct {
	servers []constant.ServerConfig
	cc      constant.ClientConfig
	env     Env
	tls     constant.TLSConfig
	timeout time.Duration

	introduced sync.Once                   // the start-up diagnosis (introduce)
	state      atomic.Pointer[ServerState] // what the server said of itself, once it did

	mu      sync.Mutex
	running *probeRun // the probe under way, if any
	last    *probeRun // the last probe that ended
}

// probeRun is one probe of every server.
type probeRun struct {
	done     chan struct{} // closed when it ended
	ended    time.Time     // set before done is closed
	mu       sync.Mutex    // guards findings while it runs
	findings []Finding
}

func (p *probeRun) snapshot() []Finding {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := append([]Finding(nil), p.findings...)
	for i, f := range fs {
		if !f.waiting.IsZero() {
			fs[i].Problem = fmt.Sprintf("%s took the TCP connection but sent nothing in %v", f.GRPC, time.Since(f.waiting).Round(100*time.Millisecond))
		}
	}
	return fs
}

// NewDiagnoser returns a Diagnoser of the servers of a client configuration; env names
// the variables its messages suggest.
func NewDiagnoser(servers []constant.ServerConfig, cc constant.ClientConfig, env Env) *Diagnoser {
	t := time.Duration(cc.TimeoutMs) * time.Millisecond
	if t <= 0 {
		t = DefaultTimeout
	}
	d := &Diagnoser{servers: append(servers[:0:0], servers...), cc: cc, env: env, timeout: t}
	if cc.TLSCfg.Enable {
		d.tls = cc.TLSCfg
	}
	return d
}

// Start starts a probe unless one runs or the last is fresh. It never waits.
func (d *Diagnoser) Start() { d.current(true) }

// ProbeDelay is how long a request may wait for the SDK before a probe starts, so that
// a request that fails for want of an answer can say why (see StartAfter). A variable
// only for tests.
var ProbeDelay = 250 * time.Millisecond

// StartAfter starts a probe after min(ProbeDelay, a quarter of the timeout), unless
// cancel is called first: a request that waits for the SDK calls it, and cancels once
// answered.
func (d *Diagnoser) StartAfter() (cancel func()) {
	t := time.AfterFunc(min(ProbeDelay, d.timeout/4), d.Start)
	return func() { t.Stop() }
}

// current returns the probe to read: the one under way, a fresh one, or (start) a new one.
func (d *Diagnoser) current(start bool) *probeRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running != nil {
		return d.running
	}
	if d.last != nil && time.Since(d.last.ended) < FindingTTL || !start {
		return d.last
	}
	p := &probeRun{done: make(chan struct{}), findings: make([]Finding, len(d.servers))}
	for i, sc := range d.servers {
		p.findings[i] = Finding{Server: hostPort(sc.IpAddr, sc.Port), GRPC: hostPort(sc.IpAddr, grpcPort(sc)), Problem: notChecked, Silent: true}
	}
	d.running = p
	go d.run(p)
	return p
}

func (d *Diagnoser) run(p *probeRun) {
	var wg sync.WaitGroup
	for i, sc := range d.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probe(sc, d.tls, d.timeout, func(f Finding) {
				p.mu.Lock()
				p.findings[i] = f
				p.mu.Unlock()
			})
		}()
	}
	wg.Wait()
	d.mu.Lock()
	p.ended = time.Now()
	d.running, d.last = nil, p
	d.mu.Unlock()
	close(p.done)
}

// notChecked is the problem of a server that a probe under way has not reached yet.
const notChecked = "not checked yet"

// Diagnose returns what the servers are found to be now, waiting for a probe at most
// until deadline: a probe still under way then says how far it got (a server that
// took the connection and has not answered is Silent), and the last probe's finding
// stands for a server it has not reached yet (a call that fails at its deadline starts
// a probe it cannot wait for).
func (d *Diagnoser) Diagnose(deadline time.Time) []Finding {
	p := d.current(true)
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case <-p.done:
		return p.snapshot()
	case <-wait.C:
	}
	fs := p.snapshot()
	d.mu.Lock()
	last := d.last
	d.mu.Unlock()
	if last != nil && last != p {
		for i, f := range last.snapshot() {
			if fs[i].Problem == notChecked {
				fs[i] = f
			}
		}
	}
	return fs
}

// Last returns the last findings without probing or waiting; nil if there are none.
func (d *Diagnoser) Last() []Finding {
	p := d.current(false)
	if p == nil {
		return nil
	}
	return p.snapshot()
}

// Explain turns an error of the SDK that says Nacos is unreachable, or a call that timed
// out (cause nil), into an UnreachableError that says why, diagnosed by deadline.
func (d *Diagnoser) Explain(cause error, deadline time.Time) *UnreachableError {
	var u *UnreachableError
	if errors.As(cause, &u) {
		return u
	}
	return &UnreachableError{Findings: d.Diagnose(deadline), Cause: cause}
}

func hostPort(host string, port uint64) string {
	return net.JoinHostPort(host, strconv.FormatUint(port, 10))
}

// grpcPort is the port the SDK dials for a server.
func grpcPort(sc constant.ServerConfig) uint64 {
	if sc.GrpcPort != 0 {
		return sc.GrpcPort
	}
	return sc.Port + grpcPortOffset
}

// http2Preface opens an HTTP/2 connection, as gRPC's client does: the preface and an
// empty SETTINGS frame. An HTTP/2 server answers with a SETTINGS frame of its own.
var http2Preface = append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0)

// probe dials sc's gRPC port within timeout and reports what it met, as it goes
// (report is called with each step's finding; the last is the outcome).
func probe(sc constant.ServerConfig, tlsCfg constant.TLSConfig, timeout time.Duration, report func(Finding)) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f := Finding{Server: hostPort(sc.IpAddr, sc.Port), GRPC: hostPort(sc.IpAddr, grpcPort(sc))}
	grpcP := portOf(f.GRPC)
	if net.ParseIP(sc.IpAddr) == nil {
		if _, err := net.DefaultResolver.LookupHost(ctx, sc.IpAddr); err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				f.Problem = fmt.Sprintf("no such host %q", sc.IpAddr)
				f.Check = "check the host name in the Nacos address, and this machine's DNS"
			} else {
				f.Problem = fmt.Sprintf("the DNS lookup of %q failed: %v", sc.IpAddr, unwrapNet(err))
				f.Check = "check this machine's DNS"
			}
			report(f)
			return
		}
	}
	started := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", f.GRPC)
	switch {
	case err == nil:
	case errors.Is(err, syscall.ECONNREFUSED):
		f.Problem = "connection refused"
		f.Check = whyRefused(ctx, sc, grpcP)
		report(f)
		return
	case isTimeout(err):
		f.Problem = fmt.Sprintf("timed out: no TCP connection to %s within %v", f.GRPC, time.Since(started).Round(100*time.Millisecond))
		f.Check = fmt.Sprintf("check the address, and that a firewall lets this machine reach port %s (Nacos's gRPC port, the HTTP port + %d) as well as %d", grpcP, grpcPortOffset, sc.Port)
		report(f)
		return
	default:
		f.Problem = fmt.Sprintf("cannot connect to %s: %v", f.GRPC, unwrapNet(err))
		f.Check = "check the address and this machine's network"
		report(f)
		return
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	f.Problem = fmt.Sprintf("%s took the TCP connection but has not answered yet", f.GRPC)
	f.Check = silentCheck(grpcP)
	f.Silent, f.waiting = true, time.Now()
	report(f)
	f.Silent, f.waiting = false, time.Time{}
	if tlsCfg.Enable {
		tc, err := tlsClient(conn, sc.IpAddr, tlsCfg)
		if err == nil {
			err = tc.HandshakeContext(ctx)
		}
		if err != nil {
			if isTimeout(err) {
				f.Problem = fmt.Sprintf("%s took the TCP connection but did not answer the TLS handshake within %v", f.GRPC, time.Since(started).Round(100*time.Millisecond))
				f.Silent = true
			} else {
				f.Problem = fmt.Sprintf("TLS handshake with %s failed: %v", f.GRPC, err)
				f.Check = "check the TLS settings (WithTLS, MICRO_REGISTRY_NACOS_TLS_*: CA file, client certificate, server name) and that Nacos has TLS on for gRPC (nacos.remote.server.rpc.tls.enableTls)"
			}
			report(f)
			return
		}
		conn = tc
	}
	_, _ = conn.Write(http2Preface)
	head := make([]byte, 9)
	n, err := io.ReadFull(conn, head)
	head = head[:n]
	switch {
	case n >= 9 && head[3] == 4: // a SETTINGS frame
		f.Problem, f.Check = "", ""
	case len(head) > 0 && (head[0] == 0x15 || head[0] == 0x16): // a TLS record: alert or handshake
		f.Problem = fmt.Sprintf("%s speaks TLS and the client does not", f.GRPC)
		f.Check = "turn TLS on in the client (WithTLS, or MICRO_REGISTRY_NACOS_TLS_CA_FILE)"
	case bytes.HasPrefix(head, []byte("HTTP/")):
		f.Problem = fmt.Sprintf("%s answers HTTP/1, not gRPC: it is not Nacos's gRPC port", f.GRPC)
		f.Check = fmt.Sprintf("give the address of Nacos's server port (8848 by default), whose port + %d is its gRPC port", grpcPortOffset)
	case n == 0 && isTimeout(err):
		f.Problem = fmt.Sprintf("%s took the TCP connection but sent nothing in %v", f.GRPC, time.Since(started).Round(100*time.Millisecond))
		f.Check = silentCheck(grpcP)
		f.Silent = true
	case n == 0 && !tlsCfg.Enable && speaksTLS(ctx, f.GRPC):
		f.Problem = fmt.Sprintf("%s speaks TLS and the client does not", f.GRPC)
		f.Check = "turn TLS on in the client (WithTLS, or MICRO_REGISTRY_NACOS_TLS_CA_FILE)"
	case n == 0:
		f.Problem = fmt.Sprintf("%s closed the connection without answering", f.GRPC)
		f.Check = fmt.Sprintf("check that port %s is Nacos's gRPC port (the HTTP port + %d) and Nacos's log", grpcP, grpcPortOffset)
	default:
		f.Problem = fmt.Sprintf("%s answers, but not as gRPC does (%q)", f.GRPC, head)
		f.Check = fmt.Sprintf("give the address of Nacos's server port (8848 by default), whose port + %d is its gRPC port", grpcPortOffset)
	}
	report(f)
}

// speaksTLS says whether addr completes a TLS handshake (of any certificate): a server
// that closed a plain connection at once may be one that wants TLS.
func speaksTLS(ctx context.Context, addr string) bool {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // only to see whether it speaks TLS
	return tc.HandshakeContext(ctx) == nil
}

func silentCheck(grpcPort string) string {
	return fmt.Sprintf("is something other than Nacos listening on port %s, or is Nacos hung (check its log)?", grpcPort)
}

// whyRefused looks at the HTTP port of a server whose gRPC port refused connections,
// and says what to check.
func whyRefused(ctx context.Context, sc constant.ServerConfig, grpcPort string) string {
	addr := hostPort(sc.IpAddr, sc.Port)
	st, err := FetchState(ctx, sc, nil)
	var refused bool
	if err != nil {
		refused = errors.Is(err, syscall.ECONNREFUSED)
	}
	switch {
	case err == nil && st.Console:
		return fmt.Sprintf("%s is the console of Nacos %s, not its server: use its server port, %s", addr, st.Version, hostPort(sc.IpAddr, st.ServerPort))
	case err == nil:
		return fmt.Sprintf("%s answers as Nacos %s, but its gRPC port %s refuses connections: open port %s too (a firewall, or a container's port mapping: clients of Nacos 2.x and 3.x need both ports)", addr, st.Version, grpcPort, grpcPort)
	case refused:
		return fmt.Sprintf("nothing listens at %s either: check that Nacos runs there, and the address", addr)
	case errors.Is(err, errNotNacos):
		return fmt.Sprintf("%s answers HTTP, but not as a Nacos server does: is it Nacos's console (port 8080 on Nacos 3.x) or another service? "+
			"Give the address of Nacos's server port (8848 by default), whose port + %d is its gRPC port", addr, grpcPortOffset)
	}
	return fmt.Sprintf("check that Nacos runs at %s and listens on its gRPC port %s (the HTTP port + %d)", addr, grpcPort, grpcPortOffset)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// unwrapNet drops the "dial tcp …:" prefix of a net error, which the message says already.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// tlsClient wraps conn in TLS as the SDK's TLS settings ask.
func tlsClient(conn net.Conn, host string, t constant.TLSConfig) (*tls.Conn, error) {
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: t.TrustAll, NextProtos: []string{"h2"}} //nolint:gosec // the user's TrustAll
	if t.ServerNameOverride != "" {
		cfg.ServerName = t.ServerNameOverride
	}
	if t.CaFile != "" {
		pem, err := os.ReadFile(t.CaFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", t.CaFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return tls.Client(conn, cfg), nil
}

// ServerState is what Nacos says of itself at its state endpoint.
type ServerState struct {
	Version     string
	AuthEnabled bool
	Nacos3      bool   // answered at 3.x's admin API
	Console     bool   // the address is Nacos 3.x's console, not its server
	ServerPort  uint64 // the server's HTTP port, as the state says
}

var errNotNacos = errors.New("not a Nacos server")

// The state endpoints: 3.x's admin API on its server port, 2.x's console API on its
// server port, and 3.x's console, on the console's own port (no context path).
const (
	statePathV3      = "/v3/admin/core/state"
	statePathV1      = "/v1/console/server/state"
	statePathConsole = "/v3/console/server/state"
)

// FetchState asks the server at sc what it is, within ctx: its version and whether auth
// is on. client nil means a plain HTTP client. An address that answers HTTP but none of
// Nacos's state endpoints is errNotNacos.
func FetchState(ctx context.Context, sc constant.ServerConfig, client *http.Client) (ServerState, error) {
	if client == nil {
		client = noKeepAlive()
		defer client.CloseIdleConnections()
	}
	base := baseURL(sc)
	for _, c := range []struct {
		url     string
		wrapped bool // {"code":0,"data":{...}}
		nacos3  bool
		console bool
	}{
		{base + sc.ContextPath + statePathV3, true, true, false},
		{base + sc.ContextPath + statePathV1, false, false, false},
		{base + statePathConsole, false, true, true},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
		if err != nil {
			return ServerState{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return ServerState{}, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			continue
		}
		var raw map[string]any
		if c.wrapped {
			var w struct {
				Data map[string]any `json:"data"`
			}
			if json.Unmarshal(body, &w) != nil {
				continue
			}
			raw = w.Data
		} else if json.Unmarshal(body, &raw) != nil {
			continue
		}
		v, _ := raw["version"].(string)
		if v == "" {
			continue
		}
		st := ServerState{Version: v, Nacos3: c.nacos3, Console: c.console}
		st.AuthEnabled = fmt.Sprint(raw["auth_enabled"]) == "true"
		if p, err := strconv.ParseUint(fmt.Sprint(raw["server_port"]), 10, 16); err == nil {
			st.ServerPort = p
		}
		if c.console && (st.ServerPort == 0 || st.ServerPort == sc.Port) {
			st.Console = false // a server that serves the console path on its own port
		}
		return st, nil
	}
	return ServerState{}, errNotNacos
}

func baseURL(sc constant.ServerConfig) string {
	scheme := sc.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + hostPort(sc.IpAddr, sc.Port)
}
