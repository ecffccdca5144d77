package nacos

import (
	"strings"
	"sync"
	"testing"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/cache"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_cache"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
)

// The canary for sdk.go's uses of nacos-sdk-go's internals: it fails, naming the
// field or the behaviour, when an SDK release no longer matches what sdk.go relies on.
// (At run time, a path that leads nowhere logs one warning and the workaround is
// skipped; see afterRedo and sdkClient.forget.)
func TestSDKLayoutCanary(t *testing.T) {
	env := newEnv(t)
	r := env.registry(t)
	ic, err := r.namingClient()
	if err != nil {
		t.Fatal(err)
	}
	c := ic.(*sdkClient)
	for _, f := range []struct {
		path []string
		want string
		ok   func(interface{}) bool
	}{
		{redoPath, "an *rpc.RpcClient holder (afterRedo)", func(v interface{}) bool {
			rc, ok := v.(interface{ GetRpcClient() *rpc.RpcClient })
			return ok && rc.GetRpcClient() != nil
		}},
		{cachePath, "*naming_cache.ServiceInfoHolder (sdkClient.forget)", func(v interface{}) bool {
			_, ok := v.(*naming_cache.ServiceInfoHolder)
			return ok
		}},
		{callbacksPath, "cache.ConcurrentMap (sdkClient.forget)", func(v interface{}) bool {
			_, ok := v.(cache.ConcurrentMap)
			return ok
		}},
	} {
		if v := sdkclient.Field(c.sdk, f.path...); !f.ok(v) {
			t.Errorf("nacos-sdk-go's naming client changed: field %s is %T, sdk.go needs %s", strings.Join(f.path, "."), v, f.want)
		}
	}

	// newestOnly relies on the SDK calling subscribers back with the very list its cache
	// holds; sdkClient.forget on an unsubscribed service leaving nothing in the cache.
	other := env.registry(t)
	mustRegister(t, other, service("canary", "v1", "n1"))
	key := serviceKey{DefaultGroup, "canary"}
	var (
		mu     sync.Mutex
		pushed []model.Instance
	)
	unsubscribe, err := c.subscribe(key, func(hosts []model.Instance, _ uint64) {
		mu.Lock()
		pushed = hosts
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, other, service("canary", "v1", "n1", "n2"))
	eventually(t, within, func() bool { mu.Lock(); defer mu.Unlock(); return len(pushed) == 2 },
		"nacos-sdk-go changed: its subscriber callback no longer gets the list its cache holds (newestOnly drops every push)")
	unsubscribe()
	holder := sdkclient.Field(c.sdk, cachePath...).(*naming_cache.ServiceInfoHolder)
	if _, ok := holder.ServiceInfoMap.Load(util.GetServiceCacheKey(util.GetGroupName(key.name, key.group), "")); ok {
		t.Errorf("nacos-sdk-go changed: its cache keys are not util.GetServiceCacheKey(util.GetGroupName(service, group), \"\") (sdkClient.forget)")
	}
}
