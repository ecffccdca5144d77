package nacos

// Bad input: from the caller, from options, after Close and Stop, and from a server that
// fails or pushes strange data. Everything is refused with a clear "nacos: " error or
// survived, and nothing registered is lost.

import (
	"errors"
	"fmt"
	"github.com/micro-registry/nacos/internal/core"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// Bad input of every kind is refused with a clear "nacos: " error and changes nothing
// that was registered; a registry after Close and a watcher after Stop say so; a server
// that answers with errors, or pushes strange data, is survived, and the registry and
// its watchers are right again afterwards. The test counts the cases it tries.
// (registry_test.go's TestBadInputIsRefusedAndLosesNothing and TestBadOptionsNeverPanic
// cover other cases; none is repeated here.)
func TestReliabilityBadInput(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, badInput)
}

func badInput(t *testing.T) {
	env := newEnv(t)
	r := env.registry(t, registry.Timeout(time.Second))
	observer := env.registry(t, WithDiscoveryInterval(100*time.Millisecond))
	other := env.registry(t) // another process, for the server faults and pushes
	connect(t, r, observer, other)
	good := service("rel-bad", "v1", "keep1", "keep2")
	mustRegister(t, r, good)
	want := stateOf(good)
	watched := watchAndRead(t, observer, registry.WatchService("rel-bad"))
	own := watchAndRead(t, r, registry.WatchService("rel-bad"))
	eventually(t, within, func() bool { return watched.state() == want && own.state() == want }, "watchers: %s / %s", watched.state, own.state)
	resultsBefore := watched.count() + own.count()
	counts := map[string]int{}
	var failures []string
	check := func(kind, name string, err error, ok func(error) bool) {
		counts[kind]++
		if !ok(err) {
			failures = append(failures, fmt.Sprintf("%s: %s: got %v", kind, name, err))
		}
	}
	clear := func(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "nacos: ") }

	// Caller input: services, names, nodes, addresses, ports, groups, clusters,
	// namespaces, weights, metadata sizes.
	node := func(addr string) *registry.Service {
		return &registry.Service{Name: "rel-bad", Version: "v1", Nodes: []*registry.Node{{Id: "bad", Address: addr}}}
	}
	named := func(name string) *registry.Service { return service(name, "v1", "bad") }
	withMetadata := func(md map[string]string) *registry.Service {
		s := service("rel-bad", "v1", "bad")
		s.Nodes[0].Metadata = md
		return s
	}
	manyKeys := map[string]string{}
	for i := 0; i < 200; i++ {
		manyKeys[fmt.Sprintf("key-%03d", i)] = "value"
	}
	get := func(name string, opts ...registry.GetOption) func() error {
		return func() error { _, err := r.GetService(name, opts...); return err }
	}
	watch := func(opts ...registry.WatchOption) func() error {
		return func() error {
			w, err := r.Watch(opts...)
			if err == nil {
				w.Stop()
			}
			return err
		}
	}
	register := func(s *registry.Service, opts ...registry.RegisterOption) func() error {
		return func() error { return r.Register(s, opts...) }
	}
	inputs := []struct {
		name string
		call func() error
	}{
		{"service name of 513 characters", register(named(strings.Repeat("s", 513)))},
		{"service name starting with @", register(named("@svc"))},
		{"service name with a tab", register(named("a\tb"))},
		{"service name with a newline", register(named("a\nb"))},
		{"GetService of a name with @@", get("a@@b")},
		{"GetService of a name of 513 characters", get(strings.Repeat("s", 513))},
		{"GetService of a name with a space", get("a b")},
		{"Watch of a name with @@", watch(registry.WatchService("a@@b"))},
		{"Watch of a CJK name", watch(registry.WatchService("服务"))},
		{"Deregister of a name with @@", func() error {
			return r.Deregister(&registry.Service{Name: "a@@b", Nodes: []*registry.Node{{Id: "x"}}})
		}},
		{"Deregister of an empty name", func() error { return r.Deregister(&registry.Service{Nodes: []*registry.Node{{Id: "x"}}}) }},
		{"node without id", register(&registry.Service{Name: "rel-bad", Nodes: []*registry.Node{{Address: "10.0.0.1:1"}}})},
		{"the same node id twice", register(service("rel-bad", "v1", "dup", "dup"))},
		{"Deregister of a nil node", func() error { return r.Deregister(&registry.Service{Name: "rel-bad", Nodes: []*registry.Node{nil}}) }},
		{"empty address", register(node(""))},
		{"empty host", register(node(":8080"))},
		{"empty port", register(node("10.0.0.1:"))},
		{"negative port", register(node("10.0.0.1:-1"))},
		{"port 65536", register(node("10.0.0.1:65536"))},
		{"hexadecimal port", register(node("10.0.0.1:0x50"))},
		{"unclosed IPv6 bracket", register(node("[::1:8080"))},
		{"host with a space", register(node("bad host:80"))},
		{"host of 129 characters", register(node(strings.Repeat("h", 129) + ":80"))},
		{"CJK host", register(node("主机:80"))},
		{"host with a newline", register(node("10.0.0.1\n:80"))},
		{"RegisterParam group of 129 characters", register(good, RegisterParam(vo.RegisterInstanceParam{GroupName: strings.Repeat("g", 129)}))},
		{"GetParam group with a space", get("rel-bad", GetParam(vo.GetServiceParam{GroupName: "a b"}))},
		{"ListParam group with a slash", func() error {
			_, err := r.ListServices(ListParam(vo.GetAllServiceInfoParam{GroupName: "a/b"}))
			return err
		}},
		{"WatchParam group with @@", watch(WatchParam(vo.SubscribeParam{ServiceName: "rel-bad", GroupName: "a@@b"}))},
		{"DeregisterParam group with a comma", func() error {
			return r.Deregister(good, DeregisterParam(vo.DeregisterInstanceParam{GroupName: "a,b"}))
		}},
		{"RegisterParam cluster of 65 characters", register(good, RegisterParam(vo.RegisterInstanceParam{ClusterName: strings.Repeat("c", 65)}))},
		{"WatchParam with an empty cluster", watch(WatchParam(vo.SubscribeParam{ServiceName: "rel-bad", Clusters: []string{""}}))},
		{"GetParam cluster with a dot", get("rel-bad", GetParam(vo.GetServiceParam{Clusters: []string{"a.b"}}))},
		{"ListParam namespace with a space", func() error {
			_, err := r.ListServices(ListParam(vo.GetAllServiceInfoParam{NameSpace: "a b"}))
			return err
		}},
		{"RegisterParam weight -1", register(good, RegisterParam(vo.RegisterInstanceParam{Weight: -1}))},
		{"RegisterParam weight 10001", register(good, RegisterParam(vo.RegisterInstanceParam{Weight: 10001}))},
		{"RegisterParam weight +Inf", register(good, RegisterParam(vo.RegisterInstanceParam{Weight: math.Inf(1)}))},
		{"node metadata of 1,025 characters", register(withMetadata(map[string]string{"k": strings.Repeat("x", 1024)}))},
		{"node metadata of 1 MB", register(withMetadata(map[string]string{"blob": strings.Repeat("x", 1<<20)}))},
		{"200 metadata keys over the budget", register(withMetadata(manyKeys))},
		{"RegisterParam metadata over the budget", register(good, RegisterParam(vo.RegisterInstanceParam{Metadata: map[string]string{"big": strings.Repeat("x", 1100)}}))},
		{"Init with a bad option", func() error { return rejectedInit(t, env) }},
	}
	for _, c := range inputs {
		check("input", c.name, noPanic(c.call), clear)
	}

	// Option values: NewRegistry never panics, and every method says what is wrong.
	options := []struct {
		name string
		opts []registry.Option
	}{
		{"WithWeight(-1)", []registry.Option{WithWeight(-1)}},
		{"WithWeight(+Inf)", []registry.Option{WithWeight(math.Inf(1))}},
		{"WithMetadataBudget(-1)", []registry.Option{WithMetadataBudget(-1)}},
		{"WithDiscoveryInterval(-1s)", []registry.Option{WithDiscoveryInterval(-time.Second)}},
		{"namespace of 65 characters", []registry.Option{WithNamespace(strings.Repeat("n", 65))}},
		{"namespace with a slash", []registry.Option{WithNamespace("a/b")}},
		{"namespace in WithClientConfig with a space", []registry.Option{WithClientConfig(constant.ClientConfig{NamespaceId: "a b"})}},
		{"group of 129 characters", []registry.Option{WithGroup(strings.Repeat("g", 129))}},
		{"cluster of 65 characters", []registry.Option{WithCluster(strings.Repeat("c", 65))}},
		{"credentials in the URL", []registry.Option{registry.Addrs("http://user:s3cret-in-url@nacos:8848")}},
		{"URL with a query", []registry.Option{registry.Addrs("http://nacos:8848/nacos?x=1")}},
		{"port 0", []registry.Option{registry.Addrs("nacos:0")}},
		{"one good address, one bad", []registry.Option{registry.Addrs(env.addr, "nacos:99999")}},
		{"host with a space", []registry.Option{registry.Addrs("bad host:8848")}},
		{"IPv6 address with an empty port", []registry.Option{registry.Addrs("[::1]:")}},
		{"Timeout(-1ns)", []registry.Option{registry.Timeout(-1)}},
		{"WithAuth without a username", []registry.Option{WithAuth("", "pw")}},
	}
	for _, c := range options {
		err := noPanic(func() error {
			reg := NewRegistry(c.opts...)
			defer reg.(io.Closer).Close()
			calls := []func() error{
				func() error { return reg.Init() },
				func() error { return reg.Register(service("rel-bad", "v1", "n")) },
				func() error { return reg.Deregister(service("rel-bad", "v1", "n")) },
				func() error { _, err := reg.GetService("rel-bad"); return err },
				func() error { _, err := reg.ListServices(); return err },
				func() error { _, err := reg.Watch(); return err },
			}
			var first error
			for i, call := range calls {
				err := call()
				if !clear(err) {
					return fmt.Errorf("call %d: %v", i, err)
				}
				if strings.Contains(err.Error(), "s3cret-in-url") {
					return fmt.Errorf("the error repeats the password: %v", err)
				}
				if first == nil {
					first = err
				}
			}
			return first
		})
		check("option", c.name, err, clear)
	}

	// A registry after Close, a watcher after Stop.
	closed := env.registry(t)
	mustRegister(t, closed, service("rel-bad-closed", "v1", "n1"))
	cw, err := closed.Watch(registry.WatchService("rel-bad-closed"))
	must(t, err, "watch")
	must(t, closed.Close(), "Close")
	isClosed := func(err error) bool { return clear(err) && err.Error() == core.ErrClosed.Error() }
	check("closed", "Register after Close", closed.Register(service("rel-bad-closed", "v1", "n2")), isClosed)
	check("closed", "Deregister after Close", closed.Deregister(service("rel-bad-closed", "v1", "n1")), isClosed)
	_, err = closed.GetService("rel-bad-closed")
	check("closed", "GetService after Close", err, isClosed)
	_, err = closed.ListServices()
	check("closed", "ListServices after Close", err, isClosed)
	_, err = closed.Watch()
	check("closed", "Watch after Close", err, isClosed)
	check("closed", "Init after Close", closed.Init(WithGroup("other")), isClosed)
	check("closed", "Close twice", closed.Close(), func(err error) bool { return err == nil })
	_, err = cw.Next()
	stopped := func(err error) bool { return err == registry.ErrWatcherStopped }
	check("stopped", "Next of a watcher whose registry closed", err, stopped)
	sw, err := r.Watch(registry.WatchService("rel-bad"))
	must(t, err, "watch")
	sw.Stop()
	_, err = sw.Next()
	check("stopped", "Next after Stop", err, stopped)
	check("stopped", "Stop twice, then Next", noPanic(func() error { sw.Stop(); _, err := sw.Next(); return err }), stopped)

	if len(failures) > 0 {
		t.Fatalf("%d bad inputs were not refused clearly:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	// Nothing registered changed, and nothing was delivered.
	if srv := env.srv; srv != nil {
		if got := serverState(srv, "", "", "rel-bad"); got != want {
			t.Fatalf("after the bad input the server holds %s, want %s", got, want)
		}
		eventually(t, within, func() bool { return serverState(srv, "", "", "rel-bad-closed") == "" }, "the closed registry's node is still registered")
	}
	if got := seenState(observer, []string{"rel-bad"}); got != want {
		t.Fatalf("after the bad input another registry sees %s, want %s", got, want)
	}
	if n := watched.count() + own.count(); n != resultsBefore || watched.state() != want || own.state() != want {
		t.Fatalf("the bad input reached the watchers: %d results (%d before), states %s / %s", n, resultsBefore, watched.state(), own.state())
	}

	if env.srv != nil {
		serverFaults(t, env, r, observer, other, counts)
		strangePushes(t, env, observer, other, counts)
	}

	// Still right, and still usable.
	after := service("rel-bad", "v1", "after")
	must(t, r.Register(after), "register after the bad input")
	want = stateOf(good, after)
	eventually(t, within, func() bool {
		return watched.state() == want && own.state() == want && seenState(observer, []string{"rel-bad"}) == want
	},
		"after the bad input a new node is not delivered: %s / %s / %s", watched.state, own.state, func() string { return seenState(observer, []string{"rel-bad"}) })
	watched.check(t, "of rel-bad on another registry")
	own.check(t, "of rel-bad on the same registry")

	total := 0
	var parts []string
	for _, kind := range []string{"input", "option", "closed", "stopped", "server", "push"} {
		total += counts[kind]
		parts = append(parts, fmt.Sprintf("%d %s", counts[kind], kind))
	}
	t.Logf("%d bad-input cases tried (%s), all refused clearly or survived", total, strings.Join(parts, ", "))
	if total < 25 {
		t.Fatalf("only %d cases", total)
	}
}

// rejectedInit gives a working registry a bad option: Init must say what is wrong.
// (What the registry does afterwards is TestReliabilityRejectedInitKeepsTheRegistryWorking.)
func rejectedInit(t *testing.T, env *testEnv) error {
	reg := env.registry(t)
	if _, err := reg.ListServices(); err != nil {
		return fmt.Errorf("before Init: %v", err)
	}
	err := reg.Init(WithWeight(math.NaN()))
	reg.Close()
	return err
}

// serverFaults makes the server fail each kind of request the registry sends, in
// each mode, and checks that the call fails clearly, that what was registered and
// watched survives, and that the registry is right again after its next call.
func serverFaults(t *testing.T, env *testEnv, r, observer, other *nacosRegistry, counts map[string]int) {
	srv := env.srv
	quiet(t, srv, r, observer, other)
	live := watchAndRead(t, observer, registry.WatchService("rel-bad-live"))
	discovering := watchAndRead(t, observer)
	good := stateOf(service("rel-bad", "v1", "keep1", "keep2"))
	for _, m := range failModes {
		for _, kind := range []nacostest.RequestType{nacostest.InstanceRequest, nacostest.BatchInstanceRequest, nacostest.SubscribeServiceRequest, nacostest.ServiceListRequest} {
			counts["server"]++
			label := string(kind) + "/" + m.name
			start := time.Now()
			switch kind {
			case "InstanceRequest":
				one := service("rel-fail-one-"+m.name, "v1", "o1")
				must(t, r.Register(one), "%s: register before the fault", label)
				undo := srv.FailRequests(kind, m.mode)
				mustFailClearly(t, label+": Register of a new single-node service", r.Register(service("rel-fail-new-"+m.name, "v1", "n1")))
				mustFailClearly(t, label+": Deregister of the last node", r.Deregister(one))
				undo()
				quiet(t, srv, r, observer, other)
				// The failed calls stand and are retried, the refused ones change
				// nothing; the next calls add to them.
				fresh := service("rel-fail-new-"+m.name, "v1", "n2")
				must(t, r.Register(fresh), "%s: Register after the fault", label)
				must(t, r.Deregister(one), "%s: Deregister after the fault", label)
				want := stateOf(service(fresh.Name, "v1", "n1", "n2"))
				if m.mode == nacostest.FailRefused {
					want = stateOf(fresh)
				}
				state := func() string { return serverState(srv, "", "", fresh.Name, one.Name) }
				eventually(t, within, func() bool { return state() == want }, "%s: after the next calls the server holds %s, want %s", label, state, want)
			case "BatchInstanceRequest":
				undo := srv.FailRequests(kind, m.mode)
				extra := service("rel-bad", "v1", "extra-"+m.name)
				mustFailClearly(t, label+": Register of a third node", r.Register(extra))
				undo()
				quiet(t, srv, r, observer, other)
				// The failed Register stands and is retried until withdrawn (the
				// refused one changed nothing).
				must(t, r.Deregister(extra), "%s: Deregister after the fault", label)
				must(t, r.Register(service("rel-bad", "v1", "keep1")), "%s: Register after the fault", label)
				state := func() string { return serverState(srv, "", "", "rel-bad") }
				eventually(t, within, func() bool { return state() == good }, "%s: after the next call the server holds %s, want %s", label, state, good)
			case "SubscribeServiceRequest":
				liveNode := service("rel-bad-live", "v1", m.name)
				undo := srv.FailRequests(kind, m.mode)
				_, err := r.GetService("rel-unseen-" + m.name)
				mustFailClearly(t, label+": GetService of a service not looked up before", err)
				_, err = r.Watch(registry.WatchService("rel-unwatched-" + m.name))
				mustFailClearly(t, label+": Watch of a service not looked up before", err)
				must(t, other.Register(liveNode), "%s: another registry registers during the fault", label)
				eventually(t, within, func() bool { return strings.Contains(live.state(), stateOf(liveNode)) }, "%s: a push during the fault was not delivered", label)
				undo()
				quiet(t, srv, r, observer, other)
				unseen, unwatched := service("rel-unseen-"+m.name, "v1", "u1"), service("rel-unwatched-"+m.name, "v1", "w1")
				must(t, other.Register(unseen), "%s: register", label)
				must(t, other.Register(unwatched), "%s: register", label)
				seen := func() string { return seenState(r, []string{unseen.Name}) }
				eventually(t, within, func() bool { return seen() == stateOf(unseen) }, "%s: GetService after the fault: %s", label, seen)
				w := watchAndRead(t, r, registry.WatchService(unwatched.Name))
				eventually(t, within, func() bool { return w.state() == stateOf(unwatched) }, "%s: Watch after the fault: %s", label, w.state)
				w.stop()
			case "ServiceListRequest":
				undo := srv.FailRequests(kind, m.mode)
				list, err := r.ListServices()
				w, werr := r.Watch()
				if w != nil {
					w.Stop()
				}
				if err == nil {
					t.Fatalf("%s: ListServices answered %q", label, nameList(list))
				}
				mustFailClearly(t, label+": ListServices", err)
				mustFailClearly(t, label+": Watch of all services", werr)
				found := service("rel-discovered-"+m.name, "v1", "d1")
				must(t, other.Register(found), "%s: another registry registers a new service during the fault", label)
				undo()
				quiet(t, srv, r, observer, other)
				eventually(t, within, func() bool { return strings.Contains(discovering.state(), stateOf(found)) },
					"%s: the watcher of all services did not discover a new service after the fault", label)
				list, err = r.ListServices()
				if err != nil || !strings.Contains(" "+nameList(list)+" ", " "+found.Name+" ") {
					t.Fatalf("%s: ListServices after the fault: %q, %v", label, nameList(list), err)
				}
				reader := watchAndRead(t, r)
				eventually(t, within, func() bool { return strings.Contains(reader.state(), stateOf(found)) }, "%s: Watch after the fault: %s", label, reader.state)
				reader.stop()
			}
			if got := serverState(srv, "", "", "rel-bad"); got != good {
				t.Fatalf("%s: the registered nodes changed: %s, want %s", label, got, good)
			}
			seenGood := func() string { return seenState(observer, []string{"rel-bad"}) }
			eventually(t, within, func() bool { return seenGood() == good }, "%s: another registry sees %s", label, seenGood)
			t.Logf("%s: survived, right again after %s", label, millis(time.Since(start)))
		}
	}
	live.check(t, "of rel-bad-live")
	discovering.check(t, "of all services")
}

// strangePushes sends the registry's subscribers pushes Nacos would never send: a
// valid service whose hosts are strange (no ip, a port out of range, weight 0, metadata
// null), and one whose fields have the wrong types. The registry and its watchers
// survive and are right again with the next real push. (A push that is not JSON at all
// is TestReliabilityMalformedPushJSONDoesNotCrash.)
func strangePushes(t *testing.T, env *testEnv, observer, pub *nacosRegistry, counts map[string]int) {
	srv := env.srv
	first := service("rel-raw", "v1", "n1")
	mustRegister(t, pub, first)
	w := watchAndRead(t, observer, registry.WatchService("rel-raw"))
	seenRaw := func() string { return seenState(observer, []string{"rel-raw"}) }
	eventually(t, within, func() bool { return w.state() == stateOf(first) && seenRaw() == stateOf(first) }, "not seen: %s", w.state)

	counts["push"]++
	ref := time.Now().UnixMilli()
	srv.PushRaw("", "", "rel-raw", []byte(fmt.Sprintf(`{"name":"rel-raw","groupName":"DEFAULT_GROUP","clusters":"","lastRefTime":%d,"hosts":[
		{"ip":"","port":8080,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"empty-ip"}},
		{"ip":"10.9.9.9","port":99999999999,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"huge-port"}},
		{"ip":"10.9.9.8","port":80,"weight":0,"healthy":true,"enabled":true,"metadata":{"micro.id":"zero-weight"}},
		{"ip":"10.9.9.7","port":81,"weight":1,"healthy":true,"enabled":true,"metadata":null}]}`, ref)))
	eventually(t, within, func() bool { return !strings.Contains(w.state(), "v1/n1@") }, "the strange push was not taken: %s", w.state)
	services, err := observer.GetService("rel-raw")
	if err != nil {
		t.Fatalf("GetService after a strange push: %v", err)
	}
	t.Logf("served after a strange push: %s", seenRaw())
	for _, s := range services {
		for _, n := range s.Nodes {
			if n.Id == "zero-weight" {
				t.Fatalf("a node of weight 0 is served: %+v", n)
			}
		}
	}
	// A push is taken only if it is newer than the last one.
	for time.Now().UnixMilli() <= ref {
		time.Sleep(time.Millisecond)
	}
	second := service("rel-raw", "v1", "n2")
	mustRegister(t, pub, second)
	want := stateOf(first, second)
	eventually(t, within, func() bool { return w.state() == want && seenRaw() == want },
		"after a real push: watcher %s, GetService %s, want %s", w.state, seenRaw, want)

	counts["push"]++
	srv.PushRaw("", "", "rel-raw", []byte(`{"hosts":"none","lastRefTime":"soon"}`))
	third := service("rel-raw", "v1", "n3")
	mustRegister(t, pub, third)
	want = stateOf(first, second, third)
	eventually(t, within, func() bool { return w.state() == want && seenRaw() == want },
		"after a push of the wrong types: watcher %s, GetService %s, want %s", w.state, seenRaw, want)
	w.check(t, "of rel-raw")
}

// Init with a bad option must say so and leave the registry as it was: working, with
// its previous configuration.
func TestReliabilityRejectedInitKeepsTheRegistryWorking(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := connectedRegistry(t, env)
	n1 := service("rel-init", "v1", "n1")
	mustRegister(t, r, n1)
	// A real Nacos indexes a registration shortly after it has confirmed it.
	eventually(t, within, func() bool { return seenState(r, []string{"rel-init"}) == stateOf(n1) }, "the registered service is never found")
	mustFailClearly(t, "Init with a negative weight", r.Init(WithWeight(-1)))
	if _, err := r.GetService("rel-init"); err != nil {
		t.Fatalf("GetService after a rejected Init: %v", err)
	}
	must(t, r.Register(service("rel-init", "v1", "n2")), "Register after a rejected Init")
	must(t, r.Init(), "Init without options after a rejected Init")
	w, err := r.Watch(registry.WatchService("rel-init"))
	must(t, err, "Watch after a rejected Init")
	w.Stop()
}

// A node that cannot be dialled (no host, a port outside 1-65535) must not be served,
// as the registry already leaves out unhealthy, disabled and weightless instances: an
// empty host even dials the local machine.
func TestReliabilityUndialableInstancesAreNotServed(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	srv := env.embedded(t, "PushRaw")
	pub, r := connectedPair(t, env)
	mustRegister(t, pub, service("rel-undialable", "v1", "n1"))
	eventually(t, within, func() bool { return seenState(r, []string{"rel-undialable"}) != "" }, "not seen")
	srv.PushRaw("", "", "rel-undialable", []byte(fmt.Sprintf(`{"name":"rel-undialable","groupName":"DEFAULT_GROUP","clusters":"","lastRefTime":%d,"hosts":[
		{"ip":"","port":8080,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"empty-ip"}},
		{"ip":"10.9.9.9","port":99999999999,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"huge-port"}},
		{"ip":"10.9.9.6","port":0,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"port-zero"}},
		{"ip":"10.9.9.7","port":81,"weight":1,"healthy":true,"enabled":true,"metadata":{"micro.id":"fine"}}]}`, time.Now().Add(time.Minute).UnixMilli()))) // newer than what the SDK holds
	eventually(t, within, func() bool { return strings.Contains(seenState(r, []string{"rel-undialable"}), "/fine@") }, "the push was not taken")
	services, err := r.GetService("rel-undialable")
	must(t, err, "GetService")
	var bad []string
	for _, s := range services {
		for _, n := range s.Nodes {
			host, port, err := splitHostPort(n.Address)
			if err != nil || host == "" || port < 1 || port > 65535 {
				bad = append(bad, fmt.Sprintf("%s at %q", n.Id, n.Address))
			}
		}
	}
	if len(bad) > 0 {
		t.Fatalf("nodes served with undialable addresses: %s", strings.Join(bad, ", "))
	}
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, errors.New("no port")
	}
	var port int
	_, err := fmt.Sscanf(addr[i+1:], "%d", &port)
	return strings.Trim(addr[:i], "[]"), port, err
}

// A push that is not JSON at all takes the process down, and nothing of ours can stop it:
// nacos-sdk-go v2.3.5 dereferences a nil pointer while logging the decoding error
// (GrpcClient.handleServerRequest), on its own stream goroutine, before any callback of
// ours runs. No Nacos server sends one; docs/limits.md lists it among the defects we cannot
// work around. The test pins that in a child process: when the SDK stops crashing, the
// child goes on to check that the watcher sees the next push, and the test fails to say
// docs/limits.md and this test need updating.
func TestMalformedPushCrashesTheSDK(t *testing.T) {
	t.Parallel()
	testkit.RunInChild(t, func(t *testing.T) {
		env := newEnv(t)
		srv := env.embedded(t, "PushRaw")
		pub, r := connectedPair(t, env)
		first := service("rel-broken", "v1", "n1")
		mustRegister(t, pub, first)
		w := watchAndRead(t, r, registry.WatchService("rel-broken"))
		eventually(t, within, func() bool { return w.state() == stateOf(first) }, "not seen")
		srv.PushRaw("", "", "rel-broken", []byte(`{"hosts":[{"ip":`))
		second := service("rel-broken", "v1", "n2")
		mustRegister(t, pub, second)
		eventually(t, within, func() bool { return w.state() == stateOf(first, second) }, "after a broken push: %s", w.state)
	}, func(output string, completed bool) {
		switch {
		case completed:
			t.Fatal("nacos-sdk-go survives a push that is not JSON now, and the watcher saw the next push: " +
				"drop the defect from docs/limits.md and make this test assert the recovery")
		case !strings.Contains(output, "panic: runtime error") || !strings.Contains(output, "(*GrpcClient).handleServerRequest"):
			t.Fatalf("the child process did not end in the SDK's known crash:\n%s", output)
		}
		t.Log("as known: nacos-sdk-go v2.3.5 crashed the process in GrpcClient.handleServerRequest")
	})
}

// No option the caller passes makes the registry panic, nil ones included.
func TestReliabilityNilOptionsDoNotPanic(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var panics []string
	try := func(name string, f func() error) {
		if err := noPanic(f); err != nil && strings.HasPrefix(err.Error(), "PANIC") {
			panics = append(panics, name+": "+err.Error())
		}
	}
	try("NewRegistry(nil)", func() error { NewRegistry(registry.Addrs(env.addr), nil).(io.Closer).Close(); return nil })
	fresh := NewRegistry(registry.Addrs(env.addr)).(*nacosRegistry) // no client yet: nothing leaks if it stays locked
	try("Init(nil)", func() error { return fresh.Init(nil) })
	closed := make(chan struct{})
	go func() { fresh.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Second):
		panics = append(panics, "Close after Init(nil) blocks: Init panicked with the registry's lock held")
	}
	r := env.registry(t)
	s := service("rel-nil", "v1", "n1")
	try("Register(s, nil)", func() error { return r.Register(s, nil) })
	try("Deregister(s, nil)", func() error { return r.Deregister(s, nil) })
	try("GetService(name, nil)", func() error { _, err := r.GetService("rel-nil", nil); return err })
	try("ListServices(nil)", func() error { _, err := r.ListServices(nil); return err })
	try("Watch(nil)", func() error {
		w, err := r.Watch(nil)
		if err == nil {
			w.Stop()
		}
		return err
	})
	if len(panics) > 0 {
		t.Fatalf("nil options panic:\n%s", strings.Join(panics, "\n"))
	}
}

// An address with an unbalanced bracket is a typo, not another address: "[::1:8848"
// is taken as the host ::1:8848 on port 8848.
func TestReliabilityUnbalancedBracketAddressIsRefused(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"[::1:8848", "[fe80::1"} {
		r := NewRegistry(registry.Addrs(addr))
		err := r.Init()
		r.(io.Closer).Close()
		mustFailClearly(t, fmt.Sprintf("address %q", addr), err)
	}
}
