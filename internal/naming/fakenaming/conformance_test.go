package fakenaming_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"github.com/micro-registry/nacos/internal/testenv"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/naming/fakenaming"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
)

// latest keeps the last list pushed to a subscription, as JSON with its instances in
// a fixed order: Nacos does not order them.
type latest struct {
	mu   sync.Mutex
	list string
}

func (l *latest) push(hosts []model.Instance, _ uint64) {
	hosts = append([]model.Instance{}, hosts...) // none is none, nil or not
	slices.SortFunc(hosts, func(a, b model.Instance) int {
		return cmp.Or(cmp.Compare(a.InstanceId, b.InstanceId), cmp.Compare(fmt.Sprint(a.Metadata), fmt.Sprint(b.Metadata)))
	})
	b, err := json.Marshal(hosts)
	if err != nil {
		panic(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = string(b)
}

func (l *latest) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list
}

// side is one Nacos the script runs against, through two clients.
type side struct {
	a, b        naming.Client
	seenBy      [2]*latest // subscriptions of a and b
	drop        func()     // ends both clients' connections
	reconnected atomic.Int32
}

// The fake does what the embedded server nacostest (itself checked against Java) does
// behind the SDK: the same script, run through fakenaming and through naming.SDKClient
// over nacostest, ends each step with the same lists pushed to subscribers, instance
// for instance, and the same service names; and both clients reconnect after their
// connections were dropped. Under the race detector it runs in a child process, which
// tolerates nacos-sdk-go's own races (testkit.RunChecked).
func TestFakeAgreesWithNacostest(t *testing.T) {
	testkit.RunChecked(t, false, fakeAgreesWithNacostest)
}

func fakeAgreesWithNacostest(t *testing.T) {
	fake, real := &side{}, &side{}
	srv := fakenaming.NewServer()
	fa, fb := srv.Dial("", func(bool) { fake.reconnected.Add(1) }), srv.Dial("", func(bool) { fake.reconnected.Add(1) })
	fake.a, fake.b, fake.drop = fa, fb, func() { fa.Reconnect(); fb.Reconnect() }
	nacos := testenv.StartServer(t)
	real.a, real.b, real.drop = dialSDK(t, nacos.Addr(), &real.reconnected), dialSDK(t, nacos.Addr(), &real.reconnected), nacos.DropConnections

	node := func(ip, cluster string, enabled bool, metadata ...string) model.Instance {
		in := model.Instance{Ip: ip, Port: 8080, Weight: 1, Healthy: true, Enable: enabled, Ephemeral: true, ClusterName: cluster, Metadata: map[string]string{}}
		for i := 0; i+1 < len(metadata); i += 2 {
			in.Metadata[metadata[i]] = metadata[i+1]
		}
		return in
	}
	x1, x1b := node("10.0.0.1", "", true, "k", "v"), node("10.0.0.1", "", true, "k", "w")
	x2 := node("10.0.0.2", "east", true, "preserved.heart.beat.timeout", "20000")
	x3 := node("10.0.0.3", "", false)
	publish := func(by func(*side) naming.Client, hosts ...model.Instance) func(*side) error {
		return func(s *side) error { return by(s).Publish(svc, hosts, x1) }
	}
	a := func(s *side) naming.Client { return s.a }
	b := func(s *side) naming.Client { return s.b }
	subscribe := func(i int) func(*side) error {
		return func(s *side) error {
			s.seenBy[i] = &latest{}
			_, err := []naming.Client{s.a, s.b}[i].Subscribe(svc, s.seenBy[i].push)
			return err
		}
	}
	for i, step := range []func(*side) error{
		subscribe(0),
		publish(a, x1),
		publish(a, x1, x2),
		subscribe(1),
		publish(b, x1), // the same instance as a's
		publish(b, x1b),
		publish(b, x3),
		publish(a),
		publish(a),
		publish(a, x1),
		func(s *side) error { s.drop(); return nil }, // Nacos drops both connections' instances
		publish(a, x2),
	} {
		reconnected := real.reconnected.Load() // connections lost and made again
		for _, s := range []*side{fake, real} {
			if err := step(s); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		for j, seen := range fake.seenBy {
			if seen == nil {
				continue
			}
			want := seen.get()
			testkit.Eventually(t, 5*time.Second, func() bool { return real.seenBy[j].get() == want },
				"step %d: subscriber %d of nacostest has\n%s\nthe fake's has\n%s", i, j, real.seenBy[j].get, want)
		}
		if n := fake.reconnected.Swap(0); n > 0 { // the fake's clients reconnected in this step
			testkit.Eventually(t, 5*time.Second, func() bool { return real.reconnected.Load() >= reconnected+n }, "step %d: the SDK clients did not reconnect", i)
		}
	}
	for _, page := range []vo.GetAllServiceInfoParam{{GroupName: svc.Group, PageNo: 1, PageSize: 10}, {GroupName: svc.Group, PageNo: 2, PageSize: 1}, {GroupName: "other", PageNo: 1, PageSize: 10}} {
		names, total, err := fake.a.ServiceNames(page)
		wantNames, wantTotal, wantErr := real.a.ServiceNames(page)
		if fmt.Sprint(names, total, err) != fmt.Sprint(wantNames, wantTotal, wantErr) {
			t.Fatalf("ServiceNames(%+v): the fake lists %v of %d (%v), nacostest %v of %d (%v)", page, names, total, err, wantNames, wantTotal, wantErr)
		}
	}
}

// dialSDK returns an SDKClient on the server at addr, configured as the registry
// configures its own, that counts its reconnections; closed when the test ends.
func dialSDK(t *testing.T, addr string, reconnected *atomic.Int32) naming.Client {
	t.Helper()
	servers, cc, err := sdkclient.Build(context.Background(), sdkclient.Connection{Addrs: []string{addr}, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cc.UpdateCacheWhenEmpty = true
	c, err := naming.Dial(servers, cc, logging.Discard, func(lost bool) {
		if lost {
			reconnected.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { <-c.Close() })
	return c
}
