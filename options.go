package nacos

import (
	"context"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/core"
	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/microlog"
	"github.com/micro-registry/nacos/internal/options"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Defaults, in one place (the core's, shared by every go-micro line). Every one of them
// can be changed with the option named beside it.
const (
	DefaultAddress           = core.DefaultAddress           // registry.Addrs, WithAddress
	DefaultTimeout           = core.DefaultTimeout           // registry.Timeout
	DefaultGroup             = core.DefaultGroup             // WithGroup
	DefaultWeight            = core.DefaultWeight            // WithWeight
	DefaultMetadataBudget    = core.DefaultMetadataBudget    // WithMetadataBudget; real Nacos's limit
	DefaultDiscoveryInterval = core.DefaultDiscoveryInterval // WithDiscoveryInterval
	DefaultLookupExpiry      = core.DefaultLookupExpiry      // WithLookupExpiry
)

// withValue sets an option in registry.Options.Context.
var withValue = options.Setter(func(o *registry.Options) *context.Context { return &o.Context })

// WithAddress sets the Nacos server addresses, as registry.Addrs does (kept from the
// original plugin). Several addresses mean failover. An empty list is an error.
func WithAddress(addrs []string) registry.Option {
	return func(o *registry.Options) { o.Addrs = append([]string{}, addrs...) }
}

// WithNamespace sets the Nacos namespace id (default: "public").
func WithNamespace(namespace string) registry.Option {
	return withValue(sdkclient.NamespaceKey{}, namespace)
}

// WithGroup sets the Nacos group services are registered and looked up in (default DefaultGroup).
func WithGroup(group string) registry.Option { return withValue(core.GroupKey{}, group) }

// WithCluster sets the Nacos cluster name of registered instances (default: Nacos's "DEFAULT").
func WithCluster(cluster string) registry.Option { return withValue(core.ClusterKey{}, cluster) }

// WithWeight sets the weight of registered instances, in (0, 10000] (default DefaultWeight).
func WithWeight(weight float64) registry.Option { return withValue(core.WeightKey{}, weight) }

// WithAuth turns on Nacos username/password authentication.
func WithAuth(username, password string) registry.Option {
	return withValue(sdkclient.AuthKey{}, sdkclient.Credentials{User: username, Secret: password})
}

// WithAccessKey sets an Aliyun access key and secret key (MSE / ACM signing).
func WithAccessKey(accessKey, secretKey string) registry.Option {
	return withValue(sdkclient.AccessKeyKey{}, sdkclient.Credentials{User: accessKey, Secret: secretKey})
}

// WithTLS turns TLS on with the SDK's own, file-based, TLS settings: a CA file, a client
// certificate and key for mutual TLS, TrustAll, ServerNameOverride. It is the one way
// to set TLS in code, the same for the registry and the config source
// (nacosconfig.WithTLS); without code, the MICRO_REGISTRY_NACOS_TLS_* variables set the
// same files. go-micro's registry.Secure and registry.TLSConfig are honoured too, but
// the SDK takes only InsecureSkipVerify and ServerName from a tls.Config: one that
// carries certificates in memory is refused.
func WithTLS(files constant.TLSConfig) registry.Option { return withValue(sdkclient.TLSKey{}, files) }

// WithClientConfig sets the whole nacos-sdk-go client configuration (kept from the original
// plugin). The other options still apply on top of it, and the plugin always sets
// UpdateCacheWhenEmpty (see WithPushEmptyProtection) and, unless the config names them,
// the cache and log directories (see WithCacheDir and WithLogDir).
func WithClientConfig(cc constant.ClientConfig) registry.Option {
	return withValue(sdkclient.ClientConfigKey{}, cc)
}

// WithLogDir makes the SDK write its own rotating log files in dir. By default the SDK's
// log lines go to go-micro's logger and no file is written. The SDK's logger is
// process-wide: the first registry that builds a client decides.
func WithLogDir(dir string) registry.Option { return withValue(sdkclient.LogDirKey{}, dir) }

// WithCacheDir makes the SDK keep its on-disk service cache in dir. By default it keeps none.
func WithCacheDir(dir string) registry.Option { return withValue(sdkclient.CacheDirKey{}, dir) }

// WithLoadCacheAtStart makes the SDK load its on-disk cache (see WithCacheDir) when the
// client starts (default false: a stale cache hides the real state and can suppress the
// first push of a service).
func WithLoadCacheAtStart(load bool) registry.Option {
	return withValue(sdkclient.LoadCacheAtStartKey{}, load)
}

// WithPushEmptyProtection makes the registry ignore a push that empties a service and keep
// its previous nodes, as Nacos's namingPushEmptyProtection does (default false, so that
// the last node leaving is seen by GetService and watchers).
func WithPushEmptyProtection(on bool) registry.Option {
	return withValue(core.PushEmptyProtectKey{}, on)
}

// WithMetadataBudget sets how many characters of instance metadata a node may use (default
// DefaultMetadataBudget, the limit of a default Nacos server). Endpoints, then service
// metadata, are left out of nodes that would exceed it.
func WithMetadataBudget(chars int) registry.Option { return withValue(core.MetadataBudgetKey{}, chars) }

// WithDiscoveryInterval sets how often a watcher of all services asks Nacos for new
// service names (default DefaultDiscoveryInterval). Names this registry registers or
// looks up are picked up at once.
func WithDiscoveryInterval(d time.Duration) registry.Option {
	return withValue(core.DiscoveryIntervalKey{}, d)
}

// WithLookupExpiry sets how long a subscription that only GetService uses is kept
// without a lookup before it is released (default DefaultLookupExpiry, twice the TTL of
// go-micro's registry cache, which looks services up again when its entries expire).
// A service without instances, e.g. a name that does not exist, is released after at
// most 5 seconds.
func WithLookupExpiry(d time.Duration) registry.Option { return withValue(core.LookupExpiryKey{}, d) }

// coreOptions is what the core needs of go-micro's options.
func coreOptions(o registry.Options) core.Options {
	return core.Options{
		Addrs: o.Addrs, Timeout: o.Timeout, Secure: o.Secure, TLSConfig: o.TLSConfig, Context: o.Context,
		Logger: pluginLogger(o),
	}
}

// pluginLogger is the plugin's logger over the go-micro logger o gives (givenLogger, of
// each line's own logger file), or over go-micro's logger.DefaultLogger of the moment of
// logging when it gives none.
func pluginLogger(o registry.Options) logging.Logger { return microlog.Logger(givenLogger(o)) }
