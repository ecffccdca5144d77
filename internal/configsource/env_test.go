package configsource

import (
	"context"
	"testing"
	"time"
)

// The config source's own settings come from the environment too, unless an option
// says; its address falls back on go-micro's MICRO_REGISTRY_ADDRESS when the registry is
// Nacos's.
func TestEnvironmentSetsGroupAddressTimeout(t *testing.T) {
	t.Setenv("MICRO_CONFIG_NACOS_GROUP", "cfg-group")
	t.Setenv("MICRO_CONFIG_NACOS_TIMEOUT", "7s")
	t.Setenv("MICRO_REGISTRY", "nacos")
	t.Setenv("MICRO_REGISTRY_ADDRESS", "reg-host:8848")
	t.Setenv("MICRO_REGISTRY_NACOS_GROUP", "registry-group") // not the config source's
	ctx := context.WithValue(context.Background(), DataIDKey{}, []string{"a.yaml"})
	s, err := newSettings(Options{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if s.group != "cfg-group" || s.timeout != 7*time.Second || s.servers[0].IpAddr != "reg-host" {
		t.Fatalf("group %q timeout %v servers %+v", s.group, s.timeout, s.servers)
	}
	t.Setenv("MICRO_CONFIG_NACOS_ADDRESS", "cfg-host:8848")
	if s, err = newSettings(Options{Context: ctx}); err != nil || s.servers[0].IpAddr != "cfg-host" {
		t.Fatalf("MICRO_CONFIG_NACOS_ADDRESS: %v %+v", err, s.servers)
	}
	ctx = context.WithValue(context.WithValue(context.WithValue(ctx, AddressKey{}, []string{"code-host:8848"}), GroupKey{}, "g"), TimeoutKey{}, time.Second)
	if s, err = newSettings(Options{Context: ctx}); err != nil || s.servers[0].IpAddr != "code-host" || s.group != "g" || s.timeout != time.Second {
		t.Fatalf("options in code did not win: %v %+v", err, s)
	}
	t.Setenv("MICRO_REGISTRY", "etcd")
	t.Setenv("MICRO_CONFIG_NACOS_ADDRESS", "")
	ctx = context.WithValue(context.Background(), DataIDKey{}, []string{"a.yaml"})
	if s, err = newSettings(Options{Context: ctx}); err != nil || s.servers[0].IpAddr != "127.0.0.1" {
		t.Fatalf("the address of another registry was taken: %v %+v", err, s.servers)
	}
}
