package nacostest

import (
	"reflect"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

func TestRegisterQuerySubscribeDeregister(t *testing.T) {
	srv := newServer(t)
	publisher := newClient(t, []string{srv.Addr()})
	reader := newClient(t, []string{srv.Addr()})

	register(t, publisher, instance("orders", "10.0.0.1", 8080, map[string]string{"version": "1"}))

	want := model.Instance{
		InstanceId:                "10.0.0.1#8080##DEFAULT_GROUP@@orders",
		Ip:                        "10.0.0.1",
		Port:                      8080,
		Weight:                    1,
		Healthy:                   true,
		Enable:                    true,
		Ephemeral:                 true,
		ClusterName:               "DEFAULT",
		ServiceName:               "DEFAULT_GROUP@@orders",
		Metadata:                  map[string]string{"version": "1"},
		InstanceHeartBeatInterval: 5000,
		IpDeleteTimeout:           30000,
		InstanceHeartBeatTimeOut:  15000,
	}
	held := Instance{ID: want.InstanceId, IP: want.Ip, Port: want.Port, Weight: want.Weight, Healthy: want.Healthy, Enabled: want.Enable,
		Ephemeral: want.Ephemeral, Cluster: want.ClusterName, Metadata: want.Metadata}
	if got := srv.Instances("", "", "orders"); !reflect.DeepEqual(got, []Instance{held}) {
		t.Fatalf("server holds %+v, want %+v", got, want)
	}

	got, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "orders"})
	if err != nil || !reflect.DeepEqual(got, []model.Instance{want}) {
		t.Fatalf("SelectAllInstances = %+v, %v; want %+v", got, err, want)
	}
	if n := srv.Subscribers("public", "DEFAULT_GROUP", "orders"); n != 1 {
		t.Fatalf("Subscribers = %d after a select, want 1 (selects subscribe)", n)
	}

	w := watch(t, reader, "orders")
	register(t, publisher, instance("orders", "10.0.0.1", 8080, map[string]string{"version": "2"}))
	eventually(t, 5*time.Second, func() bool {
		last, _ := w.latest()
		return len(last) == 1 && last[0].Metadata["version"] == "2"
	})

	ok, err := publisher.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "orders", Ip: "10.0.0.1", Port: 8080, Ephemeral: true})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance = %v, %v", ok, err)
	}
	eventually(t, 5*time.Second, func() bool { return w.sees() })
	if !holds(srv, "orders") {
		t.Fatalf("server still holds %+v", srv.Instances("", "", "orders"))
	}
	if names := srv.Services("", ""); !reflect.DeepEqual(names, []string{"orders"}) {
		t.Fatalf("Services = %v; a service stays listed after its last instance left", names)
	}
}

func TestServiceListPagesAndGroups(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()})
	for _, name := range []string{"e", "c", "a", "d", "b"} {
		register(t, client, instance(name, "10.0.0.1", 8080, nil))
	}
	other := instance("x", "10.0.0.1", 8080, nil)
	other.GroupName = "OTHER"
	register(t, client, other)

	for _, tc := range []struct {
		pageNo, pageSize uint32
		want             []string
	}{
		{1, 2, []string{"a", "b"}},
		{2, 2, []string{"c", "d"}},
		{3, 2, []string{"e"}},
		{4, 2, []string{}},
		{1, 0, []string{}}, // as Java: pageSize 0 is nothing
	} {
		list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: tc.pageNo, PageSize: tc.pageSize})
		if err != nil || list.Count != 5 || !reflect.DeepEqual(list.Doms, tc.want) {
			t.Errorf("page %d size %d = %+v, %v; want count 5, %v", tc.pageNo, tc.pageSize, list, err, tc.want)
		}
	}
	list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{GroupName: "OTHER", PageNo: 1, PageSize: 10})
	if err != nil || list.Count != 1 || !reflect.DeepEqual(list.Doms, []string{"x"}) {
		t.Errorf("group OTHER = %+v, %v; want [x]", list, err)
	}
}

func TestOnePublicationPerServicePerConnection(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()})

	register(t, client, instance("svc", "10.0.0.1", 1, nil))
	register(t, client, instance("svc", "10.0.0.2", 2, nil))
	if !holds(srv, "svc", "10.0.0.2:2") {
		t.Fatalf("a second register from the same connection must replace the first: %+v", srv.Instances("", "", "svc"))
	}
	register(t, client, instance("other", "10.0.0.3", 3, nil)) // another service: its own slot
	if !holds(srv, "svc", "10.0.0.2:2") || !holds(srv, "other", "10.0.0.3:3") {
		t.Fatalf("services must not share a slot: svc %+v, other %+v", srv.Instances("", "", "svc"), srv.Instances("", "", "other"))
	}

	// A deregister removes the connection's publication, whatever it names.
	ok, err := client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "svc", Ip: "192.168.9.9", Port: 9, Ephemeral: true})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance = %v, %v", ok, err)
	}
	if !holds(srv, "svc") {
		t.Fatalf("deregister left %+v", srv.Instances("", "", "svc"))
	}
	// Deregistering what was never published succeeds.
	ok, err = client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "never", Ip: "10.0.0.1", Port: 1, Ephemeral: true})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance of an unknown service = %v, %v; want success", ok, err)
	}
}

func TestBatchRegisterReplacesTheSet(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()})
	batch := func(instances ...vo.RegisterInstanceParam) {
		t.Helper()
		ok, err := client.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: "svc", Instances: instances})
		if err != nil || !ok {
			t.Fatalf("BatchRegisterInstance = %v, %v", ok, err)
		}
	}

	batch(instance("svc", "10.0.0.1", 1, nil), instance("svc", "10.0.0.2", 2, nil))
	if !holds(srv, "svc", "10.0.0.1:1", "10.0.0.2:2") {
		t.Fatalf("after first batch: %+v", srv.Instances("", "", "svc"))
	}
	batch(instance("svc", "10.0.0.3", 3, nil))
	if !holds(srv, "svc", "10.0.0.3:3") {
		t.Fatalf("a batch must replace the previous set: %+v", srv.Instances("", "", "svc"))
	}
	register(t, client, instance("svc", "10.0.0.4", 4, nil))
	if !holds(srv, "svc", "10.0.0.4:4") {
		t.Fatalf("a register must replace the batch: %+v", srv.Instances("", "", "svc"))
	}
}

func TestSameAddressDifferentInstancesAreKept(t *testing.T) {
	srv := newServer(t)
	a := newClient(t, []string{srv.Addr()})
	b := newClient(t, []string{srv.Addr()})
	v := func(version string) map[string]string { return map[string]string{"version": version} }

	ok, err := a.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: "svc", Instances: []vo.RegisterInstanceParam{
		instance("svc", "10.0.0.1", 80, v("1")), instance("svc", "10.0.0.1", 80, v("2")),
	}})
	if err != nil || !ok {
		t.Fatalf("BatchRegisterInstance = %v, %v", ok, err)
	}
	register(t, b, instance("svc", "10.0.0.1", 80, v("3")))
	got := srv.Instances("", "", "svc")
	if len(got) != 3 || got[0].Metadata["version"] != "1" || got[1].Metadata["version"] != "2" || got[2].Metadata["version"] != "3" {
		t.Fatalf("want three instances on 10.0.0.1:80 sorted by metadata, got %+v", got)
	}

	// Identical whole instances collapse into one, and it stays while any
	// connection still publishes it.
	register(t, b, instance("svc", "10.0.0.1", 80, v("1")))
	if got := srv.Instances("", "", "svc"); len(got) != 2 {
		t.Fatalf("identical instances must collapse: %+v", got)
	}
	a.CloseClient()
	eventually(t, 5*time.Second, func() bool {
		got := srv.Instances("", "", "svc")
		return len(got) == 1 && got[0].Metadata["version"] == "1"
	})
}

func TestEphemeralInstancesLeaveWithTheirConnection(t *testing.T) {
	srv := newServer(t)
	publisher := newClient(t, []string{srv.Addr()})
	reader := newClient(t, []string{srv.Addr()})
	register(t, publisher, instance("svc", "10.0.0.1", 80, nil))
	w := watch(t, reader, "svc")
	eventually(t, 5*time.Second, func() bool { return w.sees("10.0.0.1:80") })

	publisher.CloseClient()
	eventually(t, 5*time.Second, func() bool { return w.sees() })
	if !holds(srv, "svc") {
		t.Fatalf("server still holds %+v", srv.Instances("", "", "svc"))
	}
	eventually(t, 5*time.Second, func() bool { return srv.Connections() == 1 })
}

func TestDisabledInstancesAreStoredButNotServed(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, []string{srv.Addr()})
	disabled := instance("svc", "10.0.0.1", 80, nil)
	disabled.Enable = false
	register(t, client, disabled)
	if got := srv.Instances("", "", "svc"); len(got) != 1 || got[0].Enabled {
		t.Fatalf("server holds %+v, want the disabled instance", got)
	}
	// Like Java, subscribers only get enabled instances.
	got, err := client.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "svc"})
	if err != nil || len(got) != 0 {
		t.Fatalf("SelectAllInstances = %+v, %v; want none", got, err)
	}
}

func TestNamespacesAreIsolated(t *testing.T) {
	srv := newServer(t)
	public := newClient(t, []string{srv.Addr()})
	dev := newClient(t, []string{srv.Addr()}, func(c *constant.ClientConfig) { c.NamespaceId = "dev" })
	register(t, public, instance("svc", "10.0.0.1", 80, nil))
	register(t, dev, instance("svc", "10.0.0.2", 80, nil))

	if !sameHeld(srv.Instances("public", "", "svc"), "10.0.0.1:80") || !sameHeld(srv.Instances("dev", "", "svc"), "10.0.0.2:80") {
		t.Fatalf("public %+v, dev %+v", srv.Instances("public", "", "svc"), srv.Instances("dev", "", "svc"))
	}
	if !sameHeld(srv.Instances("", "DEFAULT_GROUP", "svc"), "10.0.0.1:80") {
		t.Fatalf(`namespace "" must be "public"`)
	}
	got, err := dev.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "svc"})
	if err != nil || !sameAddrs(got, "10.0.0.2:80") {
		t.Fatalf("dev sees %+v, %v", got, err)
	}
	list, err := dev.GetAllServicesInfo(vo.GetAllServiceInfoParam{NameSpace: "dev", PageNo: 1, PageSize: 10})
	if err != nil || list.Count != 1 {
		t.Fatalf("dev lists %+v, %v", list, err)
	}
	if n := srv.Subscribers("public", "", "svc"); n != 0 {
		t.Fatalf("dev's subscription leaked into public: %d subscribers", n)
	}
}
