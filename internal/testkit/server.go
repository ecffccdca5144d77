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
// nil then), saying what of nacostest it needs (its fault injection, mostly).
func Embedded(t testing.TB, srv *nacostest.Server, needs string) *nacostest.Server {
	t.Helper()
	if srv == nil {
		t.Skipf("needs nacostest's %s, which a real Nacos lacks (NACOS_ADDR is set)", needs)
	}
	return srv
}
