package configsource

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testenv"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// Once a source reaches Nacos, the log says the server's version and whether auth is on;
// a namespace given by its name, not its id, is warned of with its id. Against the
// embedded server, and against a real Nacos (NACOS_ADDR, and NACOS_AUTH if auth is on).
func TestStartUpSaysVersionAndNamespaceID(t *testing.T) {
	env := newEnv(t)
	id := fmt.Sprintf("micro-ns-%d", rand.Int64())
	name := "dev-" + id
	version := nacostest.Version
	if env.Srv != nil {
		env.Srv.AddNamespace(id, name)
	} else {
		testkit.CreateNamedNamespace(t, env.Addr, id, name)
		version = testkit.ServerVersion(t, env.Addr)
	}
	log := &testkit.LogLines{}
	s := env.source(t, []string{"startup.yaml"}, with(sdkclient.NamespaceKey{}, name), withLogger(log))
	if _, err := s.Read(); err != nil {
		t.Fatal(err)
	}
	said := fmt.Sprintf("info nacos: Nacos %s at %s, auth ", version, env.Addr)
	warning := fmt.Sprintf("warn nacos: namespace %q is not a namespace id of Nacos at %s but the name of namespace %q", name, env.Addr, id)
	eventually(t, changeWithin, func() bool { return strings.Contains(log.Text(), said) && strings.Contains(log.Text(), warning) },
		"the log says %q and warns %q: %s", said, warning, log.Text)
	if !strings.Contains(log.Text(), "give the id (WithNamespace, or MICRO_CONFIG_NACOS_NAMESPACE)") {
		t.Fatalf("the warning does not say what to set: %s", log.Text())
	}
	for _, line := range strings.Split(log.Text(), "\n") {
		if !strings.HasPrefix(line, "debug ") && !strings.HasPrefix(line, "trace ") {
			t.Log(line)
		}
	}
}

// With auth on, a source without credentials says so, and what to set; one with a
// wrong password says that credentials were given, and to check them.
func TestAuthRefusalsSayWhatToSet(t *testing.T) {
	for _, nacos3 := range []bool{false, true} {
		opts := []nacostest.Option{nacostest.WithAuth("nacos", "right")}
		if nacos3 {
			opts = append(opts, nacostest.WithNacos3())
		}
		srv := testenv.StartServer(t, opts...)
		env := testEnv{&testenv.ConfigEnv{Srv: srv, Addr: srv.Addr()}}
		_, err := env.source(t, []string{"guarded.yaml"}).Read()
		t.Logf("no credentials: %v", err)
		for _, want := range []string{"no credentials were given", "set WithAuth(username, password), or MICRO_CONFIG_NACOS_USERNAME and MICRO_CONFIG_NACOS_PASSWORD"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Read without credentials: want %q, got %v", want, err)
			}
		}
		_, err = env.source(t, []string{"guarded.yaml"}, with(sdkclient.AuthKey{}, sdkclient.Credentials{User: "nacos", Secret: "wrong"})).Read()
		t.Logf("wrong password: %v", err)
		if err == nil || !strings.Contains(err.Error(), "credentials were given: check the username and password (WithAuth, or MICRO_CONFIG_NACOS_USERNAME and MICRO_CONFIG_NACOS_PASSWORD)") {
			t.Fatalf("Read with a wrong password: %v", err)
		}
	}
}
