package sdkclient

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/testkit"
)

// diagnose probes addr with the client configuration cc and returns what it says.
func diagnose(t *testing.T, addr string, cc constant.ClientConfig) string {
	t.Helper()
	servers, err := ParseAddrs([]string{addr})
	if err != nil {
		t.Fatal(err)
	}
	cc.TimeoutMs = 1000
	d := NewDiagnoser(servers, cc, RegistryEnv)
	return (&UnreachableError{Findings: d.Diagnose(time.Now().Add(2 * time.Second))}).Error()
}

// Each way of not reaching Nacos is told apart, with the address, the gRPC port and what
// to check.
func TestProbeNamesTheCause(t *testing.T) {
	for _, c := range testkit.UnreachableAddrs(t) {
		got := diagnose(t, c.Addr, constant.ClientConfig{})
		for _, want := range c.Want {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q does not say %q", c.Name, got, want)
			}
		}
	}
}

// tlsAt serves TLS at a port G above 1000 and returns the Nacos address whose gRPC port
// is G.
func tlsAt(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the probes break off
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	if port <= grpcPortOffset {
		t.Skip("the TLS server's port has no HTTP port below it")
	}
	return "127.0.0.1:" + strconv.Itoa(port-grpcPortOffset)
}

// TLS on one side only, or a certificate the client does not trust, is named as such.
func TestProbeNamesTLS(t *testing.T) {
	addr := tlsAt(t)
	if got := diagnose(t, addr, constant.ClientConfig{}); !strings.Contains(got, "speaks TLS and the client does not") || !strings.Contains(got, "turn TLS on in the client") {
		t.Errorf("plain client, TLS server: %s", got)
	}
	untrusted := constant.ClientConfig{TLSCfg: constant.TLSConfig{Enable: true}}
	if got := diagnose(t, addr, untrusted); !strings.Contains(got, "TLS handshake with") || !strings.Contains(got, "certificate") {
		t.Errorf("TLS client, untrusted certificate: %s", got)
	}
	trustAll := constant.ClientConfig{TLSCfg: constant.TLSConfig{Enable: true, TrustAll: true}}
	if got := diagnose(t, addr, trustAll); !strings.Contains(got, "though the gRPC port answers a dial") {
		t.Errorf("TLS client trusting all, an HTTP/2 server: %s", got)
	}
	plain := testkit.SilentServer(t)
	if got := diagnose(t, plain, trustAll); !strings.Contains(got, "did not answer the TLS handshake") {
		t.Errorf("TLS client, silent server: %s", got)
	}
}

// A burst of failing calls dials once: one probe at a time, its finding kept for
// FindingTTL.
func TestABurstOfCallsProbesOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port <= grpcPortOffset {
		t.Skip("no HTTP port below the listener's")
	}
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			c.Close() // a server that closes at once: the probe ends at once
			accepted <- c
		}
	}()
	servers, _ := ParseAddrs([]string{"127.0.0.1:" + strconv.Itoa(port-grpcPortOffset)})
	d := NewDiagnoser(servers, constant.ClientConfig{TimeoutMs: 1000}, RegistryEnv)
	done := make(chan struct{})
	for range 50 {
		go func() {
			d.Diagnose(time.Now().Add(time.Second))
			done <- struct{}{}
		}()
	}
	for range 50 {
		<-done
	}
	d.Diagnose(time.Now().Add(time.Second)) // within FindingTTL of the first
	l.Close()
	n := 0
	for range accepted {
		n++
	}
	// The probe of a server that closes a plain connection also tries TLS: two dials.
	if n > 2 {
		t.Fatalf("51 diagnoses within %v dialed %d times", FindingTTL, n)
	}
}

// A call that fails at its deadline starts a probe it cannot wait for: the last probe's
// finding, though no longer fresh, says more than "not checked yet".
func TestADiagnosisAtItsDeadlineSaysTheLastFinding(t *testing.T) {
	servers, err := ParseAddrs([]string{testkit.SilentServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDiagnoser(servers, constant.ClientConfig{TimeoutMs: 200}, RegistryEnv)
	d.Diagnose(time.Now().Add(time.Second)) // the probe gives up on the silent server after 200ms
	ttl := FindingTTL
	FindingTTL = 0 // that finding is stale at once
	defer func() { FindingTTL = ttl }()
	got := (&UnreachableError{Findings: d.Diagnose(time.Now())}).Error()
	if want := "took the TCP connection but sent nothing in"; !strings.Contains(got, want) {
		t.Errorf("a diagnosis at its deadline says %q, not %q", got, want)
	}
	d.Diagnose(time.Now().Add(time.Second)) // the probe it started ends
}
