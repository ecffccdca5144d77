package nacos

// The real Nacos at NACOS_ADDR as a test server: its state read through the HTTP open
// API of its version (testkit.Instances and the others; where nacostest has
// introspection), namespaces created through it, restarts by the NACOS_RESTART command
// and the auth-on server's user NACOS_AUTH.

import (
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// realRestart is a shell command that restarts the Nacos at NACOS_ADDR and returns
// once it serves again, e.g. "scripts/real-nacos.sh restart 8848".
var realRestart = os.Getenv("NACOS_RESTART")

// authEnv is a Nacos with auth on, and a user of it: an embedded server with this
// user, or the real Nacos at NACOS_ADDR with NACOS_AUTH's user (testkit.AuthUser).
func authEnv(t testing.TB, username, password string) (env *testEnv, user, pass string) {
	t.Helper()
	user, pass = testkit.AuthUser(t, username, password)
	if realNacos == "" {
		return newEnv(t, nacostest.WithAuth(user, pass)), user, pass
	}
	return newEnv(t), user, pass
}

// held is what the server holds for these services (enabled, healthy instances), in
// the form of stateOf: the embedded server's introspection, or the open API.
func (e *testEnv) held(t testing.TB, namespace, group string, names ...string) string {
	t.Helper()
	if e.srv != nil {
		return serverState(e.srv, namespace, group, names...)
	}
	var keys []string
	for _, name := range names {
		keys = append(keys, instanceKeys(name, e.instances(t, namespace, group, name))...)
	}
	return joinKeys(keys)
}

// count is how many instances the service has.
func (e *testEnv) count(t testing.TB, namespace, group, name string) int {
	t.Helper()
	return len(e.instances(t, namespace, group, name))
}

// instances are the service's instances: all of them on the embedded server, the
// enabled ones (which the open API lists) on a real Nacos.
func (e *testEnv) instances(t testing.TB, namespace, group, name string) []model.Instance {
	t.Helper()
	if e.srv != nil {
		return heldAsSDK(e.srv.Instances(namespace, group, name))
	}
	return testkit.Instances(t, e.addr, namespace, group, name)
}

// subscribers is how many clients subscribe to the service.
func (e *testEnv) subscribers(t testing.TB, namespace, group, name string) int {
	t.Helper()
	if e.srv != nil {
		return e.srv.Subscribers(namespace, group, name)
	}
	return testkit.Subscribers(t, e.addr, namespace, group, name)
}

// services lists the services of the namespace and group, sorted.
func (e *testEnv) services(t testing.TB, namespace, group string) []string {
	t.Helper()
	if e.srv != nil {
		return e.srv.Services(namespace, group)
	}
	return sortedCopy(testkit.Services(t, e.addr, namespace, group))
}

// connections is how many client connections the server has: the embedded server's
// own, or all of the real one's.
func (e *testEnv) connections(t testing.TB) int {
	t.Helper()
	if e.srv != nil {
		return e.srv.Connections()
	}
	return testkit.Connections(t, e.addr)
}

// createNamespace creates a namespace on the real Nacos through its open API, removed
// when the test ends; the embedded server needs none.
func (e *testEnv) createNamespace(t testing.TB, id string) {
	t.Helper()
	if e.srv == nil {
		testkit.CreateNamespace(t, e.addr, id)
	}
}

func sortedCopy(names []string) []string {
	out := append([]string{}, names...)
	sort.Strings(out)
	return out
}

// A registry that lives through a restart of the real Nacos (NACOS_RESTART) heals by
// itself: every node is back, its GetService and watchers have every node again, and
// later changes. The embedded form is TestReliabilityRestartKeepsAReaderCurrent.
func TestReliabilityRealRestartHealsByItself(t *testing.T) {
	testkit.RunChecked(t, false, func(t *testing.T) {
		if realNacos == "" || realRestart == "" {
			t.Skip("restarts the real Nacos at NACOS_ADDR with the command in NACOS_RESTART (e.g. scripts/real-nacos.sh restart PORT); set both")
		}
		env := newEnv(t)
		regs := connectedRegistries(t, env, 3, WithDiscoveryInterval(200*time.Millisecond))
		h := newHeal(t, regs[0], regs[1], regs[2], nil)
		h.connections = func() int { return env.connections(t) }
		server := func() string { return env.held(t, env.namespace, "", h.names...) }
		subscribers := func(name string) int { return env.subscribers(t, env.namespace, "", name) }
		h.recovered(t, time.Now(), server, subscribers)

		began := time.Now()
		out, err := exec.Command("sh", "-c", realRestart).CombinedOutput()
		if err != nil {
			t.Fatalf("NACOS_RESTART %q: %v\n%s", realRestart, err, out)
		}
		up := time.Now()
		back, subscribed, lookedUp, watched := h.recovered(t, up, server, subscribers)
		t.Logf("Nacos restarted (NACOS_RESTART took %s); from when it served again: nodes back after %s, reader subscribed again after %s, its GetService right after %s, its watchers right after %s",
			millis(up.Sub(began)), millis(back), millis(subscribed), millis(lookedUp), millis(watched))
		h.afterwards(t, server, subscribers)
	})
}
