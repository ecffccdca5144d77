package nacosconfig

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Defaults, in one place. Every one of them can be changed with the option named beside it.
const (
	DefaultAddress = sdkclient.DefaultAddress // WithAddress
	DefaultTimeout = sdkclient.DefaultTimeout // WithTimeout
	DefaultGroup   = constant.DEFAULT_GROUP   // WithGroup
	// maxPending is how many changes a watcher keeps for its reader: one that falls
	// further behind skips the oldest it has not read (the newest is never lost).
	maxPending = 100
)

// The formats a dataId's content can have (WithFormat).
const (
	FormatJSON       = configformat.JSON
	FormatYAML       = configformat.YAML
	FormatTOML       = configformat.TOML
	FormatProperties = configformat.Properties
)

// Option keys: unexported types, so no other package can collide with them. The keys of
// the options that build the SDK client are sdkclient's, shared with the registry.
type (
	addressKey      struct{}
	groupKey        struct{}
	dataIDKey       struct{}
	formatKey       struct{}
	requiredKey     struct{}
	keepOnDeleteKey struct{}
	timeoutKey      struct{}
	tlsConfigKey    struct{}
	loggerKey       struct{}
)

func withValue(key, value interface{}) source.Option {
	return func(o *source.Options) {
		if o.Context == nil {
			o.Context = context.Background()
		}
		o.Context = context.WithValue(o.Context, key, value)
	}
}

// WithAddress sets the Nacos server addresses, in the registry's forms: host:port, a
// bare host (port 8848), or an http:// or https:// URL with a context path. Several
// addresses mean failover. An empty list is an error.
func WithAddress(addrs []string) source.Option {
	return withValue(addressKey{}, append([]string{}, addrs...))
}

// WithNamespace sets the Nacos namespace id (default: the public namespace, "").
func WithNamespace(namespace string) source.Option {
	return withValue(sdkclient.NamespaceKey{}, namespace)
}

// WithGroup sets the group of the dataIds (default DefaultGroup).
func WithGroup(group string) source.Option { return withValue(groupKey{}, group) }

// WithDataID names the configs to read, merged in order: a key in a later one wins.
// At least one is needed.
func WithDataID(dataIDs ...string) source.Option {
	return withValue(dataIDKey{}, append([]string{}, dataIDs...))
}

// WithFormat sets the format of every dataId's content: "json", "yaml" (or "yml"),
// "toml" or "properties". By default each dataId's extension says.
func WithFormat(format string) source.Option { return withValue(formatKey{}, format) }

// WithRequired makes a dataId that does not exist an error of Read (default: it reads
// as empty).
func WithRequired(required bool) source.Option { return withValue(requiredKey{}, required) }

// WithKeepOnDelete makes a watcher keep the last content of a dataId that is deleted
// (default: a deleted dataId counts as empty).
func WithKeepOnDelete(keep bool) source.Option { return withValue(keepOnDeleteKey{}, keep) }

// WithTimeout sets the timeout of requests to Nacos (default DefaultTimeout).
func WithTimeout(d time.Duration) source.Option { return withValue(timeoutKey{}, d) }

// WithAuth turns on Nacos username/password authentication.
func WithAuth(username, password string) source.Option {
	return withValue(sdkclient.AuthKey{}, sdkclient.Credentials{User: username, Secret: password})
}

// WithAccessKey sets an Aliyun access key and secret key (MSE / ACM signing).
func WithAccessKey(accessKey, secretKey string) source.Option {
	return withValue(sdkclient.AccessKeyKey{}, sdkclient.Credentials{User: accessKey, Secret: secretKey})
}

// WithTLSConfig turns TLS on, as registry.TLSConfig does for the registry. The SDK takes
// only InsecureSkipVerify and ServerName from it: certificates in memory are refused,
// name their files with WithTLS.
func WithTLSConfig(c *tls.Config) source.Option { return withValue(tlsConfigKey{}, c) }

// WithTLS turns TLS on with the SDK's own, file-based, TLS settings: a CA file, a client
// certificate and key for mutual TLS, TrustAll, ServerNameOverride.
func WithTLS(files constant.TLSConfig) source.Option { return withValue(sdkclient.TLSKey{}, files) }

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

// settings is everything the source needs, derived and validated from source.Options.
type settings struct {
	servers      []constant.ServerConfig
	client       constant.ClientConfig
	group        string
	dataIDs      []string
	formats      map[string]string // by dataId
	required     bool
	keepOnDelete bool
	log          logger.Logger // nil: logger.DefaultLogger at the time of logging
}

// newSettings validates opts and fills in the defaults.
func newSettings(opts source.Options) (*settings, error) {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s := &settings{group: DefaultGroup, formats: map[string]string{}}
	if v, ok := ctx.Value(groupKey{}).(string); ok && v != "" {
		s.group = v
	}
	if err := sdkclient.CheckGroup(s.group); err != nil {
		return nil, err
	}
	s.dataIDs, _ = ctx.Value(dataIDKey{}).([]string)
	if len(s.dataIDs) == 0 {
		return nil, fmt.Errorf("nacos: no dataId: name at least one with WithDataID")
	}
	format, _ := ctx.Value(formatKey{}).(string)
	if e := opts.Encoder; format == "" && e != nil && e.String() != FormatJSON {
		format = e.String() // the community source chose the format with source.WithEncoder
	}
	for _, id := range s.dataIDs {
		if err := checkDataID(id); err != nil {
			return nil, err
		}
		f, ok := configformat.Of(id)
		if format != "" {
			if f, ok = configformat.Known(format); !ok {
				return nil, fmt.Errorf("nacos: format %q is not one of json, yaml, yml, toml, properties", format)
			}
		}
		if !ok {
			return nil, fmt.Errorf("nacos: dataId %q has no extension json, yaml, yml, toml or properties: name its format with WithFormat", id)
		}
		s.formats[id] = f
	}
	s.required, _ = ctx.Value(requiredKey{}).(bool)
	s.keepOnDelete, _ = ctx.Value(keepOnDeleteKey{}).(bool)
	s.log, _ = ctx.Value(loggerKey{}).(logger.Logger)
	addrs, _ := ctx.Value(addressKey{}).([]string)
	timeout, _ := ctx.Value(timeoutKey{}).(time.Duration)
	tlsConfig, _ := ctx.Value(tlsConfigKey{}).(*tls.Config)
	var err error
	s.servers, s.client, err = sdkclient.Build(ctx, sdkclient.Connection{Addrs: addrs, Timeout: timeout, TLSConfig: tlsConfig})
	if err != nil {
		return nil, err
	}
	// The config service's id of the public namespace is "": the SDK sends the
	// namespace as it is; Nacos 2.5 reads "public" as "" for queries but not for
	// listening, which would then never hear of a change, and Nacos 2.2 reads it as a
	// namespace of its own everywhere (nacostest's TestConformance).
	if strings.EqualFold(s.client.NamespaceId, "public") {
		s.client.NamespaceId = ""
	}
	if sdkclient.DiskCacheOff(s.client) {
		s.client.DisableUseSnapShot = true // nor read a snapshot that cannot exist
	}
	return s, nil
}

// What Nacos accepts as a dataId (ParamCheckRules in alibaba/nacos).
var dataIDPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_:.]+$`)

const maxDataIDLen = 256

func checkDataID(id string) error {
	if len(id) > maxDataIDLen || !dataIDPattern.MatchString(id) {
		return fmt.Errorf("nacos: dataId %q is invalid: Nacos accepts 1 to %d of a-z A-Z 0-9 - _ : .", id, maxDataIDLen)
	}
	return nil
}

func (s *settings) logf(level logger.Level, format string, args ...interface{}) {
	l := s.log
	if l == nil {
		l = logger.DefaultLogger
	}
	l.Logf(level, "nacos: "+format, args...)
}
