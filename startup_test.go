package nacos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/gomicro3"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// infoLog records what a registry logs at go-micro's default level (info).
func infoLog() *gomicro3.LogRecorder {
	return &gomicro3.LogRecorder{Logger: logger.NewLogger(logger.WithLevel(logger.InfoLevel))}
}

// realAuthOption logs in as NACOS_AUTH's user on a real Nacos that has auth on.
func realAuthOption(env *testEnv) []registry.Option {
	if env.srv == nil && testkit.RealAuth != "" {
		user, password := testkit.RealCredentials()
		return []registry.Option{WithAuth(user, password)}
	}
	return nil
}

// Once a client reaches Nacos, the log says the server's version and whether auth is on,
// once; and a namespace given by its name, not its id, is warned of with its id. Against
// the embedded server, and against a real Nacos (NACOS_ADDR, and NACOS_AUTH if auth is on).
func TestStartUpSaysVersionAndNamespaceID(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	id := fmt.Sprintf("micro-ns-%d", rand.Int64())
	name := "dev-" + id
	if env.srv != nil {
		env.srv.AddNamespace(id, name)
	} else {
		testkit.CreateNamedNamespace(t, env.addr, id, name)
	}
	version := nacostest.Version
	if env.srv == nil {
		version = testkit.ServerVersion(t, env.addr)
	}
	for _, c := range []struct {
		namespace string
		warned    bool
	}{{name, true}, {id, false}} {
		log := infoLog()
		r := NewRegistry(append(realAuthOption(env), registry.Addrs(env.addr), WithNamespace(c.namespace), WithLogger(log))...)
		_, _ = r.GetService("startup") // builds the client
		said := fmt.Sprintf("info nacos: Nacos %s at %s, auth ", version, env.addr)
		warning := fmt.Sprintf("warn nacos: namespace %q is not a namespace id of Nacos at %s but the name of namespace %q", name, env.addr, id)
		eventually(t, within, func() bool { return strings.Contains(log.Text(), said) }, "the log says %q: %s", said, log.Text)
		if c.warned {
			eventually(t, within, func() bool { return strings.Contains(log.Text(), warning) }, "the log warns %q: %s", warning, log.Text)
			if !strings.Contains(log.Text(), "give the id (WithNamespace, or MICRO_REGISTRY_NACOS_NAMESPACE)") {
				t.Fatalf("the warning does not say what to set: %s", log.Text())
			}
		}
		Close(r)
		<-r.(*nacosRegistry).core.Ended()
		if n := strings.Count(log.Text(), said); n != 1 {
			t.Fatalf("the version said %d times: %s", n, log.Text())
		}
		if !c.warned && strings.Contains(log.Text(), "is not a namespace id") {
			t.Fatalf("the namespace id %q was warned of: %s", id, log.Text())
		}
		t.Logf("namespace %q: %q", c.namespace, log.Text())
	}
}

// With auth on, a registry without credentials hears so from the log at start-up, and
// its refused calls say no credentials were given and what to set; one with a wrong
// password hears that credentials were given and to check them.
func TestAuthRefusalsSayWhatToSet(t *testing.T) {
	t.Parallel()
	for _, nacos3 := range []bool{false, true} {
		opts := []nacostest.Option{nacostest.WithAuth("nacos", "right")}
		if nacos3 {
			opts = append(opts, nacostest.WithNacos3())
		}
		env := embeddedEnv(t, opts...)
		env.srv.AddNamespace("ns-id", "ns-name")
		log := infoLog()
		r := NewRegistry(registry.Addrs(env.addr), registry.Timeout(2*time.Second), WithLogger(log), WithNamespace("ns-name"))
		err := r.Register(service("guarded", "v1", "n1"))
		t.Logf("no credentials: %v", err)
		for _, want := range []string{"no credentials were given", "set WithAuth(username, password), or MICRO_REGISTRY_NACOS_USERNAME and MICRO_REGISTRY_NACOS_PASSWORD"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Register without credentials: want %q, got %v", want, err)
			}
		}
		_, err = r.GetService("guarded")
		if err == nil || !strings.Contains(err.Error(), "no credentials were given") {
			t.Fatalf("GetService without credentials: %v", err)
		}
		warning := "has auth on, and no credentials were given: it will refuse this client's requests; set WithAuth(username, password), or MICRO_REGISTRY_NACOS_USERNAME and MICRO_REGISTRY_NACOS_PASSWORD"
		eventually(t, within, func() bool { return strings.Contains(log.Text(), warning) }, "the log warns %q: %s", warning, log.Text)
		// 2.x lists namespaces to anyone; 3.x only with a token: the check is skipped quietly.
		named := `namespace "ns-name" is not a namespace id`
		if !nacos3 {
			eventually(t, within, func() bool { return strings.Contains(log.Text(), named) }, "the log warns %q: %s", named, log.Text)
		}
		Close(r)
		<-r.(*nacosRegistry).core.Ended()
		if nacos3 && strings.Contains(log.Text(), named) {
			t.Fatalf("Nacos 3 listed its namespaces without a token: %s", log.Text())
		}

		r = NewRegistry(registry.Addrs(env.addr), registry.Timeout(2*time.Second), WithAuth("nacos", "wrong"))
		err = r.Register(service("guarded", "v1", "n1"))
		t.Logf("wrong password: %v", err)
		for _, want := range []string{`login as "nacos" refused`, "credentials were given: check the username and password (WithAuth, or MICRO_REGISTRY_NACOS_USERNAME and MICRO_REGISTRY_NACOS_PASSWORD)"} {
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "nacos: nacos:") {
				t.Fatalf("Register with a wrong password: want %q (and no password), got %v", want, err)
			}
		}
		Close(r)
	}
}
