package nacos

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/cache"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// This file is the registry's boundary with nacos-sdk-go v2.3.5 (pinned in go.mod): the
// rest of the package talks to Nacos through the naming interface, in its own terms.
// Every use of the SDK's internals and every workaround of one of its defects is here,
// each with the defect it answers.

// naming is what the registry needs of a Nacos naming client.
type naming interface {
	// publish makes Nacos hold exactly instances of a service from this client's
	// connection: none is a deregistration, for which named is an instance published
	// before. A refusal is a *refusedError.
	publish(key serviceKey, instances []model.Instance, named model.Instance) error
	// subscribe subscribes to a service. push receives every newer instance list, with
	// its version stamp, on the SDK's goroutines; it must return at once. When
	// subscribe returns, push has had the current list.
	subscribe(key serviceKey, push func(hosts []model.Instance, stamp uint64)) (unsubscribe func(), err error)
	// serviceNames reads the page of service names param names, and how many there are.
	serviceNames(param vo.GetAllServiceInfoParam) (names []string, total int64, err error)
	// settle runs republish if the start-up republish is due (see maintain), and says
	// when it will be due if it is not yet (zero once done).
	settle(now time.Time, republish func()) (at time.Time)
	// close ends the client. It returns at once, and done is closed once the SDK's
	// shutdown is over.
	close() (done <-chan struct{})
}

var _ naming = (*sdkClient)(nil)

// sdkClient is a nacos-sdk-go naming client.
type sdkClient struct {
	sdk        naming_client.INamingClient
	settleAt   time.Time     // when the registry publishes everything again (see maintain)
	settled    chan struct{} // closed once it has, or the client closed
	settleOnce sync.Once
	noBatch    atomic.Bool // the server refused a batch register: it has no handler for it
	closing    sync.Once
	closed     chan struct{} // closed once the SDK client has been shut down
	warn       func(string)  // logs a warning of the registry's
}

func (c *sdkClient) markSettled() { c.settleOnce.Do(func() { close(c.settled) }) }

// settle: nacos-sdk-go v2.3.5 can run a client's first redo late, after the registry's
// first publishes, before the registry can hear of it (afterRedo registers its listener
// after the SDK has started): everything is published again settleDelay after the
// client started.
func (c *sdkClient) settle(now time.Time, republish func()) time.Time {
	select {
	case <-c.settled:
		return time.Time{}
	default:
	}
	if now.Before(c.settleAt) {
		return c.settleAt
	}
	republish()
	c.markSettled()
	return time.Time{}
}

// newNamingClient builds an SDK naming client for cfg. The SDK connects while it builds:
// against a server that accepts connections but does not answer, that takes three
// times its initial gRPC timeout (3 s, from the environment variable
// nacos.remote.client.grpc.timeout), whatever registry.Timeout says, and cannot be cut
// short. The registry builds clients in the background (see clientBuild).
func newNamingClient(cfg *config) (*sdkClient, error) {
	sdkclient.InstallLogger(cfg.client, cfg.log)
	cc := cfg.client
	servers := append(cfg.servers[:0:0], cfg.servers...)
	if err := sdkclient.CheckLogin(cc, servers); err != nil {
		return nil, fmt.Errorf("nacos: create client: %w", &refusedError{err.Error()})
	}
	done := sdkclient.UseClientMap()
	nc, err := clients.NewNamingClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	done()
	c := &sdkClient{
		sdk: nc, settleAt: time.Now().Add(settleDelay), settled: make(chan struct{}), closed: make(chan struct{}),
		warn: func(msg string) { cfg.logf(logger.WarnLevel, "%s", msg) },
	}
	if err != nil {
		if nc != nil {
			c.close()
		}
		return nil, fmt.Errorf("nacos: create client: %w", err)
	}
	return c, nil
}

// close shuts the SDK client down, in the background (see sdkclient.Shutdown).
//
// nacos-sdk-go v2.3.5 leaves its UDP push receiver (for Nacos 1.x) behind: its
// goroutine stays blocked reading its socket for the life of the process.
func (c *sdkClient) close() <-chan struct{} {
	c.closing.Do(func() {
		c.markSettled()
		go func() {
			defer close(c.closed)
			sdkclient.Shutdown(c.sdk.CloseClient)
		}()
	})
	return c.closed
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
		ok, err = c.sdk.DeregisterInstance(vo.DeregisterInstanceParam{
			Ip: named.Ip, Port: named.Port, Cluster: named.ClusterName,
			ServiceName: key.name, GroupName: key.group, Ephemeral: true,
		})
	case len(instances) == 1:
		ok, err = c.sdk.RegisterInstance(registerParam(key, instances[0]))
	case c.noBatch.Load():
		return &refusedError{noBatch(len(instances))}
	default:
		params := make([]vo.RegisterInstanceParam, len(instances))
		for i, in := range instances {
			params[i] = registerParam(key, in)
		}
		ok, err = c.sdk.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: key.name, GroupName: key.group, Instances: params})
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

// subscribe subscribes through the SDK, working around three of its ways:
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
func (c *sdkClient) subscribe(key serviceKey, push func([]model.Instance, uint64)) (func(), error) {
	var called atomic.Bool
	param := &vo.SubscribeParam{ServiceName: key.name, GroupName: key.group, SubscribeCallback: c.newestOnly(key, func(hosts []model.Instance, stamp uint64) {
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
		svc, err := c.sdk.GetService(vo.GetServiceParam{ServiceName: key.name, GroupName: key.group})
		if err == nil && svc.Name != key.name {
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
func (c *sdkClient) newestOnly(key serviceKey, push func([]model.Instance, uint64)) func([]model.Instance, error) {
	return func(hosts []model.Instance, err error) {
		if err != nil {
			return
		}
		svc, cerr := c.sdk.GetService(vo.GetServiceParam{ServiceName: key.name, GroupName: key.group})
		if cerr != nil || len(svc.Hosts) != len(hosts) || len(hosts) > 0 && &svc.Hosts[0] != &hosts[0] {
			return // an older list, called back late
		}
		push(append([]model.Instance(nil), hosts...), svc.LastRefTime)
	}
}

// forget drops what the SDK keeps of a service nothing subscribes to any more.
// nacos-sdk-go v2.3.5 keeps, for every service a client was ever subscribed to, its
// cached instance list, its refresh time and its (empty) callback list, for the
// client's life: a gateway looking up random names would grow it without bound, about
// 400 bytes a name. Those live in the client's ServiceInfoHolder, reached through
// unexported fields (cachePath, callbacksPath; TestSDKLayoutCanary checks them).
func (c *sdkClient) forget(key serviceKey) {
	name := util.GetGroupName(key.name, key.group)
	holder, ok := sdkclient.Field(c.sdk, cachePath...).(*naming_cache.ServiceInfoHolder)
	callbacks, ok2 := sdkclient.Field(c.sdk, callbacksPath...).(cache.ConcurrentMap)
	if !ok || !ok2 {
		cacheUnforgotten.Do(func() {
			c.warn("cannot drop what nacos-sdk-go keeps of the services the registry no longer subscribes to (its internals changed; see sdkClient.forget): each service name looked up keeps about 400 bytes for the life of the client")
		})
		return
	}
	if holder.IsSubscribed(name, "") {
		return
	}
	cacheKey := util.GetServiceCacheKey(name, "")
	holder.ServiceInfoMap.Delete(cacheKey)
	holder.UpdateTimeMap.Delete(cacheKey)
	callbacks.Remove(cacheKey)
}

// The unexported paths this file follows into nacos-sdk-go v2.3.5's naming client.
var (
	redoPath      = []string{"serviceProxy", "grpcClientProxy", "rpcClient"}
	cachePath     = []string{"serviceInfoHolder"}
	callbacksPath = []string{"serviceInfoHolder", "subCallback", "callbackFuncMap"}
)

// redoUnheard and cacheUnforgotten warn, once per process, that a path above no longer
// leads where it should.
var redoUnheard, cacheUnforgotten sync.Once

// serviceNames reads one page of names. The SDK ignores the success flag of the
// answer; a refusal carries no name list at all, where an empty group has an empty one.
func (c *sdkClient) serviceNames(param vo.GetAllServiceInfoParam) ([]string, int64, error) {
	list, err := c.sdk.GetAllServicesInfo(param)
	if err == nil && list.Doms == nil {
		err = errors.New(errNoReason)
	}
	return list.Doms, list.Count, err
}

// afterRedo makes the SDK call f on its connection-event goroutine after every
// (re)connection, once its own redo of registrations and subscriptions is done. If it
// cannot, it logs a warning, once per process.
//
// nacos-sdk-go v2.3.5's redo sends what its reconnect cache held when it started, which
// can be older than what the registry published meanwhile: Nacos then keeps the older
// one. Publishing again after the redo puts Nacos back in step. The SDK offers no way
// to listen to its connection events from outside, so this reaches its RpcClient
// through unexported fields (redoPath; TestSDKLayoutCanary checks it). Republishing on
// a timer instead would not do: Nacos pushes the full instance list to every
// subscriber on every registration, changed or not.
func afterRedo(c *sdkClient, f func()) {
	rc, ok := sdkclient.Field(c.sdk, redoPath...).(interface{ GetRpcClient() *rpc.RpcClient })
	if !ok || rc.GetRpcClient() == nil {
		redoUnheard.Do(func() {
			c.warn("cannot hear of nacos-sdk-go's reconnects (its internals changed; see afterRedo): after a reconnect, a stale registration the SDK sends again stands until the next change")
		})
		return
	}
	rc.GetRpcClient().RegisterConnectionListener(connectedFunc(f))
}

// connectedFunc is an SDK connection listener.
type connectedFunc func()

func (f connectedFunc) OnConnected()  { f() }
func (f connectedFunc) OnDisConnect() {}

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
