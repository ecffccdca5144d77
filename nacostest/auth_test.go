package nacostest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// login posts the SDK's login form and returns the status and body.
func login(t *testing.T, srv *Server, username, password string) (int, []byte) {
	t.Helper()
	resp, err := http.PostForm("http://"+srv.Addr()+"/nacos/v1/auth/users/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func credentials(username, password string) func(*constant.ClientConfig) {
	return func(c *constant.ClientConfig) {
		c.Username = username
		c.Password = password
	}
}

func TestAuthAcceptsTheRightCredentials(t *testing.T) {
	srv := newServer(t, WithAuth("nacos", "s3cret"))
	client := newClient(t, []string{srv.Addr()}, credentials("nacos", "s3cret"))
	register(t, client, instance("svc", "10.0.0.1", 80, nil))
	got, err := client.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "svc"})
	if err != nil || !sameAddrs(got, "10.0.0.1:80") {
		t.Fatalf("SelectAllInstances = %v, %v", got, err)
	}
}

func TestAuthRefusesWrongCredentials(t *testing.T) {
	srv := newServer(t, WithAuth("nacos", "s3cret"))
	client := newClient(t, []string{srv.Addr()}, credentials("nacos", "wrong"))
	ok, err := client.RegisterInstance(instance("svc", "10.0.0.1", 80, nil))
	if ok || err != nil {
		t.Fatalf("RegisterInstance = %v, %v; want false, nil (a typed 403)", ok, err)
	}
	if len(srv.Services("", "")) != 0 {
		t.Fatalf("a refused registration was stored: %v", srv.Services("", ""))
	}

	status, body := login(t, srv, "nacos", "wrong")
	if status != http.StatusForbidden || string(body) != "user not found!" {
		t.Fatalf("bad login = %d %q, want 403 %q", status, body, "user not found!")
	}

	raw := dialRaw(t, srv)
	request := registerRequest("svc", "10.0.0.1", 80)
	for token, want := range map[string]string{"": "user not found!", "forged": "token invalid!"} {
		resp := raw.call(t, "InstanceRequest", request, map[string]string{"accessToken": token})
		if resp.Type != "InstanceResponse" || resp.Success || resp.ResultCode != 500 || resp.ErrorCode != 403 || resp.Message != want {
			t.Errorf("token %q: got %s %s, want InstanceResponse 500/403 %q", token, resp.Type, resp.Body, want)
		}
	}
	// Internal requests carry no token and need none.
	mustSucceed(t, raw.call(t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil), "HealthCheckResponse")
}

func TestLoginAnswersLikeNacos(t *testing.T) {
	for name, srv := range map[string]*Server{
		"auth on":  newServer(t, WithAuth("nacos", "s3cret")),
		"auth off": newServer(t), // still logs anyone in, as the SDK logs in whenever it has a username
	} {
		status, body := login(t, srv, "nacos", "s3cret")
		var reply map[string]any
		if status != http.StatusOK || json.Unmarshal(body, &reply) != nil {
			t.Fatalf("%s: login = %d %s", name, status, body)
		}
		token, _ := reply["accessToken"].(string)
		if ttl, isNumber := reply["tokenTtl"].(float64); token == "" || !isNumber || ttl != 18000 || reply["username"] != "nacos" {
			t.Fatalf("%s: login reply %s lacks a token or a numeric tokenTtl", name, body)
		}
		resp := dialRaw(t, srv).call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), map[string]string{"accessToken": token})
		mustSucceed(t, resp, "InstanceResponse")
	}
}

// Logins and tokens are refused with Nacos 2.3+'s statuses and messages: an
// unknown user is a server error, a token is a JWT checked part by part.
func TestLoginAndTokenRefusalsAsNacos(t *testing.T) {
	srv := newServer(t, WithAuth("micro", "s3cret"))
	status, body := login(t, srv, "nobody", "s3cret")
	if status != http.StatusInternalServerError || string(body) != "caused: User nobody not found;" {
		t.Fatalf("login of an unknown user = %d %q", status, body)
	}
	status, body = login(t, srv, "micro", "s3cret")
	var reply struct {
		AccessToken string `json:"accessToken"`
		GlobalAdmin bool   `json:"globalAdmin"`
	}
	if err := json.Unmarshal(body, &reply); status != http.StatusOK || err != nil || reply.GlobalAdmin {
		t.Fatalf("login = %d %s: only Nacos's admin, nacos, is a global admin", status, body)
	}
	parts := strings.Split(reply.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", reply.AccessToken)
	}
	raw := dialRaw(t, srv)
	for token, want := range map[string]string{
		reply.AccessToken:                        "",
		parts[0] + "." + parts[1]:                "token invalid!",
		"e30." + parts[1] + "." + parts[2]:       "unsupported signature algorithm",
		parts[0] + "." + parts[1] + "." + "AAAA": "Invalid signature",
		parts[0] + ".e30." + parts[2]:            "Invalid signature",
	} {
		resp := raw.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), map[string]string{"accessToken": token})
		if resp.Message != want || resp.Success != (want == "") {
			t.Errorf("token %.20s...: got %s, want %q", token, resp.Body, want)
		}
	}
}
