package main

import (
	"github.com/asim/go-micro/v3/broker"
	"github.com/asim/go-micro/v3/config"
)

// What go-micro v3 names differently from v5 (the rest of the example is every line's;
// gomicro5 and gomicro4 have their own line_v5.go and line_v4.go).

// newBroker is v3's default broker (v5 names it broker.NewHttpBroker).
func newBroker() broker.Broker { return broker.NewBroker() }

// greeting is the greeting word of the configuration, "Hello" when it has none (v5's
// Get also returns an error).
func greeting(conf config.Config) string { return conf.Get("greeting").String("Hello") }
