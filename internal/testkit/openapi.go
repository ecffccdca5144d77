package testkit

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

// OpenAPI calls the HTTP open API of the Nacos at addr, as RealAuth's user when set,
// and returns the answer and its status.
func OpenAPI(t testing.TB, addr, method, path string, params url.Values) ([]byte, int) {
	t.Helper()
	if RealAuth != "" {
		params.Set("accessToken", openAPIToken(t, addr))
	}
	return openAPICall(t, addr, method, path, params)
}

func openAPICall(t testing.TB, addr, method, path string, params url.Values) ([]byte, int) {
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
		t.Fatalf("Nacos open API %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("Nacos open API %s %s: %v", method, path, err)
	}
	return answer, resp.StatusCode
}

var openAPILogin struct {
	sync.Mutex
	token string
	until time.Time
}

// openAPIToken logs RealAuth's user in, once per token lifetime (the members of a
// cluster share the token secret).
func openAPIToken(t testing.TB, addr string) string {
	t.Helper()
	openAPILogin.Lock()
	defer openAPILogin.Unlock()
	if openAPILogin.token != "" && time.Now().Before(openAPILogin.until) {
		return openAPILogin.token
	}
	user, pass := RealCredentials()
	body, status := openAPICall(t, addr, http.MethodPost, "/v1/auth/users/login", url.Values{"username": {user}, "password": {pass}})
	var login struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int64  `json:"tokenTtl"`
	}
	if err := json.Unmarshal(body, &login); status != http.StatusOK || err != nil || login.AccessToken == "" {
		t.Fatalf("log in to the Nacos at NACOS_ADDR as NACOS_AUTH's user: %d %s", status, body)
	}
	openAPILogin.token = login.AccessToken
	openAPILogin.until = time.Now().Add(time.Duration(login.TokenTTL) * time.Second / 2)
	return login.AccessToken
}
