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
	"time"
	"unsafe"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/http_agent"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/common/security"
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
