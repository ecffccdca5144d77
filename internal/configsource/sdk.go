package configsource

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/util"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// This file is the config source's boundary with nacos-sdk-go v2.3.5's config client
// (pinned in go.mod); no other file of the source calls the SDK. The SDK's defects it
// works around, how, and the test that shows each:
//
//   - ListenConfig keeps the first listener of a (namespace, group, dataId) and drops
//     the others: the source registers one listener per dataId and fans out itself
//     (TestManyWatchersShareOneListener).
//   - Each callback runs in a goroutine of its own, so an older content can be called
//     back after a newer one: a callback whose content is not the one the SDK's cache
//     holds now (by md5) is stale and ignored (isNewest;
//     TestOlderContentCalledBackLateNeverWins).
//   - A new listener waits for the SDK's next 5-second listen round before Nacos hears
//     of it: Watch wakes the round at once and waits for it (settle;
//     TestWatchHearsAChangeMadeRightAfter).
//   - A push can be lost until the SDK's full sync, every 5 minutes: a listen round
//     ends by marking every config Nacos did not report changed as in step with Nacos,
//     over the mark a push made meanwhile (executeConfigListen; Java's client checks
//     for a push first), and the next round skips it. Any round with a config to ask
//     about has that window: the one a push starts, the one after each change, the
//     one after a reconnect. A push can also set back the md5 a round just stored (both
//     read, change and write the cache entry), after which the SDK never calls back
//     that change. After every callback, once the SDK's listen loop is idle, and every
//     recheckEvery, the client queries each dataId and compares the md5 with the SDK's;
//     a config the SDK has wrong is listened to afresh, and the SDK fetches it (recheck;
//     TestChangePushedDuringAListenRoundIsDelivered).
//   - The SDK's listen loop takes a wake-up only between rounds, and a round waits for
//     each of its requests up to the SDK's own fixed timeout (3 s, whatever the
//     client's): every wait on it here is bounded by the client's timeout, and says
//     why when cut short (settle, Close; TestWatchIsBoundedWhileAListenRoundIsStuck,
//     TestCloseIsBoundedWhileAListenRoundIsStuck).
//   - A listen round running during CloseClient races with it on the SDK's
//     process-wide client map: the shutdown first empties the listen cache and waits
//     until the loop is idle (quiesce; the race detector, in every test that closes a
//     watched source). The loop ends on CloseClient, but a wake-up it sent itself just
//     before stays blocked for good: the shutdown takes such sends for a moment after
//     (drain; goleak, in TestMain).
//   - CancelListenConfig only forgets the listener locally (Nacos keeps sending its
//     changes until the connection closes), and a listen round running meanwhile can
//     put it back: it is used only to listen afresh (recheck) and to shut down.
//   - The SDK queries one config at most 5 times a second, process-wide, and fails the
//     queries over that: get asks again (TestLimitedQueriesAreAskedAgain, and
//     TestSDKLimitCanary for the error's text). A fetch after a change that the limit
//     refuses is asked for again at once, round after round, until a query is allowed
//     (200 ms at most). Each change costs two queries (the SDK's fetch and the
//     recheck), so one config changed more than twice a second reaches watchers up to
//     200 ms late. With a cache directory, the SDK answers a refused query from its
//     snapshot instead: a recheck then sees nothing wrong until the next one.
//   - The SDK writes a snapshot file per config it reads and falls back on them; unless
//     the user names a cache directory, the directory is one no file can be written to
//     (see sdkclient.Build) and snapshots are not read (DisableUseSnapShot;
//     TestNoFilesUnlessAsked).
//
// It reaches unexported fields of the SDK's ConfigClient (listenCachePath, wakePath,
// md5Field; TestSDKLayoutCanary checks them). With any other layout a warning is
// logged, once per process, and the md5 check, the wake-up and the recheck do nothing:
// the SDK's order and 5 s round stand.

// configClient is a nacos-sdk-go config client, with the workarounds above.
type configClient struct {
	sdk         config_client.IConfigClient
	diag        *sdkclient.Diagnoser // says why Nacos is unreachable
	health      *sdkclient.Health    // follows whether Nacos answers, and logs it
	namespace   string
	group       string
	timeout     time.Duration
	log         logging.Logger
	listenCache sdkCache      // the SDK's listen cache; nil if unreachable
	listenNow   chan struct{} // wakes the SDK's listen loop; nil if unreachable
	// listened are the dataIds listened to, in group, and their callbacks: written by
	// listen before start, only read after it (by the recheck loop, then the shutdown).
	listened  map[string]vo.Listener
	recheckMe chan struct{}          // asks the recheck loop for a check
	done      chan struct{}          // closed by Close
	ended     chan struct{}          // closed once the shutdown is over
	closing   sync.Once              // Close starts the shutdown once
	awaiting  atomic.Pointer[string] // what the shutdown waits for now (waitingFor)

	mu        sync.Mutex    // guards rechecked: start and Close agree on whether the recheck loop runs
	rechecked chan struct{} // closed when the recheck loop has ended; nil if it never started
}

// sdkCache is what the client uses of the SDK's cache.ConcurrentMap.
type sdkCache interface {
	Get(key string) (interface{}, bool)
	Count() int
}

// newConfigClient builds a config client for s. It does not connect yet: the SDK does
// on the first request. Only a refused login is checked over the network (within the
// timeout, for each server).
func newConfigClient(s *settings) (*configClient, error) {
	sdkclient.InstallLogger(s.sdkSettings, s.log)
	if err := sdkclient.CheckLogin(s.sdkSettings, s.servers, sdkclient.ConfigEnv); err != nil {
		return nil, fmt.Errorf("nacos: %w", err)
	}
	cc := s.sdkSettings
	servers := append(s.servers[:0:0], s.servers...)
	done := sdkclient.UseClientMap()
	sdk, err := clients.NewConfigClient(vo.NacosClientParam{ClientConfig: &cc, ServerConfigs: servers})
	done()
	if err != nil {
		return nil, fmt.Errorf("nacos: create config client: %w", err)
	}
	c := &configClient{
		sdk: sdk, diag: s.diagnoser(), namespace: s.sdkSettings.NamespaceId, group: s.group, timeout: s.timeout, log: s.log,
		listened: map[string]vo.Listener{}, recheckMe: make(chan struct{}, 1),
		done: make(chan struct{}), ended: make(chan struct{}),
	}
	c.health = sdkclient.NewHealth("the config source's watches keep trying (a Read or Write fails until then)", c.diag, s.log)
	c.listenCache, _ = sdkclient.Field(sdk, listenCachePath...).(sdkCache)
	c.listenNow, _ = sdkclient.Field(sdk, wakePath...).(chan struct{})
	if c.listenCache == nil || c.listenNow == nil {
		layoutChanged.Do(func() { logging.Logf(c.log, logging.WarnLevel, "%s", layoutWarning) })
	}
	return c, nil
}

// The unexported paths this file follows into nacos-sdk-go v2.3.5's config client, and
// the field of its cache entries (cacheData) that holds the md5 of their content.
var (
	listenCachePath = []string{"cacheMap"}
	wakePath        = []string{"listenExecute"}
)

const md5Field = "md5"

// layoutChanged warns, once per process, that a path above no longer leads where it
// should.
var layoutChanged sync.Once

const layoutWarning = "cannot reach nacos-sdk-go's config listen cache (its internals changed; see internal/configsource/sdk.go): " +
	"an older config the SDK calls back late can replace a newer one, a new watch hears of changes only after the SDK's next 5-second round, " +
	"and a push lost by the SDK waits for its 5-minute full sync"

// sdkRequestTimeout is the SDK's own timeout of the requests of its listen rounds (its
// constant.DEFAULT_TIMEOUT_MILLS), whatever the client's.
const sdkRequestTimeout = constant.DEFAULT_TIMEOUT_MILLS * time.Millisecond

// Query errors worth asking again for:
//   - limited: the SDK refused the query for its process-wide limit of 5 queries a
//     second per config (config_client.IsLimited); a token comes every 200 ms.
//   - modified: Nacos answered that the config is being written (errorCode 400,
//     "requested file is being modified, please try later."), which the SDK reports so.
const (
	limited  = "ConfigQueryRequest is limited"
	modified = "data being modified"
)

// queryAgainAfter is how long get waits before it asks again.
const queryAgainAfter = 200 * time.Millisecond

// get returns the content of dataID, "" if it does not exist. Each query waits at most
// the timeout; one refused for the rate limit or because the config is being written
// (both answered at once) is asked again every queryAgainAfter, until the timeout has
// passed since the first. An unreachable Nacos is an sdkclient.UnreachableError, which
// says why.
func (c *configClient) get(dataID string) (string, error) {
	deadline := time.Now().Add(c.timeout)
	for {
		var content string
		err := c.bounded(deadline, func() (err error) {
			content, err = c.sdk.GetConfig(vo.ConfigParam{DataId: dataID, Group: c.group})
			return err
		})
		left := time.Until(deadline)
		if err == nil || !strings.Contains(err.Error(), limited) && !strings.Contains(err.Error(), modified) || left <= 0 {
			return content, err
		}
		wait := time.NewTimer(min(queryAgainAfter, left))
		select {
		case <-wait.C:
		case <-c.done:
			wait.Stop()
			return content, err
		}
	}
}

// publish stores content as dataID's, of the format; false is a refusal the SDK gives
// no reason for. It waits at most the timeout.
func (c *configClient) publish(dataID, content, format string) (ok bool, err error) {
	err = c.bounded(time.Now().Add(c.timeout), func() (err error) {
		ok, err = c.sdk.PublishConfig(vo.ConfigParam{DataId: dataID, Group: c.group, Content: content, Type: format})
		return err
	})
	return ok, err
}

// bounded runs an SDK request, waiting for it until deadline. The SDK's first request
// of a client connects, which it cannot cut short: against a server that takes
// connections and never answers that takes three times its own gRPC timeout (9 s). A
// request still under way at the deadline goes on in the background (the client's
// shutdown waits for it, see sdkclient.Shutdown). The outcome is told to the health,
// and an unreachable Nacos, or no answer in time, says why.
func (c *configClient) bounded(deadline time.Time, request func() error) error {
	answered := make(chan error, 1)
	if !c.health.Answered() {
		defer c.diag.StartAfter()() // why, if no answer comes in time
	}
	done := sdkclient.UseClientMap()
	go func() {
		defer done()
		answered <- request()
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var err error
	select {
	case err = <-answered:
		if !sdkclient.IsUnreachable(err) {
			c.health.Succeeded() // an answer, a refusal included
			return err
		}
	case <-timer.C:
	}
	c.health.Failed()
	var cause error
	if err != nil {
		cause = sdkclient.Cause(err)
	}
	return c.diag.Explain(cause, deadline)
}

// listen makes the SDK call onChange with the content of dataID after every change
// Nacos reports, on a goroutine of its own. Once every dataId is listened to, start
// wakes the SDK's listen loop and starts the checks of recheck.
func (c *configClient) listen(dataID string, onChange func(dataID, content string)) error {
	checked := func(_, _, dataID, content string) {
		onChange(dataID, content)
		c.askRecheck()
	}
	if err := c.sdk.ListenConfig(vo.ConfigParam{DataId: dataID, Group: c.group, OnChange: checked}); err != nil {
		return err
	}
	c.listened[dataID] = checked
	return nil
}

// start settles the listen round of the dataIds just listened to (see settle) and
// starts the recheck loop. It is called once, after the last listen, and waits at most
// the timeout.
func (c *configClient) start() {
	if c.settle() {
		logging.Logf(c.log, logging.WarnLevel, "the SDK's first listen round for %s did not end within %v (Nacos has not answered it): "+
			"the watch starts without it, and hears of changes once Nacos answers the SDK", c.dataIDs(), c.timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
	default:
		c.rechecked = make(chan struct{})
		go c.recheckLoop()
	}
}

// settle wakes the SDK's listen loop and waits until the round that starts is over:
// every round running before settle was called has ended, Nacos holds the listeners,
// and a change made after settle returns is pushed after that round. It waits at most
// the timeout, and reports whether it gave up for that (stuck); Close cuts it short.
func (c *configClient) settle() (stuck bool) {
	if c.listenNow == nil {
		return false
	}
	limit := time.NewTimer(c.timeout)
	defer limit.Stop()
	for range 2 { // the loop takes the second wake-up only once the first round is over
		select {
		case c.listenNow <- struct{}{}:
		case <-c.done:
			return false
		case <-limit.C:
			return true
		}
	}
	return false
}

// recheckEvery is how often the client checks the SDK's view of the dataIds without a
// callback to prompt it, for the lost pushes no callback follows (one around a
// reconnect or a full sync, or a push that comes after its change was fetched).
const recheckEvery = 30 * time.Second

// askRecheck asks the recheck loop for a check, without waiting.
func (c *configClient) askRecheck() {
	select {
	case c.recheckMe <- struct{}{}:
	default: // one is pending already
	}
}

// recheckLoop runs recheck when asked and every recheckEvery, until Close. Once Close
// is called it ends within one query (the timeout): every other wait of recheck ends
// on Close.
func (c *configClient) recheckLoop() {
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
// When the listen loop stays busy for the timeout, the check waits for the next time.
func (c *configClient) recheck() {
	if c.listenCache == nil {
		return
	}
	if c.settle() {
		logging.Logf(c.log, logging.DebugLevel, "the SDK's listen round for %s did not end within %v: its view of them is checked next time", c.dataIDs(), c.timeout)
		return
	}
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
		_ = c.sdk.CancelListenConfig(param) // never fails
		if err := c.sdk.ListenConfig(param); err != nil {
			continue
		}
		callback(c.namespace, c.group, dataID, content)
	}
}

// newest returns the md5 of the newest content the SDK holds for dataID, and false if
// it cannot tell.
func (c *configClient) newest(dataID string) (string, bool) {
	if c.listenCache == nil {
		return "", false
	}
	entry, ok := c.listenCache.Get(util.GetConfigCacheKey(dataID, c.group, c.namespace))
	if !ok {
		return "", false
	}
	v := reflect.ValueOf(entry)
	var md5 reflect.Value
	if v.Kind() == reflect.Struct {
		md5 = v.FieldByName(md5Field)
	}
	if md5.Kind() != reflect.String {
		layoutChanged.Do(func() { logging.Logf(c.log, logging.WarnLevel, "%s", layoutWarning) })
		return "", false
	}
	return md5.String(), true
}

// isNewest reports whether content is the newest the SDK holds for dataID (true when
// it cannot tell).
func (c *configClient) isNewest(dataID, content string) bool {
	md5, known := c.newest(dataID)
	return !known || md5 == util.Md5(content)
}

// dataIDs names the dataIds listened to, for logs.
func (c *configClient) dataIDs() string {
	ids := make([]string, 0, len(c.listened))
	for id := range c.listened {
		ids = append(ids, fmt.Sprintf("%q", id))
	}
	return "dataIds " + strings.Join(ids, ", ")
}

// Close starts the client's shutdown: the recheck loop ends, the listeners Nacos holds
// for it go, then its connection and goroutines. It returns at once; ended is closed
// once the shutdown is over (see shutdown for how long that takes at most). It is
// idempotent.
func (c *configClient) Close() (ended <-chan struct{}) {
	c.closing.Do(func() {
		c.mu.Lock()
		close(c.done)
		rechecked := c.rechecked
		c.mu.Unlock()
		go c.shutdown(rechecked)
	})
	return c.ended
}

// waitingFor says what the shutdown waits for now.
func (c *configClient) waitingFor() string {
	if what := c.awaiting.Load(); what != nil {
		return *what
	}
	return "nothing"
}

func (c *configClient) await(what string) { c.awaiting.Store(&what) }

// shutdown ends the client. CloseClient must not run while a listen round might look up
// the SDK's client map, nor while the recheck loop could listen afresh: it waits for
// both, within idleWithin, the longest the SDK's own timeouts allow; past that, which
// takes a defect of the SDK's, it logs so and shuts the client down anyway. The shutdown
// then waits for the other clients' builds and config requests under way (each
// bounded by its own timeout; see sdkclient.Shutdown), and drains the wake-ups the
// listen loop left, for at most the timeout.
func (c *configClient) shutdown(rechecked <-chan struct{}) {
	defer close(c.ended)
	c.health.Stop()
	defer func() { <-c.health.Ended() }()
	bound := c.idleWithin()
	expired := make(chan struct{})
	limit := time.AfterFunc(bound, func() { close(expired) })
	defer limit.Stop()
	if rechecked != nil {
		c.await("the check of the SDK's view of the dataIds to end (it may be querying Nacos)")
		select {
		case <-rechecked:
		case <-expired:
			c.busy(bound, "the check of the SDK's view of the dataIds")
		}
	}
	c.await("the SDK's listen round to end (Nacos has not answered it)")
	if !c.quiesce(expired) {
		c.busy(bound, "the SDK's listen loop")
	}
	c.await("the builds and config requests of the process's other nacos-sdk-go clients to end (the SDK's process-wide client map)")
	sdkclient.Shutdown(c.sdk.CloseClient)
	c.await("the SDK's listen loop to take its last wake-ups")
	c.drain()
}

// idleWithin bounds how long the SDK needs to finish what it does for this client after
// Close: a query of the recheck loop (the timeout), and two listen rounds (the one
// running and one quiesce starts), each a listen request and a query of every dataId,
// with the SDK's own timeout each.
func (c *configClient) idleWithin() time.Duration {
	return c.timeout + 2*time.Duration(1+len(c.listened))*sdkRequestTimeout
}

func (c *configClient) busy(bound time.Duration, what string) {
	logging.Logf(c.log, logging.WarnLevel, "closing the config client of %s: %s is still busy after %v, past nacos-sdk-go's own timeouts; "+
		"the client is shut down anyway, which can race with it on the SDK's process-wide client map", c.dataIDs(), what, bound)
}

// quiesce cancels the listeners and waits until the SDK's listen loop is between two
// rounds with nothing to listen to (idle), or expired is closed. Its rounds look up the
// client's connection in a process-wide map that CloseClient deletes from without the
// lock the lookups take: a round running then is a data race (and the race detector
// says so).
func (c *configClient) quiesce(expired <-chan struct{}) (idle bool) {
	if c.listenNow == nil || c.listenCache == nil || len(c.listened) == 0 {
		return true
	}
	for {
		for id := range c.listened {
			_ = c.sdk.CancelListenConfig(vo.ConfigParam{DataId: id, Group: c.group}) // never fails
		}
		// The loop takes this only between rounds; the round it then starts sees what
		// is cancelled above, unless the round before put a listener back.
		select {
		case c.listenNow <- struct{}{}:
		case <-expired:
			return false
		}
		if c.listenCache.Count() == 0 {
			return true
		}
	}
}

// drainWindow is how long drain keeps taking the SDK's own wake-ups after the last one.
const drainWindow = 100 * time.Millisecond

// drain takes the wake-ups the SDK's listen loop sent itself, each from a goroutine of
// its own, which would block for good once the loop has ended: until none has come for
// drainWindow, for at most the timeout.
func (c *configClient) drain() {
	if c.listenNow == nil {
		return
	}
	window := time.NewTimer(drainWindow)
	defer window.Stop()
	limit := time.NewTimer(c.timeout)
	defer limit.Stop()
	for {
		select {
		case <-c.listenNow:
			window.Reset(drainWindow)
		case <-window.C:
			return
		case <-limit.C:
			logging.Logf(c.log, logging.DebugLevel, "closing the config client of %s: the SDK still sent its listen loop wake-ups after %v; those sent later stay blocked", c.dataIDs(), c.timeout)
			return
		}
	}
}
