package suite

import (
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/internal/wire"
)

// reader reads a watcher on its own goroutine and keeps what it reported: every result,
// as "action service version/id", and the nodes they leave, by "service version/id".
type reader struct {
	w    *Watcher
	done chan struct{}

	mu      sync.Mutex
	results []string
	nodes   map[string]*wire.Node
	err     error // what ended Next
}

// readWatcher starts a watcher of the service ("": all) on r and reads it until the
// test ends.
func readWatcher(t testing.TB, r *Registry, service string) *reader {
	t.Helper()
	w, err := r.Watch(service, nil)
	must(t, err, "Watch")
	rd := &reader{w: w, done: make(chan struct{}), nodes: map[string]*wire.Node{}}
	go rd.run()
	t.Cleanup(rd.stop)
	return rd
}

func (rd *reader) run() {
	defer close(rd.done)
	for {
		res, err := rd.w.Next()
		rd.mu.Lock()
		if err != nil {
			rd.err = err
			rd.mu.Unlock()
			return
		}
		for _, n := range res.Service.Nodes {
			key := res.Service.Name + " " + res.Service.Version + "/" + n.Id
			rd.results = append(rd.results, res.Action+" "+key)
			if res.Action == "delete" {
				delete(rd.nodes, key)
			} else {
				rd.nodes[key] = n
			}
		}
		if len(res.Service.Nodes) != 1 {
			rd.results = append(rd.results, "a result of "+nodeIDs([]*wire.Service{res.Service})+", not of one node")
		}
		rd.mu.Unlock()
	}
}

func (rd *reader) stop() {
	rd.w.Stop()
	<-rd.done
}

// reported returns the results so far, sorted, comma-separated, and forgets them.
func (rd *reader) reported() string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	r := append([]string(nil), rd.results...)
	rd.results = nil
	sort.Strings(r)
	return strings.Join(r, ", ")
}

// await waits until the watcher reported exactly these results (sorted, as reported
// lists them) since the last await, and that nothing more comes for a moment.
func (rd *reader) await(t testing.TB, want string) {
	t.Helper()
	var got []string
	have := func() string {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		got = append([]string(nil), rd.results...)
		sort.Strings(got)
		return strings.Join(got, ", ")
	}
	eventually(t, within, func() bool { return have() == want }, "the watcher reported %q, want %q", func() string { return have() }, want)
	time.Sleep(200 * time.Millisecond) // nothing else comes
	if got := rd.reported(); got != want {
		t.Fatalf("the watcher reported %q, want %q", got, want)
	}
}

// state is the nodes the results leave, sorted, as "service version/id".
func (rd *reader) state() string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	var keys []string
	for k := range rd.nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// A watcher reports the nodes there are first, then one result per changed node: an
// update of one node among three, two deletes of two nodes removed, the delete of the
// last node.
func watchDiff(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a, b := e.registry(t, Options{}), e.registry(t, Options{})
	s := service("diff", "v1", "n1", "n2", "n3")
	must(t, a.Register(s, 0, nil), "register")
	eventually(t, within, func() bool { return seen(b, "diff") == "v1/n1,v1/n2,v1/n3" }, "b sees %q", seenBy(b, "diff"))
	rd := readWatcher(t, b, "diff")
	rd.await(t, "create diff v1/n1, create diff v1/n2, create diff v1/n3")

	s.Nodes[1].Metadata = map[string]string{"node": "n2", "gen": "2"}
	must(t, a.Register(s, 0, nil), "register with n2 changed")
	rd.await(t, "update diff v1/n2")
	if md := rd.nodes["diff v1/n2"].Metadata; md["gen"] != "2" {
		t.Fatalf("the update carries metadata %v", md)
	}
	must(t, a.Deregister(service("diff", "v1", "n1", "n3"), nil), "deregister n1 n3")
	rd.await(t, "delete diff v1/n1, delete diff v1/n3")
	must(t, a.Deregister(service("diff", "v1", "n2"), nil), "deregister n2")
	rd.await(t, "delete diff v1/n2")
}

// A watcher of every service sees services that appear after it started, and their
// versions apart.
func watchAll(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	a := e.registry(t, Options{})
	b := e.registry(t, Options{DiscoveryInterval: 200 * time.Millisecond})
	rd := readWatcher(t, b, "")
	must(t, a.Register(service("later-a", "v1", "a1"), 0, nil), "register later-a")
	must(t, a.Register(service("later-b", "v2", "b1"), 0, nil), "register later-b")
	rd.await(t, "create later-a v1/a1, create later-b v2/b1")
}

// Stop ends Next with the line's registry.ErrWatcherStopped, at once and afterwards.
func watchStop(t *testing.T, line *Line) {
	t.Parallel()
	e := newEnv(t, line)
	r := e.registry(t, Options{})
	w, err := r.Watch("idle", nil)
	must(t, err, "Watch")
	ended := make(chan error, 1)
	go func() { _, err := w.Next(); ended <- err }()
	time.Sleep(50 * time.Millisecond)
	w.Stop()
	select {
	case err := <-ended:
		if err != line.ErrWatcherStopped {
			t.Fatalf("Next after Stop: %v, want the line's registry.ErrWatcherStopped", err)
		}
	case <-time.After(within):
		t.Fatal("Stop did not end a blocked Next")
	}
	w.Stop()
	if _, err := w.Next(); err != line.ErrWatcherStopped {
		t.Fatalf("Next after a second Stop: %v", err)
	}
}

// After Nacos restarts (nacostest's Restart, or NACOS_RESTART's command against the
// real Nacos), the registrations come back by themselves and a watcher that lived
// through it is current. nacos-sdk-go races on reconnects: under -race the test runs
// in a child process that tolerates its known races (testkit.RunChecked).
func restart(t *testing.T, line *Line) {
	testkit.RunChecked(t, false, func(t *testing.T) {
		e := newEnv(t, line)
		restart := restarter(t, e)
		a, b := e.registry(t, Options{}), e.registry(t, Options{})
		must(t, a.Register(service("healing", "v1", "h1", "h2"), 0, nil), "register")
		eventually(t, within, func() bool { return seen(b, "healing") == "v1/h1,v1/h2" }, "b sees %q", seenBy(b, "healing"))
		rd := readWatcher(t, b, "healing")
		rd.await(t, "create healing v1/h1, create healing v1/h2")
		restart()
		// Right after the restart the client may not be connected yet: the registry
		// then says it keeps trying, and does.
		if err := a.Register(service("healing", "v1", "h3"), 0, nil); err != nil && !strings.Contains(err.Error(), "keeps trying") {
			t.Fatalf("register after the restart: %v", err)
		}
		const recovery = 30 * time.Second
		eventually(t, recovery, func() bool { return rd.state() == "healing v1/h1,healing v1/h2,healing v1/h3" }, "the watcher's state after the restart: %q", rd.state)
		c := e.registry(t, Options{})
		eventually(t, recovery, func() bool { return seen(c, "healing") == "v1/h1,v1/h2,v1/h3" }, "a new reader sees %q", seenBy(c, "healing"))
	})
}
