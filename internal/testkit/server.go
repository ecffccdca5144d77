package testkit

import (
	"os"
	"testing"

	"github.com/micro-registry/nacos/nacostest"
)

// RealNacos is the address of the real Nacos the tests run against, from NACOS_ADDR
// (host:port, e.g. 127.0.0.1:8848 after `docker compose up -d`); "" means each test
// runs its own embedded server (nacostest).
var RealNacos = os.Getenv("NACOS_ADDR")

// StartServer starts an embedded Nacos for the test, closed when the test ends.
func StartServer(t testing.TB, opts ...nacostest.Option) *nacostest.Server {
	t.Helper()
	srv, err := nacostest.NewServer(opts...)
	if err != nil {
		t.Fatalf("start nacostest: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Embedded returns srv, or skips the test when it runs against a real Nacos (srv is
// nil then): it needs what only the embedded server has.
func Embedded(t testing.TB, srv *nacostest.Server) *nacostest.Server {
	t.Helper()
	if srv == nil {
		t.Skip("needs the embedded server's fault injection or introspection; NACOS_ADDR is set")
	}
	return srv
}
