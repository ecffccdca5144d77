package configsource

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/configformat"
	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// Defaults, in one place. Every one of them can be changed with the option named beside
// it (each go-micro line's adapter names its options alike).
const (
	DefaultAddress = sdkclient.DefaultAddress // WithAddress
	DefaultTimeout = sdkclient.DefaultTimeout // WithTimeout
	DefaultGroup   = constant.DEFAULT_GROUP   // WithGroup
	// maxPending is how many changes a watcher keeps for its reader: one that falls
	// further behind skips the oldest it has not read (the newest is never lost).
	maxPending = 100
)

// Keys of the source's own options in the Context of go-micro's source.Options. The keys
// of the options that build the SDK client (namespace, auth, TLS files, client config,
// log and cache directories) are sdkclient's, shared with the registry.
type (
	AddressKey      struct{} // []string
	GroupKey        struct{} // string
	DataIDKey       struct{} // []string
	FormatKey       struct{} // string
	RequiredKey     struct{} // bool
	KeepOnDeleteKey struct{} // bool
	TimeoutKey      struct{} // time.Duration
	TLSConfigKey    struct{} // *tls.Config
)

// Options is what an adapter passes on of go-micro's source.Options.
type Options struct {
	Context context.Context // the option values, under the keys above and sdkclient's
	// Encoder is the name of the encoder the options carry ("json" by default): another
	// one names the format of every dataId, as the community source chose it, unless
	// FormatKey does.
	Encoder string
	Logger  logging.Logger // nil: logging.Discard
}

// settings is everything the source needs, derived and validated from Options.
type settings struct {
	servers      []constant.ServerConfig
	sdkSettings  constant.ClientConfig // the SDK client's own settings
	timeout      time.Duration         // of a request, and the longest the source waits for the SDK
	group        string
	dataIDs      []string
	formats      map[string]string // by dataId
	required     bool
	keepOnDelete bool
	log          logging.Logger

	diagOnce sync.Once
	diag     *sdkclient.Diagnoser
}

// diagnoser probes the servers when the SDK says Nacos is unreachable without saying why;
// the clients of a source share it.
func (s *settings) diagnoser() *sdkclient.Diagnoser {
	s.diagOnce.Do(func() { s.diag = sdkclient.NewDiagnoser(s.servers, s.sdkSettings, sdkclient.ConfigEnv) })
	return s.diag
}

// newSettings validates o and fills in the defaults.
func newSettings(o Options) (*settings, error) {
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s := &settings{formats: map[string]string{}, log: o.Logger}
	if s.log == nil {
		s.log = logging.Discard
	}
	env := sdkclient.ConfigEnv
	group, _ := ctx.Value(GroupKey{}).(string)
	group, groupErr := sdkclient.Group(group, env, DefaultGroup)
	if groupErr != nil {
		return nil, groupErr
	}
	s.group = group
	s.dataIDs, _ = ctx.Value(DataIDKey{}).([]string)
	if len(s.dataIDs) == 0 {
		return nil, fmt.Errorf("nacos: no dataId: name at least one with WithDataID")
	}
	format, _ := ctx.Value(FormatKey{}).(string)
	if format == "" && o.Encoder != "" && o.Encoder != configformat.JSON {
		format = o.Encoder
	}
	for _, id := range s.dataIDs {
		if err := checkDataID(id); err != nil {
			return nil, err
		}
		f, ok := configformat.Of(id)
		if format != "" {
			if f, ok = configformat.Known(format); !ok {
				return nil, fmt.Errorf("nacos: format %q is not one of %s", format, configformat.Names)
			}
		}
		if !ok {
			return nil, fmt.Errorf("nacos: dataId %q has no extension json, yaml, yml, toml or properties: name its format with WithFormat", id)
		}
		s.formats[id] = f
	}
	s.required, _ = ctx.Value(RequiredKey{}).(bool)
	s.keepOnDelete, _ = ctx.Value(KeepOnDeleteKey{}).(bool)
	addrs, given := ctx.Value(AddressKey{}).([]string)
	if !given {
		addrs = env.Addrs()
	}
	timeout, given := ctx.Value(TimeoutKey{}).(time.Duration)
	if !given {
		d, ok, err := env.Duration("TIMEOUT")
		if err != nil {
			return nil, err
		}
		if ok {
			timeout = d
		}
	}
	tlsConfig, _ := ctx.Value(TLSConfigKey{}).(*tls.Config)
	var err error
	s.servers, s.sdkSettings, err = sdkclient.Build(ctx, sdkclient.Connection{Addrs: addrs, Timeout: timeout, TLSConfig: tlsConfig, Env: env})
	if err != nil {
		return nil, err
	}
	s.timeout = time.Duration(s.sdkSettings.TimeoutMs) * time.Millisecond
	// The config service's id of the public namespace is "": the SDK sends the
	// namespace as it is; Nacos 2.5 reads "public" as "" for queries but not for
	// listening, which would then never hear of a change, and Nacos 2.2 reads it as a
	// namespace of its own everywhere (nacostest's TestConformance).
	if strings.EqualFold(s.sdkSettings.NamespaceId, "public") {
		s.sdkSettings.NamespaceId = ""
	}
	if sdkclient.DiskCacheOff(s.sdkSettings) {
		s.sdkSettings.DisableUseSnapShot = true // nor read a snapshot that cannot exist
	}
	return s, nil
}

// What Nacos accepts as a dataId (ParamCheckRules in alibaba/nacos).
var dataIDPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_:.]+$`)

const maxDataIDLen = 256

func checkDataID(id string) error {
	if len(id) > maxDataIDLen || !dataIDPattern.MatchString(id) {
		return fmt.Errorf("nacos: dataId %q is invalid: Nacos accepts 1 to %d characters of a-z A-Z 0-9 . : _ -", id, maxDataIDLen)
	}
	return nil
}

func (s *settings) logf(level logging.Level, format string, args ...any) {
	logging.Logf(s.log, level, format, args...)
}

// hinted is an error with what to check added.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() + e.hint }
func (e *hinted) Unwrap() error { return e.err }

// withAuthHint adds, to a refusal about credentials or permissions, whether
// credentials were given and what to set.
func (s *settings) withAuthHint(err error) error {
	if err == nil || sdkclient.IsUnreachable(err) || !sdkclient.LooksLikeAuth(err.Error()) {
		return err
	}
	return &hinted{err, s.diagnoser().AuthHint()}
}
