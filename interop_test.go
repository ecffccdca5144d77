package nacos

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Interoperation with other Nacos clients in one fleet: processes still on the original
// community plugin (github.com/asim/go-micro/plugins/registry/nacos/v3), and readers that
// use a Nacos client directly (Java, Spring Cloud Alibaba, nacos-sdk-go). What they see
// is read here through nacos-sdk-go, the client the original plugin used.

// sdkInstances returns what nacos-sdk-go's SelectAllInstances returns for a service ("" is
// DEFAULT_GROUP), read through r's SDK client, once it lists want instances.
func sdkInstances(t *testing.T, r *nacosRegistry, group, name string, want int) []model.Instance {
	t.Helper()
	c := sdkOf(t, r)
	var hosts []model.Instance
	var err error
	eventually(t, within, func() bool {
		hosts, err = c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: name, GroupName: group})
		return err == nil && len(hosts) == want
	}, "SelectAllInstances(%q): %d instances (%v), want %d", name, len(hosts), err, want)
	return hosts
}

// The original plugin's GetService took a node's version from the metadata key
// "version" (one Service per instance, Version: Metadata["version"]).
func TestOriginalPluginReadersSeeTheVersion(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, old := env.registry(t), env.registry(t)
	mustRegister(t, a, service("svc", "v2", "n1"))
	for _, h := range sdkInstances(t, old, "", "svc", 1) {
		if h.Metadata["version"] != "v2" {
			t.Fatalf("the original plugin would read version %q, want v2 (metadata %v)", h.Metadata["version"], h.Metadata)
		}
	}
}

// Instances the original plugin registered are found: its Register sent the first node
// with the version in the metadata and no node id.
func TestFindsWhatTheOriginalPluginRegistered(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	old, r := env.registry(t), env.registry(t)
	if _, err := sdkOf(t, old).RegisterInstance(vo.RegisterInstanceParam{
		Ip: "10.0.0.9", Port: 8080, ServiceName: "legacy", Weight: 1, Enable: true, Healthy: true, Ephemeral: true,
		Metadata: map[string]string{"version": "old", "protocol": "mucp"},
	}); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, service("legacy", "new", "n1"))
	var got []*registry.Service
	eventually(t, within, func() bool {
		got, _ = r.GetService("legacy")
		return len(got) == 2
	}, "GetService(legacy): %d versions, want the original plugin's and this registry's", len(got))
	n := got[1].Nodes[0]
	if got[1].Version != "old" || n.Address != "10.0.0.9:8080" || n.Metadata["protocol"] != "mucp" || n.Id == "" {
		t.Fatalf("the original plugin's instance came back as version %q, node %+v", got[1].Version, n)
	}
	if got[0].Version != "new" || got[0].Nodes[0].Id != "n1" {
		t.Fatalf("this registry's node came back as version %q, node %+v", got[0].Version, got[0].Nodes[0])
	}
}

// Code written for the original plugin passes a whole vo.RegisterInstanceParam under
// register_instance_param, and the plugin registered exactly that. Here it applies to
// every node of the service, with two deliberate differences: the service name comes
// from the go-micro service, and the instance is ephemeral whatever the param says.
func TestOriginalPluginsRegisterParam(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t, WithGroup("blue"))
	p := vo.RegisterInstanceParam{
		Ip: "10.1.2.3", Port: 9090, Weight: 2, Enable: true, Healthy: true, Ephemeral: false,
		Metadata: map[string]string{"zone": "z1"}, ClusterName: "east", GroupName: "blue", ServiceName: "ignored",
	}
	s := service("svc", "v1", "n1")
	//lint:ignore SA1029 the original plugin's string key is the API under test
	if err := a.Register(s, registry.RegisterContext(context.WithValue(context.Background(), "register_instance_param", p))); err != nil {
		t.Fatal(err)
	}
	h := sdkInstances(t, b, "blue", "svc", 1)[0]
	if h.Ip != "10.1.2.3" || h.Port != 9090 || h.Weight != 2 || !h.Enable || !h.Healthy || h.ClusterName != "east" || h.Metadata["zone"] != "z1" {
		t.Fatalf("the param was not applied: %+v", h)
	}
	if !h.Ephemeral {
		t.Fatalf("the instance must stay ephemeral (its liveness is the connection): %+v", h)
	}
	got, err := b.GetService("svc")
	if err != nil || got[0].Nodes[0].Address != "10.1.2.3:9090" || got[0].Nodes[0].Metadata["zone"] != "z1" {
		t.Fatalf("GetService: %v %+v", err, got)
	}

	// Enable false registers the node as not serving: nobody is given it.
	p.Enable = false
	if err := a.Register(s, RegisterParam(p)); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { _, err := b.GetService("svc"); return err == registry.ErrNotFound },
		"a node registered with Enable false is still served")

	// Both flags false is the zero value of a param that only names a group: the node
	// is healthy and enabled.
	if err := a.Register(s, RegisterParam(vo.RegisterInstanceParam{GroupName: "blue"})); err != nil {
		t.Fatal(err)
	}
	eventually(t, within, func() bool { return seen(b, "svc") == "v1/n1" }, "b sees %q", seenBy(b, "svc"))
}

func TestRegisterParamBadAddress(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t)
	for _, p := range []vo.RegisterInstanceParam{{Ip: "主机"}, {Ip: "a b"}, {Port: 65536}} {
		err := r.Register(service("svc", "v1", "n1"), RegisterParam(p))
		if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
			t.Fatalf("%+v: want a nacos: error, got %v", p, err)
		}
	}
	if _, err := r.GetService("svc"); err != registry.ErrNotFound {
		t.Fatalf("a refused Register registered something: %v", err)
	}
}

// Java clients and Spring Cloud Alibaba key instances by ip:port. go-micro's HTTP
// broker registers one node per topic, all at the broker's address: Nacos keeps them all
// (its instances differ in metadata), so a reader gets several instances with one
// address and one instance id, told apart only by micro.id (docs/wire-format.md, "Java and Spring
// Cloud readers").
func TestForeignReadersOfNodesSharingAnAddress(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a, reader := env.registry(t), env.registry(t)
	for _, n := range []struct{ version, id string }{{"ff.http.broadcast", "a-1"}, {"ff.http.broadcast", "b-1"}, {"queue", "c-1"}} {
		mustRegister(t, a, &registry.Service{Name: "micro.http.broker", Version: n.version, Nodes: []*registry.Node{{
			Id: n.id, Address: "127.0.0.1:38187", Metadata: map[string]string{"broker": "http", "topic": n.id},
		}}})
	}
	hosts := sdkInstances(t, reader, "", "micro.http.broker", 3)
	ids := map[string]string{}
	for _, h := range hosts {
		if h.Ip != "127.0.0.1" || h.Port != 38187 || h.InstanceId != hosts[0].InstanceId {
			t.Fatalf("want one address and one instance id for all, got %+v", hosts)
		}
		ids[h.Metadata["micro.id"]] = h.Metadata["version"]
	}
	if want := map[string]string{"a-1": "ff.http.broadcast", "b-1": "ff.http.broadcast", "c-1": "queue"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("nodes by micro.id and version: %v, want %v", ids, want)
	}
}
