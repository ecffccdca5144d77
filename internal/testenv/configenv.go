package testenv

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// ConfigChangeWithin is how long a config change may take to reach a watcher: the push
// is at once, but nacos-sdk-go asks again only every 5 s after a failed or limited
// query.
const ConfigChangeWithin = 15 * time.Second

// ConfigEnv is a Nacos for one test of the config source: its own embedded server, or
// its own namespace on the real Nacos at testkit.RealNacos, whose configs are then
// written and read through the HTTP open API of its version (testkit), which
// nacos-sdk-go's rate limit does not count, as testkit.RealAuth's user when the server
// has auth on.
type ConfigEnv struct {
	Srv       *nacostest.Server // nil against a real Nacos
	Addr      string
	Namespace string // "" (public) on the embedded server
}

// NewConfigEnv returns a ConfigEnv for the test, on an embedded server started with opts
// unless testkit.RealNacos is set.
func NewConfigEnv(t testing.TB, opts ...nacostest.Option) *ConfigEnv {
	t.Helper()
	if testkit.RealNacos != "" {
		if testkit.RealAuth != "" {
			// The SDK logs in through http.DefaultTransport, whose idle connections to a
			// real Nacos would outlive the test (the embedded server closes them).
			t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
		}
		// math/rand/v2: go-micro seeds math/rand with the time in seconds, so a test's
		// child process would draw the same namespaces as its parent.
		return &ConfigEnv{Addr: testkit.RealNacos, Namespace: fmt.Sprintf("test-%d", rand.Int64())}
	}
	srv := StartServer(t, opts...)
	return &ConfigEnv{Srv: srv, Addr: srv.Addr()}
}

// Embedded returns the embedded server, or skips the test against a real Nacos, saying
// what of nacostest it needs.
func (e *ConfigEnv) Embedded(t testing.TB, needs string) *nacostest.Server {
	t.Helper()
	return Embedded(t, e.Srv, needs)
}

// Publish stores a config in the env's namespace, group DEFAULT_GROUP.
func (e *ConfigEnv) Publish(t testing.TB, dataID, content string) {
	t.Helper()
	e.PublishIn(t, e.Namespace, dataID, content)
}

// PublishIn stores a config in a namespace, group DEFAULT_GROUP; on the real Nacos it
// waits until Nacos's queries serve it (Nacos acknowledges a publish before the cache
// its queries read has it).
func (e *ConfigEnv) PublishIn(t testing.TB, namespace, dataID, content string) {
	t.Helper()
	if e.Srv != nil {
		if err := e.Srv.PublishConfig(namespace, "", dataID, content); err != nil {
			t.Fatal(err)
		}
		return
	}
	testkit.PublishConfig(t, e.Addr, namespace, defaultGroup, dataID, content)
	testkit.Eventually(t, ConfigChangeWithin, func() bool { got, ok := e.storedIn(t, namespace, dataID); return ok && got == content }, "Nacos does not serve %s as published", dataID)
}

// Remove deletes a config of the env's namespace.
func (e *ConfigEnv) Remove(t testing.TB, dataID string) {
	t.Helper()
	e.RemoveIn(t, e.Namespace, dataID)
}

// RemoveIn deletes a config of a namespace; on the real Nacos it waits until Nacos's
// queries no longer serve it.
func (e *ConfigEnv) RemoveIn(t testing.TB, namespace, dataID string) {
	t.Helper()
	if e.Srv != nil {
		e.Srv.RemoveConfig(namespace, "", dataID)
		return
	}
	testkit.RemoveConfig(t, e.Addr, namespace, defaultGroup, dataID)
	testkit.Eventually(t, ConfigChangeWithin, func() bool { _, ok := e.storedIn(t, namespace, dataID); return !ok }, "Nacos still serves %s", dataID)
}

// Stored returns what the server holds of a config of the env's namespace, and whether
// it exists.
func (e *ConfigEnv) Stored(t testing.TB, dataID string) (string, bool) {
	t.Helper()
	return e.storedIn(t, e.Namespace, dataID)
}

// defaultGroup is Nacos's default group, which the env's configs are in.
const defaultGroup = "DEFAULT_GROUP"

func (e *ConfigEnv) storedIn(t testing.TB, namespace, dataID string) (string, bool) {
	t.Helper()
	if e.Srv != nil {
		return e.Srv.Config(namespace, "", dataID)
	}
	deadline := time.Now().Add(ConfigChangeWithin)
	for {
		content, read := testkit.ReadConfig(t, e.Addr, namespace, defaultGroup, dataID)
		switch {
		case read == testkit.ConfigFound:
			return content, true
		case read == testkit.ConfigMissing:
			return "", false
		case time.Now().Before(deadline): // being modified: try again
			time.Sleep(20 * time.Millisecond)
			continue
		}
		t.Fatalf("Nacos at %s: read %s: still being modified after %s", e.Addr, dataID, ConfigChangeWithin)
	}
}
