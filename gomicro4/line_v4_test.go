package nacos_test

import "go-micro.dev/v4/broker"

// What go-micro v4 names differently from v5 (the rest of this module is generated from
// gomicro5, which has its own line_v5_test.go).

// newBroker is v4's default broker.
func newBroker() broker.Broker { return broker.NewBroker() }
