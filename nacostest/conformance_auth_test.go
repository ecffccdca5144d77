package nacostest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// TestConformanceAuth compares the auth refusals of nacostest WithAuth and of the
// auth-on Nacos at NACOS_ADDR, whose user NACOS_AUTH=user:password names.
func TestConformanceAuth(t *testing.T) {
	auth := os.Getenv("NACOS_AUTH")
	if realNacosAddr == "" || auth == "" {
		t.Skip("compares nacostest's auth with a real Nacos with auth on: set NACOS_ADDR and NACOS_AUTH=user:password (scripts/real-nacos.sh starts one with the same NACOS_AUTH)")
	}
	// Logins (the SDK's and the scenarios') go through http.DefaultTransport, whose
	// idle connections to the real server would outlive the test.
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	username, password, _ := strings.Cut(auth, ":")
	version := realNacosVersion(t, realNacosAddr)
	sc := scenario{name: "auth", run: func(c *conformer) { conformAuth(c, username, password) }}
	namespace := fmt.Sprintf("conf-auth-%x", rand.Uint32())
	real := runScenario(t, sc, "nacos", realNacosAddr, namespace, "CONF_AUTH", version)
	srv := newServer(t, append(versionOptions(version), WithAuth(username, password))...)
	ours := runScenario(t, sc, "nacostest", srv.Addr(), namespace, "CONF_AUTH", version)
	seen := map[int]bool{}
	compared, deviations := compareObservations(t, version, "nacostest", sc.name, real, ours, seen)
	checkDeviationsSeen(t, true, version, seen)
	t.Logf("Nacos %s with auth: %d observations compared; %d differences, all documented deviations", version, compared, deviations)
}

// conformAuth logs in right and wrong, and sends naming requests with and without
// a token.
func conformAuth(c *conformer, username, password string) {
	loginAt := func(path, name, user, pass string) string {
		resp, err := http.PostForm("http://"+c.addr+path, url.Values{"username": {user}, "password": {pass}})
		if err != nil {
			c.t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		raw := new(strings.Builder)
		_, _ = io.Copy(raw, resp.Body)
		if json.Unmarshal([]byte(raw.String()), &body) != nil {
			c.record(name, struct {
				Status int
				Body   string
			}{resp.StatusCode, raw.String()})
			return ""
		}
		token, _ := body["accessToken"].(string)
		c.record(name, struct {
			Status          int
			Token           bool
			TokenTTL        any
			Username, Admin any
		}{resp.StatusCode, token != "", body["tokenTtl"], body["username"], body["globalAdmin"]})
		return token
	}
	login := func(name, user, pass string) string { return loginAt("/nacos/v1/auth/users/login", name, user, pass) }
	token := login("login", username, password)
	login("login with a wrong password", username, password+"-wrong")
	login("login of an unknown user", "nobody-"+username, password)
	login("login without a password", username, "")
	if isNacos3(c.version) { // 3.x's own login path, beside the SDK's
		login := func(name, user, pass string) string {
			return loginAt("/nacos/v3/auth/user/login", "v3 "+name, user, pass)
		}
		login("login", username, password)
		login("login with a wrong password", username, password+"-wrong")
		login("login of an unknown user", "nobody-"+username, password)
		login("login without a password", username, "")
	}

	raw := c.raw()
	register := rpc_request.NewInstanceRequest(c.namespace, "auth", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("auth", "10.13.0.1", 80, nil)))
	for name, headers := range map[string]map[string]string{
		"register without a token":                nil,
		"register with a blank token":             {"accessToken": " "},
		"register with a forged token":            {"accessToken": "forged"},
		"register with a token of another server": {"accessToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6OTk5OTk5OTk5OX0.QmFkU2lnbmF0dXJlQmFkU2lnbmF0dXJlQmFkU2ln"},
		"register with the token":                 {"accessToken": token},
	} {
		c.record(name, viewOfResponse(raw.call(c.t, "InstanceRequest", register, headers)))
	}
	for name, request := range map[string]struct {
		requestType string
		body        any
	}{
		"subscribe without a token":    {"SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "auth", "DEFAULT_GROUP", "", true)},
		"query without a token":        {"ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, "auth", "DEFAULT_GROUP", "", false, 0)},
		"list without a token":         {"ServiceListRequest", rpc_request.NewServiceListRequest(c.namespace, "", "DEFAULT_GROUP", 1, 10, "")},
		"batch without a token":        {"BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "auth", "DEFAULT_GROUP", "batchRegisterInstance", nil)},
		"health check without a token": {"HealthCheckRequest", rpc_request.NewHealthCheckRequest()},
	} {
		c.record(name, viewOfResponse(raw.call(c.t, request.requestType, request.body, nil)))
	}

	good := c.client(credentials(username, password))
	ok, err := good.RegisterInstance(instance("auth-sdk", "10.13.0.2", 80, nil))
	c.record("SDK register with the right credentials", outcomeOf(ok, err))
	bad := c.client(credentials(username, password+"-wrong"))
	ok, err = bad.RegisterInstance(instance("auth-sdk", "10.13.0.3", 80, nil))
	c.record("SDK register with a wrong password", outcomeOf(ok, err))
	got, err := good.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "auth-sdk"})
	c.record("SDK select with the right credentials", struct {
		Addrs []string
		Error bool
	}{addrs(got), err != nil})
}
