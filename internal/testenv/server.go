// Package testenv is the Nacos the plugin's tests run against: an embedded nacostest
// server of their own, or, with NACOS_ADDR set, the real Nacos there (testkit.RealNacos),
// whose state is read and written through its open API (testkit). It is apart from
// testkit because nacostest's own tests use testkit.
package testenv

import (
	"testing"

	"github.com/micro-registry/nacos/nacostest"
)

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
