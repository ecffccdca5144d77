package nacos_test

import "go-micro.dev/v5/broker"

// What go-micro v5 names differently from v4 (gomicro4 has its own line_v4_test.go).

// newBroker is v5's default broker, as v4's broker.NewBroker was.
func newBroker() broker.Broker { return broker.NewHttpBroker() }
