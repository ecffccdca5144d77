package naming

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/cache"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The canary for sdk.go's uses of nacos-sdk-go's internals: it fails, naming the field
// or the behaviour, when an SDK release no longer matches what sdk.go relies on. (At run
// time, a path that leads nowhere logs one warning and the workaround is skipped; see
// SDKClient.hearReconnections and SDKClient.forget.)
func TestSDKLayoutCanary(t *testing.T) {
	env := newEnv(t)
	c := env.dial(t)
	for _, f := range []struct {
		path []string
		want string
		ok   func(interface{}) bool
	}{
		{rpcClientPath, "an *rpc.RpcClient holder (hearReconnections)", func(v interface{}) bool {
			rc, ok := v.(interface{ GetRpcClient() *rpc.RpcClient })
			return ok && rc.GetRpcClient() != nil
		}},
		{redoPath, "cache.ConcurrentMap (dropRedo, redoGuard)", func(v interface{}) bool {
			_, ok := v.(cache.ConcurrentMap)
			return ok
		}},
		{cachePath, "*naming_cache.ServiceInfoHolder (forget)", func(v interface{}) bool {
			_, ok := v.(*naming_cache.ServiceInfoHolder)
			return ok
		}},
		{callbacksPath, "cache.ConcurrentMap (forget)", func(v interface{}) bool {
			_, ok := v.(cache.ConcurrentMap)
			return ok
		}},
		{callbacksLock, "*sync.Mutex (forget)", func(v interface{}) bool {
			mu, ok := v.(*sync.Mutex)
			return ok && mu != nil
		}},
	} {
		if v := sdkclient.Field(c.sdk, f.path...); !f.ok(v) {
			t.Errorf("nacos-sdk-go's naming client changed: field %s is %T, sdk.go needs %s", strings.Join(f.path, "."), v, f.want)
		}
	}
	if t.Failed() {
		t.FailNow() // the checks below follow these paths
	}
	if c.redo == nil {
		t.Fatal("Dial did not find the SDK's redo cache or its connection listeners (hearReconnections)")
	}
	listeners := sdkclient.FieldAddr(c.rpc, listenersPath...).(*atomic.Value).Load().([]rpc.IConnectionEventListener)
	if _, ok := listeners[0].(redoGuard); !ok || len(listeners) != 3 {
		t.Fatalf("the SDK's connection listeners are %T, want redoGuard, the SDK's and connectionListener", listeners)
	}

	// dropRedo: after a Publish, the SDK's redo cache holds nothing of the service, for
	// one instance (a register) and several (a batch register).
	redo := c.redo
	key := ServiceKey{constant.DEFAULT_GROUP, "canary"}
	redoKey := util.GetGroupName(key.Name, key.Group)
	n1 := model.Instance{Ip: "10.0.0.1", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true, Metadata: map[string]string{"node": "n1"}}
	n2 := model.Instance{Ip: "10.0.0.2", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true, Metadata: map[string]string{"node": "n2"}}
	// The SDK's own registers leave an entry, unless the SDK handles its first
	// connection event late, after one of them: redoGuard then empties the cache.
	cachedBy := func(register func() error) bool {
		for range 3 {
			if err := register(); err != nil {
				t.Fatal(err)
			}
			if redo.Has(redoKey) {
				return true
			}
		}
		return false
	}
	if !cachedBy(func() error { _, err := c.sdk.RegisterInstance(registerInstanceParam(key, n1)); return err }) {
		t.Fatalf("nacos-sdk-go changed: its redo cache keeps a registration under none of %q (keys: %q): dropRedo's RemoveInstanceForRedo may miss it", redoKey, redo.Keys())
	}
	if err := c.Publish(key, []model.Instance{n1}, model.Instance{}); err != nil {
		t.Fatal(err)
	}
	if redo.Has(redoKey) {
		t.Error("after a Publish of one instance, the SDK's redo cache still holds the service (dropRedo)")
	}
	if !cachedBy(func() error {
		_, err := c.sdk.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: key.Name, GroupName: key.Group,
			Instances: []vo.RegisterInstanceParam{registerInstanceParam(key, n1), registerInstanceParam(key, n2)}})
		return err
	}) {
		t.Fatalf("nacos-sdk-go changed: its redo cache keeps a batch registration under none of %q (keys: %q): dropRedo's RemoveInstanceForRedo may miss it", redoKey, redo.Keys())
	}
	if err := c.Publish(key, []model.Instance{n1, n2}, model.Instance{}); err != nil {
		t.Fatal(err)
	}
	if redo.Has(redoKey) {
		t.Error("after a Publish of a batch, the SDK's redo cache still holds the service (dropRedo)")
	}
	if err := c.Publish(key, nil, n1); err != nil {
		t.Fatal(err)
	}

	// newestOnly relies on the SDK calling subscribers back with the very list its cache
	// holds; forget on an unsubscribed service, on the SDK's cache keys.
	other := env.dial(t)
	if err := other.Publish(key, []model.Instance{n1}, model.Instance{}); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		pushed []model.Instance
	)
	unsubscribe, err := c.Subscribe(key, func(hosts []model.Instance, _ uint64) {
		mu.Lock()
		pushed = hosts
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Publish(key, []model.Instance{n1, n2}, model.Instance{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, within, func() bool { mu.Lock(); defer mu.Unlock(); return len(pushed) == 2 },
		"nacos-sdk-go changed: its subscriber callback no longer gets the list its cache holds (newestOnly drops every push)")
	holder := sdkclient.Field(c.sdk, cachePath...).(*naming_cache.ServiceInfoHolder)
	callbacks := sdkclient.Field(c.sdk, callbacksPath...).(cache.ConcurrentMap)
	cacheKey := util.GetServiceCacheKey(util.GetGroupName(key.Name, key.Group), "")
	kept := func() (what []string) {
		if _, ok := holder.ServiceInfoMap.Load(cacheKey); ok {
			what = append(what, "its instance list")
		}
		if _, ok := holder.UpdateTimeMap.Load(cacheKey); ok {
			what = append(what, "its refresh time")
		}
		if callbacks.Has(cacheKey) {
			what = append(what, "its callback list")
		}
		return what
	}
	if what := kept(); len(what) != 3 {
		t.Fatalf("nacos-sdk-go changed: of a subscribed service, its cache keeps only %v under util.GetServiceCacheKey(util.GetGroupName(service, group), \"\") (forget)", what)
	}
	unsubscribe()
	if what := kept(); len(what) > 0 {
		t.Errorf("forget left %v of an unsubscribed service in nacos-sdk-go's cache", what)
	}
}

// The SDK's redo after a failed request (it checks the connection, reports it up and
// redoes) sends no registration: redoGuard has emptied the cache first, though the
// failed registration was still in it. Without the guard the redo sends it again, before
// the registry can take it out (dropRedo, here not called).
//
// The guard cannot cover the SDK's first connection event, when the SDK handles it late
// (its listeners are loaded before Dial puts the guard in): the registry's core then
// publishes again what it sent lately (core.publisher.reconnect). So a first failure
// comes before the one looked at, and makes sure that event is over.
func TestRedoGuardEmptiesTheCacheBeforeTheSDKRedoes(t *testing.T) {
	if testkit.RealNacos != "" {
		t.Skip("needs the embedded server, to fail registrations")
	}
	testkit.RunChecked(t, false, func(t *testing.T) { // the SDK races with itself as it redoes
		env := newEnv(t)
		healthChecks := func() int64 { return env.srv.Requests(nacostest.HealthCheckRequest) }
		// reconnected runs after the SDK's redo, on the same goroutine; it says how many
		// connection checks came before.
		up := make(chan int64, 10)
		c := env.dialHearing(t, func(bool) { up <- healthChecks() })
		defer env.srv.FailRequests(nacostest.InstanceRequest, nacostest.FailWithError)()
		key := ServiceKey{constant.DEFAULT_GROUP, "guarded"}
		n1 := model.Instance{Ip: "10.0.0.1", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true}
		failAndRedo := func() {
			checked := healthChecks()
			if _, err := c.sdk.RegisterInstance(registerInstanceParam(key, n1)); err == nil {
				t.Fatal("RegisterInstance succeeded while the server fails it")
			}
			for redone := false; !redone; {
				select {
				case n := <-up:
					redone = n > checked
				case <-time.After(within):
					t.Fatal("nacos-sdk-go changed: after a failed request it no longer checks the connection and reports it up")
				}
			}
		}
		failAndRedo()
		sent := env.srv.Requests(nacostest.InstanceRequest)
		failAndRedo()
		// The SDK tries 3 times, fewer if it finds its connection being checked.
		if n := env.srv.Requests(nacostest.InstanceRequest) - sent; n > 3 {
			t.Fatalf("the server got %d register requests, want at most the SDK's 3 tries and no redo", n)
		}
		if keys := c.redo.Keys(); len(keys) != 0 {
			t.Fatalf("the SDK's redo cache still holds %q", keys)
		}
	})
}
