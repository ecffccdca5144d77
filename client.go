package nacos

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/http_agent"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/common/security"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// newNamingClient builds an SDK naming client for cfg.
func newNamingClient(cfg *config) (*sdkClient, error) {
	installSDKLogger(cfg.client, cfg.log)
	cc := cfg.client
	servers := append(cfg.servers[:0:0], cfg.servers...)
	c, port, err := buildClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	if err != nil {
		if c != nil {
			c.CloseClient()
		}
		return nil, fmt.Errorf("nacos: create client: %w", err)
	}
	return &sdkClient{INamingClient: c, pushReceiverPort: port, settleAt: time.Now().Add(settleDelay), settled: make(chan struct{})}, nil
}

// sdkClient is a nacos-sdk-go naming client whose CloseClient also ends the SDK's
// UDP push receiver.
//
// nacos-sdk-go v2.3.5 starts, with every naming client, a UDP listener for Nacos 1.x
// pushes, on a random port it only reports in a log line. CloseClient cancels the
// listener's context, but its goroutine stays blocked reading the socket until a
// datagram arrives, so every closed client would leave a goroutine and a socket
// behind. The registry notes the port from the log line while it builds the client and
// sends one empty datagram to it after CloseClient, which lets the goroutine see its
// cancelled context and close the socket.
type sdkClient struct {
	naming_client.INamingClient
	pushReceiverPort int           // 0 if unknown (the user installed their own SDK logger)
	settleAt         time.Time     // when the registry publishes everything again (see maintain)
	settled          chan struct{} // closed once it has, or the client closed
	settleOnce       sync.Once
	noBatch          atomic.Bool // the server refused a batch register: it has no handler for it
}

func (c *sdkClient) markSettled() { c.settleOnce.Do(func() { close(c.settled) }) }

func (c *sdkClient) isSettled() bool {
	select {
	case <-c.settled:
		return true
	default:
		return false
	}
}

func (c *sdkClient) CloseClient() {
	c.INamingClient.CloseClient()
	if c.pushReceiverPort == 0 {
		return
	}
	if conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.pushReceiverPort))); err == nil {
		conn.Write(nil)
		conn.Close()
	}
}

const pushReceiverLogLine = "udp server start, port: " // logged by the SDK's PushReceiver

var (
	buildMu            sync.Mutex // one client is built at a time, so the port noted is its own
	notedReceiverPort  int
	notedReceiverMutex sync.Mutex
)

func buildClient(p vo.NacosClientParam) (naming_client.INamingClient, int, error) {
	if err := checkLogin(*p.ClientConfig, p.ServerConfigs); err != nil {
		return nil, 0, err
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	notedReceiverMutex.Lock()
	notedReceiverPort = 0
	notedReceiverMutex.Unlock()
	c, err := clients.NewNamingClient(p)
	notedReceiverMutex.Lock()
	port := notedReceiverPort
	notedReceiverMutex.Unlock()
	return c, port, err
}

// afterRedo makes the SDK call f on its connection-event goroutine after every
// (re)connection, once its own redo of registrations and subscriptions is done, and
// reports whether it could.
//
// The redo sends what the SDK's reconnect cache held when it started, which can be
// older than what the registry published meanwhile: Nacos then keeps the older one.
// Publishing again after the redo puts Nacos back in step. The SDK offers no way to
// listen to its connection events from outside, so this reaches its RpcClient through
// unexported fields of nacos-sdk-go v2.3.5 (pinned in go.mod); with any other layout it
// does nothing, and the maintain loop's settle republish remains.
func afterRedo(c naming_client.INamingClient, f func()) bool {
	rc, ok := sdkField(c, "serviceProxy", "grpcClientProxy", "rpcClient").(interface{ GetRpcClient() *rpc.RpcClient })
	if !ok || rc.GetRpcClient() == nil {
		return false
	}
	rc.GetRpcClient().RegisterConnectionListener(connectedFunc(f))
	return true
}

// serviceCache returns the SDK client's service cache, or nil. The SDK calls
// subscribers back outside any lock, from the goroutine that handles pushes and, after a
// reconnect, from the one that redoes subscriptions: an older list can be called back
// after a newer one. Its cache always holds the newest (see subscriptions.onPush). Like
// afterRedo, this reaches an unexported field of nacos-sdk-go v2.3.5.
func serviceCache(c naming_client.INamingClient) *naming_cache.ServiceInfoHolder {
	if sc, ok := c.(*sdkClient); ok {
		c = sc.INamingClient
	}
	h, _ := sdkField(c, "serviceInfoHolder").(*naming_cache.ServiceInfoHolder)
	return h
}

// sdkField follows a path of (unexported) struct fields from v, through pointers and
// interfaces, and returns the last one's value, or nil if the path does not exist.
func sdkField(v interface{}, path ...string) interface{} {
	rv := reflect.ValueOf(v)
	for _, name := range path {
		for rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct || !rv.CanAddr() {
			return nil
		}
		field := rv.FieldByName(name)
		if !field.IsValid() {
			return nil
		}
		rv = reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem()
	}
	if (rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer) && rv.IsNil() {
		return nil
	}
	return rv.Interface()
}

// connectedFunc is an SDK connection listener.
type connectedFunc func()

func (f connectedFunc) OnConnected()  { f() }
func (f connectedFunc) OnDisConnect() {}

// checkLogin tells refused credentials from an unreachable server. The SDK logs in when
// a client starts, but builds the client even when the login is refused, after which
// Nacos refuses every request and the SDK reports that without a reason (or not at all:
// a refused subscription looks like an empty service). An unreachable server is not an
// error here: the SDK keeps trying to log in.
func checkLogin(cc constant.ClientConfig, servers []constant.ServerConfig) error {
	if cc.Username == "" {
		return nil
	}
	ok, err := security.NewNacosAuthClient(cc, servers, &http_agent.HttpAgent{}).Login()
	var unreachable *url.Error
	if ok || err == nil || errors.As(err, &unreachable) {
		return nil
	}
	return fmt.Errorf("login as %q refused: %s", cc.Username, redact(strings.TrimSpace(err.Error())))
}

// notePushReceiverPort is given the format of every SDK log line.
func notePushReceiverPort(line string) {
	if !strings.HasPrefix(line, pushReceiverLogLine) {
		return
	}
	port, _ := strconv.Atoi(strings.TrimPrefix(line, pushReceiverLogLine))
	notedReceiverMutex.Lock()
	notedReceiverPort = port
	notedReceiverMutex.Unlock()
}

// refusedError is a request Nacos refused for a reason that asking again will not
// change: a parameter it does not accept, a request type it does not know, a missing
// permission. The registry reports it once and does not retry it.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return e.reason }

func isRefusal(err error) bool {
	var r *refusedError
	return errors.As(err, &r)
}

// refusalMessages begin the messages of Nacos's refusals that come back as errors:
// NO_HANDLER (302, e.g. a batch register on Nacos 2.0 or 2.1), and the INVALID_PARAM
// (400) exceptions of the naming handlers (NamingUtils, the ephemeral/persistent
// conflict).
var refusalMessages = []string{
	noHandler,
	"Param check invalid:",
	"Instance '",
	"Unsupported request type",
	"Batch registration does not allow persistent instance",
	"Current service", // "Current service %s is persistent service, can't register ephemeral instance."
}

// errNoReason stands for a refusal the SDK passes on without its reason.
const errNoReason = "refused by the server; nacos-sdk-go does not pass on why (Nacos refuses so a user without the permission, 403, or a parameter it does not accept, 400)"

// sdkResult classifies what an SDK write call returned: nil, a refusedError, or an
// error worth retrying (unreachable, timed out, server busy or starting: anything else).
//
// How a Nacos answer reaches the caller through nacos-sdk-go v2.3.5:
//   - Java's request filters (auth, parameter checks, TPS control) answer with the
//     request's own response type and success=false. The SDK returns (false, nil),
//     dropping the error code and the message (it only logs them). TPS control, off
//     by default, is the one transient cause; it is treated as a refusal too, and
//     go-micro's next re-registration asks again.
//   - A server-side exception or an unknown request type comes back as ErrorResponse.
//     The SDK returns an error whose text is the server's message, without its code,
//     after retrying it three times; it then reconnects and redoes every registration
//     it has cached, the refused one included (see publish).
//   - Transport failures and timeouts are errors from gRPC or the SDK itself.
func sdkResult(ok bool, err error) error {
	if err == nil {
		if ok {
			return nil
		}
		return &refusedError{errNoReason}
	}
	for _, m := range refusalMessages {
		if strings.HasPrefix(err.Error(), m) {
			return &refusedError{err.Error()}
		}
	}
	return err
}

// publish makes Nacos hold exactly instances of a service from this client's
// connection: none is a deregistration (named is an instance published before: Nacos
// checks its address, then drops the connection's whole registration of the service),
// one a register, several a batch register, which needs Nacos 2.2 or later.
//
// nacos-sdk-go v2.3.5 caches a registration for its reconnect redo before sending it,
// and keeps it there when Nacos refuses it: the next reconnect sends it again, and a
// refusal that comes back as an error makes the SDK reconnect at once, so it would be
// sent for ever. Registering something else replaces the cached request, and
// deregistering removes it, whatever Nacos answers; the publisher does one or the
// other after every refusal (publication.change).
func (c *sdkClient) publish(key serviceKey, instances []model.Instance, named model.Instance) error {
	var ok bool
	var err error
	switch {
	case len(instances) == 0:
		ok, err = c.DeregisterInstance(vo.DeregisterInstanceParam{
			Ip: named.Ip, Port: named.Port, Cluster: named.ClusterName,
			ServiceName: key.name, GroupName: key.group, Ephemeral: true,
		})
	case len(instances) == 1:
		ok, err = c.RegisterInstance(registerParam(key, instances[0]))
	case c.noBatch.Load():
		return &refusedError{noBatch(len(instances))}
	default:
		params := make([]vo.RegisterInstanceParam, len(instances))
		for i, in := range instances {
			params[i] = registerParam(key, in)
		}
		ok, err = c.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: key.name, GroupName: key.group, Instances: params})
		if err != nil && strings.HasPrefix(err.Error(), noHandler) {
			c.noBatch.Store(true)
			return &refusedError{noBatch(len(instances))}
		}
	}
	return sdkResult(ok, err)
}

const noHandler = "RequestHandler Not Found"

// noBatch is the refusal of several nodes by a server without batch registration.
func noBatch(nodes int) string {
	return fmt.Sprintf("the %d nodes of one service are registered together, as a batch, which needs Nacos 2.2 or later: this server does not know the request (%s)", nodes, noHandler)
}

func registerParam(key serviceKey, in model.Instance) vo.RegisterInstanceParam {
	return vo.RegisterInstanceParam{
		Ip: in.Ip, Port: in.Port, Weight: in.Weight, Enable: in.Enable, Healthy: in.Healthy,
		Metadata: in.Metadata, ClusterName: in.ClusterName, ServiceName: key.name,
		GroupName: key.group, Ephemeral: in.Ephemeral,
	}
}
