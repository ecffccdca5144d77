package fleet

import (
	_ "github.com/micro-registry/nacos/fleet/internal/protoconflict" // first: see there

	"testing"

	v3registry "github.com/asim/go-micro/v3/registry"
	v4registry "go-micro.dev/v4/registry"
	v5registry "go-micro.dev/v5/registry"

	v3 "github.com/micro-registry/nacos"
	v4 "github.com/micro-registry/nacos/gomicro4"
	v5 "github.com/micro-registry/nacos/gomicro5"
	"github.com/micro-registry/nacos/internal/suite"
)

// A v3, a v4 and a v5 service in one namespace see each other (suite.RunFleet).
func TestMixedFleet(t *testing.T) {
	suite.RunFleet(t,
		suite.Line{Name: "go-micro v3", NewRegistry: v3.NewRegistry, Options: func(o suite.Options) []any {
			return options(o, v3registry.Addrs(o.Addrs...), v3registry.Timeout(o.Timeout), v3.WithNamespace(o.Namespace), v3.WithAuth(o.User, o.Password))
		}},
		suite.Line{Name: "go-micro v4", NewRegistry: v4.NewRegistry, Options: func(o suite.Options) []any {
			return options(o, v4registry.Addrs(o.Addrs...), v4registry.Timeout(o.Timeout), v4.WithNamespace(o.Namespace), v4.WithAuth(o.User, o.Password))
		}},
		suite.Line{Name: "go-micro v5", NewRegistry: v5.NewRegistry, Options: func(o suite.Options) []any {
			return options(o, v5registry.Addrs(o.Addrs...), v5registry.Timeout(o.Timeout), v5.WithNamespace(o.Namespace), v5.WithAuth(o.User, o.Password))
		}},
	)
}

// options are a line's registry options: its address and timeout, its namespace when
// the test has one (on the real Nacos), its auth when the Nacos has auth on.
func options(o suite.Options, addrs, timeout, namespace, auth any) []any {
	opts := []any{addrs, timeout}
	if o.Namespace != "" {
		opts = append(opts, namespace)
	}
	if o.User != "" {
		opts = append(opts, auth)
	}
	return opts
}
