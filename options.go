package nacos

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// Defaults, in one place. Every one of them can be changed with the option named beside it.
const (
	DefaultAddress           = "127.0.0.1:8848"         // registry.Addrs, WithAddress
	DefaultTimeout           = 5 * time.Second          // registry.Timeout
	DefaultGroup             = constant.DEFAULT_GROUP   // WithGroup
	DefaultWeight            = 1.0                      // WithWeight
	DefaultMetadataBudget    = 1024                     // WithMetadataBudget; real Nacos's limit
	DefaultDiscoveryInterval = 10 * time.Second         // WithDiscoveryInterval
	DefaultLookupExpiry      = 2 * time.Minute          // WithLookupExpiry
	defaultPort              = 8848                     // for an address without a port
	defaultContextPath       = "/nacos"                 // for an http:// address without a path
	maxWeight                = 10000.0                  // Nacos accepts weights in (0, 10000]
	grpcPortOffset           = constant.RpcPortOffset   // the SDK dials gRPC at the HTTP port + 1000
	maxHTTPPort              = 65535 - grpcPortOffset   // so the gRPC port still exists
	noDiskCache              = "nacos-sdk-cache-is-off" // see diskCacheDir
)

// Option keys: unexported types, so no other package can collide with them.
type (
	namespaceKey         struct{}
	groupKey             struct{}
	clusterKey           struct{}
	weightKey            struct{}
	authKey              struct{}
	accessKeyKey         struct{}
	clientConfigKey      struct{}
	logDirKey            struct{}
	cacheDirKey          struct{}
	loadCacheAtStartKey  struct{}
	pushEmptyProtectKey  struct{}
	metadataBudgetKey    struct{}
	discoveryIntervalKey struct{}
	lookupExpiryKey      struct{}
	loggerKey            struct{}
)

type credentials struct{ user, secret string }

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
func WithNamespace(namespace string) registry.Option { return withValue(namespaceKey{}, namespace) }

// WithGroup sets the Nacos group services are registered and looked up in (default DefaultGroup).
func WithGroup(group string) registry.Option { return withValue(groupKey{}, group) }

// WithCluster sets the Nacos cluster name of registered instances (default: Nacos's "DEFAULT").
func WithCluster(cluster string) registry.Option { return withValue(clusterKey{}, cluster) }

// WithWeight sets the weight of registered instances, in (0, 10000] (default DefaultWeight).
func WithWeight(weight float64) registry.Option { return withValue(weightKey{}, weight) }

// WithAuth turns on Nacos username/password authentication.
func WithAuth(username, password string) registry.Option {
	return withValue(authKey{}, credentials{username, password})
}

// WithAccessKey sets an Aliyun access key and secret key (MSE / ACM signing).
func WithAccessKey(accessKey, secretKey string) registry.Option {
	return withValue(accessKeyKey{}, credentials{accessKey, secretKey})
}

// WithClientConfig sets the whole nacos-sdk-go client configuration (kept from the original
// plugin). The other options still apply on top of it, and the plugin always sets
// UpdateCacheWhenEmpty (see WithPushEmptyProtection) and, unless the config names them,
// the cache and log directories (see WithCacheDir and WithLogDir).
func WithClientConfig(cc constant.ClientConfig) registry.Option {
	return withValue(clientConfigKey{}, cc)
}

// WithLogDir makes the SDK write its own rotating log files in dir. By default the SDK's
// log lines go to go-micro's logger and no file is written. The SDK's logger is
// process-wide: the first registry that builds a client decides.
func WithLogDir(dir string) registry.Option { return withValue(logDirKey{}, dir) }

// WithCacheDir makes the SDK keep its on-disk service cache in dir. By default it keeps none.
func WithCacheDir(dir string) registry.Option { return withValue(cacheDirKey{}, dir) }

// WithLoadCacheAtStart makes the SDK load its on-disk cache (see WithCacheDir) when the
// client starts (default false: a stale cache hides the real state and can suppress the
// first push of a service).
func WithLoadCacheAtStart(load bool) registry.Option { return withValue(loadCacheAtStartKey{}, load) }

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
	var err error
	if c.servers, err = parseAddrs(opts.Addrs); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(groupKey{}).(string); ok && v != "" {
		c.group = v
	}
	if err := checkGroup(c.group); err != nil {
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
	if c.client, err = clientConfig(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// clientConfig builds the SDK's client configuration from the options.
func clientConfig(ctx context.Context, opts registry.Options) (constant.ClientConfig, error) {
	cc, _ := ctx.Value(clientConfigKey{}).(constant.ClientConfig)
	if v, ok := ctx.Value(namespaceKey{}).(string); ok {
		cc.NamespaceId = v
	}
	if err := checkNamespace(cc.NamespaceId); err != nil {
		return cc, err
	}
	switch {
	case opts.Timeout < 0:
		return cc, fmt.Errorf("nacos: timeout must not be negative, got %v", opts.Timeout)
	case opts.Timeout > 0:
		cc.TimeoutMs = uint64(opts.Timeout / time.Millisecond)
	case cc.TimeoutMs == 0:
		cc.TimeoutMs = uint64(DefaultTimeout / time.Millisecond)
	}
	if v, ok := ctx.Value(authKey{}).(credentials); ok {
		if v.user == "" {
			return cc, fmt.Errorf("nacos: WithAuth needs a username")
		}
		cc.Username, cc.Password = v.user, v.secret
	}
	if v, ok := ctx.Value(accessKeyKey{}).(credentials); ok {
		if v.user == "" || v.secret == "" {
			return cc, fmt.Errorf("nacos: WithAccessKey needs both an access key and a secret key")
		}
		cc.AccessKey, cc.SecretKey = v.user, v.secret
	}
	if opts.Secure || opts.TLSConfig != nil {
		cc.TLSCfg.Appointed, cc.TLSCfg.Enable = true, true
		if t := opts.TLSConfig; t != nil {
			cc.TLSCfg.TrustAll = t.InsecureSkipVerify
			cc.TLSCfg.ServerNameOverride = t.ServerName
		}
	}
	if v, ok := ctx.Value(logDirKey{}).(string); ok {
		cc.LogDir = v
	}
	if v, ok := ctx.Value(cacheDirKey{}).(string); ok {
		cc.CacheDir = v
	}
	if cc.CacheDir == "" {
		cc.CacheDir = diskCacheDir()
	}
	if v, ok := ctx.Value(loadCacheAtStartKey{}).(bool); ok {
		cc.NotLoadCacheAtStart = !v
	} else if _, given := ctx.Value(clientConfigKey{}).(constant.ClientConfig); !given {
		cc.NotLoadCacheAtStart = true
	}
	// The registry needs to see a service become empty; WithPushEmptyProtection decides
	// what to do with it.
	cc.UpdateCacheWhenEmpty = true
	return cc, nil
}

// diskCacheDir is where the SDK is told to write its disk cache when the user named no
// directory. The SDK always writes one file per service change and offers no switch to
// turn that off, so it is pointed below the null device, where every write fails and
// nothing reaches the disk (the SDK's complaint about it is dropped by sdkLogger).
func diskCacheDir() string { return filepath.Join(os.DevNull, noDiskCache) }

// parseAddrs turns registry addresses into the SDK's server list. No addresses at all
// means DefaultAddress.
func parseAddrs(addrs []string) ([]constant.ServerConfig, error) {
	if addrs == nil {
		addrs = []string{DefaultAddress}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("nacos: empty registry address list")
	}
	servers := make([]constant.ServerConfig, 0, len(addrs))
	for _, a := range addrs {
		sc, err := parseAddr(strings.TrimSpace(a))
		if err != nil {
			return nil, err
		}
		servers = append(servers, sc)
	}
	return servers, nil
}

// parseAddr accepts host:port, a bare host (port 8848), and http:// or https:// URLs with
// an optional context path (default /nacos).
func parseAddr(addr string) (constant.ServerConfig, error) {
	sc := constant.ServerConfig{Scheme: "http", ContextPath: defaultContextPath}
	if addr == "" {
		return sc, fmt.Errorf("nacos: empty registry address")
	}
	hostport := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return sc, fmt.Errorf("nacos: registry address %q is not a valid URL: %v", addr, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return sc, fmt.Errorf("nacos: registry address %q: scheme must be http or https", addr)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return sc, fmt.Errorf("nacos: registry address %q: only scheme, host, port and path are allowed (use WithAuth for credentials)", redactURL(u))
		}
		sc.Scheme, hostport = u.Scheme, u.Host
		if p := strings.TrimRight(u.Path, "/"); p != "" {
			sc.ContextPath = p
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host name, IPv4, bracketed or bare IPv6 address.
		host, port = hostport, strconv.Itoa(defaultPort)
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" || strings.ContainsAny(host, " \t/[]@") {
		return sc, fmt.Errorf("nacos: registry address %q has no valid host", addr)
	}
	if ip := net.ParseIP(host); ip == nil && strings.Contains(host, ":") {
		return sc, fmt.Errorf("nacos: registry address %q has no valid host", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return sc, fmt.Errorf("nacos: registry address %q has an invalid port %q", addr, port)
	}
	if n > maxHTTPPort {
		return sc, fmt.Errorf("nacos: registry address %q: port %d leaves no gRPC port (Nacos serves gRPC at port+%d)", addr, n, grpcPortOffset)
	}
	sc.IpAddr, sc.Port = host, n
	return sc, nil
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("xxxxx")
	}
	return c.String()
}

func checkWeight(w float64) error {
	if math.IsNaN(w) || w <= 0 || w > maxWeight {
		return fmt.Errorf("nacos: weight must be in (0, %v], got %v", maxWeight, w)
	}
	return nil
}
