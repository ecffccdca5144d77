// Package nacostest runs an in-process Nacos server, naming and config,
// for tests, in the spirit of net/http/httptest: NewServer starts one on free
// loopback ports, Addr says where it is, Close stops it. The unmodified
// nacos-sdk-go v2 naming and config clients talk to it as to a real Nacos (see
// the example).
//
// The server speaks Nacos's gRPC protocol (2.x's, which 3.x keeps) as those clients use it
// (server check, connection setup, health checks, register, deregister,
// batch register, subscribe with pushes, service query, service list; config
// query, publish with compare-and-swap by md5, remove, batch listen, and
// ConfigChangeNotifyRequest pushes) and answers the HTTP login, the server
// state and the namespace listing (AddNamespace). It keeps the
// rules of the Java server, 2.3 to 2.5: a connection holds one publication
// per service, ephemeral instances die with their connection, every change
// pushes the full instance list to every subscriber, subscribers never see
// disabled instances; configs are persistent (they survive Restart), their
// md5 is that of the UTF-8 content, a listener is told only when the md5
// changes, a config that does not exist has md5 "" and answers errorCode 300,
// namespace "public" (and "null") is the default namespace (id "") to a
// publish, query or remove but a tenant of its own to a listener, a type Nacos
// does not know is stored as "text", and config content is limited to 10 MiB
// (WithMaxConfigContent); bad requests are refused with the parameter-check,
// ParamUtils and auth messages and codes of Java. WithNacos3 answers as Nacos
// 3.x where it differs from 2.x. Like Java it acknowledges a
// connection setup that carries an ability table (SetupAckRequest; SDK v2.3.5
// sends none, so gets none), refuses requests on a connection not set up, and
// probes connections idle for 20 s with ClientDetectionRequest, closing those
// that do not answer (WithClientDetection).
//
// For tests it adds helpers (PublishConfig, Config, RemoveConfig, AddNamespace),
// introspection (Instances, Services, Subscribers, ConfigListeners,
// Connections, Requests, HeldAnswers) and faults (Restart, DropConnections,
// HoldPushes, SetPushDelay, FailRequests, PushRaw). NewCluster starts servers
// that share one store, for failover tests.
//
// TestConformance (conformance_test.go) runs the same SDK and raw gRPC
// interactions against nacostest and against a real Nacos (NACOS_ADDR) and
// compares what they show; TestConformanceAuth does so for logins and tokens
// (NACOS_AUTH). Both pass against Nacos 2.5.1 and 2.2.3, and with WithNacos3
// (which answers as 3.x where it differs from 2.x) against 3.0.3. The
// differences they find on purpose:
//
//   - Pushes go out at once, where Java waits 500 ms and merges the changes
//     of that time into one push, pushes an unchanged list again after every
//     registration, and pushes to each new subscriber. WithPushDelay(
//     NacosPushDelay) does all of that as Java does.
//   - A port below 0, which only raw JSON can carry (the SDK's port is
//     unsigned), does not decode: 502 instead of Java's parameter refusal.
//   - The SetupAckRequest announces supportPersistentInstanceByGrpc false:
//     there are no persistent instances here (3.x also announces fuzzyWatch,
//     lock and mcp, none of which nacostest serves).
//   - With auth off anyone logs in; Java checks the credentials even then
//     (the SDK only logs the failure and goes on).
//   - nacostest follows 2.3+ where 2.2 differs: 2.2 leaves instanceId blank,
//     has no parameter checker, answers a handler's refusal with resultCode
//     500 rather than the error code, sends neither SetupAckRequest nor
//     ClientDetectionRequest, and words the refusal of an unknown user's
//     login differently.
//
// Its config scenario compares the config service by raw gRPC (queries,
// publishes with types and compare-and-swap, parameter checks, remove,
// listening by md5, pushes, the public namespace). The difference on purpose:
// a publish is served to queries at once, where Nacos acknowledges it before
// the cache its queries read has it (a query a few milliseconds later can
// still answer the old content). Where Nacos 2.2 differs, nacostest follows
// 2.5: 2.2 has no parameter checker, keeps a config type it does not know,
// ignores casMd5 over gRPC, and takes "public" and "null" for tenants of their
// own everywhere.
//
// It does not compare, and nacostest does differently: service lists come in
// name order, where Java's order is that of a hash set (the pages partition
// the same names); and cluster members share one store, so what one member
// holds all hold at once, where real members sync ephemeral data by Distro
// about a second later and keep a lost member's clients for up to 3 minutes
// unless they register again elsewhere.
//
// Left out: persistent (non-ephemeral) instances, which the SDK registers
// over HTTP; config over HTTP, history, search, tag and beta (gray) configs,
// aggregate dataIds and encrypted configs; push retries; health-protection
// thresholds, selectors and the expiry of empty services.
package nacostest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	auto "github.com/nacos-group/nacos-sdk-go/v2/api/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

const (
	// grpcPortOffset is what the SDK adds to the configured port to dial gRPC
	// (constant.RpcPortOffset).
	grpcPortOffset = 1000
	// maxHTTPPort keeps the gRPC port, HTTP port + 1000, a valid port.
	maxHTTPPort = 65535 - grpcPortOffset
	// maxMessageSize matches the 10 MiB the SDK accepts and Java servers
	// accept by default, so a batch of thousands of instances fits.
	maxMessageSize = 10 << 20
)

// Server is an in-process Nacos naming and config server. Its methods are safe for
// concurrent use.
type Server struct {
	opts    options
	backend *backend
	// shared is true for Cluster members: their store outlives any one of
	// them, so Restart must not wipe it.
	shared bool

	host     string
	httpPort int

	httpServer *http.Server
	httpDone   chan struct{}

	// life serialises Restart and Close, and guards closed and the gRPC fields below.
	life       sync.Mutex
	closed     bool
	grpcServer *grpc.Server
	grpcLis    *trackingListener
	grpcDone   chan struct{}

	mu    sync.Mutex // guards conns
	conns map[*connection]struct{}

	// quit is closed by Close; requests held by FailTimeout give up on it.
	quit      chan struct{}
	closeOnce sync.Once
	// detectDone is closed when client detection has stopped.
	detectDone chan struct{}

	counters counters
	faults   faults
	pushes   pushGate
}

// backend is the state that the members of a Cluster share.
type backend struct {
	store      *store
	auth       *authority
	configs    *configStore
	namespaces namespaces
}

// Option configures a Server or a Cluster.
type Option func(*options)

type options struct {
	addr      string // fixed HTTP address; "" picks free ports on 127.0.0.1
	auth      bool
	username  string
	password  string
	logf      func(format string, args ...any)
	pushDelay time.Duration // 0: push every change at once
	// clientIdle is how long a connection may be silent before it is
	// probed (WithClientDetection); 0: never.
	clientIdle time.Duration
	// maxConfigContent is Java's nacos.config.max.content (PropertyUtil.maxContent).
	maxConfigContent int
	// nacos3 answers as Nacos 3.x where it differs from 2.x (WithNacos3).
	nacos3 bool
}

// WithAuth turns authentication on: the SDK must log in with these
// credentials over HTTP and present the token on every naming request.
func WithAuth(username, password string) Option {
	return func(o *options) {
		o.auth = true
		o.username = username
		o.password = password
	}
}

// WithLogf sets a debug logger for connections, requests and pushes (no
// credentials or tokens are ever logged). By default the server is silent.
func WithLogf(f func(format string, args ...any)) Option {
	return func(o *options) { o.logf = f }
}

// NacosPushDelay is how long Nacos 2.x waits after a change before it
// pushes (nacos.naming.push.pushTaskDelay, 500 ms by default).
const NacosPushDelay = 500 * time.Millisecond

// WithPushDelay makes the server push as Nacos does: d after a change
// (NacosPushDelay is Nacos's default), one push of the latest list for all
// the changes to a service in that time; also d after a client subscribes,
// to that client, and after every registration, deregistration or lost
// connection of a publisher even when the list stays the same. Without it
// (the default) every change that alters the list is pushed at once, which
// keeps tests fast. SetPushDelay is another thing: a fault that holds back
// each push, merging nothing.
func WithPushDelay(d time.Duration) Option {
	return func(o *options) { o.pushDelay = max(d, 0) }
}

// WithAddr serves HTTP on this fixed "host:port" and gRPC on port+1000
// instead of picking free ports, like a standalone Nacos on
// "127.0.0.1:8848". Port 0 still picks a free pair on that host. It cannot be
// used with NewCluster.
func WithAddr(addr string) Option {
	return func(o *options) { o.addr = addr }
}

// WithMaxConfigContent sets the longest config content the server accepts, in
// characters as Java counts them (UTF-16 units), like Nacos's property
// nacos.config.max.content (default 10 MiB, DefaultMaxConfigContent). Longer
// content is refused with Java's message "invalid content, over n".
func WithMaxConfigContent(n int) Option {
	return func(o *options) { o.maxConfigContent = n }
}

// WithNacos3 makes the server answer as Nacos 3.x does where 3.x differs from
// 2.x, which the server follows by default (2.3 to 2.5). TestConformance
// measured these against Nacos 3.0.3:
//
//   - The default namespace of configs is spelled "" or "public", to a listener
//     as to a publish, query or remove: a listener of either hears changes made
//     under either (2.x keys listeners by the tenant as sent, so a listener of
//     "public" hears nothing of ""). "null", which 2.x also takes for the
//     default namespace, is a namespace of its own (3.x's
//     NamespaceUtil.processNamespaceParameter defaults only a blank tenant).
//   - With WithAuth, a request refused for its token says so as 3.x's auth
//     plugin does: "Code: 401, Message: <reason>.", and the reason for a
//     missing token is "User not found! Please check user exist or password is
//     right!" (2.x: the bare reason, "user not found!" for a missing token).
//   - A refused login at the SDK's path is answered HTTP 500 with a JSON
//     error body, Spring's, that hides the reason (2.x: 403 for a wrong
//     password, 500 for an unknown user, with the reason as plain text). The
//     SDK only sees that it failed.
//   - The login is also served at 3.x's own path, /nacos/v3/auth/user/login,
//     beside the one the SDK uses, /nacos/v1/auth/users/login (which 3.x keeps).
//     Refusals there are 403 for an unknown user and 500 otherwise, as 3.0.3
//     answers them.
//
// What 3.x does and nacostest does not, with or without it: 3.x announces the
// abilities fuzzyWatch, lock and mcp in its SetupAckRequest (nacostest serves
// none of them), and it serves the v3 HTTP admin and client API (of HTTP,
// nacostest serves only the login, the server state and the namespace list).
func WithNacos3() Option {
	return func(o *options) { o.nacos3 = true }
}

// DefaultMaxConfigContent is Java's default limit of a config's content.
const DefaultMaxConfigContent = 10 << 20

func buildOptions(opts []Option) options {
	o := options{clientIdle: NacosClientIdle, maxConfigContent: DefaultMaxConfigContent}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewServer starts a server on 127.0.0.1 (or the WithAddr address): HTTP on
// a port P, gRPC on P+1000.
func NewServer(opts ...Option) (*Server, error) {
	o := buildOptions(opts)
	return startServer(o, &backend{store: newStore(o.pushDelay), auth: newAuthority(o), configs: newConfigStore(o)}, false)
}

func startServer(o options, b *backend, shared bool) (*Server, error) {
	httpLis, grpcLis, err := listenPair(o.addr)
	if err != nil {
		return nil, err
	}
	tcp := httpLis.Addr().(*net.TCPAddr)
	s := &Server{
		opts:       o,
		backend:    b,
		shared:     shared,
		host:       tcp.IP.String(),
		httpPort:   tcp.Port,
		httpDone:   make(chan struct{}),
		conns:      make(map[*connection]struct{}),
		quit:       make(chan struct{}),
		detectDone: make(chan struct{}),
	}
	s.httpServer = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.httpDone)
		_ = s.httpServer.Serve(httpLis) // returns http.ErrServerClosed on Close
	}()
	s.serveGRPC(grpcLis)
	go func() {
		defer close(s.detectDone)
		if o.clientIdle > 0 {
			s.detectClients(o.clientIdle)
		}
	}()
	s.logf("nacostest: serving HTTP on %s, gRPC on %s", s.Addr(), s.GRPCAddr())
	return s, nil
}

// listenPair listens on a port P for HTTP and P+1000 for gRPC. With a fixed
// address it takes exactly that port; otherwise it asks the kernel for P and
// tries again while P+1000 is taken or out of range.
func listenPair(addr string) (httpLis, grpcLis net.Listener, err error) {
	host, port := "127.0.0.1", 0
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("nacostest: address %q: %w", addr, err)
		}
		if port, err = strconv.Atoi(p); err != nil || port < 0 || port > maxHTTPPort {
			return nil, nil, fmt.Errorf("nacostest: address %q: port must be 0..%d so that port+%d is valid", addr, maxHTTPPort, grpcPortOffset)
		}
		host = h
	}
	if port != 0 {
		return listenAt(host, port)
	}
	const attempts = 100
	for range attempts {
		httpLis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("nacostest: %w", err)
		}
		p := httpLis.Addr().(*net.TCPAddr).Port
		if p > maxHTTPPort {
			httpLis.Close()
			continue
		}
		grpcLis, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p+grpcPortOffset)))
		if err != nil {
			httpLis.Close()
			continue
		}
		return httpLis, grpcLis, nil
	}
	return nil, nil, fmt.Errorf("nacostest: no free port pair P, P+%d on %s after %d attempts", grpcPortOffset, host, attempts)
}

func listenAt(host string, port int) (httpLis, grpcLis net.Listener, err error) {
	httpLis, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, nil, fmt.Errorf("nacostest: %w", err)
	}
	grpcLis, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port+grpcPortOffset)))
	if err != nil {
		httpLis.Close()
		return nil, nil, fmt.Errorf("nacostest: %w", err)
	}
	return httpLis, grpcLis, nil
}

// serveGRPC starts a fresh gRPC server on lis. Callers hold s.life, except
// startServer, which owns s alone.
func (s *Server) serveGRPC(lis net.Listener) {
	s.grpcLis = &trackingListener{Listener: lis, conns: make(map[net.Conn]struct{})}
	s.grpcServer = grpc.NewServer(
		grpc.StatsHandler(connectionTracker{s}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(maxMessageSize),
		// Stop then also waits for our handlers, so nothing of ours outlives Close.
		grpc.WaitForHandlers(true),
	)
	service := &grpcService{server: s}
	auto.RegisterRequestServer(s.grpcServer, service)
	auto.RegisterBiRequestStreamServer(s.grpcServer, service)
	done := make(chan struct{})
	s.grpcDone = done
	go func(srv *grpc.Server, lis net.Listener) {
		defer close(done)
		_ = srv.Serve(lis) // returns when Stop closes the listener
	}(s.grpcServer, s.grpcLis)
}

// stopGRPC closes the listener and every connection and waits until all
// connections have ended, i.e. their state is gone from the store.
func (s *Server) stopGRPC() {
	s.grpcServer.Stop()
	<-s.grpcDone
}

// Addr returns "host:P", the address to give the SDK (ServerConfig IpAddr and
// Port). HTTP is served on P, gRPC on P+1000.
func (s *Server) Addr() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.httpPort))
}

// GRPCAddr returns "host:P+1000", where the SDK dials gRPC.
func (s *Server) GRPCAddr() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.httpPort+grpcPortOffset))
}

// Close stops the server: listeners, connections, held requests and push
// senders. It returns when all of them are gone. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.detectDone
		s.life.Lock()
		s.closed = true
		s.stopGRPC()
		s.life.Unlock()
		_ = s.httpServer.Close()
		<-s.httpDone
		if !s.shared {
			s.backend.store.stopPushes()
		}
		s.logf("nacostest: %s closed", s.Addr())
	})
}

// Restart behaves like a restarted Nacos: every gRPC connection is dropped,
// all ephemeral state (instances, subscriptions, services) is forgotten, and
// the server serves again on the same ports. SDK clients reconnect on their
// own and redo their subscriptions and registrations. A Cluster member only
// loses the state of its own connections, as the shared store lives on in
// the other members. Login tokens stay valid, as they would with a
// configured token secret.
func (s *Server) Restart() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return errors.New("nacostest: Restart after Close")
	}
	s.stopGRPC()
	if !s.shared {
		s.backend.store.reset()
	}
	lis, err := relisten(s.GRPCAddr(), s.quit)
	if err != nil {
		return err
	}
	s.serveGRPC(lis)
	s.logf("nacostest: %s restarted", s.Addr())
	return nil
}

// relisten binds addr again. The port was ours a moment ago; retrying for a
// short while covers the kernel still tearing down the old listener.
func relisten(addr string, quit <-chan struct{}) (net.Listener, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return lis, err
		}
		select {
		case <-quit:
			return nil, errors.New("nacostest: closed while restarting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// DropConnections closes every client connection, as a network failure
// would, and returns once each one's ephemeral instances and subscriptions
// have been removed and the subscribers of the affected services pushed.
// Clients reconnect by themselves and redo their registrations.
func (s *Server) DropConnections() {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return
	}
	open := s.openConnections()
	s.grpcLis.closeConnections()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for _, c := range open {
		select {
		case <-c.ended:
		case <-timeout.C:
			s.logf("nacostest: connection %s did not end after being closed", c.id)
			return
		}
	}
}

// Connections returns the number of open client connections to this server.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) openConnections() []*connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := make([]*connection, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	return open
}

// Requests returns how many payloads of this metadata.type the server has
// received since it started or since ResetCounters: unary requests
// (InstanceRequest, SubscribeServiceRequest, HealthCheckRequest, ...) as well
// as stream messages (ConnectionSetupRequest, NotifySubscriberResponse for
// each acknowledged push).
func (s *Server) Requests(requestType RequestType) int64 {
	return s.counters.get(string(requestType))
}

// ResetCounters sets every Requests count back to zero.
func (s *Server) ResetCounters() {
	s.counters.reset()
}

// Idle reports whether, for at least d, the server has received none of these
// payloads (requests or stream messages, by metadata.type; any, when none is
// named) and has had none of them in hand. Tests wait for it where
// nacos-sdk-go gives no sign that it is done: once its clients are connected
// again after a fault, Idle(d, InstanceRequest, BatchInstanceRequest,
// SubscribeServiceRequest) means they have redone their registrations and
// subscriptions, and whatever registered again after them has too, while
// pollers (a ServiceListRequest a second) may go on.
func (s *Server) Idle(d time.Duration, requestTypes ...RequestType) bool {
	types := make([]string, len(requestTypes))
	for i, t := range requestTypes {
		types[i] = string(t)
	}
	return s.counters.idle(d, types)
}

type counters struct {
	mu       sync.Mutex // guards byType and activity
	byType   map[string]int64
	activity map[string]*activity // by type; "" for every type
}

// activity is when payloads of a type last arrived or were last answered, and how
// many unary requests of it are being answered.
type activity struct {
	last     time.Time
	inFlight int
}

// add counts a payload received.
func (c *counters) add(requestType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byType == nil {
		c.byType = make(map[string]int64)
	}
	c.byType[requestType]++
	c.touch(requestType, 0)
}

// begin counts a unary request received; end is called once it is answered.
func (c *counters) begin(requestType string) (end func()) {
	c.add(requestType)
	c.mu.Lock()
	c.touch(requestType, +1)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.touch(requestType, -1)
	}
}

// touch records activity of a type, with a change of how many are in hand. c.mu is held.
func (c *counters) touch(requestType string, inFlight int) {
	if c.activity == nil {
		c.activity = make(map[string]*activity)
	}
	now := time.Now()
	for _, key := range []string{requestType, ""} {
		a := c.activity[key]
		if a == nil {
			a = &activity{}
			c.activity[key] = a
		}
		a.last = now
		a.inFlight += inFlight
	}
}

func (c *counters) idle(d time.Duration, requestTypes []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(requestTypes) == 0 {
		requestTypes = []string{""}
	}
	for _, t := range requestTypes {
		if a := c.activity[t]; a != nil && (a.inFlight > 0 || time.Since(a.last) < d) {
			return false
		}
	}
	return true
}

func (c *counters) get(requestType string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byType[requestType]
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byType = nil
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.logf != nil {
		s.opts.logf(format, args...)
	}
}

// trackingListener remembers the connections it accepted so that
// DropConnections can cut them; gRPC has no API to close one transport.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tracked := &trackedConn{Conn: conn, listener: l}
	l.mu.Lock()
	l.conns[tracked] = struct{}{}
	l.mu.Unlock()
	return tracked, nil
}

// closeRemote closes the connection from this client address, if open.
func (l *trackingListener) closeRemote(remote string) {
	l.mu.Lock()
	var found net.Conn
	for c := range l.conns {
		if c.RemoteAddr().String() == remote {
			found = c
		}
	}
	l.mu.Unlock()
	if found != nil {
		found.Close()
	}
}

func (l *trackingListener) closeConnections() {
	l.mu.Lock()
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	listener *trackingListener
}

func (c *trackedConn) Close() error {
	c.listener.mu.Lock()
	delete(c.listener.conns, c)
	c.listener.mu.Unlock()
	return c.Conn.Close()
}
