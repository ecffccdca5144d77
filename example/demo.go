package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	micro "github.com/asim/go-micro/v3"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/selector"
	"github.com/asim/go-micro/v3/server"

	"github.com/micro-registry/nacos"
	"github.com/micro-registry/nacos/nacostest"
)

// patience bounds every wait of the demo for Nacos to tell the client something.
const patience = 10 * time.Second

// pace is the time between two calls of the client.
const pace = 100 * time.Millisecond

var quietOnce sync.Once

// quietLogs makes go-micro log only warnings and errors unless MICRO_LOG_LEVEL says
// otherwise: it logs every step at info level, and the demos tell their own story. The
// logger is process-wide and read by every client's goroutines, so it is set once.
func quietLogs() {
	quietOnce.Do(func() {
		if os.Getenv("MICRO_LOG_LEVEL") == "" {
			logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.WarnLevel))
		}
	})
}

// demo runs two greeter nodes and a client in this process.
func demo(out io.Writer) error {
	quietLogs()

	// The client is a go-micro service like any other: its registry is given in code
	// (micro.Registry) and the command line can still set its address
	// (--registry_address or MICRO_REGISTRY_ADDRESS, which end in reg.Init).
	reg := nacos.NewRegistry()
	svc := micro.NewService(
		micro.Name("greeter.client"),
		// Its own client and selector: go-micro's defaults are process-wide, and the
		// greeter nodes below, in the same process, reconfigure them.
		micro.Client(client.NewClient(client.Selector(selector.NewSelector()))),
		micro.Registry(reg),
	)
	svc.Init()
	reg = svc.Options().Registry

	addrs, stop, err := nacosFor(out, reg)
	if err != nil {
		return err
	}
	defer stop()
	defer reg.(io.Closer).Close()                 // before the embedded server closes
	defer svc.Client().Options().Selector.Close() // ends the selector's watch of the registry
	return demoCalls(out, svc.Client(), reg, addrs)
}

// nacosFor returns the Nacos addresses the command line gave reg, or starts an embedded
// Nacos and points reg at it; stop closes what it started.
func nacosFor(out io.Writer, reg registry.Registry) (addrs []string, stop func(), err error) {
	if addrs = reg.Options().Addrs; len(addrs) > 0 {
		fmt.Fprintf(out, "nacos: using %s\n", strings.Join(addrs, ","))
		return addrs, func() {}, nil
	}
	srv, err := nacostest.NewServer()
	if err != nil {
		return nil, nil, err
	}
	addrs = []string{srv.Addr()}
	if err := reg.Init(registry.Addrs(addrs...)); err != nil {
		srv.Close()
		return nil, nil, err
	}
	fmt.Fprintf(out, "nacos: no --registry_address, so an embedded Nacos (nacostest) serves on %s\n", srv.Addr())
	return addrs, srv.Close, nil
}

func demoCalls(out io.Writer, c client.Client, reg registry.Registry, addrs []string) error {
	ctx := context.Background()

	// The client watches the greeter: Nacos pushes every change.
	events, stopWatch, err := watchGreeter(reg)
	if err != nil {
		return err
	}
	defer stopWatch()

	var nodes []*node
	for i := 1; i <= 2; i++ {
		n, err := startNode(addrs, i)
		if err != nil {
			return err
		}
		defer n.stop()
		if err := n.registered(); err != nil {
			fmt.Fprintf(out, "%s: serving on %s, but not registered: %v\n", n.id, n.address(), err)
			return err
		}
		fmt.Fprintf(out, "%s: serving on %s, registered\n", n.id, n.address())
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]

	if err := await(out, events, registry.Create.String(), a.id, b.id); err != nil {
		return err
	}
	services, err := reg.GetService("greeter")
	if err != nil {
		return err
	}
	for _, s := range services {
		var eps []string
		for _, e := range s.Endpoints {
			eps = append(eps, e.Name)
		}
		fmt.Fprintf(out, "client: discovered greeter version %s: %d nodes, endpoints %v\n", s.Version, len(s.Nodes), eps)
	}
	if err := selectorSees(out, c, a.id, b.id); err != nil {
		return err
	}

	// The selector picks a node at random: call until both nodes have answered. The
	// calls are paced like a client's traffic, which also gives the selector's cache
	// time to start its watch (go-micro starts it up to 100 ms after the first lookup;
	// a node leaving before that is only noticed when the cache entry expires).
	calls := 0
	call := func() (*Response, error) {
		time.Sleep(pace)
		calls++
		rsp, err := hello(ctx, c, fmt.Sprintf("call %d", calls))
		if err != nil {
			return nil, fmt.Errorf("call %d: %w", calls, err)
		}
		fmt.Fprintf(out, "client: call %d: %q from %s\n", calls, rsp.Greeting, rsp.Node)
		return rsp, nil
	}
	answered := map[string]int{}
	for len(answered) < 2 || calls < 4 {
		if calls == 30 {
			return fmt.Errorf("30 calls did not reach both nodes: %v", answered)
		}
		rsp, err := call()
		if err != nil {
			return err
		}
		answered[rsp.Node]++
	}
	fmt.Fprintf(out, "client: calls spread over both nodes: %s %d, %s %d\n", a.id, answered[a.id], b.id, answered[b.id])

	// One node leaves: go-micro deregisters it as its server stops.
	a.stop()
	fmt.Fprintf(out, "%s: stopped, deregistered\n", a.id)
	if err := await(out, events, registry.Delete.String(), a.id); err != nil {
		return err
	}
	if err := selectorSees(out, c, b.id); err != nil {
		return err
	}
	for i := 0; i < 4; i++ {
		rsp, err := call()
		if err != nil {
			return fmt.Errorf("after %s left: %w", a.id, err)
		}
		if rsp.Node != b.id {
			return fmt.Errorf("after %s left, call %d was answered by it", a.id, calls)
		}
	}
	fmt.Fprintf(out, "done: the last 4 calls, after %s left, all reached %s\n", a.id, b.id)
	return nil
}

// node is one greeter node with its own registry, as if it were its own process.
type node struct {
	id   string
	svc  micro.Service
	reg  registry.Registry
	once sync.Once
}

func startNode(addrs []string, i int) (*node, error) {
	reg := nacos.NewRegistry(registry.Addrs(addrs...))
	id := fmt.Sprintf("%d-%04x", i, rand.N(1<<16))
	svc, err := newGreeter(
		// Two nodes in one process each need their own server (a distinct node id) and
		// broker: go-micro's defaults are process-wide.
		micro.Server(server.NewServer(server.Id(id), server.Address("127.0.0.1:0"))),
		micro.Broker(newBroker()),
		micro.Registry(reg),
	)
	if err == nil {
		err = svc.Server().Start() // listens and registers (service.Run would also wait for a signal)
	}
	if err != nil {
		reg.(io.Closer).Close()
		return nil, err
	}
	return &node{id: "greeter-" + id, svc: svc, reg: reg}, nil
}

func (n *node) address() string { return n.svc.Server().Options().Address }

// registered waits until the node's registry finds the node in Nacos, for at most the
// registry's timeout: go-micro's server starts serving even when it could not register
// (it only logs that), so the demo asks before it says so.
func (n *node) registered() error {
	deadline := time.Now().Add(nacos.DefaultTimeout)
	for {
		services, err := n.reg.GetService("greeter")
		for _, s := range services {
			for _, node := range s.Nodes {
				if node.Id == n.id {
					return nil
				}
			}
		}
		if err == nil || err == registry.ErrNotFound {
			err = fmt.Errorf("Nacos does not list it after %v", nacos.DefaultTimeout)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pace)
	}
}

// stop deregisters the node, stops its server and closes its registry.
func (n *node) stop() {
	n.once.Do(func() {
		n.svc.Server().Stop()
		n.reg.(io.Closer).Close()
	})
}

// watchGreeter forwards the results of a watcher of the greeter service.
func watchGreeter(reg registry.Registry) (<-chan *registry.Result, func(), error) {
	w, err := reg.Watch(registry.WatchService("greeter"))
	if err != nil {
		return nil, nil, err
	}
	events := make(chan *registry.Result)
	done := make(chan struct{})
	go func() {
		for {
			res, err := w.Next()
			if err != nil {
				return
			}
			select {
			case events <- res:
			case <-done:
				return
			}
		}
	}()
	return events, func() { close(done); w.Stop() }, nil
}

// await prints watch results until each of ids was reported with action.
func await(out io.Writer, events <-chan *registry.Result, action string, ids ...string) error {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	timeout := time.After(patience)
	for len(want) > 0 {
		select {
		case res := <-events:
			fmt.Fprintf(out, "client: watch: %s\n", describe(res))
			if res.Action == action {
				for _, n := range res.Service.Nodes {
					delete(want, n.Id)
				}
			}
		case <-timeout:
			return fmt.Errorf("after %v the client had no %s for %v: is Nacos reachable?", patience, action, ids)
		}
	}
	return nil
}

// selectorSees waits until the client's selector (go-micro's registry cache, kept up to
// date by its own watcher) chooses among exactly the nodes ids, and says so.
func selectorSees(out io.Writer, c client.Client, ids ...string) error {
	sort.Strings(ids)
	want := strings.Join(ids, " ")
	deadline := time.Now().Add(patience)
	for {
		var seen []string
		_, err := c.Options().Selector.Select("greeter", selector.WithStrategy(func(services []*registry.Service) selector.Next {
			for _, s := range services {
				for _, n := range s.Nodes {
					seen = append(seen, n.Id)
				}
			}
			return nil
		}))
		sort.Strings(seen)
		if err == nil && strings.Join(seen, " ") == want {
			fmt.Fprintf(out, "client: the selector now chooses among %d node(s): %s\n", len(seen), want)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v the client's selector sees %v (error %v), want %s", patience, seen, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
