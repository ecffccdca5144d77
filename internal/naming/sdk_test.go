package naming

import (
	"strings"
	"sync"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/cache"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
)

// redoInstancesPath leads from the SDK's naming client to the map its redo cache keeps
// registrations in (ConnectionEventListener.registeredInstanceCached), by group@@name.
var redoInstancesPath = append(redoPath[:len(redoPath):len(redoPath)], "registeredInstanceCached")

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
		{redoPath, "the redo cache, with RemoveInstanceForRedo (dropRedo)", func(v interface{}) bool {
			_, ok := v.(redoCache)
			return ok
		}},
		{redoInstancesPath, "cache.ConcurrentMap (this test's look into the redo cache)", func(v interface{}) bool {
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
		t.Fatal("Dial did not find the SDK's redo cache (hearReconnections)")
	}

	// dropRedo: after a Publish, the SDK's redo cache holds nothing of the service, for
	// one instance (a register) and several (a batch register). The SDK's own register
	// leaves an entry under the key looked at, so the check can see one.
	redo := sdkclient.Field(c.sdk, redoInstancesPath...).(cache.ConcurrentMap)
	key := ServiceKey{constant.DEFAULT_GROUP, "canary"}
	redoKey := util.GetGroupName(key.Name, key.Group)
	n1 := model.Instance{Ip: "10.0.0.1", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true, Metadata: map[string]string{"node": "n1"}}
	n2 := model.Instance{Ip: "10.0.0.2", Port: 80, Weight: 1, Enable: true, Healthy: true, Ephemeral: true, Metadata: map[string]string{"node": "n2"}}
	if _, err := c.sdk.RegisterInstance(registerInstanceParam(key, n1)); err != nil {
		t.Fatal(err)
	}
	if !redo.Has(redoKey) {
		t.Fatalf("nacos-sdk-go changed: its redo cache keeps a registration under none of %q (keys: %q): dropRedo's RemoveInstanceForRedo may miss it", redoKey, redo.Keys())
	}
	if err := c.Publish(key, []model.Instance{n1}, model.Instance{}); err != nil {
		t.Fatal(err)
	}
	if redo.Has(redoKey) {
		t.Error("after a Publish of one instance, the SDK's redo cache still holds the service (dropRedo)")
	}
	if _, err := c.sdk.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: key.Name, GroupName: key.Group,
		Instances: []vo.RegisterInstanceParam{registerInstanceParam(key, n1), registerInstanceParam(key, n2)}}); err != nil {
		t.Fatal(err)
	}
	if !redo.Has(redoKey) {
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
