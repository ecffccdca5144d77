package naming

import (
	"context"
	"fmt"
	"github.com/micro-registry/nacos/internal/testenv"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, notOurs...)
}

// notOurs are the goroutines that are not the package's: those running when the tests
// start, the one every SDK client leaves behind, and go-micro's (testkit links go-micro's
// logger in).
var notOurs = append([]goleak.Option{goleak.IgnoreCurrent(), testkit.SDKPushReceiver}, testkit.GoMicroGoroutines...)

// within is how long a test waits for Nacos to push what it was sent.
const within = 5 * time.Second

// testEnv is a Nacos for one test: its own embedded server, or its own namespace on the
// real server.
type testEnv struct {
	addr      string
	namespace string            // "" (public) on the embedded server
	srv       *nacostest.Server // nil on the real server
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	if testkit.RealNacos != "" {
		// math/rand/v2: a test's child process (testkit.RunChecked) must not draw the
		// same namespaces as its parent.
		return &testEnv{addr: testkit.RealNacos, namespace: fmt.Sprintf("test-%d", rand.Int64())}
	}
	srv := testenv.StartServer(t)
	return &testEnv{addr: srv.Addr(), srv: srv}
}

// dial returns a new SDKClient on this env, built from the settings the registry builds
// its own from (sdkclient.Build), closed when the test ends.
func (e *testEnv) dial(t testing.TB) *SDKClient {
	t.Helper()
	return e.dialHearing(t, func(bool) {})
}

// dialHearing is dial with Dial's reconnected.
func (e *testEnv) dialHearing(t testing.TB, reconnected func(lost bool)) *SDKClient {
	t.Helper()
	ctx := context.Background()
	if e.namespace != "" {
		ctx = context.WithValue(ctx, sdkclient.NamespaceKey{}, e.namespace)
	}
	servers, cc, err := sdkclient.Build(ctx, sdkclient.Connection{Addrs: []string{e.addr}, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cc.UpdateCacheWhenEmpty = true // as the registry's settings have it
	c, err := Dial(servers, cc, logging.Discard, reconnected)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { <-c.Close() })
	return c
}

func fmtErr(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
