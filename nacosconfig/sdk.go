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

	"github.com/micro-registry/nacos/internal/gomicro3"
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
//   - A push can be lost until the SDK's full sync, every 5 minutes: a listen round
//     ends by marking every config Nacos did not report changed as in step with Nacos,
//     over the mark a push made meanwhile (executeConfigListen; Java's client checks
//     for a push first), and the next round skips it. Any round with a config to ask
//     about has that window: the one a push starts, the one after each change, the
//     one after a reconnect. A push can also set back the md5 a round just stored (both
//     read, change and write the cache entry), after which the SDK never calls back
//     that change. The source checks (see recheck): after every callback, once the
//     SDK's listen loop is idle, and every recheckEvery, it queries each dataId and
//     compares the md5 with the SDK's; a config the SDK has wrong is listened to
//     afresh, and the SDK fetches it. The first round of a watch is waited for before
//     Watch returns (see settle).
//   - The SDK's listen loop ends on CloseClient, but a wake-up it sent itself just before
//     can stay blocked for good: close takes such sends for a moment after. A listen
//     round running during CloseClient races with it on the SDK's client map: close
//     first empties the listen cache and waits for the loop (see quiesce).
//   - CancelListenConfig only forgets the listener locally (Nacos keeps sending its
//     changes until the connection closes), and a listen round running meanwhile can
//     put it back: the source cancels only to listen afresh (see recheck) and when it
//     closes the client.
//   - The SDK queries one config at most 5 times a second, process-wide, and fails the
//     queries over that: get tries again (see get). A fetch after a change that the
//     limit refuses is asked for again at once, round after round, until a query is
//     allowed (200 ms at most). Each change costs two queries (the SDK's fetch and the
//     recheck), so one config changed more than twice a second reaches watchers up to
//     200 ms late. With a cache directory, the SDK answers a refused query from its
//     snapshot instead: a recheck then sees nothing wrong until the next one.
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
	cacheMap  sdkCache               // the SDK's listen cache
	listenNow chan struct{}          // wakes the SDK's listen loop
	listened  map[string]vo.Listener // the dataIds listened to, in group, and their callbacks
	recheckMe chan struct{}          // asks the recheck loop for a check
	done      chan struct{}          // closed by close
	loopMu    sync.Mutex
	rechecked chan struct{} // closed when the recheck loop has ended; nil until start
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
	sdkclient.InstallLogger(s.client, gomicro3.Logger(s.log))
	if err := sdkclient.CheckLogin(s.client, s.servers); err != nil {
		return nil, fmt.Errorf("nacos: %w", err)
	}
	cc := s.client
	servers := append(s.servers[:0:0], s.servers...)
	done := sdkclient.UseClientMap()
	c, err := clients.NewConfigClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	done()
	if err != nil {
		return nil, fmt.Errorf("nacos: create config client: %w", err)
	}
	client := &sdkClient{IConfigClient: c, namespace: s.client.NamespaceId, group: s.group, done: make(chan struct{}),
		listened: map[string]vo.Listener{}, recheckMe: make(chan struct{}, 1),
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

// Query errors worth asking again for:
//   - limited: the SDK refused the query for its process-wide limit of 5 queries a
//     second per config (config_client.IsLimited); a token comes every 200 ms.
//   - modified: Nacos answered that the config is being written (errorCode 400,
//     "requested file is being modified, please try later."), which the SDK reports so.
const (
	limited  = "ConfigQueryRequest is limited"
	modified = "data being modified"
)

// get returns the content of dataID, "" if it does not exist. A query refused for
// the rate limit or because the config is being written is tried again, every 200 ms,
// within the timeout.
func (c *sdkClient) get(dataID string) (string, error) {
	deadline := time.Now().Add(c.timeout)
	for {
		done := sdkclient.UseClientMap()
		content, err := c.GetConfig(vo.ConfigParam{DataId: dataID, Group: c.group})
		done()
		if err == nil || !strings.Contains(err.Error(), limited) && !strings.Contains(err.Error(), modified) || time.Now().After(deadline) {
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
// Nacos reports. Once every dataId is listened to, start wakes the SDK's listen loop
// and starts the checks of recheck.
func (c *sdkClient) listen(dataID string, onChange vo.Listener) error {
	checked := func(namespace, group, dataID, content string) {
		onChange(namespace, group, dataID, content)
		c.askRecheck()
	}
	if err := c.ListenConfig(vo.ConfigParam{DataId: dataID, Group: c.group, OnChange: checked}); err != nil {
		return err
	}
	c.listened[dataID] = checked
	return nil
}

// start settles the listen rounds of the dataIds just listened to (see settle) and
// starts the recheck loop. It is called once, after the last listen.
func (c *sdkClient) start() {
	c.settle()
	c.loopMu.Lock()
	defer c.loopMu.Unlock()
	select {
	case <-c.done:
	default:
		c.rechecked = make(chan struct{})
		go c.recheckLoop()
	}
}

// settle wakes the SDK's listen loop and waits until the round that starts is over:
// every round running before settle was called has ended, Nacos holds the listeners,
// and a change made after settle returns is pushed after that round.
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

// recheckEvery is how often the source checks the SDK's view of the dataIds without a
// callback to prompt it, for the lost pushes no callback follows (one around a
// reconnect or a full sync, or a push that comes after its change was fetched).
const recheckEvery = 30 * time.Second

// askRecheck asks the recheck loop for a check, without waiting.
func (c *sdkClient) askRecheck() {
	select {
	case c.recheckMe <- struct{}{}:
	default: // one is pending already
	}
}

// recheckLoop runs recheck when asked and every recheckEvery, until close.
func (c *sdkClient) recheckLoop() {
	defer close(c.rechecked)
	timer := time.NewTimer(recheckEvery)
	defer timer.Stop()
	for {
		select {
		case <-c.recheckMe:
		case <-timer.C:
		case <-c.done:
			return
		}
		c.recheck()
		timer.Reset(recheckEvery)
	}
}

// recheck waits until the SDK's listen loop is idle, then queries every dataId and
// compares its md5 with the one the SDK holds. A dataId the SDK has wrong lost a push:
// it is listened to afresh (CancelListenConfig, then ListenConfig with the same
// callback), so that the SDK's next round asks Nacos about it with no md5, fetches it
// and calls back. With a cache directory the SDK starts the new listener from its
// snapshot, which the query just wrote, and does not call back: the queried content is
// then passed to the callback here (the source's md5 check takes it as the newest).
// A round running meanwhile can put the old listener back; the next check finds it.
func (c *sdkClient) recheck() {
	if c.cacheMap == nil {
		return
	}
	c.settle()
	for dataID, callback := range c.listened {
		content, err := c.get(dataID)
		select {
		case <-c.done:
			return
		default:
		}
		held, known := c.newest(dataID)
		if err != nil || !known || held == util.Md5(content) {
			continue // a failed query is checked again at the next recheck
		}
		param := vo.ConfigParam{DataId: dataID, Group: c.group, OnChange: callback}
		_ = c.CancelListenConfig(param) // never fails
		if err := c.ListenConfig(param); err != nil {
			continue
		}
		callback(c.namespace, c.group, dataID, content)
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
		for id := range c.listened {
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
		c.loopMu.Lock()
		close(c.done)
		rechecked := c.rechecked
		c.loopMu.Unlock()
		if rechecked != nil {
			<-rechecked // it listens afresh: not while quiesce cancels
		}
		c.quiesce()
		sdkclient.Shutdown(c.CloseClient)
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
