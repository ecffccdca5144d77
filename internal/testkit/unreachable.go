package testkit

import (
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// grpcOffset is where the SDK dials gRPC: the HTTP port + 1000.
const grpcOffset = 1000

// Unreachable is an address where no Nacos answers, and what an error about it must say:
// the address, its gRPC port, what failed and what to check.
type Unreachable struct {
	Name string
	Addr string
	Want []string
}

// UnreachableAddrs returns the ways a Nacos address can fail to reach Nacos: a closed
// port, a host name that does not resolve, an HTTP server that is not Nacos (the
// stand-in for Nacos 3.x's console), a server that takes connections and never
// answers, and, against a real Nacos 3.x (RealNacos), the console of that Nacos (its
// HTTP port + 2000, as scripts/real-nacos.sh places it). Everything it starts stops at
// the test's end.
func UnreachableAddrs(t testing.TB) []Unreachable {
	t.Helper()
	closed := freePair(t)
	web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(web.Close)
	silent := SilentServer(t)
	cases := []Unreachable{
		{"closed port", closed, wants(closed, "connection refused", "check that Nacos runs there")},
		{"no such host", "no-such-host.invalid:8848", wants("no-such-host.invalid:8848", `no such host "no-such-host.invalid"`, "check the host name")},
		{"HTTP server", web.Listener.Addr().String(), wants(web.Listener.Addr().String(), "connection refused", "answers HTTP, but not as a Nacos server does", "console")},
		{"silent server", silent, wants(silent, "took the TCP connection but sent nothing in", "is something other than Nacos listening")},
	}
	if RealNacos != "" && !strings.Contains(RealNacos, ",") && IsNacos3(t, RealNacos) {
		host, port, _ := net.SplitHostPort(RealNacos)
		p, _ := strconv.Atoi(port)
		console := net.JoinHostPort(host, strconv.Itoa(p+2000))
		cases = append(cases, Unreachable{"console of the real Nacos 3", console,
			wants(console, "connection refused", "is the console of Nacos "+ServerVersion(t, RealNacos)+", not its server: use its server port, "+RealNacos)})
	}
	return cases
}

// wants is what an error about addr must say: the address, its gRPC port, and more.
func wants(addr string, more ...string) []string {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return append([]string{"cannot reach Nacos at " + addr + " (gRPC port " + strconv.Itoa(p+grpcOffset) + ")"}, more...)
}

// freePair returns an address whose port P nothing listens on, nor P+1000.
func freePair(t testing.TB) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+grpcOffset > 65535 {
			continue
		}
		if g, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+grpcOffset)); err == nil {
			g.Close()
			return "127.0.0.1:" + strconv.Itoa(p)
		}
	}
	t.Fatal("no free port pair")
	return ""
}

// SilentServer listens on a port G above 1000 and takes connections without ever
// answering; it returns the Nacos address whose gRPC port is G (nothing listens at its
// HTTP port). It stops at the test's end.
func SilentServer(t testing.TB) string {
	t.Helper()
	var l net.Listener
	for range 50 {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l.Addr().(*net.TCPAddr).Port > grpcOffset {
			break
		}
		l.Close()
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port-grpcOffset)
}

// SettleSDKReconnects waits, at most 3 s, until no goroutine of nacos-sdk-go's
// reconnection loop is left: a closed SDK client that never connected ends it only after
// its current pause (800 ms), and goleak would take it for a leak of the last test.
func SettleSDKReconnects() {
	deadline := time.Now().Add(3 * time.Second)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "rpc.(*RpcClient).reconnect") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
