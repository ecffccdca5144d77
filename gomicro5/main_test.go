package nacos_test

import (
	"testing"

	"go-micro.dev/v5/broker"
	"go-micro.dev/v5/logger"
	"go-micro.dev/v5/server"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/internal/testkit"
)

// The tests run against the embedded server (nacostest) by default, and against a real
// Nacos when NACOS_ADDR is set (see testkit.RealNacos).
func TestMain(m *testing.M) {
	// Keep test output readable: the SDK reconnects loudly while tests break things.
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.FatalLevel))
	// go-micro's default server and broker, built as its packages loaded, keep the logger
	// of then (v4's writes to stdout, where the examples' output is checked).
	server.DefaultServer = server.NewServer()
	broker.DefaultBroker = newBroker()
	testkit.WaitersInParallel(8) // the tests mostly wait on the server and the SDK
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), testkit.SDKPushReceiver,
		// go-micro's, whatever the plugin does (as testkit.GoMicroGoroutines for v3): its
		// default config's loader, started when its packages load, and the janitor of
		// each client's go-cache.
		goleak.IgnoreTopFunction("go-micro.dev/v5/config/loader/memory.(*memory).Watch.func1"),
		goleak.IgnoreTopFunction("go-micro.dev/v5/config.(*config).run.func2"),
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"))
}
