// Package nacos is a go-micro v3 registry backed by Nacos 2.x, through nacos-sdk-go v2.
// github.com/micro-registry/nacos provides this package for each line of go-micro: v3
// (github.com/micro-registry/nacos), v4 (github.com/micro-registry/nacos/gomicro4) and v5
// (github.com/micro-registry/nacos/gomicro5), with the same core, options, errors,
// behaviours, documentation and wire format, so services of every line share a Nacos
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
// "nacos", so there are four ways to use it.
//
// With go-micro's command line: import the package for its side effect, then choose it
// with flags or the environment.
//
//	import _ "github.com/micro-registry/nacos"
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
//		nacos.WithLogger(myLogger), // where the registry logs
//	)
//	defer nacos.Close(r)
//	service := micro.NewService(micro.Name("greeter"), micro.Registry(r))
//
// Without code, from the environment, for every option go-micro's flags cannot carry:
// MICRO_REGISTRY_NACOS_NAMESPACE, _GROUP, _CLUSTER, _WEIGHT, _USERNAME, _PASSWORD,
// _ACCESS_KEY, _SECRET_KEY, _CONTEXT_PATH, _TLS_CA_FILE, _TLS_CERT_FILE, _TLS_KEY_FILE,
// _TLS_SERVER_NAME and _TLS_TRUST_ALL (package nacosconfig reads MICRO_CONFIG_NACOS_*
// first, then these). An option given in code wins:
//
//	MICRO_REGISTRY=nacos MICRO_REGISTRY_ADDRESS=10.0.0.1:8848 \
//	MICRO_REGISTRY_NACOS_NAMESPACE=dev MICRO_REGISTRY_NACOS_USERNAME=nacos MICRO_REGISTRY_NACOS_PASSWORD=secret ./greeter
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
// An error about reaching Nacos says the address tried and its gRPC port (the HTTP port
// + 1000, where nacos-sdk-go connects), what failed (connection refused, timed out, TLS,
// no such host, a server that does not answer, Nacos 3's console port) and what to
// check. At go-micro's default log level, the log says once when Nacos becomes
// unreachable and why, reminds at most once a minute while it stays so, and says when it
// is back; nacos-sdk-go's own lines go to debug. The registry logs to the logger of
// WithLogger, and to go-micro's logger.DefaultLogger of the moment when none is given.
//
// To test code that uses the registry without a Nacos server, package
// github.com/micro-registry/nacos/nacostest runs an embedded one, in the spirit of
// net/http/httptest.
package nacos
