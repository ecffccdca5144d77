package nacos

import (
	"testing"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Interoperation with other Nacos clients in one fleet: processes still on the original
// community plugin (github.com/asim/go-micro/plugins/registry/nacos/v3), and readers that
// use a Nacos client directly (Java, Spring Cloud Alibaba, nacos-sdk-go). What they see
// is read here through nacos-sdk-go, the client the original plugin used.

// sdkInstances returns what nacos-sdk-go's SelectAllInstances returns for a service,
// read through r's SDK client, once it lists want instances.
func sdkInstances(t *testing.T, r *nacosRegistry, name string, want int) []model.Instance {
	t.Helper()
	c, err := r.namingClient()
	if err != nil {
		t.Fatal(err)
	}
	var hosts []model.Instance
	eventually(t, within, func() bool {
		hosts, err = c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: name})
		return err == nil && len(hosts) == want
	}, "SelectAllInstances(%q): %d instances (%v), want %d", name, len(hosts), err, want)
	return hosts
}

// The original plugin's GetService took a node's version from the metadata key
// "version" (one Service per instance, Version: Metadata["version"]).
func TestOriginalPluginReadersSeeTheVersion(t *testing.T) {
	env := newEnv(t)
	a, old := env.registry(t), env.registry(t)
	mustRegister(t, a, service("svc", "v2", "n1"))
	for _, h := range sdkInstances(t, old, "svc", 1) {
		if h.Metadata["version"] != "v2" {
			t.Fatalf("the original plugin would read version %q, want v2 (metadata %v)", h.Metadata["version"], h.Metadata)
		}
	}
}

// Instances the original plugin registered are found: its Register sent the first node
// with the version in the metadata and no node id.
func TestFindsWhatTheOriginalPluginRegistered(t *testing.T) {
	env := newEnv(t)
	old, r := env.registry(t), env.registry(t)
	c, err := old.namingClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterInstance(vo.RegisterInstanceParam{
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
