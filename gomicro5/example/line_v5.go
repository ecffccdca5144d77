package main

import (
	"go-micro.dev/v5/broker"
	"go-micro.dev/v5/config"
)

// What go-micro v5 names differently from v3 and v4 (the rest of the example is generated
// from the root's; the root's and gomicro4's have their own line_v3.go and line_v4.go).

// newBroker is v5's default broker, as v4's broker.NewBroker was.
func newBroker() broker.Broker { return broker.NewHttpBroker() }

// greeting is the greeting word of the configuration, "Hello" when it has none: v5's
// Get also returns an error.
func greeting(conf config.Config) string {
	v, err := conf.Get("greeting")
	if err != nil {
		return "Hello"
	}
	return v.String("Hello")
}
