package nacos

import (
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/testkit"
)

// Every error about connectivity, from every method, names the address tried and its
// gRPC port, what failed and what to check, with one "nacos: " prefix, within the call's
// timeout: against a closed port, a host name that does not resolve, an HTTP server
// that is not Nacos (a console's stand-in), a server that never answers, and the
// console of a real Nacos 3.x (with NACOS_ADDR).
func TestUnreachableErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, unreachableErrorsNameTheCause)
}

func unreachableErrorsNameTheCause(t *testing.T) {
	const timeout = time.Second
	const slack = 750 * time.Millisecond // a loaded machine under -race
	addrs := testkit.UnreachableAddrs(t)
	t.Cleanup(testkit.SettleSDKReconnects) // once every case has ended
	for _, c := range addrs {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel() // each its own registry and server
			r := NewRegistry(registry.Addrs(c.Addr), registry.Timeout(timeout))
			defer func() { Close(r); <-r.(*nacosRegistry).core.Ended() }()
			s := service("unreachable", "v1", "n1")
			calls := []struct {
				name string
				call func() error
			}{
				{"Register", func() error { return r.Register(s) }},
				{"Deregister", func() error { return r.Deregister(s) }},
				{"GetService", func() error { _, err := r.GetService("unreachable"); return err }},
				{"ListServices", func() error { _, err := r.ListServices(); return err }},
				{"Watch", func() error { _, err := r.Watch(registry.WatchService("unreachable")); return err }},
				{"Watch all", func() error { _, err := r.Watch(); return err }},
			}
			for _, call := range calls {
				start := time.Now()
				err := call.call()
				took := time.Since(start)
				if err == nil && call.name == "Deregister" && c.Name == "silent server" {
					continue // the registration never left: nothing to withdraw
				}
				if err == nil {
					t.Fatalf("%s: no error", call.name)
				}
				msg := err.Error()
				t.Logf("%s (%v): %s", call.name, took.Round(time.Millisecond), msg)
				if !strings.HasPrefix(msg, "nacos: ") || strings.Contains(msg, "nacos: nacos:") || strings.Count(msg, "nacos: ") > 1 {
					t.Fatalf("%s: want one \"nacos: \" prefix: %s", call.name, msg)
				}
				for _, want := range c.Want {
					if !strings.Contains(msg, want) {
						t.Fatalf("%s: the error does not say %q: %s", call.name, want, msg)
					}
				}
				if took > timeout+slack {
					t.Fatalf("%s answered after %v, over its timeout of %v", call.name, took, timeout)
				}
			}
		})
	}
}
