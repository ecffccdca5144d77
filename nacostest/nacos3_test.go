package nacostest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// WithNacos3 keys config listeners as publishes: a listener of "public" hears a change
// of "" and one of "" a change of "public", each told under its own spelling; "null"
// is a namespace of its own. TestConformance compares it with a real Nacos 3.x.
func TestNacos3PublicNamespaceMeetsInListening(t *testing.T) {
	srv := newServer(t, WithNacos3())
	public, empty := dialRaw(t, srv), dialRaw(t, srv)
	listen := func(c *rawClient, tenant, md5 string) []model.ConfigContext {
		t.Helper()
		req := rpc_request.NewConfigBatchListenRequest(1)
		req.Listen = true
		req.ConfigListenContexts = append(req.ConfigListenContexts, model.ConfigListenContext{Group: "DEFAULT_GROUP", DataId: "app", Tenant: tenant, Md5: md5})
		resp := c.call(t, "ConfigBatchListenRequest", req, nil)
		mustSucceed(t, resp, "ConfigChangeBatchListenResponse")
		var body struct{ ChangedConfigs []model.ConfigContext }
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatal(err)
		}
		return body.ChangedConfigs
	}
	if err := srv.PublishConfig("", "", "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if changed := listen(public, "public", md5Hex("v1")); len(changed) != 0 {
		t.Fatalf("a listener of \"public\" with the current md5 of \"\" is out of date: %v", changed)
	}
	if changed := listen(empty, "", md5Hex("v0")); len(changed) != 1 || changed[0].Tenant != "" {
		t.Fatalf("an old md5 is not out of date, under the tenant as sent: %v", changed)
	}
	if n := srv.ConfigListeners("public", "", "app"); n != 2 {
		t.Fatalf("%d listeners of the default namespace, want 2 (one per spelling)", n)
	}
	publish := func(tenant, content string) {
		t.Helper()
		resp := public.call(t, "ConfigPublishRequest", rpc_request.NewConfigPublishRequest("DEFAULT_GROUP", "app", tenant, content, ""), nil)
		mustSucceed(t, resp, "ConfigPublishResponse")
	}
	for i, tenant := range []string{"", "public"} {
		publish(tenant, fmt.Sprintf("v%d", i+2))
		eventually(t, 5*time.Second, func() bool {
			return len(public.stream.configPushes()) == i+1 && len(empty.stream.configPushes()) == i+1
		})
		if got := public.stream.configPushes()[i]; got != "public/DEFAULT_GROUP/app" {
			t.Fatalf("the \"public\" listener was told %q of a publish as %q", got, tenant)
		}
		if got := empty.stream.configPushes()[i]; got != "/DEFAULT_GROUP/app" {
			t.Fatalf("the \"\" listener was told %q of a publish as %q", got, tenant)
		}
	}
	publish("null", "spelled null")
	if content, _ := srv.Config("", "", "app"); content != "v3" {
		t.Fatalf("a publish as \"null\" reached the default namespace: %q", content)
	}
	if content, ok := srv.Config("null", "", "app"); !ok || content != "spelled null" {
		t.Fatalf("\"null\" is not a namespace of its own: %q %v", content, ok)
	}
	never(t, 200*time.Millisecond, func() bool { return len(public.stream.configPushes()) != 2 })

	// By default (2.x) "public" is a tenant of its own to a listener, and "null" the
	// default namespace.
	srv2 := newServer(t)
	if err := srv2.PublishConfig("null", "", "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if content, _ := srv2.Config("", "", "app"); content != "v1" {
		t.Fatalf("2.x: \"null\" is not the default namespace: %q", content)
	}
	if changed := listen(dialRaw(t, srv2), "public", md5Hex("v1")); len(changed) != 1 {
		t.Fatalf("2.x: a listener of \"public\" heard of the default namespace: %v", changed)
	}
}

// WithNacos3 refuses tokens and logins in 3.x's words, serves the login at 3.x's path
// too, and the SDK still logs in and works.
func TestNacos3Auth(t *testing.T) {
	srv := newServer(t, WithNacos3(), WithAuth("nacos", "s3cret"))
	r := dialRaw(t, srv)
	for token, want := range map[string]string{
		"":       "Code: 401, Message: User not found! Please check user exist or password is right!.",
		"forged": "Code: 401, Message: token invalid!.",
	} {
		resp := r.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), map[string]string{"accessToken": token})
		if resp.Type != "InstanceResponse" || resp.ErrorCode != 403 || resp.Message != want {
			t.Fatalf("token %q: %s %d %q, want InstanceResponse 403 %q", token, resp.Type, resp.ErrorCode, resp.Message, want)
		}
	}
	loginAt := func(path, username, password string) (int, string) {
		t.Helper()
		resp, err := http.PostForm("http://"+srv.Addr()+path, url.Values{"username": {username}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var answer struct {
			AccessToken string `json:"accessToken"`
			Status      int    `json:"status"`
			Message     string `json:"message"`
			Path        string `json:"path"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("login at %s: %d %s is not JSON", path, resp.StatusCode, body)
		}
		if answer.AccessToken != "" {
			return resp.StatusCode, "token"
		}
		if answer.Status != resp.StatusCode || answer.Path != path {
			t.Fatalf("login at %s: %d %s is not Spring's error body", path, resp.StatusCode, body)
		}
		return resp.StatusCode, answer.Message
	}
	const v1, v3 = "/nacos/v1/auth/users/login", "/nacos/v3/auth/user/login"
	for _, c := range []struct {
		path, username, password string
		status                   int
		message                  string
	}{
		{v1, "nacos", "s3cret", 200, "token"},
		{v3, "nacos", "s3cret", 200, "token"},
		{v1, "nacos", "wrong", 500, "Handle API Compatibility failed, please see log for detail."},
		{v1, "nobody", "s3cret", 500, "Handle API Compatibility failed, please see log for detail."},
		{v3, "nacos", "wrong", 500, "No message available"},
		{v3, "nacos", "", 500, "No message available"},
		{v3, "nobody", "s3cret", 403, "Access Denied"},
	} {
		if status, message := loginAt(c.path, c.username, c.password); status != c.status || message != c.message {
			t.Errorf("login of %s/%s at %s: %d %q, want %d %q", c.username, c.password, c.path, status, message, c.status, c.message)
		}
	}
	if status, _ := login(t, newServer(t, WithAuth("nacos", "s3cret")), "nacos", "wrong"); status != http.StatusForbidden {
		t.Errorf("2.x: a wrong password's login: %d, want 403", status)
	}
	if resp, err := http.PostForm("http://"+newServer(t).Addr()+v3, url.Values{"username": {"nacos"}, "password": {"x"}}); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("2.x serves 3.x's login path: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	client := newClient(t, []string{srv.Addr()}, credentials("nacos", "s3cret"))
	register(t, client, instance("svc", "10.0.0.1", 80, nil))
	got, err := client.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "svc"})
	if err != nil || !sameAddrs(got, "10.0.0.1:80") {
		t.Fatalf("the SDK against WithNacos3: SelectAllInstances = %v, %v", got, err)
	}
}
