package naming

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/cache"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// This file is the registry's boundary with nacos-sdk-go v2.3.5 (pinned in go.mod).
// The SDK's defects it works around, and how:
//
//   - Its redo. The SDK caches every registration before sending it and sends it again
//     on every (re)connection, and after each failed request it checks the connection
//     and redoes: a registration Nacos fails (an error response) or refuses is sent
//     again and again, and the SDK can resend a stale one over a newer one. SDKClient
//     takes each registration out of that cache once sent (dropRedo), empties the cache
//     just before the SDK redoes (redoGuard: a failed request's connection check starts
//     the redo before the request has returned), and tells the registry of every
//     reconnection (reconnected), which then publishes everything again itself, as the
//     one owner of its registrations. Where the SDK's internals cannot be reached, all
//     three are skipped and the SDK redoes as it does.
//   - Its cache of services. It keeps every service a client ever subscribed to, for the
//     client's life, about 400 bytes a name: forget drops a service once unsubscribed,
//     under the SDK's own lock.
//   - Its callbacks. It calls subscribers back outside any lock, from its push handler
//     and from its redo: an older list can be called back after a newer one, and it
//     sorts a cached list in place once a newer one arrives (see newestOnly).
//   - Its results. A refusal comes back as (false, nil), or as an error without its code
//     (see result).

// SDKClient is a Client over a nacos-sdk-go naming client.
type SDKClient struct {
	sdk     naming_client.INamingClient
	noBatch atomic.Bool         // the server refused a batch register: it has no handler for it
	redo    cache.ConcurrentMap // the registrations the SDK's redo sends, by group@@name; nil if unreachable
	rpc     *rpc.RpcClient      // the SDK's connection; nil if unreachable
	closing sync.Once
	closed  chan struct{} // closed once the SDK client has been shut down
	log     logging.Logger
}

var _ Client = (*SDKClient)(nil)

// Dial builds an SDK naming client. reconnected is called, on the SDK's event goroutine
// (it must return at once), whenever the SDK reports its connection up, once the SDK's
// own redo of its subscriptions is done: lost says whether a connection was lost since
// the last such report, in which case Nacos holds nothing of what the client registered
// and the caller publishes it again. (The SDK also reports its connection up when it
// starts, and after a failed request once the connection proves healthy.)
//
// The SDK connects while it builds: against a server that accepts connections but does
// not answer, that takes three times its initial gRPC timeout (3 s, from the environment
// variable nacos.remote.client.grpc.timeout) and cannot be cut short, so the registry
// dials in the background.
func Dial(servers []constant.ServerConfig, cc constant.ClientConfig, log logging.Logger, reconnected func(lost bool)) (*SDKClient, error) {
	sdkclient.InstallLogger(cc, log)
	servers = append(servers[:0:0], servers...)
	if err := sdkclient.CheckLogin(cc, servers, sdkclient.RegistryEnv); err != nil {
		return nil, &RefusedError{err.Error()}
	}
	done := sdkclient.UseClientMap()
	nc, err := clients.NewNamingClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	done()
	c := &SDKClient{sdk: nc, closed: make(chan struct{}), log: log}
	if err != nil {
		if nc != nil {
			c.Close()
		}
		return nil, err
	}
	c.hearReconnections(reconnected)
	return c, nil
}

// The unexported paths this file follows into nacos-sdk-go v2.3.5's naming client
// (TestSDKLayoutCanary checks them).
var (
	rpcClientPath = []string{"serviceProxy", "grpcClientProxy", "rpcClient"}
	redoPath      = []string{"serviceProxy", "grpcClientProxy", "eventListener", "registeredInstanceCached"}
	listenersPath = []string{"connectionEventListeners"} // in the rpc.RpcClient
	cachePath     = []string{"serviceInfoHolder"}
	callbacksPath = []string{"serviceInfoHolder", "subCallback", "callbackFuncMap"}
	callbacksLock = []string{"serviceInfoHolder", "subCallback", "mux"}
)

// redoUnreachable and cacheUnforgotten warn, once per process, that a path above no
// longer leads where it should.
var redoUnreachable, cacheUnforgotten sync.Once

// hearReconnections finds the SDK's redo cache, and puts two listeners around the SDK's
// own listener of its connection events (which redoes subscriptions and registrations):
// redoGuard before it, reconnected after it. The SDK offers neither from outside: both
// are reached through unexported fields. The listeners are an atomic.Value, which the
// SDK loads once per event.
func (c *SDKClient) hearReconnections(reconnected func(lost bool)) {
	rc, ok := sdkclient.Field(c.sdk, rpcClientPath...).(interface{ GetRpcClient() *rpc.RpcClient })
	redo, _ := sdkclient.Field(c.sdk, redoPath...).(cache.ConcurrentMap)
	var listeners *atomic.Value
	var sdkListeners []rpc.IConnectionEventListener
	if ok && rc.GetRpcClient() != nil {
		listeners, _ = sdkclient.FieldAddr(rc.GetRpcClient(), listenersPath...).(*atomic.Value)
	}
	if listeners != nil {
		sdkListeners, _ = listeners.Load().([]rpc.IConnectionEventListener)
	}
	if redo == nil || len(sdkListeners) == 0 {
		redoUnreachable.Do(func() {
			logging.Logf(c.log, logging.WarnLevel, "cannot reach nacos-sdk-go's connection events (its internals changed; see internal/naming/sdk.go): "+
				"the SDK redoes registrations itself after a reconnection, and a registration Nacos fails is sent again at each reconnection")
		})
		return
	}
	c.redo, c.rpc = redo, rc.GetRpcClient()
	around := make([]rpc.IConnectionEventListener, 0, len(sdkListeners)+2)
	around = append(around, redoGuard{redo})
	around = append(around, sdkListeners...)
	listeners.Store(append(around, &connectionListener{connected: reconnected}))
}

// redoGuard empties the SDK's redo cache of registrations just before the SDK redoes
// what it holds: a registration under way, cached but not yet taken out by dropRedo.
type redoGuard struct{ redo cache.ConcurrentMap }

func (g redoGuard) OnConnected() {
	for _, key := range g.redo.Keys() {
		g.redo.Remove(key)
	}
}

func (redoGuard) OnDisConnect() {}

// connectionListener is an SDK connection listener. The SDK reports a connection lost
// (it closes the one it had) before it reports the new one up.
type connectionListener struct {
	lost      atomic.Bool
	connected func(lost bool)
}

func (l *connectionListener) OnConnected()  { l.connected(l.lost.Swap(false)) }
func (l *connectionListener) OnDisConnect() { l.lost.Store(true) }

// Connected says whether the SDK's connection is up; true when the SDK's internals
// cannot be reached (the requests' outcomes then tell).
func (c *SDKClient) Connected() bool { return c.rpc == nil || c.rpc.IsRunning() }

// Close shuts the SDK client down, in the background (see sdkclient.Shutdown).
//
// nacos-sdk-go v2.3.5 leaves its UDP push receiver (for Nacos 1.x) behind: its goroutine
// stays blocked reading its socket for the life of the process.
func (c *SDKClient) Close() <-chan struct{} {
	c.closing.Do(func() {
		go func() {
			defer close(c.closed)
			sdkclient.Shutdown(c.sdk.CloseClient)
		}()
	})
	return c.closed
}

// Publish: none is a deregistration (named is an instance published before: Nacos checks
// its address, then drops the connection's whole registration of the service), one a
// register, several a batch register, which needs Nacos 2.2 or later.
func (c *SDKClient) Publish(key ServiceKey, instances []model.Instance, named model.Instance) error {
	var ok bool
	var err error
	switch {
	case len(instances) == 0:
		ok, err = c.sdk.DeregisterInstance(vo.DeregisterInstanceParam{
			Ip: named.Ip, Port: named.Port, Cluster: named.ClusterName,
			ServiceName: key.Name, GroupName: key.Group, Ephemeral: true,
		})
	case len(instances) == 1:
		ok, err = c.sdk.RegisterInstance(registerInstanceParam(key, instances[0]))
		c.dropRedo(key)
	case c.noBatch.Load():
		return &RefusedError{noBatch(len(instances))}
	default:
		params := make([]vo.RegisterInstanceParam, len(instances))
		for i, in := range instances {
			params[i] = registerInstanceParam(key, in)
		}
		ok, err = c.sdk.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: key.Name, GroupName: key.Group, Instances: params})
		c.dropRedo(key)
		if err != nil && strings.HasPrefix(err.Error(), noHandler) {
			c.noBatch.Store(true)
			return &RefusedError{noBatch(len(instances))}
		}
	}
	return result(ok, err)
}

// dropRedo takes a service's registration out of the SDK's redo cache (see the top of
// this file). The cache is the SDK's concurrent map, which locks itself.
func (c *SDKClient) dropRedo(key ServiceKey) {
	if c.redo != nil {
		c.redo.Remove(util.GetGroupName(key.Name, key.Group))
	}
}

const noHandler = "RequestHandler Not Found"

// noBatch is the refusal of several nodes by a server without batch registration.
func noBatch(nodes int) string {
	return fmt.Sprintf("the %d nodes of one service are registered together, as a batch, which needs Nacos 2.2 or later: this server does not know the request (%s)", nodes, noHandler)
}

func registerInstanceParam(key ServiceKey, in model.Instance) vo.RegisterInstanceParam {
	return vo.RegisterInstanceParam{
		Ip: in.Ip, Port: in.Port, Weight: in.Weight, Enable: in.Enable, Healthy: in.Healthy,
		Metadata: in.Metadata, ClusterName: in.ClusterName, ServiceName: key.Name,
		GroupName: key.Group, Ephemeral: in.Ephemeral,
	}
}

// Subscribe subscribes through the SDK, working around three of its ways:
//
//   - It calls subscribers back outside any lock, from the goroutine that handles
//     pushes and, after a reconnect, from the one that redoes subscriptions: an older
//     list can be called back after a newer one. A list called back is passed on only
//     while it is the one the SDK's cache holds (the same array: its exported
//     GetService reads the cache, with the list's LastRefTime as the stamp), copied
//     before the callback returns: the SDK sorts a cached list in place once a newer
//     one arrives.
//   - It calls back at once for a service it had not cached, but not for one it had
//     (a service subscribed to before): the current list is then read from its cache.
//     That read can race with the in-place sort if Nacos pushes the service at that
//     very moment; nothing the SDK offers avoids it.
//   - It reports a refused subscription as success, with no callback, and keeps the
//     callback and a redo entry of a failed one.
func (c *SDKClient) Subscribe(key ServiceKey, push func([]model.Instance, uint64)) (func(), error) {
	var called atomic.Bool
	param := &vo.SubscribeParam{ServiceName: key.Name, GroupName: key.Group, SubscribeCallback: c.newestOnly(key, func(hosts []model.Instance, stamp uint64) {
		called.Store(true)
		push(hosts, stamp)
	})}
	unsubscribe := func() {
		_ = c.sdk.Unsubscribe(param) // by pointer: the very param subscribed with
		c.forget(key)
	}
	if err := c.sdk.Subscribe(param); err != nil {
		unsubscribe()
		return nil, err
	}
	if !called.Load() {
		svc, err := c.sdk.GetService(vo.GetServiceParam{ServiceName: key.Name, GroupName: key.Group})
		if err == nil && svc.Name != key.Name {
			err = errors.New(errNoReason)
		}
		if err != nil {
			unsubscribe()
			return nil, err
		}
		push(append([]model.Instance(nil), svc.Hosts...), svc.LastRefTime)
	}
	return unsubscribe, nil
}

// newestOnly is the SDK callback of a subscription: it passes on a copy of the list
// the SDK calls back with, and its stamp, while the SDK's cache holds that very list.
func (c *SDKClient) newestOnly(key ServiceKey, push func([]model.Instance, uint64)) func([]model.Instance, error) {
	return func(hosts []model.Instance, err error) {
		if err != nil {
			return
		}
		svc, cerr := c.sdk.GetService(vo.GetServiceParam{ServiceName: key.Name, GroupName: key.Group})
		if cerr != nil || len(svc.Hosts) != len(hosts) || len(hosts) > 0 && &svc.Hosts[0] != &hosts[0] {
			return // an older list, called back late
		}
		push(append([]model.Instance(nil), hosts...), svc.LastRefTime)
	}
}

// forget drops what the SDK keeps of a service nothing subscribes to any more: its
// cached instance list, its refresh time and its (empty) callback list. nacos-sdk-go
// v2.3.5 keeps them for the client's life, so a gateway looking up random names would
// grow it without bound. They live in the client's ServiceInfoHolder (cachePath): two
// sync.Maps, and the callbacks' concurrent map, changed here under the lock the SDK
// takes to add a callback (callbacksLock).
func (c *SDKClient) forget(key ServiceKey) {
	holder, ok := sdkclient.Field(c.sdk, cachePath...).(*naming_cache.ServiceInfoHolder)
	callbacks, ok2 := sdkclient.Field(c.sdk, callbacksPath...).(cache.ConcurrentMap)
	lock, ok3 := sdkclient.Field(c.sdk, callbacksLock...).(*sync.Mutex)
	if !ok || !ok2 || !ok3 {
		cacheUnforgotten.Do(func() {
			logging.Logf(c.log, logging.WarnLevel, "cannot drop what nacos-sdk-go keeps of the services the registry no longer subscribes to (its internals changed; see internal/naming/sdk.go): "+
				"each service name looked up keeps about 400 bytes for the life of the client")
		})
		return
	}
	name := util.GetGroupName(key.Name, key.Group)
	cacheKey := util.GetServiceCacheKey(name, "")
	lock.Lock()
	defer lock.Unlock()
	if holder.IsSubscribed(name, "") {
		return
	}
	holder.ServiceInfoMap.Delete(cacheKey)
	holder.UpdateTimeMap.Delete(cacheKey)
	callbacks.Remove(cacheKey)
}

// ServiceNames reads one page of names. The SDK ignores the success flag of the answer;
// a refusal carries no name list at all, where an empty group has an empty one.
func (c *SDKClient) ServiceNames(param vo.GetAllServiceInfoParam) ([]string, int64, error) {
	list, err := c.sdk.GetAllServicesInfo(param)
	if err == nil && list.Doms == nil {
		err = &RefusedError{errNoReason}
	}
	return list.Doms, list.Count, err
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

// result classifies what an SDK write call returned: nil, a RefusedError, or an error
// worth retrying (see IsUnreachable).
//
// How a Nacos answer reaches the caller through nacos-sdk-go v2.3.5:
//   - Java's request filters (auth, parameter checks, TPS control) answer with the
//     request's own response type and success=false. The SDK returns (false, nil),
//     dropping the error code and the message (it only logs them). TPS control, off
//     by default, is the one transient cause; it is treated as a refusal too, and
//     go-micro's next re-registration asks again.
//   - A server-side exception or an unknown request type comes back as ErrorResponse.
//     The SDK returns an error whose text is the server's message, without its code,
//     after trying three times, then checks the connection and redoes.
//   - Transport failures and timeouts are errors from gRPC or the SDK itself.
func result(ok bool, err error) error {
	if err == nil {
		if ok {
			return nil
		}
		return &RefusedError{errNoReason}
	}
	for _, m := range refusalMessages {
		if strings.HasPrefix(err.Error(), m) {
			return &RefusedError{err.Error()}
		}
	}
	return err
}

// SDK returns the SDK's client, for tests that read Nacos as a plain SDK user would.
func (c *SDKClient) SDK() naming_client.INamingClient { return c.sdk }
