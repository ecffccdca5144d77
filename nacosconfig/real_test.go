package nacosconfig

// The real Nacos at NACOS_ADDR as a test server: its configs are written and read
// through Nacos's HTTP open API (where nacostest has helpers), which the SDK's rate limit
// does not count, as the user NACOS_AUTH names when the server has auth on.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// realAuth is "user:password" of a user with read-write permission on the Nacos at
// NACOS_ADDR, when that Nacos has auth on (scripts/real-nacos.sh creates one when
// started with the same NACOS_AUTH).
var realAuth = os.Getenv("NACOS_AUTH")

// realCredentials splits NACOS_AUTH.
func realCredentials() (username, password string) {
	username, password, _ = strings.Cut(realAuth, ":")
	return username, password
}

// openAPI calls the open API of the Nacos at NACOS_ADDR and returns the status and body
// of its answer.
func openAPI(t testing.TB, method, path string, params url.Values) (int, string) {
	t.Helper()
	if realAuth != "" {
		params.Set("accessToken", openAPIToken(t))
	}
	target := "http://" + realNacos + "/nacos" + path
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
		t.Fatalf("Nacos open API %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("Nacos open API %s %s: %v", method, path, err)
	}
	return resp.StatusCode, string(answer)
}

var openAPILogin struct {
	sync.Mutex
	token string
	until time.Time
}

// openAPIToken logs NACOS_AUTH's user in, once per token lifetime.
func openAPIToken(t testing.TB) string {
	t.Helper()
	openAPILogin.Lock()
	defer openAPILogin.Unlock()
	if openAPILogin.token != "" && time.Now().Before(openAPILogin.until) {
		return openAPILogin.token
	}
	user, pass := realCredentials()
	req, err := http.NewRequest(http.MethodPost, "http://"+realNacos+"/nacos/v1/auth/login",
		strings.NewReader(url.Values{"username": {user}, "password": {pass}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Nacos login: %v", err)
	}
	defer resp.Body.Close()
	var login struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int64  `json:"tokenTtl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || login.AccessToken == "" {
		t.Fatalf("Nacos login as NACOS_AUTH's user: status %d, %v", resp.StatusCode, err)
	}
	openAPILogin.token = login.AccessToken
	openAPILogin.until = time.Now().Add(time.Duration(login.TokenTTL) * time.Second / 2)
	return login.AccessToken
}

// realConfig reads a config of the real Nacos: its content, and whether it exists.
func realConfig(t testing.TB, namespace, dataID string) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(changeWithin)
	for {
		status, body := openAPI(t, http.MethodGet, "/v1/cs/configs", url.Values{"dataId": {dataID}, "group": {DefaultGroup}, "tenant": {namespace}})
		switch {
		case status == http.StatusOK:
			return body, true
		case status == http.StatusNotFound:
			return "", false
		case status == http.StatusConflict && time.Now().Before(deadline):
			time.Sleep(20 * time.Millisecond) // "requested file is being modified, please try later."
			continue
		}
		t.Fatalf("Nacos open API: read %s: %d %s", dataID, status, body)
	}
}

// realPublish stores a config on the real Nacos and waits until its queries serve it:
// Nacos acknowledges a publish before the cache its queries read has it.
func realPublish(t testing.TB, namespace, dataID, content string) {
	t.Helper()
	status, body := openAPI(t, http.MethodPost, "/v1/cs/configs", url.Values{"dataId": {dataID}, "group": {DefaultGroup}, "tenant": {namespace}, "content": {content}})
	if status != http.StatusOK || body != "true" {
		t.Fatalf("Nacos open API: publish %s: %d %s", dataID, status, body)
	}
	eventually(t, changeWithin, func() bool { got, ok := realConfig(t, namespace, dataID); return ok && got == content }, "Nacos does not serve %s as published", dataID)
}

// realRemove deletes a config of the real Nacos and waits until its queries no longer
// serve it.
func realRemove(t testing.TB, namespace, dataID string) {
	t.Helper()
	status, body := openAPI(t, http.MethodDelete, "/v1/cs/configs", url.Values{"dataId": {dataID}, "group": {DefaultGroup}, "tenant": {namespace}})
	if status != http.StatusOK || body != "true" {
		t.Fatalf("Nacos open API: remove %s: %d %s", dataID, status, body)
	}
	eventually(t, changeWithin, func() bool { _, ok := realConfig(t, namespace, dataID); return !ok }, "Nacos still serves %s", dataID)
}
