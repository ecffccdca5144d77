// Package nacos is a go-micro v5 registry backed by Nacos 2.x, through nacos-sdk-go v2.
// It is the v5 line of github.com/micro-registry/nacos: the same core, options, errors
// and wire format as the v3 and v4 lines, so services of every line share a Nacos
// namespace and see each other.
//
// Every node of a go-micro service becomes an ephemeral Nacos instance of that service;
// lookups and watches follow what Nacos pushes. Node metadata stays plain instance
// metadata; the node id, the version, and the endpoints and service metadata (packed
// to fit Nacos's 1024-character metadata limit) live under reserved "micro." keys, the
// version also under "version", where the original community plugin kept it.
// GetService returns one Service per version, as go-micro expects.
//
// The package registers itself in go-micro's plugin table (cmd.DefaultRegistries) as
// "nacos", so there are three ways to use it.
//
// With go-micro's command line: import the package for its side effect, then choose it
// with flags or the environment.
//
//	import _ "github.com/micro-registry/nacos/gomicro5"
//
//	service := micro.NewService(micro.Name("greeter"))
//	service.Init() // --registry nacos --registry_address 10.0.0.1:8848,10.0.0.2:8848
//	               // or MICRO_REGISTRY=nacos MICRO_REGISTRY_ADDRESS=10.0.0.1:8848
//
// In code, with options:
//
//	r := nacos.NewRegistry(
//		registry.Addrs("10.0.0.1:8848"),
//		nacos.WithNamespace("dev"),
//		nacos.WithAuth("nacos", "secret"),
//		registry.Logger(myLogger), // where the registry logs; or nacos.WithLogger
//	)
//	defer nacos.Close(r)
//	service := micro.NewService(micro.Name("greeter"), micro.Registry(r))
//
// Per call, with nacos-sdk-go's own parameters, for what go-micro has no option for
// (the original community plugin's context keys are accepted too):
//
//	err := r.Register(svc, nacos.RegisterParam(vo.RegisterInstanceParam{GroupName: "blue", ClusterName: "east"}))
//	services, err := r.GetService("greeter", nacos.GetParam(vo.GetServiceParam{GroupName: "blue"}))
//
// NewRegistry never fails and connects on first use, in the background; no call waits
// for the connection longer than registry.Timeout. Close (nacos.Close(r), or io.Closer)
// ends the connection, and Nacos then removes the nodes it registered.
//
// The registry logs to registry.Options.Logger (registry.Logger, or WithLogger, which is
// the same option), and to go-micro's logger.DefaultLogger of the moment when none is
// given.
//
// To test code that uses the registry without a Nacos server, package
// github.com/micro-registry/nacos/nacostest runs an embedded one, in the spirit of
// net/http/httptest.
package nacos
