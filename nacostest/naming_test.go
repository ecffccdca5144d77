package nacostest

import (
	"reflect"
	"testing"
	"time"

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
	if got := srv.Instances("", "", "orders"); !reflect.DeepEqual(got, []model.Instance{want}) {
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
