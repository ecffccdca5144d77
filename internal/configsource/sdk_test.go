package configsource

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// The canary for sdk.go's uses of nacos-sdk-go's internals: it fails, naming the field,
// when an SDK release no longer matches what sdk.go relies on. (At run time, a path that
// leads nowhere logs one warning and the workaround is skipped; see newConfigClient and
// configClient.newest.)
func TestSDKLayoutCanary(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "canary.yaml", "a: 1")
	s := env.source(t, []string{"canary.yaml"})
	watch(t, s)
	c := s.currentClient()
	for _, f := range []struct {
		path []string
		want string
		ok   func(interface{}) bool
	}{
		{listenCachePath, "a cache with Get and Count (the listen cache)", func(v interface{}) bool { _, ok := v.(sdkCache); return ok }},
		{wakePath, "chan struct{} (the listen loop's wake-up)", func(v interface{}) bool { _, ok := v.(chan struct{}); return ok }},
	} {
		if v := sdkclient.Field(c.sdk, f.path...); !f.ok(v) {
			t.Errorf("nacos-sdk-go's config client changed: field %s is %T, sdk.go needs %s", strings.Join(f.path, "."), v, f.want)
		}
	}
	if md5, known := c.newest("canary.yaml"); !known || md5 != "" && len(md5) != 32 {
		t.Errorf("nacos-sdk-go's config client changed: its listen cache entries have no string field %s (configClient.newest), got %q", md5Field, md5)
	}
}

// The canary for get's retry: the SDK still refuses a query over its rate limit with
// the error get looks for. If it stops limiting, the retry is dead code; if it words
// the refusal otherwise, a Read fails where it should have waited.
func TestSDKLimitCanary(t *testing.T) {
	env := newEnv(t)
	id := fmt.Sprintf("limit-%d.yaml", rand.Int64()) // the limit is per config and process-wide
	env.Publish(t, id, "a: 1")
	c := env.source(t, []string{id}).client0(t)
	for range 20 {
		done := sdkclient.UseClientMap()
		_, err := c.sdk.GetConfig(vo.ConfigParam{DataId: id, Group: c.group})
		done()
		if err != nil {
			if !strings.Contains(err.Error(), limited) {
				t.Fatalf("nacos-sdk-go changed: a query over its rate limit fails with %q, which does not contain %q (get)", err, limited)
			}
			return
		}
	}
	t.Fatal("nacos-sdk-go changed: 20 queries of one config in a row, and none was refused for its rate limit (get)")
}

// Reads of one config faster than the SDK's rate limit all succeed: get asks again.
func TestLimitedQueriesAreAskedAgain(t *testing.T) {
	env := newEnv(t)
	id := fmt.Sprintf("limit-%d.yaml", rand.Int64())
	env.Publish(t, id, "a: 1")
	s := env.source(t, []string{id})
	for i := range 10 {
		if got := read(t, s); got["a"] != 1.0 {
			t.Fatalf("read %d: %v", i, got)
		}
	}
}

// A change made right after Watch returns reaches the watcher at once, not after the
// SDK's next 5-second listen round: Watch waited for the round that told Nacos of the
// listener (settle).
func TestWatchHearsAChangeMadeRightAfter(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "app.yaml", "v: 0")
	w := watch(t, env.source(t, []string{"app.yaml"}))
	env.Publish(t, "app.yaml", "v: 1")
	if got := decoded(t, next(t, w, time.Second)); got["v"] != 1.0 {
		t.Fatalf("got %v", got)
	}
}

// client0 returns the source's client, building it with a Read.
func (s *Source) client0(t testing.TB) *configClient {
	t.Helper()
	read(t, s)
	c := s.currentClient()
	if c == nil {
		t.Fatal("a source that was read has no client")
	}
	return c
}
