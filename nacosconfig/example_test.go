package nacosconfig_test

import (
	"fmt"

	"github.com/asim/go-micro/v3/config"

	"github.com/micro-registry/nacos/nacosconfig"
	"github.com/micro-registry/nacos/nacostest"
)

// A service loads its configuration from Nacos: two dataIds, merged, the later winning.
func ExampleNewSource() {
	srv, err := nacostest.NewServer() // a real Nacos in production
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	_ = srv.PublishConfig("", "", "app.yaml", "greeting: Hello\nport: 8080\n")
	_ = srv.PublishConfig("", "", "app-local.properties", "greeting=Bonjour\n")

	src := nacosconfig.NewSource(
		nacosconfig.WithAddress([]string{srv.Addr()}),
		nacosconfig.WithDataID("app.yaml", "app-local.properties"),
	)
	defer nacosconfig.Close(src)
	conf, err := config.NewConfig()
	if err != nil {
		panic(err)
	}
	defer conf.Close()
	if err := conf.Load(src); err != nil {
		panic(err)
	}
	fmt.Println(conf.Get("greeting").String(""), conf.Get("port").Int(0))
	// Output:
	// Bonjour 8080
}
