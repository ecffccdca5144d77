package nacos_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	micro "go-micro.dev/v5"
	"go-micro.dev/v5/registry"

	"github.com/micro-registry/nacos/gomicro5"
	"github.com/micro-registry/nacos/nacostest"
)

// Greeter is a go-micro handler: its method becomes the endpoint "Greeter.Hello".
type Greeter struct{}

type HelloRequest struct{ Name string }
type HelloResponse struct{ Greeting string }

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloResponse) error {
	rsp.Greeting = "Hello, " + req.Name
	return nil
}

// A registry built in code and given to a go-micro service with micro.Registry. The
// service's server registers its node when it starts and deregisters it when it stops.
func ExampleNewRegistry() {
	srv, err := nacostest.NewServer() // stands in for Nacos at 127.0.0.1:8848
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	r := nacos.NewRegistry(
		registry.Addrs(srv.Addr()), // or nacos.WithAddress; default nacos.DefaultAddress
		nacos.WithGroup("shop"),
		nacos.WithWeight(2),
	)
	defer r.(io.Closer).Close() // ends the connection to Nacos

	service := micro.NewService(
		micro.Name("greeter"),
		micro.Version("v1"),
		micro.Address("127.0.0.1:0"),
		micro.Registry(r),
	)
	if err := micro.RegisterHandler(service.Server(), Greeter{}); err != nil {
		log.Fatal(err)
	}
	// service.Run() starts the server, waits for a signal and stops it.
	if err := service.Server().Start(); err != nil {
		log.Fatal(err)
	}
	defer service.Server().Stop()

	services, err := r.GetService("greeter")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range services {
		n := s.Nodes[0]
		fmt.Println(s.Name, s.Version, len(s.Nodes), "node(s)")
		fmt.Println("endpoint:", s.Endpoints[0].Name)
		fmt.Println("protocol:", n.Metadata["protocol"], "registry:", n.Metadata["registry"])
	}
	// Output:
	// greeter v1 1 node(s)
	// endpoint: Greeter.Hello
	// protocol: mucp registry: nacos
}

// The blank import puts the plugin in go-micro's registry table, and a service's
// command line selects it:
//
//	import _ "github.com/micro-registry/nacos/gomicro5"
//
//	service := micro.NewService(micro.Name("greeter"))
//	service.Init() // parses the flags and the environment
//
//	./greeter --registry nacos --registry_address 10.0.0.1:8848,10.0.0.2:8848
//	MICRO_REGISTRY=nacos MICRO_REGISTRY_ADDRESS=10.0.0.1:8848 ./greeter
func Example_flags() {
	srv, err := nacostest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// As if the program had been started with these flags.
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"greeter", "--registry", "nacos", "--registry_address", srv.Addr()}

	service := micro.NewService(micro.Name("greeter"))
	service.Init()
	r := service.Options().Registry
	defer r.(io.Closer).Close()

	fmt.Println(r.String())
	fmt.Println(r.Options().Addrs[0] == srv.Addr())
	// Output:
	// nacos
	// true
}

// Per-call SDK parameters, for what go-micro has no option for. They travel in the
// option context under the original plugin's keys, so code written for it keeps
// working: RegisterParam(p) is the same as
// registry.RegisterContext(context.WithValue(ctx, "register_instance_param", p)).
func ExampleRegisterParam() {
	srv, err := nacostest.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	r := nacos.NewRegistry(registry.Addrs(srv.Addr()))
	defer r.(io.Closer).Close()

	err = r.Register(&registry.Service{
		Name:    "greeter",
		Version: "v1",
		Nodes:   []*registry.Node{{Id: "greeter-1", Address: "10.0.0.1:8080"}},
	}, nacos.RegisterParam(vo.RegisterInstanceParam{
		GroupName:   "blue",                         // instead of the registry's group
		ClusterName: "east",                         // instead of WithCluster
		Metadata:    map[string]string{"zone": "a"}, // added to the node's metadata
	}))
	if err != nil {
		log.Fatal(err)
	}

	// Not in the registry's own group (DEFAULT_GROUP):
	_, err = r.GetService("greeter")
	fmt.Println(err)

	services, err := r.GetService("greeter", nacos.GetParam(vo.GetServiceParam{
		GroupName: "blue",
		Clusters:  []string{"east"}, // only nodes of these clusters
	}))
	if err != nil {
		log.Fatal(err)
	}
	n := services[0].Nodes[0]
	fmt.Println(services[0].Version, n.Id, n.Address, "zone", n.Metadata["zone"])
	// Output:
	// service not found
	// v1 greeter-1 10.0.0.1:8080 zone a
}

// Testing with an embedded Nacos, as net/http/httptest does for HTTP: nacostest runs
// a Nacos 2.x naming server in the test process, for the unmodified SDK client, and
// shows what it holds.
func Example_nacostest() {
	srv, err := nacostest.NewServer() // nacostest.WithAuth(user, password) to require a login
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	r := nacos.NewRegistry(registry.Addrs(srv.Addr()))
	defer r.(io.Closer).Close()

	// The code under test would get r, e.g. through micro.Registry(r).
	err = r.Register(&registry.Service{
		Name:    "greeter",
		Version: "v1",
		Nodes:   []*registry.Node{{Id: "greeter-1", Address: "127.0.0.1:8080", Metadata: map[string]string{"team": "a"}}},
	})
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println(srv.Services("", "")) // namespace "" is public, group "" is DEFAULT_GROUP
	for _, in := range srv.Instances("", "", "greeter") {
		fmt.Println(in.IP, in.Port, in.Metadata["micro.id"], in.Metadata["version"], in.Metadata["team"])
	}
	// Output:
	// [greeter]
	// 127.0.0.1 8080 greeter-1 v1 a
}
