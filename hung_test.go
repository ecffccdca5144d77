package nacos

import (
	"github.com/micro-registry/nacos/internal/testkit"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos/nacostest"
)

// hungServer listens where a Nacos would (HTTP on a port P, gRPC on P+1000), accepts
// connections and never answers. It returns the address to give the registry, and a
// function that stops it (also called when the test ends).
func hungServer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	listen := func(addr string) net.Listener {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("no port pair for the hung server: %v", err)
		}
		go func() {
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
		return l
	}
	http := listen("127.0.0.1:0")
	port := http.Addr().(*net.TCPAddr).Port
	grpc := listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(port+constant.RpcPortOffset)))
	var once sync.Once
	stop = func() {
		once.Do(func() {
			http.Close()
			grpc.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
	}
	t.Cleanup(stop)
	return http.Addr().String(), stop
}

// timed runs f and says how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// Against a server that accepts connections and never answers, every method returns
// within its timeout and a margin, Options, String and Init never wait, other
// registries are not held up, and Close returns at once and, once the SDK gives up
// its connection attempt, leaves nothing behind.
func TestHungServerHoldsNothingUp(t *testing.T) {
	const timeout, margin = time.Second, 500 * time.Millisecond
	before := goleak.IgnoreCurrent()
	addr, stopServer := hungServer(t)
	r := NewRegistry(registry.Addrs(addr), registry.Timeout(timeout)).(*nacosRegistry)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		longest = map[string]time.Duration{}
	)
	call := func(name string, f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := timed(f)
			mu.Lock()
			longest[name] = max(longest[name], d)
			mu.Unlock()
		}()
	}
	call("Register", func() { mustFailClearly(t, "Register", r.Register(service("hung", "v1", "n1"))) })
	call("GetService", func() { r.GetService("hung") })
	call("ListServices", func() { r.ListServices() })
	call("Watch", func() {
		if w, err := r.Watch(); err == nil {
			w.Stop()
		}
	})
	stop := make(chan struct{})
	var quick sync.WaitGroup
	quick.Add(1)
	go func() { // the calls that must never wait, all along
		defer quick.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for name, f := range map[string]func(){
				"Options": func() { r.Options() },
				"String":  func() { _ = r.String() },
				"Init":    func() { r.Init(WithGroup("hung")) },
			} {
				d := timed(f)
				mu.Lock()
				longest[name] = max(longest[name], d)
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()

	// Another registry, on a working server, is not held up by this one's connect.
	env := newEnv(t)
	other := env.registry(t)
	if d := timed(func() { must(t, other.Register(service("other", "v1", "n1")), "register on a working server") }); d > 3*time.Second {
		t.Errorf("a registry on a working server took %v to register while another one connected to a hung server", d)
	}

	wg.Wait()
	close(stop)
	quick.Wait()
	for _, name := range []string{"Register", "GetService", "ListServices", "Watch"} {
		if longest[name] > timeout+margin {
			t.Errorf("%s took %v against a hung server, with a timeout of %v", name, longest[name], timeout)
		}
	}
	for _, name := range []string{"Options", "String", "Init"} {
		if longest[name] > 100*time.Millisecond {
			t.Errorf("%s waited %v: it must never wait on the network", name, longest[name])
		}
	}
	t.Logf("longest waits: %v", longest)

	if d := timed(func() { r.Close() }); d > margin {
		t.Errorf("Close during a hung connect took %v", d)
	}
	other.Close()
	stopServer()
	if env.srv != nil {
		env.srv.Close()
	}
	// The SDK cannot be interrupted while it connects (3 attempts of 3 s); once it gives
	// up, the registry closes the client it returns, and nothing remains.
	eventually(t, 20*time.Second, func() bool { return goleak.Find(before, sdkLeftovers) == nil },
		"goroutines remain after Close: %v", func() string { return fmtErr(goleak.Find(before, sdkLeftovers)) })
}

func fmtErr(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// A Register made while the client is still connecting fails with its timeout, stands,
// and is applied once Nacos answers.
func TestRegisterWhileConnectingStands(t *testing.T) {
	// The SDK races with itself as it connects (the race harness tolerates that).
	testkit.RunChecked(t, false, registerWhileConnectingStands)
}

func registerWhileConnectingStands(t *testing.T) {
	if realNacos != "" {
		t.Skip("replaces a silent server by an embedded one at the same address")
	}
	addr, stop := hungServer(t)
	r := NewRegistry(registry.Addrs(addr), registry.Timeout(500*time.Millisecond)).(*nacosRegistry)
	t.Cleanup(func() { r.Close() })
	s := service("stands", "v1", "n1")
	if err := r.Register(s); err == nil || !strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("Register while connecting to a silent server: %v", err)
	}
	stop()
	srv, err := nacostest.NewServer(nacostest.WithAddr(addr))
	if err != nil {
		t.Skipf("the silent server's address cannot be reused: %v", err)
	}
	t.Cleanup(srv.Close)
	state := func() string { return serverState(srv, "", "", "stands") }
	eventually(t, 30*time.Second, func() bool { return state() == stateOf(s) }, "the server holds %q", state)
}
