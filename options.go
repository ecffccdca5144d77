package nacos

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Defaults, in one place. Every one of them can be changed with the option named beside it.
const (
	DefaultAddress           = sdkclient.DefaultAddress // registry.Addrs, WithAddress
	DefaultTimeout           = sdkclient.DefaultTimeout // registry.Timeout
	DefaultGroup             = constant.DEFAULT_GROUP   // WithGroup
	DefaultWeight            = 1.0                      // WithWeight
	DefaultMetadataBudget    = 1024                     // WithMetadataBudget; real Nacos's limit
	DefaultDiscoveryInterval = 10 * time.Second         // WithDiscoveryInterval
	DefaultLookupExpiry      = 2 * time.Minute          // WithLookupExpiry
	maxWeight                = 10000.0                  // Nacos accepts weights in (0, 10000]
)

// Option keys: unexported types, so no other package can collide with them. The keys of
// the options that build the SDK client are sdkclient's, shared with nacosconfig.
type (
	groupKey             struct{}
	clusterKey           struct{}
	weightKey            struct{}
	pushEmptyProtectKey  struct{}
	metadataBudgetKey    struct{}
	discoveryIntervalKey struct{}
	lookupExpiryKey      struct{}
	loggerKey            struct{}
)

func withValue(key, value interface{}) registry.Option {
	return func(o *registry.Options) {
		if o.Context == nil {
			o.Context = context.Background()
		}
		o.Context = context.WithValue(o.Context, key, value)
	}
}

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
func WithGroup(group string) registry.Option { return withValue(groupKey{}, group) }

// WithCluster sets the Nacos cluster name of registered instances (default: Nacos's "DEFAULT").
func WithCluster(cluster string) registry.Option { return withValue(clusterKey{}, cluster) }

// WithWeight sets the weight of registered instances, in (0, 10000] (default DefaultWeight).
func WithWeight(weight float64) registry.Option { return withValue(weightKey{}, weight) }

// WithAuth turns on Nacos username/password authentication.
func WithAuth(username, password string) registry.Option {
	return withValue(sdkclient.AuthKey{}, sdkclient.Credentials{User: username, Secret: password})
}

// WithAccessKey sets an Aliyun access key and secret key (MSE / ACM signing).
func WithAccessKey(accessKey, secretKey string) registry.Option {
	return withValue(sdkclient.AccessKeyKey{}, sdkclient.Credentials{User: accessKey, Secret: secretKey})
}

// WithTLS turns TLS on with the SDK's own, file-based, TLS settings: a CA file, a client
// certificate and key for mutual TLS, TrustAll, ServerNameOverride. Use it where a
// registry.TLSConfig would carry certificates in memory, which the SDK cannot take.
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
func WithPushEmptyProtection(on bool) registry.Option { return withValue(pushEmptyProtectKey{}, on) }

// WithMetadataBudget sets how many characters of instance metadata a node may use (default
// DefaultMetadataBudget, the limit of a default Nacos server). Endpoints, then service
// metadata, are left out of nodes that would exceed it.
func WithMetadataBudget(chars int) registry.Option { return withValue(metadataBudgetKey{}, chars) }

// WithDiscoveryInterval sets how often a watcher of all services asks Nacos for new
// service names (default DefaultDiscoveryInterval). Names this registry registers or
// looks up are picked up at once.
func WithDiscoveryInterval(d time.Duration) registry.Option {
	return withValue(discoveryIntervalKey{}, d)
}

// WithLookupExpiry sets how long a subscription that only GetService uses is kept
// without a lookup before it is released (default DefaultLookupExpiry, twice the TTL of
// go-micro's registry cache, which looks services up again when its entries expire).
// A service without instances, e.g. a name that does not exist, is released after at
// most 5 seconds.
func WithLookupExpiry(d time.Duration) registry.Option { return withValue(lookupExpiryKey{}, d) }

// WithLogger sends what the plugin logs to l instead of go-micro's logger.DefaultLogger.
func WithLogger(l logger.Logger) registry.Option { return withValue(loggerKey{}, l) }

// config is everything the registry needs, derived and validated from registry.Options.
type config struct {
	servers           []constant.ServerConfig
	client            constant.ClientConfig
	group             string
	cluster           string
	weight            float64
	metadataBudget    int
	pushEmptyProtect  bool
	discoveryInterval time.Duration
	lookupExpiry      time.Duration
	log               logger.Logger // nil: logger.DefaultLogger at the time of logging
}

// newConfig validates opts and fills in the defaults.
func newConfig(opts registry.Options) (*config, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	c := &config{
		group:             DefaultGroup,
		weight:            DefaultWeight,
		metadataBudget:    DefaultMetadataBudget,
		discoveryInterval: DefaultDiscoveryInterval,
		lookupExpiry:      DefaultLookupExpiry,
	}
	if v, ok := ctx.Value(groupKey{}).(string); ok && v != "" {
		c.group = v
	}
	if err := sdkclient.CheckGroup(c.group); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(clusterKey{}).(string); ok {
		c.cluster = v
	}
	if err := checkCluster(c.cluster); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(weightKey{}).(float64); ok {
		c.weight = v
	}
	if err := checkWeight(c.weight); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(metadataBudgetKey{}).(int); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: metadata budget must be positive, got %d", v)
		}
		c.metadataBudget = v
	}
	if v, ok := ctx.Value(discoveryIntervalKey{}).(time.Duration); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: discovery interval must be positive, got %v", v)
		}
		c.discoveryInterval = v
	}
	if v, ok := ctx.Value(lookupExpiryKey{}).(time.Duration); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: lookup expiry must be positive, got %v", v)
		}
		c.lookupExpiry = v
	}
	c.pushEmptyProtect, _ = ctx.Value(pushEmptyProtectKey{}).(bool)
	c.log, _ = ctx.Value(loggerKey{}).(logger.Logger)
	var err error
	c.servers, c.client, err = sdkclient.Build(ctx, sdkclient.Connection{
		Addrs: opts.Addrs, Timeout: opts.Timeout, Secure: opts.Secure, TLSConfig: opts.TLSConfig,
	})
	if err != nil {
		return nil, err
	}
	// The registry needs to see a service become empty; WithPushEmptyProtection decides
	// what to do with it.
	c.client.UpdateCacheWhenEmpty = true
	return c, nil
}

func checkWeight(w float64) error {
	if math.IsNaN(w) || w <= 0 || w > maxWeight {
		return fmt.Errorf("nacos: weight must be in (0, %v], got %v", maxWeight, w)
	}
	return nil
}
