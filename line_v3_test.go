package nacos_test

import "github.com/asim/go-micro/v3/broker"

// What go-micro v3 names differently from v5 (the rest of the tests every line runs are
// this module's; gomicro5 and gomicro4 have their own line_v5_test.go and line_v4_test.go).

// newBroker is v3's default broker (v5 names it broker.NewHttpBroker).
func newBroker() broker.Broker { return broker.NewBroker() }
