package main

import (
	"go-micro.dev/v4/broker"
	"go-micro.dev/v4/config"
)

// What go-micro v4 names differently from v5 (the rest of the example is generated from
// the root's; gomicro5's has its own line_v5.go, and the root's a line_v3.go like this
// one).

// newBroker is v4's default broker.
func newBroker() broker.Broker { return broker.NewBroker() }

// greeting is the greeting word of the configuration, "Hello" when it has none.
func greeting(conf config.Config) string { return conf.Get("greeting").String("Hello") }
