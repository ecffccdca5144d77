package nacosconfig

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/configsource"
	"github.com/micro-registry/nacos/internal/microlog"
	"github.com/micro-registry/nacos/internal/options"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Defaults, in one place (the core's, shared by every go-micro line). Every one of them
// can be changed with the option named beside it.
const (
	DefaultAddress = configsource.DefaultAddress // WithAddress
	DefaultTimeout = configsource.DefaultTimeout // WithTimeout
	DefaultGroup   = configsource.DefaultGroup   // WithGroup
)

// The formats a dataId's content can have (WithFormat).
const (
	FormatJSON       = configformat.JSON
	FormatYAML       = configformat.YAML
	FormatTOML       = configformat.TOML
	FormatProperties = configformat.Properties
)

// loggerKey is the key of WithLogger: a go-micro v3 logger. The keys of the other
// options are the core's (configsource) and, for those that build the SDK client,
// sdkclient's, shared with the registry.
type loggerKey struct{}

// withValue sets an option in source.Options.Context.
var withValue = options.Setter(func(o *source.Options) *context.Context { return &o.Context })

// WithAddress sets the Nacos server addresses, in the registry's forms: host:port, a
// bare host (port 8848), or an http:// or https:// URL with a context path. Several
// addresses mean failover. An empty list is an error.
func WithAddress(addrs []string) source.Option {
	return withValue(configsource.AddressKey{}, append([]string{}, addrs...))
}

// WithNamespace sets the Nacos namespace id (default: the public namespace, "").
func WithNamespace(namespace string) source.Option {
	return withValue(sdkclient.NamespaceKey{}, namespace)
}

// WithGroup sets the group of the dataIds (default DefaultGroup).
func WithGroup(group string) source.Option { return withValue(configsource.GroupKey{}, group) }

// WithDataID names the configs to read, merged in order: a key in a later one wins.
// At least one is needed.
func WithDataID(dataIDs ...string) source.Option {
	return withValue(configsource.DataIDKey{}, append([]string{}, dataIDs...))
}

// WithFormat sets the format of every dataId's content: "json", "yaml" (or "yml"),
// "toml" or "properties". By default each dataId's extension says.
func WithFormat(format string) source.Option { return withValue(configsource.FormatKey{}, format) }

// WithRequired makes a dataId that does not exist an error of Read (default: it reads
// as empty).
func WithRequired(required bool) source.Option {
	return withValue(configsource.RequiredKey{}, required)
}

// WithKeepOnDelete makes a watcher keep the last content of a dataId that is deleted
// (default: a deleted dataId counts as empty).
func WithKeepOnDelete(keep bool) source.Option {
	return withValue(configsource.KeepOnDeleteKey{}, keep)
}

// WithTimeout sets the timeout of requests to Nacos (default DefaultTimeout). It is also
// the longest Watch, a watcher's Stop and Close wait for nacos-sdk-go: past it, they
// return, the source's logger says what they did not wait for, and it goes on in the
// background.
func WithTimeout(d time.Duration) source.Option { return withValue(configsource.TimeoutKey{}, d) }

// WithAuth turns on Nacos username/password authentication.
func WithAuth(username, password string) source.Option {
	return withValue(sdkclient.AuthKey{}, sdkclient.Credentials{User: username, Secret: password})
}

// WithAccessKey sets an Aliyun access key and secret key (MSE / ACM signing).
func WithAccessKey(accessKey, secretKey string) source.Option {
	return withValue(sdkclient.AccessKeyKey{}, sdkclient.Credentials{User: accessKey, Secret: secretKey})
}

// WithTLS turns TLS on with the SDK's own, file-based, TLS settings: a CA file, a client
// certificate and key for mutual TLS, TrustAll, ServerNameOverride. It is the one way
// to set TLS in code, the same for the registry (nacos.WithTLS) and the config source;
// without code, the MICRO_CONFIG_NACOS_TLS_* variables (or the registry's,
// MICRO_REGISTRY_NACOS_TLS_*) set the same files.
func WithTLS(files constant.TLSConfig) source.Option { return withValue(sdkclient.TLSKey{}, files) }

// WithTLSConfig turns TLS on, as registry.TLSConfig does for the registry. The SDK takes
// only InsecureSkipVerify and ServerName from it: certificates in memory are refused.
//
// Deprecated: use WithTLS, which names the files the SDK reads (and TrustAll and
// ServerNameOverride for the two fields this takes); WithTLSConfig is kept for the code
// that uses it.
func WithTLSConfig(c *tls.Config) source.Option { return withValue(configsource.TLSConfigKey{}, c) }

// WithClientConfig sets the whole nacos-sdk-go client configuration (as the community
// config source does). The other options still apply on top of it, and unless the config
// names them, the cache and log directories (see WithCacheDir and WithLogDir).
func WithClientConfig(cc constant.ClientConfig) source.Option {
	return withValue(sdkclient.ClientConfigKey{}, cc)
}

// WithLogDir makes the SDK write its own rotating log files in dir. By default the SDK's
// log lines go to go-micro's logger and no file is written. The SDK's logger is
// process-wide: the first registry or source that builds a client decides.
func WithLogDir(dir string) source.Option { return withValue(sdkclient.LogDirKey{}, dir) }

// WithCacheDir makes the SDK keep its config snapshots in dir, and fall back on them
// when Nacos cannot be reached. By default it writes and reads none.
func WithCacheDir(dir string) source.Option { return withValue(sdkclient.CacheDirKey{}, dir) }

// WithLogger sends what the source logs (such as malformed content it skipped) to l
// instead of go-micro's logger.DefaultLogger.
func WithLogger(l logger.Logger) source.Option { return withValue(loggerKey{}, l) }

// coreOptions is what the core needs of go-micro's options.
func coreOptions(o source.Options) configsource.Options {
	co := configsource.Options{Context: o.Context}
	var l logger.Logger
	if o.Context != nil {
		l, _ = o.Context.Value(loggerKey{}).(logger.Logger)
	}
	co.Logger = microlog.Logger(l)
	if o.Encoder != nil {
		co.Encoder = o.Encoder.String() // the community source chose the format with source.WithEncoder
	}
	return co
}
