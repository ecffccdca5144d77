package nacosconfig

// The real Nacos at NACOS_ADDR as a test server: its configs are written and read
// through Nacos's HTTP open API (where nacostest has helpers), which the SDK's rate limit
// does not count, as the user NACOS_AUTH names when the server has auth on
// (testkit.OpenAPI).

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
)

// openAPI calls the open API of the Nacos at NACOS_ADDR and returns the status and body
// of its answer.
func openAPI(t testing.TB, method, path string, params url.Values) (int, string) {
	t.Helper()
	body, status := testkit.OpenAPI(t, realNacos, method, path, params)
	return status, string(body)
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
