package nacostest_test

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/micro-registry/nacos/nacostest"
	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// A test starts a server, points the real SDK client at Addr, and checks
// what the server holds.
func ExampleNewServer() {
	srv, err := nacostest.NewServer()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	host, port, _ := net.SplitHostPort(srv.Addr())
	httpPort, _ := strconv.ParseUint(port, 10, 64) // the SDK dials gRPC on this port + 1000
	dir, _ := os.MkdirTemp("", "nacostest-example")
	defer os.RemoveAll(dir)
	client, err := clients.NewNamingClient(vo.NacosClientParam{
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: httpPort}},
		ClientConfig: &constant.ClientConfig{
			TimeoutMs: 3000, NotLoadCacheAtStart: true, CacheDir: dir, LogDir: dir, LogLevel: "error",
		},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseClient()

	ok, err := client.RegisterInstance(vo.RegisterInstanceParam{
		ServiceName: "orders", Ip: "10.0.0.5", Port: 8080,
		Weight: 1, Enable: true, Healthy: true, Ephemeral: true,
	})
	fmt.Println(ok, err)
	for _, in := range srv.Instances("", "", "orders") {
		fmt.Println(in.ID, in.Cluster)
	}
	instance, err := client.SelectOneHealthyInstance(vo.SelectOneHealthInstanceParam{ServiceName: "orders"})
	fmt.Println(instance.Ip, instance.Port, err)
	// Output:
	// true <nil>
	// 10.0.0.5#8080##DEFAULT_GROUP@@orders DEFAULT
	// 10.0.0.5 8080 <nil>
}
