package nacos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/broker"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/cmd"
	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/selector"
	"github.com/asim/go-micro/v3/server"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/gomicro3"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacosconfig"
	"github.com/micro-registry/nacos/nacostest"
)

func TestRegisterEveryNodeVisibleToAnotherRegistry(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	if err := a.Register(service("svc", "v1", "n1", "n2")); err != nil {
		t.Fatal(err)
	}
	// A second Register call for the same name must not replace the first nodes, as a
	// plain Nacos register from the same connection would.
	if err := a.Register(service("svc", "v1", "n3")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1,v1/n2,v1/n3" }, "b sees %q", seenBy(b, "svc"))
	if err := a.Deregister(&registry.Service{Name: "svc", Version: "v1", Nodes: []*registry.Node{{Id: "n2"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1,v1/n3" }, "b sees %q", seenBy(b, "svc"))
}

// go-micro's HTTP broker registers one node per subscribed topic, all with the broker's
// address, under one service name and several versions, from one process.
func TestHTTPBrokerPattern(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	topic := func(version, id string) *registry.Service {
		return &registry.Service{Name: "micro.http.broker", Version: version, Nodes: []*registry.Node{{
			Id: id, Address: "127.0.0.1:38187", Metadata: map[string]string{"broker": "http", "secure": "false", "topic": id},
		}}}
	}
	for _, s := range []*registry.Service{topic("ff.http.broadcast", "a-1"), topic("ff.http.broadcast", "b-1"), topic("queue", "c-1")} {
		if err := a.Register(s, registry.RegisterTTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	want := "ff.http.broadcast/a-1,ff.http.broadcast/b-1,queue/c-1"
	eventually(t, within, func() bool { return seen(b, "micro.http.broker") == want }, "b sees %q", seenBy(b, "micro.http.broker"))
	services, _ := b.GetService("micro.http.broker")
	for _, s := range services {
		for _, n := range s.Nodes {
			if n.Address != "127.0.0.1:38187" || n.Metadata["topic"] != n.Id || n.Metadata["broker"] != "http" {
				t.Fatalf("node %+v lost its address or metadata", n)
			}
		}
	}
	if err := a.Deregister(&registry.Service{Name: "micro.http.broker", Version: "ff.http.broadcast", Nodes: []*registry.Node{{Id: "a-1", Address: "127.0.0.1:38187"}}}); err != nil {
		t.Fatal(err)
	}
	want = "ff.http.broadcast/b-1,queue/c-1"
	eventually(t, within, func() bool { return seen(b, "micro.http.broker") == want }, "b sees %q", seenBy(b, "micro.http.broker"))
}

func TestRoundTripThroughNacos(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	in := greeterService(5)
	in.Metadata = map[string]string{"team": "core"}
	in.Nodes = append(in.Nodes, &registry.Node{Id: "bare", Address: "10.1.1.1:1"}) // nil metadata
	other := service("greeter", "2.0.0", "v2")
	if err := a.Register(in); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(other); err != nil {
		t.Fatal(err)
	}
	var got []*registry.Service
	eventually(t, within, func() bool {
		got, _ = b.GetService("greeter")
		return len(got) == 2 && len(got[0].Nodes) == 2
	}, "got %d versions", len(got))
	want := toService(fromService(in), fromService(in).Nodes)
	want.Nodes[1].Metadata = map[string]string{}                // nil metadata comes back empty
	want.Nodes[0], want.Nodes[1] = want.Nodes[1], want.Nodes[0] // sorted by id
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("version 1.0.0 came back different:\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].Version != "2.0.0" || nodeIDs(got[1:]) != "2.0.0/v2" {
		t.Fatalf("version 2.0.0: %+v", got[1])
	}
}

func TestOverBudgetDropsEndpointsWithAWarning(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	log := gomicro3.NewLogRecorder()
	r := env.registry(t, WithLogger(log))
	in := greeterService(3)
	in.Endpoints[0].Metadata["doc"] = randomText(3000)
	if err := r.Register(in); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetService("greeter")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Endpoints != nil || !reflect.DeepEqual(got[0].Nodes[0].Metadata, in.Nodes[0].Metadata) {
		t.Fatalf("want the node with its metadata and no endpoints, got %+v", got[0])
	}
	if !strings.Contains(log.Text(), `warn nacos: service "greeter" version "1.0.0": endpoints left out`) {
		t.Fatalf("no warning naming what was dropped:\n%s", log.Text())
	}
	in.Nodes[0].Metadata["blob"] = strings.Repeat("x", 1024)
	if err := r.Register(in); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("want an over-budget error, got %v", err)
	}
}

func TestCallerServiceIsNotModified(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t)
	in := greeterService(2)
	in.Nodes = append(in.Nodes, &registry.Node{Id: "nil-md", Address: "10.0.0.9:1"})
	before := toService(fromService(in), fromService(in).Nodes)
	if err := r.Register(in, registry.RegisterTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetService("greeter")
	if err != nil {
		t.Fatal(err)
	}
	got[0].Nodes[0].Metadata["x"] = "y" // results are the caller's own
	got[0].Endpoints[0].Name = "changed"
	if err := r.Deregister(in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) || in.Nodes[1].Metadata != nil {
		t.Fatal("Register or Deregister modified the caller's service")
	}
}

func TestUnchangedReRegisterSendsNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	srv := env.embedded(t, "count of the requests it receives")
	r := env.registry(t)
	s := greeterService(20)
	if err := r.Register(s, registry.RegisterTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	quiet(t, srv, r) // the client's start-up event may make the registry publish again
	sent := func() int64 {
		return srv.Requests(nacostest.InstanceRequest) + srv.Requests(nacostest.BatchInstanceRequest)
	}
	before := sent()
	for i := 0; i < 5; i++ {
		if err := r.Register(s, registry.RegisterTTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if n := sent() - before; n != 0 {
		t.Fatalf("unchanged re-registration sent %d requests", n)
	}
	s.Nodes[0].Metadata["changed"] = "yes"
	if err := r.Register(s, registry.RegisterTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := sent() - before; n != 1 {
		t.Fatalf("a changed node sent %d requests, want 1", n)
	}
}

func TestRegisterTTLWithdrawsNodesNotRegisteredAgain(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	seen(b, "svc") // b subscribes first, to see the short-lived node
	connect(t, a)
	if err := a.Register(service("svc", "v1", "short"), registry.RegisterTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(service("svc", "v1", "forever")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/forever,v1/short" }, "b sees %q", seenBy(b, "svc"))
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/forever" }, "the node past its TTL is still seen: %q", seenBy(b, "svc"))

	// Registering again within the TTL keeps a node.
	if err := a.Register(service("svc", "v1", "kept"), registry.RegisterTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(a, "svc") == "v1/forever,v1/kept" }, "a sees %q", seenBy(a, "svc"))
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if err := a.Register(service("svc", "v1", "kept"), registry.RegisterTTL(time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := seen(a, "svc"); got != "v1/forever,v1/kept" {
			t.Fatalf("a node registered within its TTL was withdrawn: %q", got)
		}
	}
}

func TestGetServiceNotFoundAfterLastNodeLeaves(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	if _, err := b.GetService("svc"); err != registry.ErrNotFound {
		t.Fatalf("got %v, want registry.ErrNotFound itself", err)
	}
	if err := a.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "b sees %q", seenBy(b, "svc"))
	if err := a.Deregister(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { _, err := b.GetService("svc"); return err == registry.ErrNotFound }, "the last node is still seen")
}

func TestPushEmptyProtectionKeepsLastNodes(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t, WithPushEmptyProtection(true))
	if err := a.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "b sees %q", seenBy(b, "svc"))
	if err := a.Deregister(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	c := env.registry(t) // without protection: tells when the empty push has been sent
	eventually(t, within, func() bool { _, err := c.GetService("svc"); return err == registry.ErrNotFound }, "deregister not seen")
	if got := seen(b, "svc"); got != "v1/n1" {
		t.Fatalf("with push-empty protection the last node must stay, got %q", got)
	}
}

func TestGetServiceIsServedFromThePushedState(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	srv := env.embedded(t, "count of the requests it receives")
	r := env.registry(t)
	if err := r.Register(service("svc", "v1", "n1", "n2")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetService("svc"); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests(nacostest.SubscribeServiceRequest) + srv.Requests(nacostest.ServiceQueryRequest)
	for i := 0; i < 100; i++ {
		got, err := r.GetService("svc")
		if err != nil || nodeIDs(got) != "v1/n1,v1/n2" {
			t.Fatalf("got %q, %v", nodeIDs(got), err)
		}
		got[0].Nodes = nil // the caller owns the result
	}
	if n := srv.Requests(nacostest.SubscribeServiceRequest) + srv.Requests(nacostest.ServiceQueryRequest) - before; n != 0 {
		t.Fatalf("cached lookups sent %d requests", n)
	}
}

func TestListServicesReadsEveryPage(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t)
	const n = 1200
	for i := 0; i < n; i++ {
		if err := r.Register(service(fmt.Sprintf("svc-%04d", i), "v1", "n")); err != nil {
			t.Fatal(err)
		}
	}
	list, err := r.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n || list[0].Name != "svc-0000" || list[n-1].Name != "svc-1199" {
		t.Fatalf("listed %d services, want %d", len(list), n)
	}
	page, err := r.ListServices(ListParam(vo.GetAllServiceInfoParam{PageNo: 2, PageSize: 10}))
	if err != nil || len(page) != 10 {
		t.Fatalf("one page: %d services, %v", len(page), err)
	}
}

func TestPerCallParams(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	err := a.Register(service("svc", "v1", "blue"), RegisterParam(vo.RegisterInstanceParam{
		GroupName: "team-a", ClusterName: "blue", Weight: 5, Metadata: map[string]string{"zone": "z1", "node": "overridden"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	// The original plugin's string key works as well as the typed option.
	ctx := core.WithParam(context.Background(), core.RegisterInstanceParamKey, vo.RegisterInstanceParam{GroupName: "team-a", ClusterName: "green"})
	if err := a.Register(service("svc", "v1", "green"), registry.RegisterContext(ctx)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetService("svc"); err != registry.ErrNotFound {
		t.Fatalf("the default group must not see team-a's service: %v", err)
	}
	inGroup := GetParam(vo.GetServiceParam{GroupName: "team-a"})
	eventually(t, within, func() bool {
		got, _ := b.GetService("svc", inGroup)
		return nodeIDs(got) == "v1/blue,v1/green"
	}, "team-a not seen")
	blue, err := b.GetService("svc", GetParam(vo.GetServiceParam{GroupName: "team-a", Clusters: []string{"blue"}}))
	if err != nil || nodeIDs(blue) != "v1/blue" {
		t.Fatalf("cluster filter: %q, %v", nodeIDs(blue), err)
	}
	if md := blue[0].Nodes[0].Metadata; md["zone"] != "z1" || md["node"] != "blue" {
		t.Fatalf("extra metadata must be added under the node's own: %v", md)
	}
	if srv := env.srv; srv != nil {
		for _, in := range srv.Instances("", "team-a", "svc") {
			if in.Cluster == "blue" && in.Weight != 5 {
				t.Fatalf("weight %v, want 5", in.Weight)
			}
		}
	}
	list, err := b.ListServices(ListParam(vo.GetAllServiceInfoParam{GroupName: "team-a"}))
	if err != nil || len(list) != 1 || list[0].Name != "svc" {
		t.Fatalf("list team-a: %v, %v", list, err)
	}
	err = a.Deregister(service("svc", "v1", "blue"), DeregisterParam(vo.DeregisterInstanceParam{GroupName: "team-a"}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { got, _ := b.GetService("svc", inGroup); return nodeIDs(got) == "v1/green" }, "deregister in team-a not seen")
}

func TestInitMovesEverythingToTheNewServer(t *testing.T) {
	t.Parallel()
	// From the Nacos under test to a second, embedded one, in the same namespace.
	one := newEnv(t)
	two := embeddedEnv(t)
	two.namespace = one.namespace
	r := one.registry(t)
	if err := r.Register(service("svc", "v1", "n1", "n2")); err != nil {
		t.Fatal(err)
	}
	if err := r.Init(registry.Addrs(two.addr)); err != nil {
		t.Fatal(err)
	}
	observer := two.registry(t)
	eventually(t, within, func() bool { return seen(observer, "svc") == "v1/n1,v1/n2" }, "the nodes did not move")
	eventually(t, within, func() bool { return one.count(t, one.namespace, "", "svc") == 0 }, "the old client was not closed")
	if got := r.Options().Addrs; len(got) != 1 || got[0] != two.addr {
		t.Fatalf("Options().Addrs = %v", got)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	env, user, password := authEnv(t, "nacos", "s3cret-pw")
	good := env.registry(t, WithAuth(user, password))
	if err := good.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	log := gomicro3.NewLogRecorder()
	bad := env.registry(t, WithAuth(user, "wrong-password"), WithLogger(log))
	err := bad.Register(service("svc", "v1", "n2"))
	if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Fatalf("wrong credentials: want a clear error, got %v", err)
	}
	if _, err := bad.GetService("svc"); err == nil || err == registry.ErrNotFound || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("wrong credentials: GetService must say the login was refused, got %v", err)
	}
	if got := seen(good, "svc"); got != "v1/n1" {
		t.Fatalf("a refused registration changed what is registered: %q", got)
	}
	if strings.Contains(err.Error(), "wrong-password") || strings.Contains(log.Text(), "wrong-password") {
		t.Fatal("the password appears in an error or a log line")
	}
}

func TestBlankImportWithFlagsAndEnv(t *testing.T) {
	env := newEnv(t)
	run := func(args ...string) registry.Registry {
		t.Helper()
		var reg registry.Registry = placeholder{}
		srv, cli, sel, brk := server.NewServer(), client.NewClient(), selector.NewSelector(), broker.NewBroker()
		c := cmd.NewCmd(cmd.Registry(&reg), cmd.Server(&srv), cmd.Client(&cli), cmd.Selector(&sel), cmd.Broker(&brk))
		if err := c.App().Run(append([]string{"svc"}, args...)); err != nil {
			t.Fatal(err)
		}
		if reg.String() != "nacos" || srv.Options().Registry != reg {
			t.Fatalf("the service uses registry %q", reg.String())
		}
		t.Cleanup(func() { reg.(io.Closer).Close() })
		return reg
	}
	check := func(r registry.Registry) {
		t.Helper()
		if env.namespace != "" {
			r.Init(WithNamespace(env.namespace))
		}
		if err := r.Register(service("flagged", "v1", "n1")); err != nil {
			t.Fatal(err)
		}
		if got := seen(r, "flagged"); got != "v1/n1" {
			t.Fatalf("sees %q", got)
		}
		r.Deregister(service("flagged", "v1", "n1"))
	}
	check(run("--registry", "nacos", "--registry_address", env.addr))

	t.Setenv("MICRO_REGISTRY", "nacos")
	t.Setenv("MICRO_REGISTRY_ADDRESS", env.addr+", "+env.addr) // cmd does not trim the spaces
	check(run())
}

func TestBadInputIsRefusedAndLosesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t)
	good := service("svc", "v1", "keep")
	if err := r.Register(good); err != nil {
		t.Fatal(err)
	}
	node := func(addr string) *registry.Service {
		return &registry.Service{Name: "svc", Version: "v1", Nodes: []*registry.Node{{Id: "bad", Address: addr}}}
	}
	named := func(name string) *registry.Service { s := service(name, "v1", "bad"); return s }
	cases := map[string]func() error{
		"nil service":           func() error { return r.Register(nil) },
		"empty name":            func() error { return r.Register(named("")) },
		"no nodes":              func() error { return r.Register(&registry.Service{Name: "svc"}) },
		"nil node":              func() error { return r.Register(&registry.Service{Name: "svc", Nodes: []*registry.Node{nil}}) },
		"no port":               func() error { return r.Register(node("10.0.0.1")) },
		"non-numeric port":      func() error { return r.Register(node("10.0.0.1:http")) },
		"port out of range":     func() error { return r.Register(node("10.0.0.1:70000")) },
		"port 0":                func() error { return r.Register(node("10.0.0.1:0")) },
		"name with @@":          func() error { return r.Register(named("a@@b")) },
		"name with a space":     func() error { return r.Register(named("a b")) },
		"CJK name":              func() error { return r.Register(named("服务")) },
		"group Nacos rejects":   func() error { return r.Register(good, RegisterParam(vo.RegisterInstanceParam{GroupName: "a/b"})) },
		"cluster Nacos rejects": func() error { return r.Register(good, RegisterParam(vo.RegisterInstanceParam{ClusterName: "a.b"})) },
		"weight NaN":            func() error { return r.Register(good, RegisterParam(vo.RegisterInstanceParam{Weight: math.NaN()})) },
		"negative TTL":          func() error { return r.Register(good, registry.RegisterTTL(-time.Second)) },
		"deregister nil":        func() error { return r.Deregister(nil) },
		"deregister no nodes":   func() error { return r.Deregister(&registry.Service{Name: "svc"}) },
		"deregister without id": func() error { s := node("10.0.0.1:1"); s.Nodes[0].Id = ""; return r.Deregister(s) },
		"get empty name":        func() error { _, err := r.GetService(""); return err },
		"get bad cluster": func() error {
			_, err := r.GetService("svc", GetParam(vo.GetServiceParam{Clusters: []string{"a,b"}}))
			return err
		},
		"watch bad name":         func() error { _, err := r.Watch(registry.WatchService("@x")); return err },
		"list page without size": func() error { _, err := r.ListServices(ListParam(vo.GetAllServiceInfoParam{PageNo: 1})); return err },
	}
	for name, call := range cases {
		if err := call(); err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
			t.Errorf("%s: want a nacos: error, got %v", name, err)
		}
	}
	if got := seen(env.registry(t), "svc"); got != "v1/keep" {
		t.Fatalf("after bad input the registered node is %q", got)
	}
	if srv := env.srv; srv != nil {
		if got := srv.Instances("", "", "svc"); len(got) != 1 {
			t.Fatalf("the server holds %d instances", len(got))
		}
	}
}

func TestBadOptionsNeverPanic(t *testing.T) {
	t.Parallel()
	cases := map[string][]registry.Option{
		"negative timeout":     {registry.Timeout(-time.Second)},
		"weight 0":             {WithWeight(0)},
		"weight NaN":           {WithWeight(math.NaN())},
		"weight over 10000":    {WithWeight(10001)},
		"empty address list":   {WithAddress([]string{})},
		"empty address":        {registry.Addrs("")},
		"malformed URL":        {registry.Addrs("http://[::1")},
		"unsupported scheme":   {registry.Addrs("ftp://nacos:8848")},
		"port out of range":    {registry.Addrs("nacos:70000")},
		"no gRPC port":         {registry.Addrs("nacos:65000")},
		"bad namespace":        {WithNamespace("a b")},
		"bad group":            {WithGroup("a@@b")},
		"bad cluster":          {WithCluster("a,b")},
		"zero metadata budget": {WithMetadataBudget(0)},
		"zero interval":        {WithDiscoveryInterval(0)},
		"auth without user":    {WithAuth("", "x")},
		"half an access key":   {WithAccessKey("ak", "")},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewRegistry(opts...)
			defer r.(io.Closer).Close()
			calls := []error{
				r.Init(),
				r.Register(service("svc", "v1", "n")),
				r.Deregister(service("svc", "v1", "n")),
			}
			_, err := r.GetService("svc")
			calls = append(calls, err)
			_, err = r.ListServices()
			calls = append(calls, err)
			_, err = r.Watch()
			calls = append(calls, err)
			for i, err := range calls {
				if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
					t.Fatalf("call %d: want a nacos: error, got %v", i, err)
				}
			}
		})
	}
}

// Deregister in a group where this registry registered nothing changes nothing, and
// says so at debug level.
func TestDeregisterOfNothingSaysSo(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	log := gomicro3.NewLogRecorder()
	r := env.registry(t, WithLogger(log))
	if err := r.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	if err := r.Deregister(service("svc", "v1", "n1"), DeregisterParam(vo.DeregisterInstanceParam{GroupName: "elsewhere"})); err != nil {
		t.Fatalf("Deregister in another group: %v", err)
	}
	if !strings.Contains(log.Text(), `debug nacos: deregister service "svc": this registry registered nothing under that name in group "elsewhere"`) {
		t.Fatalf("no debug line says that nothing was deregistered:\n%s", log.Text())
	}
	if got := seen(env.registry(t), "svc"); got != "v1/n1" {
		t.Fatalf("after Deregister in another group the registered node is %q", got)
	}
}

func TestAddressForms(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"10.0.0.1:8848":               "http://10.0.0.1:8848/nacos",
		" nacos ":                     "http://nacos:8848/nacos",
		"[::1]:9000":                  "http://::1:9000/nacos",
		"::1":                         "http://::1:8848/nacos",
		"http://nacos":                "http://nacos:8848/nacos",
		"https://nacos:443/ctx/":      "https://nacos:443/ctx",
		"http://nacos.example.com:80": "http://nacos.example.com:80/nacos",
	}
	for in, want := range cases {
		sc, err := parseAddr(strings.TrimSpace(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := fmt.Sprintf("%s://%s:%d%s", sc.Scheme, sc.IpAddr, sc.Port, sc.ContextPath); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
	if _, err := parseAddr("http://user:pw@nacos"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("credentials in a URL: want an error that does not repeat them, got %v", err)
	}
}

func TestClosedRegistry(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t)
	if err := r.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	w, err := r.Watch(registry.WatchService("svc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Close(r); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := Close(struct{ registry.Registry }{}); err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Fatalf("Close of a registry that cannot be closed: %v", err)
	}
	if _, err := w.Next(); err != registry.ErrWatcherStopped {
		t.Fatalf("watcher after Close: %v", err)
	}
	if err := r.Register(service("svc", "v1", "n2")); err != core.ErrClosed {
		t.Fatalf("Register after Close: %v", err)
	}
	if _, err := r.GetService("svc"); err != core.ErrClosed {
		t.Fatalf("GetService after Close: %v", err)
	}
	if srv := env.srv; srv != nil {
		eventually(t, within, func() bool { return srv.Connections() == 0 && len(srv.Instances("", "", "svc")) == 0 }, "Close left the connection or its nodes")
	}
}

// By default nacos-sdk-go writes log/ and cache/ beside the executable; the plugin
// writes nothing.
func TestWritesNoFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Dir(os.Args[0])
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	if err := a.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "not seen")
	for _, sub := range []string{"log", "cache"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s/ exists beside the executable (%v)", sub, err)
		}
	}
}

// placeholder stands for the registry a service has before cmd replaces it.
type placeholder struct{ registry.Registry }

func (placeholder) String() string { return "placeholder" }

// A service configured through the environment alone, as a twelve-factor deployment
// does (go-micro's MICRO_REGISTRY variables, and the plugin's for what go-micro has no
// variable for), reaches an auth-on Nacos in a namespace, group and cluster of its own;
// and so does a config source.
func TestAuthNamespaceGroupClusterFromTheEnvironmentAlone(t *testing.T) {
	env, user, pass := authEnv(t, "nacos", "env-secret")
	namespace := env.namespace
	if namespace == "" {
		namespace = "env-ns" // the embedded server takes any namespace
	}
	for name, value := range map[string]string{
		"MICRO_REGISTRY": "nacos", "MICRO_REGISTRY_ADDRESS": env.addr,
		"MICRO_REGISTRY_NACOS_NAMESPACE": namespace, "MICRO_REGISTRY_NACOS_GROUP": "ENV_GROUP",
		"MICRO_REGISTRY_NACOS_CLUSTER":  "env-cluster",
		"MICRO_REGISTRY_NACOS_USERNAME": user, "MICRO_REGISTRY_NACOS_PASSWORD": pass,
	} {
		t.Setenv(name, value)
	}
	var reg registry.Registry = placeholder{}
	srv := server.NewServer()
	c := cmd.NewCmd(cmd.Registry(&reg), cmd.Server(&srv))
	if err := c.App().Run([]string{"svc"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(reg) })
	s := service("from-env", "v1", "n1")
	mustRegister(t, reg, s)
	held := func() []model.Instance {
		if env.srv != nil {
			return env.instances(t, namespace, "ENV_GROUP", "from-env")
		}
		return testkit.Instances(t, env.addr, namespace, "ENV_GROUP", "from-env", "env-cluster")
	}
	if got := seen(reg, "from-env"); got != "v1/n1" {
		t.Fatalf("the registry sees %q", got)
	}
	eventually(t, within, func() bool { return len(held()) == 1 }, "Nacos holds %s instances of from-env in namespace %s, group ENV_GROUP", func() string { return fmt.Sprint(len(held())) }, namespace)
	if cluster := held()[0].ClusterName; cluster != "env-cluster" {
		t.Fatalf("the instance is in cluster %q, want env-cluster", cluster)
	}

	// The config source takes the connection's settings from the registry's variables.
	t.Setenv("MICRO_CONFIG_NACOS_GROUP", "ENV_GROUP")
	src := nacosconfig.NewSource(nacosconfig.WithDataID("env.yaml"))
	t.Cleanup(func() { nacosconfig.Close(src) })
	if err := src.Write(&source.ChangeSet{Data: []byte("greeting: env\n"), Format: "yaml"}); err != nil {
		t.Fatal(err)
	}
	var read string
	eventually(t, within, func() bool {
		cs, err := src.Read()
		read = fmt.Sprint(cs, err)
		return err == nil && strings.Contains(string(cs.Data), `"greeting":"env"`)
	}, "the config source read %s", func() string { return read })
}
