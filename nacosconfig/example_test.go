package nacosconfig_test

import (
	"fmt"
	"log"

	"github.com/asim/go-micro/v3/config"

	"github.com/micro-registry/nacos/nacosconfig"
	"github.com/micro-registry/nacos/nacostest"
)

// A service loads its configuration from Nacos: two dataIds, merged, the later winning.
func ExampleNewSource() {
	srv, err := nacostest.NewServer() // a real Nacos in production
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	_ = srv.PublishConfig("", "", "app.yaml", "greeting: Hello\nport: 8080\n")
	_ = srv.PublishConfig("", "", "app-local.properties", "greeting=Bonjour\n")

	src := nacosconfig.NewSource(
		nacosconfig.WithAddress([]string{srv.Addr()}),
		nacosconfig.WithDataID("app.yaml", "app-local.properties"),
	)
	defer nacosconfig.Close(src)
	// Without options, go-micro's config follows every change in Nacos; oneLoad is
	// config.WithWatcherDisabled() where go-micro has it (v4 and v5), for this one-shot load.
	conf, err := config.NewConfig(oneLoad...)
	if err != nil {
		log.Fatal(err)
	}
	defer conf.Close()
	if err := conf.Load(src); err != nil {
		log.Fatal(err)
	}
	var settings struct {
		Greeting string
		Port     int
	}
	if err := conf.Scan(&settings); err != nil {
		log.Fatal(err)
	}
	fmt.Println(settings.Greeting, settings.Port)
	// Output:
	// Bonjour 8080
}
