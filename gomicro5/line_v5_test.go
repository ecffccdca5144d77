package nacos_test

import "go-micro.dev/v5/broker"

// What go-micro v5 names differently from v3 and v4 (the tests every line runs are
// generated from the root's; the root and gomicro4 have their own line_v3_test.go and
// line_v4_test.go).

// newBroker is v5's default broker, as v4's broker.NewBroker was.
func newBroker() broker.Broker { return broker.NewHttpBroker() }
