package nacosconfig

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// sdkClient is a nacos-sdk-go v2.3.5 config client, with the workarounds of its
// defects. This file is the only one that deals with them:
//
//   - ListenConfig keeps the first listener of a (namespace, group, dataId) and drops
//     the others: the source registers one listener per dataId and fans out itself.
//   - Each callback runs in a goroutine of its own, so an older content can be called
//     back after a newer one: a callback whose content is not the one the SDK's cache
//     holds now (by md5) is stale and ignored (see newest).
//   - A new listener waits for the SDK's next 5-second listen round before Nacos hears
//     of it: the source wakes the round at once (see settle).
//   - A push that arrives while a listen round ends is lost until the SDK's full sync,
//     every 5 minutes: the round marks every config it did not find changed as in step
//     with Nacos, over the mark the push made. The source waits for the first round to
//     end before Watch returns, which closes the window a test or a deploy would hit
//     (a change right after the watch starts); later pushes keep the SDK's window.
//   - The SDK's listen loop ends on CloseClient, but a wake-up it sent itself just before
//     can stay blocked for good: close takes such sends for a moment after. A listen
//     round running during CloseClient races with it on the SDK's client map: close
//     first empties the listen cache and waits for the loop (see quiesce).
//   - CancelListenConfig only forgets the listener locally (Nacos keeps sending its
//     changes until the connection closes), and a listen round running meanwhile can
//     put it back: the source cancels only when it closes the client.
//   - The SDK queries one config at most 5 times a second, process-wide, and fails the
//     queries over that: get tries again (see get). Its own queries after a change are
//     limited too: a config changed faster than that is delivered within the SDK's next
//     5-second round.
//   - The SDK writes a snapshot file per config it reads and falls back on them; unless
//     the user names a cache directory, the directory is one no file can be written to
//     (see sdkclient.Build) and snapshots are not read (DisableUseSnapShot).
//
// It reaches unexported fields of the SDK's ConfigClient (pinned in go.mod: cachePath,
// wakePath, md5Field; TestSDKLayoutCanary checks them). With any other layout a warning
// is logged, once per process, and the md5 check and the wake-up do nothing: the SDK's
// order and 5 s round stand.
type sdkClient struct {
	config_client.IConfigClient
	namespace string
	group     string
	timeout   time.Duration
	cacheMap  sdkCache      // the SDK's listen cache
	listenNow chan struct{} // wakes the SDK's listen loop
	listened  []string      // the dataIds listened to, in group
	done      chan struct{} // closed by close
	closeOnce sync.Once
	warn      func(string) // logs a warning of the source's
}

// sdkCache is what the source uses of the SDK's cache.ConcurrentMap.
type sdkCache interface {
	Get(key string) (interface{}, bool)
	Count() int
}

// newSDKClient builds a config client for s. It does not connect yet: the SDK does on
// the first request.
func newSDKClient(s *settings) (*sdkClient, error) {
	sdkclient.InstallLogger(s.client, s.log)
	if err := sdkclient.CheckLogin(s.client, s.servers); err != nil {
		return nil, fmt.Errorf("nacos: %w", err)
	}
	cc := s.client
	servers := append(s.servers[:0:0], s.servers...)
	c, err := clients.NewConfigClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	if err != nil {
		return nil, fmt.Errorf("nacos: create config client: %w", err)
	}
	client := &sdkClient{IConfigClient: c, namespace: s.client.NamespaceId, group: s.group, done: make(chan struct{}),
		timeout: time.Duration(s.client.TimeoutMs) * time.Millisecond, warn: func(msg string) { s.logf(logger.WarnLevel, "%s", msg) }}
	client.cacheMap, _ = sdkclient.Field(c, cachePath...).(sdkCache)
	client.listenNow, _ = sdkclient.Field(c, wakePath...).(chan struct{})
	if client.cacheMap == nil || client.listenNow == nil {
		layoutChanged.Do(func() { client.warn(layoutWarning) })
	}
	return client, nil
}

// The unexported paths this file follows into nacos-sdk-go v2.3.5's config client, and
// the field of its cache entries (cacheData) that holds the md5 of their content.
var (
	cachePath = []string{"cacheMap"}
	wakePath  = []string{"listenExecute"}
)

const md5Field = "md5"

// layoutChanged warns, once per process, that a path above no longer leads where it
// should.
var layoutChanged sync.Once

const layoutWarning = "cannot reach nacos-sdk-go's config listen cache (its internals changed; see nacosconfig's sdk.go): " +
	"an older config the SDK calls back late can replace a newer one, a new watch hears of changes only after the SDK's next 5-second round, " +
	"and a push lost by the SDK waits for its 5-minute full sync"

// limited is the SDK's error for a query over its process-wide limit of 5 queries a
// second per config (config_client.IsLimited).
const limited = "ConfigQueryRequest is limited"

// get returns the content of dataID, "" if it does not exist. A query the SDK refuses
// for its rate limit is tried again, as a token comes every 200 ms, within the timeout.
func (c *sdkClient) get(dataID string) (string, error) {
	deadline := time.Now().Add(c.timeout)
	for {
		content, err := c.GetConfig(vo.ConfigParam{DataId: dataID, Group: c.group})
		if err == nil || !strings.Contains(err.Error(), limited) || time.Now().After(deadline) {
			return content, err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-c.done:
			return content, err
		}
	}
}

// listen makes the SDK call onChange with the content of dataID after every change
// Nacos reports (from its next listen round on: see settle).
func (c *sdkClient) listen(dataID string, onChange vo.Listener) error {
	if err := c.ListenConfig(vo.ConfigParam{DataId: dataID, Group: c.group, OnChange: onChange}); err != nil {
		return err
	}
	c.listened = append(c.listened, dataID)
	return nil
}

// settle wakes the SDK's listen loop and waits until the round that starts is over:
// Nacos then holds the listeners, and a change made after settle returns is pushed
// after that round, where it cannot be lost (see above).
func (c *sdkClient) settle() {
	if c.listenNow == nil {
		return
	}
	for range 2 { // the loop takes the second wake-up only once the first round is over
		select {
		case c.listenNow <- struct{}{}:
		case <-c.done:
			return
		}
	}
}

// newest returns the md5 of the newest content the SDK holds for dataID, and false if
// it cannot tell.
func (c *sdkClient) newest(dataID string) (string, bool) {
	if c.cacheMap == nil {
		return "", false
	}
	entry, ok := c.cacheMap.Get(util.GetConfigCacheKey(dataID, c.group, c.namespace))
	if !ok {
		return "", false
	}
	v := reflect.ValueOf(entry)
	var md5 reflect.Value
	if v.Kind() == reflect.Struct {
		md5 = v.FieldByName(md5Field)
	}
	if md5.Kind() != reflect.String {
		layoutChanged.Do(func() { c.warn(layoutWarning) })
		return "", false
	}
	return md5.String(), true
}

// isNewest reports whether content is the newest the SDK holds for dataID (true when
// it cannot tell).
func (c *sdkClient) isNewest(dataID, content string) bool {
	md5, known := c.newest(dataID)
	return !known || md5 == util.Md5(content)
}

// quiesce cancels the listeners and waits until the SDK's listen loop is between two
// rounds with nothing to listen to. Its rounds look up the client's connection in a
// process-wide map that CloseClient deletes from without the lock the lookups take: a
// round running then is a data race (and the race detector says so).
func (c *sdkClient) quiesce() {
	if c.listenNow == nil || c.cacheMap == nil || len(c.listened) == 0 {
		return
	}
	for {
		for _, id := range c.listened {
			_ = c.CancelListenConfig(vo.ConfigParam{DataId: id, Group: c.group}) // never fails
		}
		// The loop takes this only between rounds; the round it then starts sees what
		// is cancelled above, unless the round before put a listener back.
		c.listenNow <- struct{}{}
		if c.cacheMap.Count() == 0 {
			return
		}
	}
}

// drainWindow is how long close keeps taking the SDK's own wake-ups after the last one.
const drainWindow = 100 * time.Millisecond

// close ends the client: its connection, its goroutines and the listeners Nacos holds
// for it. It is idempotent.
func (c *sdkClient) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.quiesce()
		c.CloseClient()
		if c.listenNow == nil {
			return
		}
		timer := time.NewTimer(drainWindow)
		defer timer.Stop()
		for {
			select {
			case <-c.listenNow:
				timer.Reset(drainWindow)
			case <-timer.C:
				return
			}
		}
	})
}
