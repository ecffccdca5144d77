package nacosconfig

import (
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// The canary for sdk.go's uses of nacos-sdk-go's internals: it fails, naming the field,
// when an SDK release no longer matches what sdk.go relies on. (At run time, a path that
// leads nowhere logs one warning and the workaround is skipped; see newSDKClient and
// sdkClient.newest.)
func TestSDKLayoutCanary(t *testing.T) {
	env := newEnv(t)
	env.publish(t, "canary.yaml", "a: 1")
	s := env.source(t, []string{"canary.yaml"})
	watch(t, s)
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	for _, f := range []struct {
		path []string
		want string
		ok   func(interface{}) bool
	}{
		{cachePath, "a cache with Get and Count (the listen cache)", func(v interface{}) bool { _, ok := v.(sdkCache); return ok }},
		{wakePath, "chan struct{} (the listen loop's wake-up)", func(v interface{}) bool { _, ok := v.(chan struct{}); return ok }},
	} {
		if v := sdkclient.Field(c.IConfigClient, f.path...); !f.ok(v) {
			t.Errorf("nacos-sdk-go's config client changed: field %s is %T, sdk.go needs %s", strings.Join(f.path, "."), v, f.want)
		}
	}
	if md5, known := c.newest("canary.yaml"); !known || md5 != "" && len(md5) != 32 {
		t.Errorf("nacos-sdk-go's config client changed: its listen cache entries have no string field %s (sdkClient.newest), got %q", md5Field, md5)
	}
}
