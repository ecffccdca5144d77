package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	micro "github.com/asim/go-micro/v3"
	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/config"
	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/server"

	"github.com/micro-registry/nacos"
	"github.com/micro-registry/nacos/nacosconfig"
)

// configDemo runs a greeter whose greeting word lives in Nacos config (dataId
// greeter.yaml), changes it in Nacos, and shows the next call greeted with the new word.
// Nacos is the one --registry_address names, or an embedded one.
func configDemo(out io.Writer) error {
	quietLogs()
	reg := nacos.NewRegistry()
	svc := micro.NewService(micro.Name("greeter.client"), micro.Registry(reg))
	svc.Init() // --registry_address or MICRO_REGISTRY_ADDRESS
	reg = svc.Options().Registry
	addrs, stop, err := nacosFor(out, reg)
	if err != nil {
		return err
	}
	defer stop()
	defer nacos.Close(reg)
	// The greeter's registry. Registries close after the config sources (defers run last
	// first): nacos-sdk-go's config listen rounds race with any client's shutdown.
	nodeReg := nacos.NewRegistry(registry.Addrs(addrs...))
	defer nacos.Close(nodeReg)

	// What an operator does in the Nacos console: publish the service's config.
	operator := nacosconfig.NewSource(nacosconfig.WithAddress(addrs), nacosconfig.WithDataID("greeter.yaml"))
	defer nacosconfig.Close(operator)
	if err := publish(out, operator, "greeting: Hello\n"); err != nil {
		return err
	}

	// The service loads it and keeps it live.
	conf, err := config.NewConfig()
	if err != nil {
		return err
	}
	defer conf.Close()
	src := nacosconfig.NewSource(nacosconfig.WithAddress(addrs), nacosconfig.WithDataID("greeter.yaml"))
	defer nacosconfig.Close(src)
	if err := conf.Load(src); err != nil {
		return err
	}
	node := micro.NewService(
		micro.Server(server.NewServer(server.Address("127.0.0.1:0"))),
		micro.Broker(newBroker()),
		micro.Registry(nodeReg),
		micro.Name("greeter"),
	)
	word := func() string { return greeting(conf) }
	if err := micro.RegisterHandler(node.Server(), &Greeter{srv: node.Server(), word: word}); err != nil {
		return err
	}
	if err := node.Server().Start(); err != nil {
		return err
	}
	defer node.Server().Stop()
	fmt.Fprintf(out, "greeter: serving on %s, greeting word from Nacos config: %q\n", node.Server().Options().Address, word())

	c := svc.Client()
	if err := greet(out, c); err != nil {
		return err
	}
	w, err := conf.Watch("greeting")
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := publish(out, operator, "greeting: Bonjour\n"); err != nil {
		return err
	}
	changed := make(chan string, 1)
	go func() {
		if v, err := w.Next(); err == nil {
			changed <- v.String("")
		}
	}()
	select {
	case v := <-changed:
		// go-micro's config tells its watchers of a change before its Get serves it.
		for deadline := time.Now().Add(patience); word() != v; time.Sleep(pace) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the config's Get still serves %q, %v after its watcher saw %q", word(), patience, v)
			}
		}
		fmt.Fprintf(out, "greeter: config changed live, greeting word now %q\n", v)
		// go-micro's config tells its watchers before its own values change: the
		// greeter reads the new word a moment later.
		for deadline := time.Now().Add(patience); word() != v && time.Now().Before(deadline); {
			time.Sleep(pace / 10)
		}
	case <-time.After(patience):
		return fmt.Errorf("the config change did not reach the service within %v", patience)
	}
	if err := greet(out, c); err != nil {
		return err
	}
	fmt.Fprintln(out, "done: the greeting changed without a restart")
	return nil
}

// publish writes YAML to the operator's dataId, as the Nacos console would.
func publish(out io.Writer, operator source.Source, yaml string) error {
	if err := operator.Write(&source.ChangeSet{Data: []byte(yaml), Format: "yaml"}); err != nil {
		return err
	}
	fmt.Fprintf(out, "nacos: greeter.yaml is now %q\n", strings.TrimSpace(yaml))
	return nil
}

// greet calls the greeter once, retrying while its registration is on its way.
func greet(out io.Writer, c client.Client) error {
	deadline := time.Now().Add(patience)
	for {
		rsp, err := hello(context.Background(), c, "config")
		if err == nil {
			fmt.Fprintf(out, "client: %q\n", rsp.Greeting)
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pace)
	}
}
