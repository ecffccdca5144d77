package nacos

// Faults: Nacos restarts, drops every connection, loses a cluster member, is down when
// the process starts, or fails requests. Nothing registered is lost, watchers stay
// current, and the registry heals without help from the caller.
//
// The tests that make SDK clients reconnect run, under -race, in a child process of the
// test binary (testkit.RunChecked): nacos-sdk-go v2.3.5 has unsynchronised state in its
// connection layer (RpcClient's current connection and status) that the race detector
// reports on every reconnect, whatever the plugin does (upstream nacos-group/nacos-sdk-go#833,
// #887, #905, #908). The child's race reports are read back, and the test fails on any race
// outside that layer.

import (
	"fmt"
	"github.com/micro-registry/nacos/internal/gomicro3"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// healScenario is the scenario of the fault tests: two publishing registries, and a reading
// registry with a watcher of one service and a watcher of all services. The reader is
// either one registry that lives through the faults, or a new one after each fault
// (newReader): then the test is about the registrations healing, not about a reader
// that lived through the fault staying current.
type healScenario struct {
	names       []string
	pubA, pubB  *nacosRegistry
	reader      *nacosRegistry
	one, all    *watchReader
	newReader   func() *nacosRegistry // set: a new reader after each fault
	registered  []*registry.Service   // what the publishers asked for
	connections func() int            // the server's open connections, for failure messages
}

// newHeal registers, through pubA: a service with four nodes of one version in two
// Register calls (the second one makes a batch of four), a service with two versions,
// and a service with a single node; through pubB, two more nodes of the first service.
// The reader (reader, or newReader's) looks them up and watches.
func newHeal(t *testing.T, pubA, pubB, reader *nacosRegistry, newReader func() *nacosRegistry) *healScenario {
	t.Helper()
	h := &healScenario{names: []string{"rel-heal-a", "rel-heal-b", "rel-heal-c"}, pubA: pubA, pubB: pubB, reader: reader, newReader: newReader}
	for _, step := range []struct {
		r *nacosRegistry
		s *registry.Service
	}{
		{pubA, service("rel-heal-a", "v1", "a1", "a2", "a3")},
		{pubA, service("rel-heal-a", "v1", "a4")},
		{pubA, service("rel-heal-b", "v1", "b1")},
		{pubA, service("rel-heal-b", "v2", "b2")},
		{pubA, service("rel-heal-c", "v1", "c1")},
		{pubB, service("rel-heal-a", "v1", "x1", "x2")},
	} {
		must(t, step.r.Register(step.s), "register %s", step.s.Name)
		h.registered = append(h.registered, step.s)
	}
	if reader != nil {
		h.read(t, reader)
	}
	return h
}

// read makes r the reader: it looks every service up and watches.
func (h *healScenario) read(t *testing.T, r *nacosRegistry) {
	t.Helper()
	if h.one != nil {
		h.one.stop()
		h.all.stop()
	}
	h.reader = r
	for _, name := range h.names {
		if _, err := r.GetService(name); err != nil && err != registry.ErrNotFound {
			t.Fatalf("GetService(%s): %v", name, err)
		}
	}
	h.one = watchAndRead(t, r, registry.WatchService("rel-heal-a"))
	h.all = watchAndRead(t, r)
}

// recovered waits until the server holds every node again, then until the reader is
// subscribed to every service again (a reader that lived through the fault), its
// GetService answers every node and both watchers have reported every node; it returns
// how long each took from start. With newReader, the reader is a new registry created
// once the server holds every node again.
func (h *healScenario) recovered(t *testing.T, start time.Time, server func() string, subscribers func(name string) int) (back, subscribed, lookedUp, watched time.Duration) {
	t.Helper()
	want := stateOf(h.registered...)
	eventually(t, recovery, func() bool { return server() == want }, "the server holds: %s", func() string { return stateDiff(server(), want) })
	back = time.Since(start)
	if h.newReader != nil {
		h.read(t, h.newReader())
	}
	eventually(t, recovery, func() bool {
		for _, name := range h.names {
			if subscribers(name) < 1 {
				return false
			}
		}
		return true
	}, "the reader did not subscribe again")
	subscribed = time.Since(start)
	eventually(t, recovery, func() bool { return seenState(h.reader, h.names) == want },
		"GetService answers: %s; the SDK's cache: %s; subscribers of rel-heal-a at the server: %s",
		func() string { return stateDiff(seenState(h.reader, h.names), want) },
		func() string { return sdkView(h.reader, h.names) }, func() string { return h.serverView(subscribers) })
	lookedUp = time.Since(start)
	wantOne := stateOfNamed(h.registered, "rel-heal-a")
	eventually(t, recovery, func() bool { return h.one.state() == wantOne && h.all.state() == want },
		"the watchers report: %s / %s", func() string { return stateDiff(h.one.state(), wantOne) }, func() string { return stateDiff(h.all.state(), want) })
	watched = time.Since(start)
	h.one.check(t, "of rel-heal-a")
	h.all.check(t, "of all services")
	return back, subscribed, lookedUp, watched
}

func (h *healScenario) serverView(subscribers func(name string) int) string {
	return fmt.Sprintf("%d (%d connections open)", subscribers("rel-heal-a"), h.connections())
}

// afterwards checks that, once healed, a node registered and one deregistered are
// delivered.
func (h *healScenario) afterwards(t *testing.T, server func() string, subscribers func(name string) int) {
	t.Helper()
	late := service("rel-heal-a", "v1", "a5")
	must(t, h.pubA.Register(late), "register a new node after the faults")
	must(t, h.pubB.Deregister(service("rel-heal-a", "v1", "x2")), "deregister a node after the faults")
	registered := append([]*registry.Service{late}, h.registered[:5]...)
	registered = append(registered, service("rel-heal-a", "v1", "x1"))
	want, wantOne := stateOf(registered...), stateOfNamed(registered, "rel-heal-a")
	eventually(t, recovery, func() bool { return server() == want }, "the server holds: %s", func() string { return stateDiff(server(), want) })
	eventually(t, recovery, func() bool {
		return h.one.state() == wantOne && h.all.state() == want && seenState(h.reader, h.names) == want
	}, "after the faults a new node and a removed node are not delivered: one %s; all %s; GetService %s; the SDK's cache: %s; subscribers of rel-heal-a at the server: %s",
		func() string { return stateDiff(h.one.state(), wantOne) }, func() string { return stateDiff(h.all.state(), want) },
		func() string { return stateDiff(seenState(h.reader, h.names), want) }, func() string { return sdkView(h.reader, h.names) },
		func() string { return h.serverView(subscribers) })
	h.one.check(t, "of rel-heal-a")
	h.all.check(t, "of all services")
}

// faultHeals injects a fault into a single server several times (three single
// faults, then three back to back) and checks that everything heals without the
// publishers registering again. With lived, the reader lives through the faults;
// otherwise a new reader checks each recovery.
func faultHeals(t *testing.T, fault string, lived bool, inject func(srv *nacostest.Server) error) {
	env := newEnv(t)
	srv := env.embedded(t, "Restart and DropConnections (TestReliabilityRealRestartHealsByItself restarts a real Nacos)")
	regs := connectedRegistries(t, env, 3, WithDiscoveryInterval(200*time.Millisecond))
	var h *healScenario
	if lived {
		h = newHeal(t, regs[0], regs[1], regs[2], nil)
	} else {
		h = newHeal(t, regs[0], regs[1], nil, func() *nacosRegistry { return env.registry(t, WithDiscoveryInterval(200*time.Millisecond)) })
	}
	h.connections = srv.Connections
	server := func() string { return serverState(srv, "", "", h.names...) }
	subscribers := func(name string) int { return srv.Subscribers("", "", name) }
	h.recovered(t, time.Now(), server, subscribers)

	var worst time.Duration
	rounds := []int{1, 1, 1, 3}
	for i, n := range rounds {
		for j := 0; j < n; j++ {
			if err := inject(srv); err != nil {
				t.Fatalf("%s: %v", fault, err)
			}
		}
		start := time.Now()
		back, subscribed, lookedUp, watched := h.recovered(t, start, server, subscribers)
		if lived {
			t.Logf("%s round %d (%d in a row): nodes back in the server after %s, reader subscribed again after %s, its GetService right after %s, its watchers right after %s",
				fault, i+1, n, millis(back), millis(subscribed), millis(lookedUp), millis(watched))
		} else {
			t.Logf("%s round %d (%d in a row): nodes back in the server after %s; a new registry's GetService and watchers right after %s",
				fault, i+1, n, millis(back), millis(watched))
		}
		worst = max(worst, back)
	}
	t.Logf("%s: every node back in the server within %s in each of %d rounds, without registering again", fault, millis(worst), len(rounds))
	h.afterwards(t, server, subscribers)
}

// After a restart (three in a row too) every node is back in the server, with no help
// from the caller, and a registry sees them all and is told of later changes.
func TestReliabilityRestartHealsByItself(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		faultHeals(t, "Restart", false, func(srv *nacostest.Server) error { return srv.Restart() })
	})
}

// The same after the server drops every connection.
func TestReliabilityDroppedConnectionsHealByThemselves(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		faultHeals(t, "DropConnections", false, func(srv *nacostest.Server) error { srv.DropConnections(); return nil })
	})
}

// A registry that lives through the restarts stays current: its GetService and its
// watchers have every node again, and later changes.
func TestReliabilityRestartKeepsAReaderCurrent(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		faultHeals(t, "Restart", true, func(srv *nacostest.Server) error { return srv.Restart() })
	})
}

// The same through dropped connections.
func TestReliabilityDroppedConnectionsKeepAReaderCurrent(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		faultHeals(t, "DropConnections", true, func(srv *nacostest.Server) error { srv.DropConnections(); return nil })
	})
}

// memberPlacer tells which cluster member each new registry's connection goes to.
type memberPlacer struct {
	c       *nacostest.Cluster
	members int
	open    int // connections of the registries placed and not closed
}

func (p *memberPlacer) connections() []int {
	n := make([]int, p.members)
	for i := range n {
		n[i] = p.c.Member(i).Connections()
	}
	return n
}

func (p *memberPlacer) total() int {
	total := 0
	for _, n := range p.connections() {
		total += n
	}
	return total
}

// place starts r's client and returns the member it connected to.
func (p *memberPlacer) place(t *testing.T, r *nacosRegistry) int {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return p.total() == p.open }, "%s connections, want %d", func() string { return fmt.Sprint(p.total()) }, p.open)
	before := p.connections()
	if _, err := r.ListServices(); err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	member := -1
	eventually(t, 5*time.Second, func() bool {
		for i, n := range p.connections() {
			if n > before[i] {
				member = i
				return true
			}
		}
		return false
	}, "no member got the new connection")
	p.open++
	return member
}

func (p *memberPlacer) close(r *nacosRegistry) {
	r.Close()
	p.open--
}

// memberLoss: one member of a three-member cluster goes away; the registries that
// were connected to it fail over to the others, and everything heals. With lived, the
// reader lived on the lost member too; otherwise a new reader checks the recovery.
func memberLoss(t *testing.T, lived bool) {
	if realNacos != "" {
		t.Skip("needs nacostest.NewCluster")
	}
	const members = 3
	c, err := nacostest.NewCluster(members)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	newReg := func(opts ...registry.Option) *nacosRegistry {
		r := NewRegistry(append([]registry.Option{registry.Addrs(c.Addrs()...), registry.Timeout(3 * time.Second)}, opts...)...).(*nacosRegistry)
		t.Cleanup(func() { r.Close() })
		return r
	}
	placer := &memberPlacer{c: c, members: members}
	pubA := newReg()
	lost := placer.place(t, pubA)
	var reader *nacosRegistry
	for try := 0; try < 50 && reader == nil && lived; try++ {
		r := newReg(WithDiscoveryInterval(200 * time.Millisecond))
		if placer.place(t, r) == lost {
			reader = r
		} else {
			placer.close(r)
		}
	}
	if lived && reader == nil {
		t.Fatalf("no reader landed on member %d in 50 tries", lost)
	}
	pubB := newReg()
	placer.place(t, pubB)
	for _, r := range []*nacosRegistry{pubA, reader, pubB} {
		if r != nil {
			connect(t, r)
		}
	}
	var h *healScenario
	if lived {
		h = newHeal(t, pubA, pubB, reader, nil)
	} else {
		h = newHeal(t, pubA, pubB, nil, func() *nacosRegistry { return newReg(WithDiscoveryInterval(200 * time.Millisecond)) })
	}
	h.connections = placer.total
	survivor := c.Member((lost + 1) % members)
	server := func() string { return serverState(survivor, "", "", h.names...) }
	subscribers := func(name string) int { return survivor.Subscribers("", "", name) }
	h.recovered(t, time.Now(), server, subscribers)

	c.Member(lost).Close()
	start := time.Now()
	back, subscribed, lookedUp, watched := h.recovered(t, start, server, subscribers)
	if lived {
		t.Logf("member %d of %d closed (it held the publisher's and the reader's connections): nodes back after %s, reader subscribed again after %s, its GetService right after %s, its watchers right after %s",
			lost, members, millis(back), millis(subscribed), millis(lookedUp), millis(watched))
	} else {
		t.Logf("member %d of %d closed (it held the publisher's connection): nodes back in the cluster after %s; a new registry's GetService and watchers right after %s",
			lost, members, millis(back), millis(watched))
	}
	if n := c.Member(lost).Connections(); n != 0 {
		t.Fatalf("the closed member still has %d connections", n)
	}
	h.afterwards(t, server, subscribers)
}

// One member of a three-member cluster goes away; the publisher connected to it fails
// over to the others and every node is back, with no help from the caller.
func TestReliabilityClusterMemberLossHealsByItself(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { memberLoss(t, false) })
}

// The same with a reader that was connected to the lost member: it stays current.
func TestReliabilityClusterMemberLossKeepsAReaderCurrent(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) { memberLoss(t, true) })
}

// freeAddr returns an address where a nacostest server could listen and nothing
// listens now: the port pair of a server that was started and closed.
func freeAddr(t *testing.T) string {
	t.Helper()
	probe, err := nacostest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr()
	probe.Close()
	return addr
}

// registryOn is a registry on srv, closed at the end of the test.
func registryOn(t *testing.T, srv *nacostest.Server) *nacosRegistry {
	t.Helper()
	return (&testEnv{srv: srv, addr: srv.Addr()}).registry(t)
}

// Nacos is not there when the process starts. NewRegistry returns at once, every call
// fails with a clear error within the timeout, and once Nacos comes up registering and
// watching work without restarting the process.
func TestReliabilityNacosDownAtStart(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		if realNacos != "" {
			t.Skip("starts its own server")
		}
		addr := freeAddr(t)
		const timeout = time.Second
		log := gomicro3.NewLogRecorder()
		start := time.Now()
		r := NewRegistry(registry.Addrs(addr), registry.Timeout(timeout), WithLogger(log)).(*nacosRegistry)
		t.Cleanup(func() { r.Close() })
		if d := time.Since(start); d > timeout {
			t.Fatalf("NewRegistry took %v with Nacos down", d)
		}

		early := service("rel-down", "v1", "early")
		calls := []struct {
			name string
			call func() error
		}{
			{"Register", func() error { return r.Register(early) }},
			{"GetService", func() error { _, err := r.GetService("rel-down"); return err }},
			{"ListServices", func() error { _, err := r.ListServices(); return err }},
			{"Watch one service", func() error { _, err := r.Watch(registry.WatchService("rel-down")); return err }},
			{"Watch all services", func() error { _, err := r.Watch(); return err }},
		}
		for _, c := range calls {
			start := time.Now()
			err := c.call()
			d := time.Since(start)
			mustFailClearly(t, c.name+" with Nacos down", err)
			// The first call also starts the client, which tries to connect three times.
			if d > 2*timeout {
				t.Fatalf("%s with Nacos down took %v, timeout %v", c.name, d, timeout)
			}
			t.Logf("%s with Nacos down: %s, after %s", c.name, err, millis(d))
		}

		// Register failed, but the registry holds the node as registered and keeps
		// trying (internal/core's publisher), so the node shows up once Nacos is up.
		connect(t, r)
		srv, err := nacostest.NewServer(nacostest.WithAddr(addr))
		if err != nil {
			t.Fatalf("start the server on %s: %v", addr, err)
		}
		t.Cleanup(srv.Close)
		up := time.Now()
		eventually(t, recovery, func() bool { return srv.Connections() == 1 }, "the registry did not connect")
		t.Logf("server up: the SDK connected after %s", millis(time.Since(up)))
		quiet(t, srv, r)
		// A Register that failed stands and is retried: the node shows up by itself.
		eventually(t, recovery, func() bool { return serverState(srv, "", "", "rel-down") == stateOf(early) },
			"the node of the failed Register did not show up: the server holds %q", func() string { return serverState(srv, "", "", "rel-down") })

		// Registering again and watching work in the same process.
		must(t, r.Register(early), "Register again once Nacos is up")
		late := service("rel-down", "v1", "late")
		must(t, r.Register(late), "Register a second node")
		want := stateOf(early, late)
		eventually(t, within, func() bool { return serverState(srv, "", "", "rel-down") == want }, "the server holds %s", func() string { return serverState(srv, "", "", "rel-down") })
		one := watchAndRead(t, r, registry.WatchService("rel-down"))
		all := watchAndRead(t, r)
		eventually(t, within, func() bool {
			return one.state() == want && all.state() == want && seenState(r, []string{"rel-down"}) == want
		},
			"after Nacos came up: watchers %s / %s, GetService %s, want %s", one.state, all.state, func() string { return seenState(r, []string{"rel-down"}) }, want)
		other := registryOn(t, srv)
		third := service("rel-down", "v2", "elsewhere")
		must(t, other.Register(third), "register from another registry")
		want = stateOf(early, late, third)
		eventually(t, within, func() bool { return one.state() == want && all.state() == want }, "watchers %s / %s, want %s", one.state, all.state, want)
		one.check(t, "of rel-down")
		all.check(t, "of all services")
		if list, err := r.ListServices(); err != nil || nameList(list) != "rel-down" {
			t.Fatalf("ListServices once Nacos is up: %q, %v", nameList(list), err)
		}
	})
}

// A Register or Deregister that Nacos could not be told of (it failed or timed out, as
// opposed to a refusal) is kept as what Nacos must hold: the caller gets an error, and the registry tries again in the background until
// Nacos holds it, across reconnects. (Rolling back instead would fight nacos-sdk-go: it
// caches a registration for its reconnect redo before sending it, and forgets a
// deregistered service even when the request failed.)
func TestReliabilityFailedPublishIsRetriedUntilNacosHoldsIt(t *testing.T) {
	t.Parallel()
	for _, m := range failModes {
		if m.mode == nacostest.FailRefused {
			continue // not retried: TestRefusalWithoutAReasonIsNotRetried
		}
		t.Run(m.name, func(t *testing.T) {
			testkit.RunChecked(t, false, func(t *testing.T) {
				env := newEnv(t)
				srv := env.embedded(t, "FailRequests and DropConnections")
				r := connectedRegistry(t, env, registry.Timeout(time.Second))
				keep := service("rel-retry-keep", "v1", "k1")
				mustRegister(t, r, keep)
				gone := service("rel-retry-gone", "v1", "g1")
				mustRegister(t, r, gone)

				undo := srv.FailRequests(nacostest.InstanceRequest, m.mode)
				added := service("rel-retry-new", "v1", "n1")
				mustFailClearly(t, "Register while the server fails", r.Register(added))
				mustFailClearly(t, "Deregister while the server fails", r.Deregister(gone))
				undo()
				state := func(name string) func() string {
					return func() string { return serverState(srv, "", "", name) }
				}
				eventually(t, recovery, func() bool { return state("rel-retry-new")() == stateOf(added) && state("rel-retry-gone")() == "" },
					"after the failures the server holds new=%q gone=%q", state("rel-retry-new"), state("rel-retry-gone"))

				srv.DropConnections() // a network hiccup: the SDK reconnects and redoes
				quiet(t, srv, r)
				eventually(t, recovery, func() bool {
					return state("rel-retry-keep")() == stateOf(keep) && state("rel-retry-new")() == stateOf(added) && state("rel-retry-gone")() == ""
				}, "after a reconnect the server holds keep=%q new=%q gone=%q", state("rel-retry-keep"), state("rel-retry-new"), state("rel-retry-gone"))
			})
		})
	}
}
