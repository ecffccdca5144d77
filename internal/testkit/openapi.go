package testkit

// Nacos's HTTP open API, as the tests use it against a real Nacos: the one place that
// knows which API each major version has and what its answers look like.
//
// Nacos 2.x has the v1 API. Nacos 3.x has the v3 API: the admin API (/v3/admin/...,
// served on the main port with the gRPC services) and the client API (/v3/client/...).
// 3.0 still answers the v1 client API, but refuses v1's admin and console paths with
// 410 Gone (/v1/ns/service/subscribers, /v1/console/namespaces,
// /v1/console/server/state, /v2/core/loader/current); 3.2 removes v1 and v2 from the
// main distribution but for the SDK's login. So against 3.x every call goes to v3.
// Which version a server is, is asked of the server itself (ServerVersion).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// route is what the tests ask of Nacos: the method, and the path (under the context
// path /nacos) on 2.x and on 3.x.
type route struct{ method, v1, v3 string }

// The routes the tests use. Reads of instances and configs take the client API on 3.x,
// which answers what clients see, as v1 does (enabled instances only; a config once
// the cache that queries read has it); the rest is the admin API.
var (
	routeState        = route{http.MethodGet, "/v1/console/server/state", "/v3/admin/core/state"}
	routeLogin        = route{http.MethodPost, "/v1/auth/users/login", "/v3/auth/user/login"}
	routeInstances    = route{http.MethodGet, "/v1/ns/instance/list", "/v3/client/ns/instance/list"}
	routeSubscribers  = route{http.MethodGet, "/v1/ns/service/subscribers", "/v3/admin/ns/service/subscribers"}
	routeServices     = route{http.MethodGet, "/v1/ns/service/list", "/v3/admin/ns/service/list"}
	routeMetrics      = route{http.MethodGet, "/v1/ns/operator/metrics", "/v3/admin/ns/ops/metrics"}
	routeConnections  = route{http.MethodGet, "/v2/core/loader/current", "/v3/admin/core/loader/current"}
	routeNamespaceAdd = route{http.MethodPost, "/v1/console/namespaces", "/v3/admin/core/namespace"}
	routeNamespaceDel = route{http.MethodDelete, "/v1/console/namespaces", "/v3/admin/core/namespace"}
	routeConfigRead   = route{http.MethodGet, "/v1/cs/configs", "/v3/client/cs/config"}
	routeConfigWrite  = route{http.MethodPost, "/v1/cs/configs", "/v3/admin/cs/config"}
	routeConfigDel    = route{http.MethodDelete, "/v1/cs/configs", "/v3/admin/cs/config"}
)

// path is the route's path on the Nacos at addr.
func (r route) path(t testing.TB, addr string) string {
	t.Helper()
	if IsNacos3(t, addr) {
		return r.v3
	}
	return r.v1
}

// RealNacos is the address of the real Nacos the tests run against, from NACOS_ADDR
// (host:port, e.g. 127.0.0.1:8848 after `docker compose up -d`); "" means each test
// runs its own embedded server (nacostest).
var RealNacos = os.Getenv("NACOS_ADDR")

// RealAuth is "user:password" of a user of the real Nacos, from NACOS_AUTH, when that
// Nacos has auth on (scripts/real-nacos.sh creates the user when started with the same
// NACOS_AUTH).
var RealAuth = os.Getenv("NACOS_AUTH")

// RealCredentials splits RealAuth.
func RealCredentials() (username, password string) {
	username, password, _ = strings.Cut(RealAuth, ":")
	return username, password
}

// AuthUser returns the user a test of auth logs in as: username and password on the
// embedded server, which the test starts with them, or RealAuth's user on the real
// Nacos (RealNacos); without RealAuth there the test skips.
func AuthUser(t testing.TB, username, password string) (user, pass string) {
	t.Helper()
	if RealNacos == "" {
		return username, password
	}
	if RealAuth == "" {
		t.Skip("needs a user of the Nacos at NACOS_ADDR, with auth on: set NACOS_AUTH=user:password (scripts/real-nacos.sh starts one with the same variable)")
	}
	// The SDK logs in through http.DefaultTransport, whose idle connections to a real
	// Nacos would outlive the test (the embedded server closes them as it stops).
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	return RealCredentials()
}

var versions struct {
	sync.Mutex                   // guards of
	of         map[string]string // by address
}

// ServerVersion returns the version of the Nacos at addr ("2.5.1", "3.0.3"), as the
// server says in its state: GET /v3/admin/core/state on 3.x (2.x answers 404), else
// GET /v1/console/server/state (2.x; 3.x answers 410 Gone). Neither needs a login.
// It asks once per address.
func ServerVersion(t testing.TB, addr string) string {
	t.Helper()
	versions.Lock()
	defer versions.Unlock()
	if v, ok := versions.of[addr]; ok {
		return v
	}
	var state struct {
		Version string `json:"version"`
	}
	body, status := call(t, addr, routeState.method, routeState.v3, url.Values{})
	var wrapped struct {
		Data *struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if status == http.StatusOK && json.Unmarshal(body, &wrapped) == nil && wrapped.Data != nil {
		state.Version = wrapped.Data.Version
	} else {
		v3body, v3status := body, status
		body, status = call(t, addr, routeState.method, routeState.v1, url.Values{})
		if status != http.StatusOK || json.Unmarshal(body, &state) != nil {
			t.Fatalf("the Nacos at %s does not say its version (is NACOS_ADDR a Nacos 2.x or 3.x HTTP address?): GET /nacos%s: %d %s; GET /nacos%s: %d %s",
				addr, routeState.v3, v3status, v3body, routeState.v1, status, body)
		}
	}
	if state.Version == "" {
		t.Fatalf("the Nacos at %s says no version in its state (is NACOS_ADDR a Nacos 2.x or 3.x HTTP address?)", addr)
	}
	if versions.of == nil {
		versions.of = make(map[string]string)
	}
	versions.of[addr] = state.Version
	return state.Version
}

// IsNacos3 says whether the Nacos at addr is 3.x or later, whose HTTP API is v3.
func IsNacos3(t testing.TB, addr string) bool {
	t.Helper()
	v := ServerVersion(t, addr)
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil {
		t.Fatalf("the Nacos at %s says its version is %q, which does not start with a major version", addr, v)
	}
	return major >= 3
}

// OpenAPI calls the Nacos at addr at path (under /nacos, of the version in front of it:
// see the routes above), as RealAuth's user when set, and returns the answer and its
// status.
func OpenAPI(t testing.TB, addr, method, path string, params url.Values) ([]byte, int) {
	t.Helper()
	if RealAuth != "" {
		params.Set("accessToken", openAPIToken(t, addr))
	}
	return call(t, addr, method, path, params)
}

// v3Answer is how the v3 API wraps every answer.
type v3Answer struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// ask calls the route on the Nacos at addr and decodes its answer into out (if not
// nil): v1's answer as it is, v3's data. A v3 answer whose code is in accept is not a
// failure: its code is returned (0 is success). Anything else fails the test.
func ask(t testing.TB, addr string, r route, params url.Values, out any, accept ...int) (code int) {
	t.Helper()
	path := r.path(t, addr)
	body, status := OpenAPI(t, addr, r.method, path, params)
	// The embedded database of a standalone Nacos times out on its locks under the load
	// of parallel tests, and rolls the request back: tried again, with a growing pause.
	for try := 1; try < 5 && status == http.StatusInternalServerError && bytes.Contains(body, derbyLockTimeout); try++ {
		time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		body, status = OpenAPI(t, addr, r.method, path, params)
	}
	if status == http.StatusForbidden && RealAuth != "" && (strings.Contains(path, "/admin/") || strings.Contains(path, "/console/")) {
		t.Skipf("Nacos %s at %s refuses NACOS_AUTH's user its admin API (%s /nacos%s): run this test without auth, or as Nacos's admin", ServerVersion(t, addr), addr, r.method, path)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("Nacos %s at %s, open API %s /nacos%s: %s (the server's log is in $TMPDIR/real-nacos/PORT/logs when scripts/real-nacos.sh runs it)",
			ServerVersion(t, addr), addr, r.method, path, fmt.Sprintf(format, args...))
	}
	if !IsNacos3(t, addr) {
		if status != http.StatusOK {
			fail("%d %s", status, body)
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				fail("%v in %s", err, body)
			}
		}
		return 0
	}
	var answer v3Answer
	if err := json.Unmarshal(body, &answer); err != nil {
		fail("%d %s", status, body)
	}
	if answer.Code != 0 && slices.Contains(accept, answer.Code) {
		return answer.Code
	}
	if status != http.StatusOK || answer.Code != 0 {
		fail("%d %s", status, body)
	}
	if out != nil {
		if err := json.Unmarshal(answer.Data, out); err != nil {
			fail("%v in %s", err, body)
		}
	}
	return 0
}

// derbyLockTimeout is what Nacos answers when its embedded database gave up waiting for
// a lock.
var derbyLockTimeout = []byte("A lock could not be obtained within the time requested")

// group is a group name as Nacos's open API wants it.
func group(g string) string {
	if g == "" {
		return "DEFAULT_GROUP"
	}
	return g
}

// Instances are the enabled instances of a service of the Nacos at addr (what the open
// API lists, healthy or not), of the given clusters: all of them on 2.x when none are
// given, but only DEFAULT's on 3.x, whose API lists no other unless named. A service
// Nacos does not know has none.
func Instances(t testing.TB, addr, namespace, groupName, service string, clusters ...string) []model.Instance {
	t.Helper()
	params := url.Values{"serviceName": {service}, "groupName": {group(groupName)}, "namespaceId": {namespace}}
	if len(clusters) > 0 {
		params.Set("clusterName", strings.Join(clusters, ",")) // 3.x
		params.Set("clusters", strings.Join(clusters, ","))    // 2.x
	}
	if !IsNacos3(t, addr) {
		params.Set("healthyOnly", "false")
		var list struct {
			Hosts []model.Instance `json:"hosts"`
		}
		ask(t, addr, routeInstances, params, &list)
		return list.Hosts
	}
	var hosts []model.Instance
	ask(t, addr, routeInstances, params, &hosts)
	return hosts
}

// Subscribers is how many clients subscribe to a service of the Nacos at addr.
func Subscribers(t testing.TB, addr, namespace, groupName, service string) int {
	t.Helper()
	params := url.Values{"serviceName": {service}, "groupName": {group(groupName)}, "namespaceId": {namespace}, "pageNo": {"1"}, "pageSize": {"100"}}
	if !IsNacos3(t, addr) {
		var list struct {
			Count int `json:"count"`
		}
		ask(t, addr, routeSubscribers, params, &list)
		return list.Count
	}
	var page struct {
		TotalCount int `json:"totalCount"`
	}
	ask(t, addr, routeSubscribers, params, &page)
	return page.TotalCount
}

// Services lists the services of a namespace and group of the Nacos at addr, those
// without instances included.
func Services(t testing.TB, addr, namespace, groupName string) []string {
	t.Helper()
	if !IsNacos3(t, addr) {
		var list struct {
			Doms []string `json:"doms"`
		}
		ask(t, addr, routeServices, url.Values{"groupName": {group(groupName)}, "namespaceId": {namespace}, "pageNo": {"1"}, "pageSize": {"1000"}}, &list)
		return list.Doms
	}
	// 3.x takes groupNameParam as a pattern (*group*): only the group's own are kept.
	var page struct {
		PageItems []struct {
			Name      string `json:"name"`
			GroupName string `json:"groupName"`
		} `json:"pageItems"`
	}
	ask(t, addr, routeServices, url.Values{"groupNameParam": {group(groupName)}, "namespaceId": {namespace}, "pageNo": {"1"}, "pageSize": {"1000"}}, &page)
	names := []string{}
	for _, s := range page.PageItems {
		if s.GroupName == group(groupName) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Connections is how many connection-based clients (gRPC connections of SDKs and of
// other members) the Nacos at addr has.
func Connections(t testing.TB, addr string) int {
	t.Helper()
	var metrics struct {
		Connections int `json:"connectionBasedClientCount"`
	}
	ask(t, addr, routeMetrics, url.Values{"onlyStatus": {"false"}}, &metrics)
	return metrics.Connections
}

// SDKConnections is how many SDK clients are connected to the Nacos (or member) at
// addr, its connections from other members left out.
func SDKConnections(t testing.TB, addr string) int {
	t.Helper()
	var connections map[string]struct {
		MetaInfo struct {
			Labels map[string]string `json:"labels"`
		} `json:"metaInfo"`
	}
	ask(t, addr, routeConnections, url.Values{}, &connections)
	n := 0
	for _, c := range connections {
		if c.MetaInfo.Labels["source"] == "sdk" {
			n++
		}
	}
	return n
}

// CreateNamespace creates a namespace of this id on the Nacos at addr, removed when
// the test ends. With auth on only Nacos's admin may (the console's resources).
func CreateNamespace(t testing.TB, addr, id string) {
	t.Helper()
	CreateNamedNamespace(t, addr, id, id)
}

// CreateNamedNamespace creates a namespace of this id and display name on the Nacos at
// addr, removed when the test ends (see CreateNamespace).
func CreateNamedNamespace(t testing.TB, addr, id, name string) {
	t.Helper()
	params := url.Values{"namespaceName": {name}, "namespaceDesc": {"created by a test of micro-registry/nacos"}}
	if IsNacos3(t, addr) {
		params.Set("namespaceId", id)
	} else {
		params.Set("customNamespaceId", id)
	}
	var created bool
	ask(t, addr, routeNamespaceAdd, params, &created)
	if !created {
		t.Fatalf("Nacos %s at %s did not create namespace %s (see its log)", ServerVersion(t, addr), addr, id)
	}
	t.Cleanup(func() {
		ask(t, addr, routeNamespaceDel, url.Values{"namespaceId": {id}}, nil)
	})
}

// ConfigRead is what a query of a config answered.
type ConfigRead int

const (
	ConfigFound   ConfigRead = iota
	ConfigMissing            // no such config, or not yet in the cache queries read
	// ConfigBusy is Nacos's "requested file is being modified, please try later" (2.x's
	// 409). 3.x's client API answers it as ConfigMissing.
	ConfigBusy
)

// configParams names a config in the open API of the Nacos at addr.
func configParams(t testing.TB, addr, namespace, groupName, dataID string) url.Values {
	t.Helper()
	if IsNacos3(t, addr) {
		return url.Values{"dataId": {dataID}, "groupName": {group(groupName)}, "namespaceId": {namespace}}
	}
	return url.Values{"dataId": {dataID}, "group": {group(groupName)}, "tenant": {namespace}}
}

// ReadConfig queries a config of the Nacos at addr as clients do (from the cache its
// queries read, which a publish reaches a few milliseconds after it is acknowledged).
func ReadConfig(t testing.TB, addr, namespace, groupName, dataID string) (string, ConfigRead) {
	t.Helper()
	params := configParams(t, addr, namespace, groupName, dataID)
	if IsNacos3(t, addr) {
		// 20004: resource not found (also when the config is being modified).
		var config struct {
			Content string `json:"content"`
		}
		if ask(t, addr, routeConfigRead, params, &config, 20004) != 0 {
			return "", ConfigMissing
		}
		return config.Content, ConfigFound
	}
	path := routeConfigRead.v1
	body, status := OpenAPI(t, addr, routeConfigRead.method, path, params)
	switch status {
	case http.StatusOK:
		return string(body), ConfigFound
	case http.StatusNotFound:
		return "", ConfigMissing
	case http.StatusConflict:
		return "", ConfigBusy
	}
	t.Fatalf("Nacos %s at %s, open API GET /nacos%s: %d %s", ServerVersion(t, addr), addr, path, status, body)
	return "", ConfigMissing
}

// PublishConfig stores a config on the Nacos at addr; Nacos acknowledges it before its
// queries serve it (see ReadConfig).
func PublishConfig(t testing.TB, addr, namespace, groupName, dataID, content string) {
	t.Helper()
	params := configParams(t, addr, namespace, groupName, dataID)
	params.Set("content", content)
	configChange(t, addr, routeConfigWrite, params, "publish "+dataID)
}

// RemoveConfig deletes a config of the Nacos at addr.
func RemoveConfig(t testing.TB, addr, namespace, groupName, dataID string) {
	t.Helper()
	configChange(t, addr, routeConfigDel, configParams(t, addr, namespace, groupName, dataID), "remove "+dataID)
}

// configChange makes a change whose answer is true: v1's plain "true", v3's data.
func configChange(t testing.TB, addr string, r route, params url.Values, what string) {
	t.Helper()
	if IsNacos3(t, addr) {
		var done bool
		ask(t, addr, r, params, &done)
		if !done {
			t.Fatalf("Nacos %s at %s did not %s (see its log)", ServerVersion(t, addr), addr, what)
		}
		return
	}
	body, status := OpenAPI(t, addr, r.method, r.v1, params)
	if status != http.StatusOK || string(body) != "true" {
		t.Fatalf("Nacos %s at %s, open API %s /nacos%s: %s: %d %s", ServerVersion(t, addr), addr, r.method, r.v1, what, status, body)
	}
}

// call makes one HTTP request of the Nacos at addr, at /nacos + path.
func call(t testing.TB, addr, method, path string, params url.Values) ([]byte, int) {
	t.Helper()
	target := "http://" + addr + "/nacos" + path
	var body io.Reader
	if method == http.MethodGet || method == http.MethodDelete {
		target += "?" + params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Close = true // no idle connection is left for goleak
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Nacos open API %s %s: %v (is the Nacos at %s up?)", method, path, err, addr)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("Nacos open API %s %s: %v", method, path, err)
	}
	return answer, resp.StatusCode
}

var openAPILogin struct {
	sync.Mutex // guards token and until
	token      string
	until      time.Time
}

// openAPIToken logs RealAuth's user in, once per token lifetime (the members of a
// cluster share the token secret).
func openAPIToken(t testing.TB, addr string) string {
	t.Helper()
	path := routeLogin.path(t, addr) // before the lock: it may ask for the version
	openAPILogin.Lock()
	defer openAPILogin.Unlock()
	if openAPILogin.token != "" && time.Now().Before(openAPILogin.until) {
		return openAPILogin.token
	}
	user, pass := RealCredentials()
	body, status := call(t, addr, routeLogin.method, path, url.Values{"username": {user}, "password": {pass}})
	var login struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int64  `json:"tokenTtl"`
	}
	if err := json.Unmarshal(body, &login); status != http.StatusOK || err != nil || login.AccessToken == "" {
		t.Fatalf("log in to the Nacos at %s as NACOS_AUTH's user (POST /nacos%s): %d %s: is NACOS_AUTH a user of it (scripts/real-nacos.sh start creates the one in NACOS_AUTH)?", addr, path, status, body)
	}
	openAPILogin.token = login.AccessToken
	openAPILogin.until = time.Now().Add(time.Duration(login.TokenTTL) * time.Second / 2)
	return login.AccessToken
}
