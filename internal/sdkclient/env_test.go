package sdkclient

import (
	"context"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// withEnv makes LookupEnv read vars for the rest of the test.
func withEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	old := LookupEnv
	LookupEnv = func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	t.Cleanup(func() { LookupEnv = old })
}

// The environment sets what no option set; an option in code, or a field of
// WithClientConfig, wins; the config source falls back on the registry's names for the
// connection's settings.
func TestEnvironmentSetsWhatCodeDidNot(t *testing.T) {
	withEnv(t, map[string]string{
		"MICRO_REGISTRY_NACOS_NAMESPACE":     "dev",
		"MICRO_REGISTRY_NACOS_USERNAME":      "alice",
		"MICRO_REGISTRY_NACOS_PASSWORD":      "s3cret",
		"MICRO_REGISTRY_NACOS_ACCESS_KEY":    "ak",
		"MICRO_REGISTRY_NACOS_SECRET_KEY":    "sk",
		"MICRO_REGISTRY_NACOS_CONTEXT_PATH":  "/sub/nacos/",
		"MICRO_REGISTRY_NACOS_TLS_CA_FILE":   "/ca.pem",
		"MICRO_REGISTRY_NACOS_TLS_CERT_FILE": "/c.pem",
		"MICRO_REGISTRY_NACOS_TLS_KEY_FILE":  "/k.pem",
		"MICRO_CONFIG_NACOS_NAMESPACE":       "cfg",
	})
	servers, cc, err := Build(context.Background(), Connection{Addrs: []string{"h:8848", "http://g:8848/own"}, Env: RegistryEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cc.NamespaceId != "dev" || cc.Username != "alice" || cc.Password != "s3cret" || cc.AccessKey != "ak" || cc.SecretKey != "sk" {
		t.Fatalf("client config %+v", cc)
	}
	if !cc.TLSCfg.Enable || cc.TLSCfg.CaFile != "/ca.pem" || cc.TLSCfg.CertFile != "/c.pem" || cc.TLSCfg.KeyFile != "/k.pem" {
		t.Fatalf("TLS %+v", cc.TLSCfg)
	}
	if servers[0].ContextPath != "/sub/nacos" || servers[1].ContextPath != "/own" {
		t.Fatalf("context paths %q %q: want the environment's where the address names none", servers[0].ContextPath, servers[1].ContextPath)
	}

	// The config source: its own name first, then the registry's.
	_, cc, err = Build(context.Background(), Connection{Env: ConfigEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cc.NamespaceId != "cfg" || cc.Username != "alice" {
		t.Fatalf("config source's client config %+v", cc)
	}

	// Code wins.
	ctx := context.Background()
	for k, v := range map[any]any{NamespaceKey{}: "code", AuthKey{}: Credentials{User: "bob", Secret: "pw"}, TLSKey{}: constant.TLSConfig{TrustAll: true}} {
		ctx = context.WithValue(ctx, k, v)
	}
	_, cc, err = Build(ctx, Connection{Env: RegistryEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cc.NamespaceId != "code" || cc.Username != "bob" || cc.TLSCfg.CaFile != "" || !cc.TLSCfg.TrustAll {
		t.Fatalf("options in code did not win: %+v", cc)
	}
	ctx = context.WithValue(context.Background(), ClientConfigKey{}, constant.ClientConfig{NamespaceId: "cc", Username: "carol"})
	if _, cc, _ = Build(ctx, Connection{Env: RegistryEnv}); cc.NamespaceId != "cc" || cc.Username != "carol" {
		t.Fatalf("WithClientConfig did not win: %+v", cc)
	}
	if _, cc, _ = Build(context.Background(), Connection{Secure: true, Env: RegistryEnv}); cc.TLSCfg.CaFile != "" {
		t.Fatalf("go-micro's Secure did not win over the TLS files of the environment: %+v", cc.TLSCfg)
	}
}

// A variable that is wrong says which, and never shows a secret.
func TestEnvironmentErrorsNameTheVariableNotTheSecret(t *testing.T) {
	for vars, want := range map[*map[string]string]string{
		{"MICRO_REGISTRY_NACOS_PASSWORD": "s3cret"}:                                                    "MICRO_REGISTRY_NACOS_PASSWORD is set but no username: set MICRO_REGISTRY_NACOS_USERNAME too",
		{"MICRO_REGISTRY_NACOS_SECRET_KEY": "s3cret"}:                                                  "MICRO_REGISTRY_NACOS_SECRET_KEY is set but no access key",
		{"MICRO_REGISTRY_NACOS_ACCESS_KEY": "ak"}:                                                      "MICRO_REGISTRY_NACOS_ACCESS_KEY is set but no secret key",
		{"MICRO_REGISTRY_NACOS_TLS_CERT_FILE": "/c.pem"}:                                               "needs both MICRO_REGISTRY_NACOS_TLS_CERT_FILE and MICRO_REGISTRY_NACOS_TLS_KEY_FILE",
		{"MICRO_REGISTRY_NACOS_TLS_TRUST_ALL": "yes please"}:                                           `MICRO_REGISTRY_NACOS_TLS_TRUST_ALL="yes please" is not true or false`,
		{"MICRO_REGISTRY_NACOS_CONTEXT_PATH": "nacos"}:                                                 `MICRO_REGISTRY_NACOS_CONTEXT_PATH="nacos" is not a path`,
		{"MICRO_REGISTRY_NACOS_NAMESPACE": "bad namespace", "MICRO_REGISTRY_NACOS_PASSWORD": "s3cret"}: "MICRO_REGISTRY_NACOS_PASSWORD is set but no username",
	} {
		withEnv(t, *vars)
		_, _, err := Build(context.Background(), Connection{Env: RegistryEnv})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: got %v, want %q and no secret", *vars, err, want)
		}
	}
}
