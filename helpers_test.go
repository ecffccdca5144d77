package nacos

import (
	"fmt"
	"hash/fnv"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/nacostest"
)

// relRecovery is how long the tests give the registry to heal after a fault. The SDK
// reconnects within a second or two; the rest is margin for slow machines and -race.
const relRecovery = 20 * time.Second

// ---------------------------------------------------------------------------------------
// Race detector, child processes and the SDK's connection loops
// ---------------------------------------------------------------------------------------

// The goroutines of an SDK client that handle its connection: the event loop redoes all
// registrations and subscriptions on every CONNECTED, the other loop reconnects.
const (
	relSDKEventLoop     = "nacos-sdk-go/v2/common/remote/rpc.(*RpcClient).Start.func1("
	relSDKReconnectLoop = "nacos-sdk-go/v2/common/remote/rpc.(*RpcClient).Start.func2("
)

// relSDKIdle waits until every SDK client in the process has handled every connection
// event so far (both loops parked in their select, three polls in a row). A redo that
// runs late sends a cached registration after a newer one; tests that need a settled
// state wait for this first.
func relSDKIdle(t testing.TB) {
	t.Helper()
	calm := 0
	eventually(t, relRecovery, func() bool {
		if relSDKLoopsParked() {
			calm++
		} else {
			calm = 0
		}
		return calm >= 3
	}, "the SDK's connection loops are still busy")
}

func relSDKLoopsParked() bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, loop := range []string{relSDKEventLoop, relSDKReconnectLoop} {
			if !strings.Contains(g, loop) {
				continue
			}
			lines := strings.SplitN(g, "\n", 3)
			if len(lines) < 2 || !strings.Contains(lines[0], " [select") || !strings.Contains(lines[1], loop) {
				return false
			}
		}
	}
	return true
}

// ---------------------------------------------------------------------------------------
// Services, states and watcher readers
// ---------------------------------------------------------------------------------------

// relService builds a service whose nodes have addresses derived from name, version
// and id: the same node always gets the same address, two nodes practically never share
// one.
func relService(name, version string, ids ...string) *registry.Service {
	s := &registry.Service{Name: name, Version: version}
	for _, id := range ids {
		s.Nodes = append(s.Nodes, &registry.Node{Id: id, Address: relAddress(name, version, id), Metadata: map[string]string{"protocol": "mucp"}})
	}
	return s
}

func relAddress(name, version, id string) string {
	h := fnv.New32a()
	h.Write([]byte(name + "\x00" + version + "\x00" + id))
	v := h.Sum32()
	return fmt.Sprintf("10.%d.%d.%d:%d", 64+v>>26, v>>18&255, v>>10&255, 1024+v%60000)
}

// A state is a sorted, comma-separated list of "service version/id@address": what the
// server holds, what GetService answers, what a watcher has reported.
func relKey(name, version, id, addr string) string {
	return name + " " + version + "/" + id + "@" + addr
}

func relJoin(keys []string) string {
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// relWant is the state that registering these services should produce.
func relWant(services ...*registry.Service) string {
	var keys []string
	for _, s := range services {
		for _, n := range s.Nodes {
			keys = append(keys, relKey(s.Name, s.Version, n.Id, n.Address))
		}
	}
	return relJoin(keys)
}

// relWantOf is relWant of the services named.
func relWantOf(services []*registry.Service, names ...string) string {
	var keep []*registry.Service
	for _, s := range services {
		for _, n := range names {
			if s.Name == n {
				keep = append(keep, s)
			}
		}
	}
	return relWant(keep...)
}

// relServerState is what the server holds for these services (enabled, healthy instances).
func relServerState(srv *nacostest.Server, namespace, group string, names ...string) string {
	var keys []string
	for _, name := range names {
		for _, in := range srv.Instances(namespace, group, name) {
			if !in.Enable || !in.Healthy {
				continue
			}
			keys = append(keys, relKey(name, in.Metadata[keyVersion], in.Metadata[keyNodeID], fmt.Sprintf("%s:%d", in.Ip, in.Port)))
		}
	}
	return relJoin(keys)
}

// relSeenState is what r's GetService answers for these services.
func relSeenState(r registry.Registry, names []string, opts ...registry.GetOption) string {
	var keys []string
	for _, name := range names {
		services, err := r.GetService(name, opts...)
		if err == registry.ErrNotFound {
			continue
		}
		if err != nil {
			return "GetService(" + name + "): " + err.Error()
		}
		for _, s := range services {
			for _, n := range s.Nodes {
				keys = append(keys, relKey(s.Name, s.Version, n.Id, n.Address))
			}
		}
	}
	return relJoin(keys)
}

// relSDKView is what r's SDK client has cached for these services: instances and the
// version stamp (lastRefTime) of the list, for failure messages.
func relSDKView(r *nacosRegistry, names []string) string {
	c, err := r.namingClient()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, name := range names {
		svc, err := c.(*sdkClient).sdk.GetService(vo.GetServiceParam{ServiceName: name})
		if err != nil {
			parts = append(parts, name+": "+err.Error())
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d instances at lastRefTime %d", name, len(svc.Hosts), svc.LastRefTime))
	}
	return strings.Join(parts, "; ")
}

// relNames lists the names of services, space-separated.
func relNames(services []*registry.Service) string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return strings.Join(names, " ")
}

// relDiff says how state got differs from state want.
func relDiff(got, want string) string {
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

// relReader reads a watcher on its own goroutine and keeps the state its results
// describe. A result that contradicts the earlier ones (a create of a node already
// reported, an update of one never reported) is recorded as a problem. A delete of a
// node this watcher never reported is allowed: a new watcher reports as deleted the
// nodes GetService handed out that have left since (watcher.track).
type relReader struct {
	w    registry.Watcher
	done chan struct{}

	mu       sync.Mutex
	nodes    map[string]string // "service version/id" -> address
	results  int
	problems []string
	err      error // what ended Next
}

func newRelReader(w registry.Watcher) *relReader {
	r := &relReader{w: w, done: make(chan struct{}), nodes: map[string]string{}}
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

// relRead starts reading w. The watcher is stopped and the reader waited for when the
// test ends.
func relRead(t testing.TB, w registry.Watcher) *relReader {
	r := newRelReader(w)
	t.Cleanup(r.stop)
	return r
}

// relWatch starts a watcher on r and reads it.
func relWatch(t testing.TB, r registry.Registry, opts ...registry.WatchOption) *relReader {
	t.Helper()
	w, err := r.Watch(opts...)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	return relRead(t, w)
}

func (r *relReader) stop() {
	r.w.Stop()
	<-r.done
}

func (r *relReader) apply(res *registry.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results++
	if res == nil || res.Service == nil || len(res.Service.Nodes) != 1 {
		r.problems = append(r.problems, fmt.Sprintf("malformed result %+v", res))
		return
	}
	n := res.Service.Nodes[0]
	key := res.Service.Name + " " + res.Service.Version + "/" + n.Id
	_, known := r.nodes[key]
	switch res.Action {
	case "create":
		if known {
			r.problems = append(r.problems, "create of "+key+", already reported")
		}
		r.nodes[key] = n.Address
	case "update":
		if !known {
			r.problems = append(r.problems, "update of "+key+", never reported")
		}
		r.nodes[key] = n.Address
	case "delete":
		delete(r.nodes, key)
	default:
		r.problems = append(r.problems, "unknown action "+res.Action+" for "+key)
	}
}

// state is the watcher's state, in the form of relWant.
func (r *relReader) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.nodes))
	for k, addr := range r.nodes {
		keys = append(keys, k+"@"+addr)
	}
	return relJoin(keys)
}

func (r *relReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results
}

// check fails the test if the watcher delivered contradictory results.
func (r *relReader) check(t testing.TB, name string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) > 0 {
		t.Fatalf("watcher %s delivered contradictory results: %s", name, strings.Join(r.problems, "; "))
	}
}

// relClean is a registry whose SDK client is up and settled: the registry's start-up
// republish (registry.go settle) is over and the SDK has handled its connection events,
// so that neither reorders the test's first requests.
func relClean(t testing.TB, env *testEnv, opts ...registry.Option) *nacosRegistry {
	t.Helper()
	return relCleanAll(t, env, 1, opts...)[0]
}

// relCleanAll returns n registries with the same options, as relClean does, in about
// one settle delay: their clients start together.
func relCleanAll(t testing.TB, env *testEnv, n int, opts ...registry.Option) []*nacosRegistry {
	t.Helper()
	regs := make([]*nacosRegistry, n)
	for i := range regs {
		regs[i] = env.registry(t, opts...)
	}
	relSettle(t, regs...)
	return regs
}

// relSettle starts the clients of these registries and waits until they are settled
// (see relClean).
func relSettle(t testing.TB, regs ...*nacosRegistry) {
	t.Helper()
	for _, r := range regs {
		if _, err := r.ListServices(); err != nil {
			t.Fatalf("ListServices: %v", err)
		}
	}
	for _, r := range regs {
		settled(t, r)
	}
	relSDKIdle(t)
}

func relMust(t testing.TB, err error, format string, args ...interface{}) {
	t.Helper()
	if err != nil {
		t.Fatalf(format+": %v", append(args, err)...)
	}
}

// relNacosError fails unless err is a clear error of this plugin.
func relNacosError(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Fatalf("%s: want an error starting with \"nacos: \", got %v", what, err)
	}
}

func relMs(d time.Duration) string { return d.Round(time.Millisecond).String() }

var relModes = []struct {
	name string
	mode nacostest.FailMode
}{{"error", nacostest.FailWithError}, {"refused", nacostest.FailRefused}, {"timeout", nacostest.FailTimeout}}
