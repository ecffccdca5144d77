package nacos_test

import "go-micro.dev/v4/broker"

// What go-micro v4 names differently from v5 (the tests every line runs are generated
// from the root's; gomicro5 has its own line_v5_test.go, and the root a line_v3_test.go
// like this one).

// newBroker is v4's default broker.
func newBroker() broker.Broker { return broker.NewBroker() }
