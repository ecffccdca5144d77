// Command example runs a go-micro v3 greeter service and a client that find each other
// through Nacos, with the github.com/micro-registry/nacos registry.
//
//	go run ./example                                      # all in one process, embedded Nacos
//	go run ./example --registry_address 127.0.0.1:8848    # the same against a real Nacos
//	go run ./example service [go-micro flags]             # one greeter node, until Ctrl-C
//	go run ./example client  [go-micro flags]             # calls the greeter every second, until Ctrl-C
//	go run ./example config  [--registry_address ...]     # a greeting taken live from Nacos config
//
// With no mode, it starts two greeter nodes and a client, spreads calls over both
// nodes, stops one, shows the client noticing, and exits. Without --registry_address
// (or MICRO_REGISTRY_ADDRESS) it starts an embedded Nacos (nacostest) in-process.
//
// The service and client modes are plain go-micro programs: the blank import of the
// plugin puts "nacos" in go-micro's registry table, and the command line picks it:
// --registry nacos --registry_address 127.0.0.1:8848 (or MICRO_REGISTRY and
// MICRO_REGISTRY_ADDRESS). This example makes nacos the default registry.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	micro "github.com/asim/go-micro/v3"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/server"

	_ "github.com/micro-registry/nacos" // registers "nacos" for --registry / MICRO_REGISTRY
)

func main() {
	mode := "demo"
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		// go-micro's service.Init parses os.Args and knows no subcommands: take the
		// mode word out before it runs.
		mode, os.Args = os.Args[1], append(os.Args[:1:1], os.Args[2:]...)
	}
	var err error
	switch mode {
	case "demo":
		err = demo(os.Stdout)
	case "service":
		err = runService()
	case "client":
		err = runClient(os.Stdout)
	case "config":
		err = configDemo(os.Stdout)
	default:
		err = fmt.Errorf("unknown mode %q: want service, client, config, or none for the demo", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// Request and Response are the greeter's messages. Without protoc, the client sends them
// as JSON (client.WithContentType("application/json")), which the server decodes.
type (
	Request struct {
		Name string `json:"name"`
	}
	Response struct {
		Greeting string `json:"greeting"`
		Node     string `json:"node"` // the registry node id of the node that answered
	}
)

// Greeter is the service's handler: its method becomes the endpoint "Greeter.Hello".
type Greeter struct {
	srv  server.Server
	word func() string // the greeting word; nil: "Hello"
}

// Hello greets req.Name and says which node answered.
func (g *Greeter) Hello(ctx context.Context, req *Request, rsp *Response) error {
	o := g.srv.Options()
	word := "Hello"
	if g.word != nil {
		word = g.word()
	}
	rsp.Greeting = word + ", " + req.Name
	rsp.Node = o.Name + "-" + o.Id // how go-micro's server names its registry node
	return nil
}

// newGreeter builds a greeter service; opts come before the name, so that a server
// given with micro.Server is the one named.
func newGreeter(opts ...micro.Option) (micro.Service, error) {
	svc := micro.NewService(append(opts, micro.Name("greeter"))...)
	return svc, micro.RegisterHandler(svc.Server(), &Greeter{srv: svc.Server()})
}

// hello calls Greeter.Hello on whichever greeter node the client's selector picks.
func hello(ctx context.Context, c client.Client, name string) (*Response, error) {
	req := c.NewRequest("greeter", "Greeter.Hello", &Request{Name: name}, client.WithContentType("application/json"))
	rsp := new(Response)
	return rsp, c.Call(ctx, req, rsp)
}

// useNacosByDefault makes nacos the registry when neither --registry nor MICRO_REGISTRY
// says otherwise (go-micro's own default is mDNS).
func useNacosByDefault() {
	if os.Getenv("MICRO_REGISTRY") == "" {
		os.Setenv("MICRO_REGISTRY", "nacos")
	}
}

// runService runs one greeter node until Ctrl-C.
func runService() error {
	useNacosByDefault()
	svc, err := newGreeter()
	if err != nil {
		return err
	}
	svc.Init() // --registry nacos --registry_address ...: go-micro builds the plugin
	return svc.Run()
}

// runClient calls the greeter every second and reports the nodes it sees come and go,
// until Ctrl-C.
func runClient(out io.Writer) error {
	useNacosByDefault()
	svc := micro.NewService(micro.Name("greeter.client"))
	svc.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := svc.Options().Registry
	fmt.Fprintf(out, "client: registry %s at %v\n", reg, addrsOf(reg))
	go watchUntil(ctx, out, reg)

	// A failure is printed when it differs from the one before: with Nacos down, every
	// call fails the same way, and the registry's log says when Nacos is back.
	var failing string
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 1; ; i++ {
		if rsp, err := hello(ctx, svc.Client(), fmt.Sprintf("call %d", i)); err != nil {
			if err.Error() != failing {
				fmt.Fprintf(out, "client: call %d failed: %v (the calls go on every second; a failure is printed again when it changes)\n", i, err)
			}
			failing = err.Error()
		} else {
			failing = ""
			fmt.Fprintf(out, "client: call %d: %q from %s\n", i, rsp.Greeting, rsp.Node)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// watchUntil watches the greeter and reports the nodes it sees come and go, until ctx
// ends. A watch that cannot start (Nacos unreachable) is tried again every 5 seconds;
// its error is printed once.
func watchUntil(ctx context.Context, out io.Writer, reg registry.Registry) {
	var failed string
	for {
		w, err := reg.Watch(registry.WatchService("greeter"))
		if err == nil {
			if failed != "" {
				fmt.Fprintln(out, "client: watching the greeter now")
			}
			go func() {
				<-ctx.Done()
				w.Stop()
			}()
			for {
				res, err := w.Next()
				if err != nil {
					return
				}
				fmt.Fprintf(out, "client: watch: %s\n", describe(res))
			}
		}
		if err.Error() != failed {
			fmt.Fprintf(out, "client: cannot watch the greeter: %v (trying again every 5s)\n", err)
			failed = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

// describe renders a watch result: "create greeter-1 at 127.0.0.1:40000".
func describe(res *registry.Result) string {
	var nodes []string
	for _, n := range res.Service.Nodes {
		nodes = append(nodes, n.Id+" at "+n.Address)
	}
	return res.Action + " " + strings.Join(nodes, ", ")
}

func addrsOf(r registry.Registry) string {
	if a := r.Options().Addrs; len(a) > 0 {
		return strings.Join(a, ",")
	}
	return "its default address"
}
