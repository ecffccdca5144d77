package nacostest

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCloseLeavesNoGoroutineOfThisPackage(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	// Give the server work in every state it can be closed in: a subscriber
	// with a held push queued, and a request held by FailTimeout.
	publisher := newClient(t, []string{srv.Addr()})
	reader := newClient(t, []string{srv.Addr()})
	watch(t, reader, "svc")
	srv.HoldPushes()
	register(t, publisher, instance("svc", "10.0.0.1", 80, nil))
	srv.FailRequests(ServiceListRequest, FailTimeout)
	held := sendServiceList(t, srv)

	srv.Close()
	srv.Close() // idempotent
	<-held
	for _, g := range goroutines() {
		// The test's own goroutines (this one, TestMain's) do not count.
		if strings.Contains(g, "micro-registry/nacos/nacostest.") && !strings.Contains(g, "nacostest.Test") {
			t.Errorf("goroutine left after Close:\n%s", g)
		}
	}
	if err := srv.Restart(); err == nil {
		t.Error("Restart after Close succeeded")
	}
}

func TestWithAddrServesOnThatPort(t *testing.T) {
	probe := newServer(t)
	addr := probe.Addr()
	probe.Close() // frees both ports for the fixed-address server

	srv := newServer(t, WithAddr(addr))
	if srv.Addr() != addr {
		t.Fatalf("Addr = %s, want %s", srv.Addr(), addr)
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if srv.GRPCAddr() != net.JoinHostPort(host, strconv.Itoa(p+1000)) {
		t.Fatalf("gRPC on %s, want port %d", srv.GRPCAddr(), p+1000)
	}
	register(t, newClient(t, []string{addr}), instance("svc", "10.0.0.1", 80, nil))
	if !holds(srv, "svc", "10.0.0.1:80") {
		t.Fatal("registration through the fixed address not stored")
	}

	if _, err := NewServer(WithAddr(addr)); err == nil {
		t.Error("a second server on a taken address started")
	}
	for _, bad := range []string{"127.0.0.1:64536", "127.0.0.1", "127.0.0.1:http"} {
		if _, err := NewServer(WithAddr(bad)); err == nil {
			t.Errorf("WithAddr(%q) accepted", bad)
		}
	}
}

func TestNewClusterRejectsBadArguments(t *testing.T) {
	if _, err := NewCluster(0); err == nil {
		t.Error("NewCluster(0) succeeded")
	}
	if _, err := NewCluster(2, WithAddr("127.0.0.1:8848")); err == nil {
		t.Error("NewCluster with WithAddr succeeded")
	}
}

// Idle tells when the named requests have stopped: none arrived and none was in hand
// for the period; the others do not count.
func TestIdleWatchesTheNamedRequests(t *testing.T) {
	srv := newServer(t)
	if !srv.Idle(time.Hour) {
		t.Fatal("a server that received nothing is not idle")
	}
	undo := srv.FailRequests(ServiceListRequest, FailTimeout)
	answered := sendServiceList(t, srv)
	// The request stays in hand: Idle does not count the time since it arrived.
	never(t, 100*time.Millisecond, func() bool {
		return srv.Idle(10*time.Millisecond, ServiceListRequest) || srv.Idle(10*time.Millisecond)
	})
	if !srv.Idle(0, InstanceRequest, SubscribeServiceRequest) {
		t.Fatal("not idle for requests that never came")
	}
	undo()
	<-answered
	eventually(t, 5*time.Second, func() bool { return srv.Idle(50*time.Millisecond, ServiceListRequest) })
	if srv.Idle(time.Hour, ServiceListRequest) {
		t.Fatal("idle for an hour after a request answered just now")
	}
}

// sendServiceList sends srv a ServiceListRequest from a raw client of its own, waits
// until srv has it, and returns a channel closed once it is answered (or failed).
func sendServiceList(t *testing.T, srv *Server) <-chan struct{} {
	t.Helper()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		raw, err := newRawClient(srv.GRPCAddr())
		if err != nil {
			return
		}
		defer raw.conn.Close()
		_, _ = raw.send(context.Background(), "ServiceListRequest", []byte(`{"namespace":"public"}`), nil)
	}()
	eventually(t, 5*time.Second, func() bool { return srv.Requests(ServiceListRequest) == 1 })
	return answered
}
