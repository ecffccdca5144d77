package core

import (
	"strings"
	"sync"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/testkit"
)

// Init with new client settings moves everything to a new client: the registrations,
// with no gap that other services would see, and the subscriptions; the old client is
// then closed.
func TestInitMovesEverythingToANewClient(t *testing.T) {
	t.Parallel()
	srv := fakenaming.NewServer()
	r, other := newRegistry(t, srv, patient), newRegistry(t, srv, patient)
	register(t, r, service("moved", "a"), 0)
	var mu sync.Mutex
	var gaps int // lists without a that subscribers were pushed
	observer := srv.Dial("", func(bool) {})
	defer observer.Close()
	if _, err := observer.Subscribe(naming.ServiceKey{Group: DefaultGroup, Name: "moved"}, func(hosts []model.Instance, _ uint64) {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(describeHosts("moved", hosts), "v1/a") {
			gaps++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, r, "moved"); got != "v1/a" {
		t.Fatalf("GetService found %q", got)
	}
	old := client(t, r)

	if err := r.Init(Options{Addrs: []string{"127.0.0.2:8848"}, Timeout: patient}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, within, func() bool { return client(t, r) != old && srv.Clients() == 2 }, "the old client was not replaced")
	if got := held(srv, "moved"); got != "v1/a" {
		t.Fatalf("after the switch, Nacos holds %q", got)
	}
	mu.Lock()
	gapped := gaps
	mu.Unlock()
	if gapped > 0 {
		t.Fatalf("during the switch, subscribers were pushed %d lists without the registered node", gapped)
	}
	register(t, other, service("moved", "b"), 0)
	testkit.Eventually(t, within, func() bool { return lookup(t, r, "moved") == "v1/a v1/b" }, "the lookup's subscription did not move")
}
