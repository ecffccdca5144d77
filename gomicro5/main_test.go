package nacos_test

import (
	"testing"

	"go-micro.dev/v5/logger"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/testkit"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos).
func TestMain(m *testing.M) {
	// Keep test output readable: the SDK reconnects loudly while tests break things.
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.FatalLevel))
	testkit.WaitersInParallel(8) // the tests mostly wait on the server and the SDK
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), testkit.SDKPushReceiver,
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"))
}
