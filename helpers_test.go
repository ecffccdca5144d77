package nacos

// The helpers the registry's tests share: how long they wait, the services they
// register, the states they compare (what the server holds, what GetService answers,
// what a watcher has reported), and registries ready for a test. main_test.go sets up
// the Nacos a test runs against; internal/testkit holds what the plugin's packages share.

import (
	"fmt"
	"hash/fnv"
	"math/rand"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// How long the tests wait: for what must happen, and for the registry to heal after a
// fault (the SDK reconnects within a second or two; the rest is margin for slow
// machines and -race).
const (
	within   = 5 * time.Second
	recovery = 20 * time.Second
)

// eventually polls cond until it holds or the deadline passes (testkit.Eventually).
var eventually = testkit.Eventually

// must fails the test if err is not nil, saying what failed.
func must(t testing.TB, err error, format string, args ...interface{}) {
	t.Helper()
	if err != nil {
		t.Fatalf(format+": %v", append(args, err)...)
	}
}

func mustRegister(t testing.TB, r registry.Registry, s *registry.Service, opts ...registry.RegisterOption) {
	t.Helper()
	must(t, r.Register(s, opts...), "register %s", s.Name)
}

func mustDeregister(t testing.TB, r registry.Registry, s *registry.Service) {
	t.Helper()
	must(t, r.Deregister(s), "deregister %s", s.Name)
}

// mustFailClearly fails unless err is a clear error of this plugin.
func mustFailClearly(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Fatalf("%s: want an error starting with \"nacos: \", got %v", what, err)
	}
}

// noPanic calls f and turns a panic into an error that no check accepts.
func noPanic(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PANIC: %v", p)
		}
	}()
	return f()
}

// failModes are the ways nacostest can fail a request.
var failModes = []struct {
	name string
	mode nacostest.FailMode
}{{"error", nacostest.FailWithError}, {"refused", nacostest.FailRefused}, {"timeout", nacostest.FailTimeout}}

func millis(d time.Duration) string { return d.Round(time.Millisecond).String() }

func megabytes(bytes int64) string { return fmt.Sprintf("%.2f MB", float64(bytes)/(1<<20)) }

// heapAlloc is the live heap after two collections.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// ---------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------

// service builds a service whose nodes have addresses derived from name, version and
// id: the same node always gets the same address, two nodes practically never share
// one. Each node's metadata names it.
func service(name, version string, ids ...string) *registry.Service {
	s := &registry.Service{Name: name, Version: version}
	for _, id := range ids {
		s.Nodes = append(s.Nodes, &registry.Node{
			Id: id, Address: nodeAddress(name, version, id),
			Metadata: map[string]string{"protocol": "mucp", "node": id},
		})
	}
	return s
}

func nodeAddress(name, version, id string) string {
	h := fnv.New32a()
	h.Write([]byte(name + "\x00" + version + "\x00" + id))
	v := h.Sum32()
	return fmt.Sprintf("10.%d.%d.%d:%d", 64+v>>26, v>>18&255, v>>10&255, 1024+v%60000)
}

// watchService is service with service metadata and one endpoint, whose response
// depends on the version.
func watchService(name, version string, ids ...string) *registry.Service {
	s := service(name, version, ids...)
	s.Metadata = map[string]string{"team": "core", "version": version}
	s.Endpoints = []*registry.Endpoint{{
		Name: "Greeter.Hello",
		Request: &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{
			{Name: "name", Type: "string"},
		}},
		Response: &registry.Value{Name: "Response", Type: "Response", Values: []*registry.Value{
			{Name: "msg", Type: version},
		}},
		Metadata: map[string]string{"stream": "false"},
	}}
	return s
}

// ---------------------------------------------------------------------------------------
// States: what the server holds, what GetService answers, what a watcher reported
// ---------------------------------------------------------------------------------------

// A state is a sorted, comma-separated list of "service version/id@address".
func stateKey(name, version, id, addr string) string {
	return name + " " + version + "/" + id + "@" + addr
}

func joinKeys(keys []string) string {
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// stateOf is the state of these services: what registering them should produce.
func stateOf(services ...*registry.Service) string {
	var keys []string
	for _, s := range services {
		for _, n := range s.Nodes {
			keys = append(keys, stateKey(s.Name, s.Version, n.Id, n.Address))
		}
	}
	return joinKeys(keys)
}

// stateOfNamed is stateOf the services named.
func stateOfNamed(services []*registry.Service, names ...string) string {
	var keep []*registry.Service
	for _, s := range services {
		for _, n := range names {
			if s.Name == n {
				keep = append(keep, s)
			}
		}
	}
	return stateOf(keep...)
}

// serverState is the state the server holds for these services (enabled, healthy
// instances).
func serverState(srv *nacostest.Server, namespace, group string, names ...string) string {
	var keys []string
	for _, name := range names {
		keys = append(keys, instanceKeys(name, heldAsSDK(srv.Instances(namespace, group, name)))...)
	}
	return joinKeys(keys)
}

// heldAsSDK are the instances the embedded server holds, as the SDK's and the open
// API's (testkit.Instances) are.
func heldAsSDK(held []nacostest.Instance) []model.Instance {
	out := make([]model.Instance, len(held))
	for i, in := range held {
		out[i] = model.Instance{
			InstanceId: in.ID, Ip: in.IP, Port: in.Port, Weight: in.Weight, Healthy: in.Healthy, Enable: in.Enabled,
			Ephemeral: in.Ephemeral, ClusterName: in.Cluster, Metadata: in.Metadata,
		}
	}
	return out
}

// instanceKeys are the state's keys of a service's enabled, healthy instances.
func instanceKeys(name string, instances []model.Instance) []string {
	var keys []string
	for _, in := range instances {
		if in.Enable && in.Healthy {
			keys = append(keys, stateKey(name, in.Metadata["version"], in.Metadata["micro.id"], fmt.Sprintf("%s:%d", in.Ip, in.Port)))
		}
	}
	return keys
}

// lookup returns what r's GetService answers for these services, every version; a
// service not found adds nothing.
func lookup(r registry.Registry, names []string, opts ...registry.GetOption) ([]*registry.Service, error) {
	var all []*registry.Service
	for _, name := range names {
		services, err := r.GetService(name, opts...)
		if err == registry.ErrNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("GetService(%s): %w", name, err)
		}
		all = append(all, services...)
	}
	return all, nil
}

// seenState is the state r's GetService answers for these services.
func seenState(r registry.Registry, names []string, opts ...registry.GetOption) string {
	services, err := lookup(r, names, opts...)
	if err != nil {
		return err.Error()
	}
	return stateOf(services...)
}

// seen returns the node ids r currently sees for a service, as nodeIDs lists them (""
// for none).
func seen(r registry.Registry, name string) string {
	services, err := lookup(r, []string{name})
	if err != nil {
		return ""
	}
	return nodeIDs(services)
}

// seenBy is seen, evaluated late in eventually's message.
func seenBy(r registry.Registry, name string) func() string {
	return func() string { return seen(r, name) }
}

// nodeIDs lists the node ids of every version, sorted, as "version/id".
func nodeIDs(services []*registry.Service) string {
	var ids []string
	for _, s := range services {
		for _, n := range s.Nodes {
			ids = append(ids, s.Version+"/"+n.Id)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// nameList lists the names of services, space-separated.
func nameList(services []*registry.Service) string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return strings.Join(names, " ")
}

// stateDiff says how state got differs from state want.
func stateDiff(got, want string) string {
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, k := range strings.Split(s, ", ") {
			if k != "" {
				m[k] = true
			}
		}
		return m
	}
	g, w := set(got), set(want)
	var extra, missing []string
	for k := range g {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	for k := range w {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	return fmt.Sprintf("%d missing [%s], %d extra [%s]", len(missing), strings.Join(missing, ", "), len(extra), strings.Join(extra, ", "))
}

// sdkOf returns r's nacos-sdk-go client, for tests that read Nacos as a plain SDK user
// would.
func sdkOf(t testing.TB, r *nacosRegistry) naming_client.INamingClient {
	t.Helper()
	c, err := r.core.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*naming.SDKClient).SDK()
}

// sdkView is what r's SDK client has cached for these services: instances and the
// version stamp (lastRefTime) of the list, for failure messages.
func sdkView(r *nacosRegistry, names []string) string {
	c, err := r.core.Client()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, name := range names {
		svc, err := c.(*naming.SDKClient).SDK().GetService(vo.GetServiceParam{ServiceName: name})
		if err != nil {
			parts = append(parts, name+": "+err.Error())
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d instances at lastRefTime %d", name, len(svc.Hosts), svc.LastRefTime))
	}
	return strings.Join(parts, "; ")
}

// ---------------------------------------------------------------------------------------
// Watchers
// ---------------------------------------------------------------------------------------

// watch starts a watcher that is stopped when the test ends.
func watch(t testing.TB, r registry.Registry, opts ...registry.WatchOption) registry.Watcher {
	t.Helper()
	w, err := r.Watch(opts...)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

// watchState is what a consumer knows after applying a watcher's results: node by
// "service version/id".
type watchState map[string]*registry.Node

// applyResult applies a result and says what was wrong with it ("" if nothing): a
// result that is not of one node, a create of a node already reported, an update of
// one never reported, or, unless unknownDelete, a delete of one never reported.
func (s watchState) applyResult(res *registry.Result, unknownDelete bool) string {
	if res == nil || res.Service == nil || len(res.Service.Nodes) != 1 {
		return fmt.Sprintf("malformed result %+v, want one of exactly one node", res)
	}
	n := res.Service.Nodes[0]
	key := res.Service.Name + " " + res.Service.Version + "/" + n.Id
	_, known := s[key]
	switch res.Action {
	case "create":
		s[key] = n
		if known {
			return "create of " + key + ", already reported"
		}
	case "update":
		s[key] = n
		if !known {
			return "update of " + key + ", never reported"
		}
	case "delete":
		delete(s, key)
		if !known && !unknownDelete {
			return "delete of " + key + ", never reported"
		}
	default:
		return "unknown action " + res.Action + " for " + key
	}
	return ""
}

// apply applies a result, failing the test on anything applyResult finds wrong.
func (s watchState) apply(t testing.TB, res *registry.Result) {
	t.Helper()
	if problem := s.applyResult(res, false); problem != "" {
		t.Fatalf("%s: %s", describe(res), problem)
	}
}

// String lists the nodes with their metadata, sorted.
func (s watchState) String() string {
	var lines []string
	for k, n := range s {
		lines = append(lines, fmt.Sprintf("%s@%s%v", k, n.Address, n.Metadata))
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// state is the state of the nodes, in the form of stateOf.
func (s watchState) state() string {
	keys := make([]string, 0, len(s))
	for k, n := range s {
		keys = append(keys, k+"@"+n.Address)
	}
	return joinKeys(keys)
}

// registryState is what r's GetService answers, in watchState form.
func registryState(r registry.Registry, names ...string) watchState {
	s := watchState{}
	services, _ := lookup(r, names)
	for _, svc := range services {
		for _, n := range svc.Nodes {
			s[svc.Name+" "+svc.Version+"/"+n.Id] = n
		}
	}
	return s
}

// watchReader reads a watcher on its own goroutine and keeps the state its results
// describe. A result that contradicts the earlier ones (watchState.applyResult) is
// recorded as a problem. A delete of a node this watcher never reported is allowed: a
// new watcher reports as deleted the nodes GetService handed out that have left since
// (watcher.track).
type watchReader struct {
	w    registry.Watcher
	done chan struct{}

	mu       sync.Mutex
	nodes    watchState
	results  int
	problems []string
	err      error // what ended Next
}

func newWatchReader(w registry.Watcher) *watchReader {
	r := &watchReader{w: w, done: make(chan struct{}), nodes: watchState{}}
	go func() {
		defer close(r.done)
		for {
			res, err := w.Next()
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
				return
			}
			r.apply(res)
		}
	}()
	return r
}

// readWatcher starts reading w. The watcher is stopped and the reader waited for when
// the test ends.
func readWatcher(t testing.TB, w registry.Watcher) *watchReader {
	r := newWatchReader(w)
	t.Cleanup(r.stop)
	return r
}

// watchAndRead starts a watcher on r and reads it.
func watchAndRead(t testing.TB, r registry.Registry, opts ...registry.WatchOption) *watchReader {
	t.Helper()
	return readWatcher(t, watch(t, r, opts...))
}

func (r *watchReader) stop() {
	r.w.Stop()
	<-r.done
}

func (r *watchReader) apply(res *registry.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results++
	if problem := r.nodes.applyResult(res, true); problem != "" {
		r.problems = append(r.problems, problem)
	}
}

// state is the watcher's state, in the form of stateOf.
func (r *watchReader) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nodes.state()
}

func (r *watchReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results
}

// check fails the test if the watcher delivered contradictory results.
func (r *watchReader) check(t testing.TB, name string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		t.Fatalf("watcher %s delivered contradictory results: %s", name, strings.Join(r.problems, "; "))
	}
}

// ---------------------------------------------------------------------------------------
// Registries ready for a test
// ---------------------------------------------------------------------------------------

// connectedRegistry is a registry whose client is up.
func connectedRegistry(t testing.TB, env *testEnv, opts ...registry.Option) *nacosRegistry {
	t.Helper()
	return connectedRegistries(t, env, 1, opts...)[0]
}

// connectedRegistries returns n registries with the same options, their clients up.
func connectedRegistries(t testing.TB, env *testEnv, n int, opts ...registry.Option) []*nacosRegistry {
	t.Helper()
	regs := make([]*nacosRegistry, n)
	for i := range regs {
		regs[i] = env.registry(t, opts...)
	}
	connect(t, regs...)
	return regs
}

// connectedPair is two connected registries: one to publish, one to read.
func connectedPair(t testing.TB, env *testEnv, opts ...registry.Option) (*nacosRegistry, *nacosRegistry) {
	t.Helper()
	regs := connectedRegistries(t, env, 2, opts...)
	return regs[0], regs[1]
}

// connect builds the clients of these registries.
func connect(t testing.TB, regs ...*nacosRegistry) {
	t.Helper()
	for _, r := range regs {
		if _, err := r.core.Client(); err != nil {
			t.Fatal(err)
		}
	}
}

// calm is how long the SDK clients must have been connected, and the server must have
// received none of redone, for the clients to count as done (see quiet).
const calm = 200 * time.Millisecond

// redone are the requests of an SDK client's redo, of the registry's republish after
// it, and of a reconnect.
var redone = []nacostest.RequestType{nacostest.ConnectionSetupRequest, nacostest.InstanceRequest, nacostest.BatchInstanceRequest, nacostest.SubscribeServiceRequest}

// quiet waits, after a fault, until the clients of these registries, the only ones of
// srv, are connected to it and have redone what they cache, and the registries have
// published again after them: srv has one connection per registry, each client has
// been healthy (its exported ServerHealthy) for calm, and srv has received none of
// redone for calm (nacostest's Server.Idle). nacos-sdk-go gives no sign of its redo,
// which it runs on the goroutine that handles its connection events; a test that
// writes before it is over can see the redo send a registration older than the test's.
func quiet(t testing.TB, srv *nacostest.Server, regs ...*nacosRegistry) {
	t.Helper()
	clients := make([]naming_client.INamingClient, len(regs))
	for i, r := range regs {
		clients[i] = sdkOf(t, r)
	}
	connected := func() bool {
		for _, c := range clients {
			if !c.ServerHealthy() {
				return false
			}
		}
		return srv.Connections() == len(regs)
	}
	var since time.Time // since when connected
	eventually(t, recovery, func() bool {
		switch {
		case !connected():
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		}
		return !since.IsZero() && time.Since(since) >= calm && srv.Idle(calm, redone...)
	}, "the clients are not done: %s connections for %d registries, healthy: %s, none of %v for %v: %s",
		func() string { return fmt.Sprint(srv.Connections()) }, len(regs), func() string { return fmt.Sprint(connected()) },
		redone, calm, func() string { return fmt.Sprint(srv.Idle(calm, redone...)) })
}

func randomText(n int) string {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.Intn(26))
	}
	return string(b)
}
