package nacosconfig

// The real Nacos at NACOS_ADDR as a test server: its configs are written and read
// through the HTTP open API of its version (testkit), which the SDK's rate limit does
// not count, as the user NACOS_AUTH names when the server has auth on.

import (
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
)

// realConfig reads a config of the real Nacos: its content, and whether it exists.
func realConfig(t testing.TB, namespace, dataID string) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(changeWithin)
	for {
		content, read := testkit.ReadConfig(t, realNacos, namespace, DefaultGroup, dataID)
		switch {
		case read == testkit.ConfigFound:
			return content, true
		case read == testkit.ConfigMissing:
			return "", false
		case time.Now().Before(deadline): // being modified: try again
			time.Sleep(20 * time.Millisecond)
			continue
		}
		t.Fatalf("Nacos at %s: read %s: still being modified after %s", realNacos, dataID, changeWithin)
	}
}

// realPublish stores a config on the real Nacos and waits until its queries serve it:
// Nacos acknowledges a publish before the cache its queries read has it.
func realPublish(t testing.TB, namespace, dataID, content string) {
	t.Helper()
	testkit.PublishConfig(t, realNacos, namespace, DefaultGroup, dataID, content)
	eventually(t, changeWithin, func() bool { got, ok := realConfig(t, namespace, dataID); return ok && got == content }, "Nacos does not serve %s as published", dataID)
}

// realRemove deletes a config of the real Nacos and waits until its queries no longer
// serve it.
func realRemove(t testing.TB, namespace, dataID string) {
	t.Helper()
	testkit.RemoveConfig(t, realNacos, namespace, DefaultGroup, dataID)
	eventually(t, changeWithin, func() bool { _, ok := realConfig(t, namespace, dataID); return !ok }, "Nacos still serves %s", dataID)
}
