package nacos

import (
	"crypto/tls"
	"crypto/x509"
	"github.com/micro-registry/nacos/internal/core"
	"strings"
	"testing"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// parseAddr is the address parser the registry shares with the config source.
var parseAddr = sdkclient.ParseAddr

// sdkConfig is what these options make of the SDK's configuration.
type sdkConfig struct {
	servers []constant.ServerConfig
	client  constant.ClientConfig
}

func configOf(t *testing.T, opts ...registry.Option) (*sdkConfig, error) {
	t.Helper()
	var o registry.Options
	for _, opt := range opts {
		opt(&o)
	}
	s, err := core.NewSettings(coreOptions(o))
	if err != nil {
		return nil, err
	}
	servers, client := s.SDKConfig()
	return &sdkConfig{servers, client}, nil
}

// A tls.Config carrying certificates in memory cannot reach the SDK, which reads them
// from files: it is refused, pointing to WithTLS, rather than dropped silently.
func TestTLSCertificatesInMemoryAreRefused(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]*tls.Config{
		"RootCAs":      {RootCAs: x509.NewCertPool()},
		"Certificates": {Certificates: []tls.Certificate{{}}},
	} {
		_, err := configOf(t, registry.TLSConfig(tc))
		if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") || !strings.Contains(err.Error(), "WithTLS") {
			t.Errorf("%s: want a nacos: error pointing to WithTLS, got %v", name, err)
		}
		r := NewRegistry(registry.TLSConfig(tc))
		if err := r.Register(service("svc", "v1", "n")); err == nil || !strings.Contains(err.Error(), "WithTLS") {
			t.Errorf("%s: Register: want the refusal, got %v", name, err)
		}
		r.(*nacosRegistry).Close()
	}
	cfg, err := configOf(t, WithTLS(constant.TLSConfig{CaFile: "/etc/nacos/ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}),
		registry.TLSConfig(&tls.Config{ServerName: "nacos.internal"}))
	if err != nil {
		t.Fatal(err)
	}
	want := constant.TLSConfig{Appointed: true, Enable: true, CaFile: "/etc/nacos/ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerNameOverride: "nacos.internal"}
	if cfg.client.TLSCfg != want {
		t.Fatalf("SDK TLS settings %+v, want %+v", cfg.client.TLSCfg, want)
	}
}

// An address server (ClientConfig.Endpoint, as Aliyun MSE uses) is honoured: without
// an address the SDK is given no server list, so it asks the endpoint; an address given
// still wins.
func TestEndpointFromClientConfig(t *testing.T) {
	t.Parallel()
	cc := constant.ClientConfig{Endpoint: "addr.example.com:8080"}
	cfg, err := configOf(t, WithClientConfig(cc))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.servers) != 0 || cfg.client.Endpoint != "addr.example.com:8080" {
		t.Fatalf("servers %+v, endpoint %q: want none and the endpoint", cfg.servers, cfg.client.Endpoint)
	}
	cfg, err = configOf(t, WithClientConfig(cc), registry.Addrs("10.0.0.1:8848"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.servers) != 1 || cfg.servers[0].IpAddr != "10.0.0.1" {
		t.Fatalf("servers %+v: want the address given", cfg.servers)
	}
	cfg, err = configOf(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.servers) != 1 || cfg.servers[0].IpAddr != "127.0.0.1" || cfg.servers[0].Port != 8848 {
		t.Fatalf("servers %+v: want the default address", cfg.servers)
	}
}
