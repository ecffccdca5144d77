package nacosconfig_test

import (
	"fmt"
	"log"

	"go-micro.dev/v5/config"

	"github.com/micro-registry/nacos/gomicro5/nacosconfig"
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
	// A one-shot load, for the example's output: without WithWatcherDisabled the config
	// follows every change in Nacos (and go-micro v5's config.Close prints its watcher's
	// Stop error, <nil>, to stdout).
	conf, err := config.NewConfig(config.WithWatcherDisabled())
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
