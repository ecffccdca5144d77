package sdkclient

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// freePair returns a port P that nothing listens on, nor on P+1000.
func freePair(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+grpcPortOffset > 65535 {
			continue
		}
		if g, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+grpcPortOffset)); err == nil {
			g.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// silentServer listens on a port G and takes connections without ever answering; the
// Nacos address whose gRPC port is G is returned.
func silentServer(t *testing.T) string {
	t.Helper()
	var l net.Listener
	for range 50 {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l.Addr().(*net.TCPAddr).Port > grpcPortOffset {
			break
		}
		l.Close()
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port-grpcPortOffset)
}

func TestProbeNamesTheCause(t *testing.T) {
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	cases := map[string]string{
		"closed port":  "127.0.0.1:" + strconv.Itoa(freePair(t)),
		"no such host": "no-such-host.invalid:8848",
		"http server":  web.Listener.Addr().String(),
		"silent":       silentServer(t),
	}
	if a := os.Getenv("NACOS_CONSOLE_ADDR"); a != "" {
		cases["console"] = a
	}
	for name, addr := range cases {
		servers, err := ParseAddrs([]string{addr})
		if err != nil {
			t.Fatal(err)
		}
		d := NewDiagnoser(servers, constant.ClientConfig{TimeoutMs: 1000}, RegistryEnv)
		start := time.Now()
		f := d.Diagnose(time.Now().Add(2 * time.Second))
		t.Logf("%s (%v): %s", name, time.Since(start).Round(time.Millisecond), (&UnreachableError{Findings: f}).Error())
		_ = strings.Contains
	}
}
