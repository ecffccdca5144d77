package nacos

// The real Nacos at NACOS_ADDR as a test server: its state read through Nacos's HTTP
// open API (where nacostest has introspection), namespaces created through it,
// restarts by the NACOS_RESTART command and the auth-on server's user NACOS_AUTH.

import (
	"encoding/json"
	"net/http"
	"net/url"
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

// openAPI calls the HTTP open API of the real Nacos at addr (as NACOS_AUTH's user if
// set) and decodes the JSON answer into out, if not nil.
func openAPI(t testing.TB, addr, method, path string, params url.Values, out any) {
	t.Helper()
	body, status := testkit.OpenAPI(t, addr, method, path, params)
	if status != http.StatusOK {
		t.Fatalf("Nacos open API %s %s: %d %s", method, path, status, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("Nacos open API %s %s: %v in %s", method, path, err, body)
		}
	}
}

// group is a group name as Nacos's open API wants it.
func openAPIGroup(group string) string {
	if group == "" {
		return "DEFAULT_GROUP"
	}
	return group
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
		return e.srv.Instances(namespace, group, name)
	}
	var list struct {
		Hosts []model.Instance `json:"hosts"`
	}
	openAPI(t, e.addr, http.MethodGet, "/v1/ns/instance/list", url.Values{
		"serviceName": {name}, "groupName": {openAPIGroup(group)}, "namespaceId": {namespace}, "healthyOnly": {"false"},
	}, &list)
	return list.Hosts
}

// subscribers is how many clients subscribe to the service.
func (e *testEnv) subscribers(t testing.TB, namespace, group, name string) int {
	t.Helper()
	if e.srv != nil {
		return e.srv.Subscribers(namespace, group, name)
	}
	var list struct {
		Count int `json:"count"`
	}
	openAPI(t, e.addr, http.MethodGet, "/v1/ns/service/subscribers", url.Values{
		"serviceName": {name}, "groupName": {openAPIGroup(group)}, "namespaceId": {namespace}, "pageNo": {"1"}, "pageSize": {"100"},
	}, &list)
	return list.Count
}

// services lists the services of the namespace and group, sorted.
func (e *testEnv) services(t testing.TB, namespace, group string) []string {
	t.Helper()
	if e.srv != nil {
		return e.srv.Services(namespace, group)
	}
	var list struct {
		Doms []string `json:"doms"`
	}
	openAPI(t, e.addr, http.MethodGet, "/v1/ns/service/list", url.Values{
		"groupName": {openAPIGroup(group)}, "namespaceId": {namespace}, "pageNo": {"1"}, "pageSize": {"1000"},
	}, &list)
	return sortedCopy(list.Doms)
}

// connections is how many client connections the server has: the embedded server's
// own, or all of the real one's.
func (e *testEnv) connections(t testing.TB) int {
	t.Helper()
	if e.srv != nil {
		return e.srv.Connections()
	}
	var metrics struct {
		Connections int `json:"connectionBasedClientCount"`
	}
	openAPI(t, e.addr, http.MethodGet, "/v1/ns/operator/metrics", url.Values{"onlyStatus": {"false"}}, &metrics)
	return metrics.Connections
}

// createNamespace creates a namespace on the real Nacos through its open API, removed
// when the test ends; the embedded server needs none.
func (e *testEnv) createNamespace(t testing.TB, id string) {
	t.Helper()
	if e.srv != nil {
		return
	}
	var created bool
	openAPI(t, e.addr, http.MethodPost, "/v1/console/namespaces", url.Values{
		"customNamespaceId": {id}, "namespaceName": {id}, "namespaceDesc": {"created by a test of micro-registry/nacos"},
	}, &created)
	if !created {
		t.Fatalf("Nacos did not create namespace %s", id)
	}
	t.Cleanup(func() {
		openAPI(t, e.addr, http.MethodDelete, "/v1/console/namespaces", url.Values{"namespaceId": {id}}, nil)
	})
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
