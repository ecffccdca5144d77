package nacos_test

import (
	"context"
	"testing"
	"time"

	micro "github.com/asim/go-micro/v3"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/selector"
	"github.com/asim/go-micro/v3/server"

	"github.com/micro-registry/nacos"
	"github.com/micro-registry/nacos/internal/testenv"
	"github.com/micro-registry/nacos/internal/testkit"
)

// End to end, with go-micro's own service, server, client and selector: a service
// registers as its server starts, a client finds it through Nacos and calls it, and the
// server's Stop deregisters it. Every line runs it; the root module's e2e_test.go goes
// deeper, through the v3 line.
func TestE2EServiceCallAndDeregistration(t *testing.T) {
	env := testenv.NewConfigEnv(t) // an embedded Nacos, or a namespace of NACOS_ADDR's
	newRegistry := func() registry.Registry {
		opts := []registry.Option{registry.Addrs(env.Addr), registry.Timeout(3 * time.Second), nacos.WithNamespace(env.Namespace)}
		if env.Srv == nil && testkit.RealAuth != "" {
			opts = append(opts, nacos.WithAuth(testkit.RealCredentials()))
		}
		r := nacos.NewRegistry(opts...)
		t.Cleanup(func() { nacos.Close(r) })
		return r
	}

	reg := newRegistry()
	svc := micro.NewService(
		micro.Server(server.NewServer(server.Address("127.0.0.1:0"))),
		micro.Broker(newBroker()),
		micro.Registry(reg),
		micro.Name("e2e.greeter"),
	)
	if err := micro.RegisterHandler(svc.Server(), Greeter{}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Server().Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			svc.Server().Stop()
		}
	})

	clientReg := newRegistry()
	sel := selector.NewSelector(selector.Registry(clientReg))
	t.Cleanup(func() { sel.Close() })
	c := client.NewClient(client.Registry(clientReg), client.Selector(sel))
	call := func() (string, error) {
		req := c.NewRequest("e2e.greeter", "Greeter.Hello", &HelloRequest{Name: "e2e"}, client.WithContentType("application/json"))
		var rsp HelloResponse
		err := c.Call(context.Background(), req, &rsp)
		return rsp.Greeting, err
	}
	var got string
	var err error
	testkit.Eventually(t, 10*time.Second, func() bool { got, err = call(); return err == nil }, "the client cannot call the service: %v", func() string { return errString(err) })
	if got != "Hello, e2e" {
		t.Fatalf("the service answered %q", got)
	}

	if err := svc.Server().Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	testkit.Eventually(t, 10*time.Second, func() bool { _, err := clientReg.GetService("e2e.greeter"); return err == registry.ErrNotFound }, "the stopped service is still registered")
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
