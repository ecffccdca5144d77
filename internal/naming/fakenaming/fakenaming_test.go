package fakenaming_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/naming"
	"github.com/micro-registry/nacos/internal/naming/fakenaming"
)

var svc = naming.ServiceKey{Group: "DEFAULT_GROUP", Name: "svc"}

func instance(ip string) model.Instance {
	return model.Instance{Ip: ip, Port: 80, Weight: 1, Healthy: true, Enable: true, Ephemeral: true}
}

// addresses lists the ip:port of hosts.
func addresses(hosts []model.Instance) string {
	var out []string
	for _, h := range hosts {
		out = append(out, fmt.Sprintf("%s:%d", h.Ip, h.Port))
	}
	return strings.Join(out, " ")
}

// recorder is a subscriber: it keeps every list pushed to it.
type recorder struct {
	mu     sync.Mutex
	lists  []string
	stamps []uint64
}

func (r *recorder) push(hosts []model.Instance, stamp uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists = append(r.lists, addresses(hosts))
	r.stamps = append(r.stamps, stamp)
}

func (r *recorder) pushed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lists)
}

func subscribe(t *testing.T, c *fakenaming.Client, key naming.ServiceKey) (*recorder, func()) {
	t.Helper()
	r := &recorder{}
	unsubscribe, err := c.Subscribe(key, r.push)
	if err != nil {
		t.Fatal(err)
	}
	return r, unsubscribe
}

func publish(t *testing.T, c *fakenaming.Client, ips ...string) {
	t.Helper()
	var hosts []model.Instance
	for _, ip := range ips {
		hosts = append(hosts, instance(ip))
	}
	if err := c.Publish(svc, hosts, model.Instance{}); err != nil {
		t.Fatal(err)
	}
}

func wantLists(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	if got := r.pushed(); !slices.Equal(got, want) {
		t.Fatalf("pushed %q, want %q", got, want)
	}
	for i := 1; i < len(r.stamps); i++ {
		if r.stamps[i] <= r.stamps[i-1] {
			t.Fatalf("stamps do not increase: %v", r.stamps)
		}
	}
}

// A connection holds one registration per service, which its next Publish replaces;
// the list merges every connection's, and every change is pushed, once.
func TestPublishReplacesTheConnectionsRegistration(t *testing.T) {
	srv := fakenaming.NewServer()
	c1, c2 := srv.Dial("", func(bool) {}), srv.Dial("", func(bool) {})
	r, _ := subscribe(t, c1, svc)
	publish(t, c1, "10.0.0.1", "10.0.0.2")
	publish(t, c1, "10.0.0.2")
	publish(t, c1, "10.0.0.2") // unchanged: no push
	publish(t, c2, "10.0.0.3")
	publish(t, c1)
	publish(t, c1) // nothing to withdraw: a success, no push
	wantLists(t, r, "", "10.0.0.1:80 10.0.0.2:80", "10.0.0.2:80", "10.0.0.2:80 10.0.0.3:80", "10.0.0.3:80")

	got := srv.Instances("public", svc)[0]
	if got.ClusterName != "DEFAULT" || got.InstanceId != "10.0.0.3#80##DEFAULT_GROUP@@svc" || got.ServiceName != "DEFAULT_GROUP@@svc" ||
		got.Metadata == nil || got.InstanceHeartBeatTimeOut != 15000 {
		t.Fatalf("held %+v, not as Nacos holds it", got)
	}
}

// A service's instances are a set of whole instances: an address registered by two
// connections is there once if they registered the same instance, twice otherwise.
// Subscribers do not see disabled instances.
func TestInstancesAreASetOfWholeInstances(t *testing.T) {
	srv := fakenaming.NewServer()
	c1, c2 := srv.Dial("", func(bool) {}), srv.Dial("", func(bool) {})
	r, _ := subscribe(t, c1, svc)
	first, second, disabled := instance("10.0.0.1"), instance("10.0.0.1"), instance("10.0.0.2")
	first.Metadata, second.Metadata, disabled.Enable = map[string]string{"by": "c1"}, map[string]string{"by": "c2"}, false
	for _, p := range []struct {
		c    *fakenaming.Client
		in   []model.Instance
		held int
	}{{c1, []model.Instance{first}, 1}, {c2, []model.Instance{second}, 2}, {c2, []model.Instance{first}, 1}, {c2, []model.Instance{first, disabled}, 2}} {
		if err := p.c.Publish(svc, p.in, model.Instance{}); err != nil {
			t.Fatal(err)
		}
		if held := srv.Instances("", svc); len(held) != p.held {
			t.Fatalf("held %v, want %d instances", held, p.held)
		}
	}
	wantLists(t, r, "", "10.0.0.1:80", "10.0.0.1:80 10.0.0.1:80", "10.0.0.1:80")
}

// Namespaces and groups are apart; ServiceNames pages the names of a group that were
// ever registered, and leaves out those only subscribed to.
func TestServiceNamesPages(t *testing.T) {
	srv := fakenaming.NewServer()
	c, other := srv.Dial("", func(bool) {}), srv.Dial("elsewhere", func(bool) {})
	for _, name := range []string{"c", "a", "b"} {
		if err := c.Publish(naming.ServiceKey{Group: "DEFAULT_GROUP", Name: name}, []model.Instance{instance("10.0.0.1")}, model.Instance{}); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Publish(naming.ServiceKey{Group: "DEFAULT_GROUP", Name: "c"}, nil, model.Instance{}) // empty, still listed
	_ = c.Publish(naming.ServiceKey{Group: "other", Name: "d"}, []model.Instance{instance("10.0.0.1")}, model.Instance{})
	_ = other.Publish(naming.ServiceKey{Group: "DEFAULT_GROUP", Name: "e"}, []model.Instance{instance("10.0.0.1")}, model.Instance{})
	_, _ = subscribe(t, c, naming.ServiceKey{Group: "DEFAULT_GROUP", Name: "f"})
	for _, tc := range []struct {
		pageNo, pageSize uint32
		want             string
	}{{1, 2, "a b"}, {2, 2, "c"}, {3, 2, ""}, {1, 0, ""}} {
		names, total, err := c.ServiceNames(vo.GetAllServiceInfoParam{GroupName: "DEFAULT_GROUP", PageNo: tc.pageNo, PageSize: tc.pageSize})
		if err != nil || total != 3 || strings.Join(names, " ") != tc.want || names == nil {
			t.Fatalf("page %d of %d: %q of %d (%v), want %q of 3", tc.pageNo, tc.pageSize, names, total, err, tc.want)
		}
	}
}

// A connection that ends loses its registrations; a reconnected client keeps its
// subscriptions, a closed one loses them and fails every request.
func TestAConnectionsEndDropsItsRegistrations(t *testing.T) {
	srv := fakenaming.NewServer()
	reconnected := 0
	c := srv.Dial("", func(bool) { reconnected++ })
	watcher := srv.Dial("", func(bool) {})
	mine, _ := subscribe(t, c, svc)
	theirs, _ := subscribe(t, watcher, svc)
	publish(t, c, "10.0.0.1")
	c.Reconnect()
	if reconnected != 1 {
		t.Fatalf("reconnected called %d times, want 1", reconnected)
	}
	publish(t, c, "10.0.0.2") // the subscription carries on
	c.Close()
	wantLists(t, mine, "", "10.0.0.1:80", "", "10.0.0.2:80")
	wantLists(t, theirs, "", "10.0.0.1:80", "", "10.0.0.2:80", "")
	if err := c.Publish(svc, []model.Instance{instance("10.0.0.3")}, model.Instance{}); !naming.IsUnreachable(err) {
		t.Fatalf("Publish after Close: %v, want unreachable", err)
	}
	if srv.Clients() != 1 {
		t.Fatalf("%d clients open, want 1", srv.Clients())
	}
}

// An unsubscribed function is pushed nothing more, and the request is counted.
func TestUnsubscribeStopsPushes(t *testing.T) {
	srv := fakenaming.NewServer()
	c := srv.Dial("", func(bool) {})
	r, unsubscribe := subscribe(t, c, svc)
	unsubscribe()
	unsubscribe()
	publish(t, c, "10.0.0.1")
	wantLists(t, r, "")
	if n := len(srv.Requests(fakenaming.Unsubscribe)); n != 1 {
		t.Fatalf("%d unsubscribe requests, want 1", n)
	}
}

// Each error Fail is given is what the request returns, in the class the registry
// tells it by, and the request changes nothing.
func TestFailedRequestsChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		err                error
		refusal, unreached bool
	}{
		{&naming.RefusedError{Reason: "no permission"}, true, false},
		{fakenaming.ErrServer, false, false},
		{fakenaming.ErrUnreachable, false, true},
	} {
		srv := fakenaming.NewServer()
		c := srv.Dial("", func(bool) {})
		srv.Fail(fakenaming.Publish, tc.err)
		srv.Fail(fakenaming.Subscribe, tc.err)
		err := c.Publish(svc, []model.Instance{instance("10.0.0.1")}, model.Instance{})
		if !errors.Is(err, tc.err) || naming.IsRefusal(err) != tc.refusal || naming.IsUnreachable(err) != tc.unreached {
			t.Fatalf("Publish failing with %v returned %v", tc.err, err)
		}
		if _, err := c.Subscribe(svc, func([]model.Instance, uint64) {}); !errors.Is(err, tc.err) {
			t.Fatalf("Subscribe failing with %v returned %v", tc.err, err)
		}
		srv.Fail(fakenaming.Publish, nil)
		if held := srv.Instances("", svc); len(held) != 0 {
			t.Fatalf("a failed Publish changed the list: %v", held)
		}
		publish(t, c, "10.0.0.1")
		if n := len(srv.Requests(fakenaming.Publish)); n != 2 {
			t.Fatalf("%d Publish requests counted, want 2", n)
		}
	}
}

// A stalled request is served once released; one whose connection ends meanwhile
// fails as unreachable.
func TestStall(t *testing.T) {
	srv := fakenaming.NewServer()
	c := srv.Dial("", func(bool) {})
	release := srv.Stall(fakenaming.Publish)
	outcome := make(chan error, 2)
	go func() { outcome <- c.Publish(svc, []model.Instance{instance("10.0.0.1")}, model.Instance{}) }()
	waitFor(t, func() bool { return len(srv.Requests(fakenaming.Publish)) == 1 })
	select {
	case err := <-outcome:
		t.Fatalf("a stalled Publish returned %v", err)
	default:
	}
	release()
	release()
	if err := <-outcome; err != nil || len(srv.Instances("", svc)) != 1 {
		t.Fatalf("released Publish: %v, held %v", err, srv.Instances("", svc))
	}

	defer srv.Stall(fakenaming.Publish)()
	go func() { outcome <- c.Publish(svc, nil, model.Instance{}) }()
	waitFor(t, func() bool { return len(srv.Requests(fakenaming.Publish)) == 2 })
	c.Reconnect()
	if err := <-outcome; !naming.IsUnreachable(err) {
		t.Fatalf("a stalled Publish over a connection that ended returned %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func Example() {
	srv := fakenaming.NewServer()
	c := srv.Dial("", func(bool) { fmt.Println("reconnected") })
	defer c.Close()
	key := naming.ServiceKey{Group: "DEFAULT_GROUP", Name: "greeter"}
	_, _ = c.Subscribe(key, func(hosts []model.Instance, stamp uint64) {
		fmt.Printf("pushed %d instances\n", len(hosts))
	})
	_ = c.Publish(key, []model.Instance{{Ip: "10.0.0.1", Port: 8080, Weight: 1, Healthy: true, Enable: true}}, model.Instance{})
	srv.Fail(fakenaming.Publish, fakenaming.ErrServer)
	fmt.Println(c.Publish(key, nil, model.Instance{}))
	c.Reconnect()
	fmt.Println(len(srv.Instances("", key)), "instances held,", len(srv.Requests(fakenaming.Publish)), "Publish requests")
	// Output:
	// pushed 0 instances
	// pushed 1 instances
	// fakenaming: server error
	// pushed 0 instances
	// reconnected
	// 0 instances held, 2 Publish requests
}
