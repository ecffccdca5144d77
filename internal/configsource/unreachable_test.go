package configsource

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
)

// Every error about connectivity names the address tried and its gRPC port, what failed
// and what to check, with one "nacos: " prefix, within the source's timeout: against a
// closed port, a host name that does not resolve, an HTTP server that is not Nacos (a
// console's stand-in), a server that never answers, and the console of a real Nacos 3.x
// (with NACOS_ADDR).
func TestUnreachableErrorsNameTheCause(t *testing.T) {
	const timeout = time.Second
	const slack = 750 * time.Millisecond // a loaded machine under -race
	for _, c := range testkit.UnreachableAddrs(t) {
		t.Run(c.Name, func(t *testing.T) {
			o := Options{Context: context.Background()}
			for _, opt := range []option{with(AddressKey{}, []string{c.Addr}), with(TimeoutKey{}, timeout), with(DataIDKey{}, []string{"unreachable.yaml"})} {
				opt(&o)
			}
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			calls := []struct {
				name string
				call func() error
			}{
				{"Read", func() error { _, err := s.Read(); return err }},
				{"Write", func() error { return s.Write(&ChangeSet{Data: []byte(`{"a":1}`), Format: "json"}) }},
				{"Watch", func() error { _, err := s.Watch(); return err }},
			}
			for _, call := range calls {
				start := time.Now()
				err := call.call()
				took := time.Since(start)
				if err == nil {
					t.Fatalf("%s: no error", call.name)
				}
				msg := err.Error()
				t.Logf("%s (%v): %s", call.name, took.Round(time.Millisecond), msg)
				if !strings.HasPrefix(msg, "nacos: ") || strings.Count(msg, "nacos: ") > 1 {
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
			s.mu.Lock()
			client := s.client
			s.mu.Unlock()
			s.Close()
			if client != nil {
				// The SDK's first request connects for up to 9 s against a silent server,
				// and cannot be cut short: the client ends once it gives up.
				select {
				case <-client.ended:
				case <-time.After(20 * time.Second):
					t.Fatalf("the client did not end: it waits for %s", client.waitingFor())
				}
				testkit.SettleSDKReconnects()
			}
		})
	}
}
