package core

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/wire"
)

// Defaults, in one place. Every one of them can be changed with the option named beside
// it (each go-micro line's adapter names its options alike).
const (
	DefaultAddress           = sdkclient.DefaultAddress // registry.Addrs, WithAddress
	DefaultTimeout           = sdkclient.DefaultTimeout // registry.Timeout
	DefaultGroup             = constant.DEFAULT_GROUP   // WithGroup
	DefaultWeight            = 1.0                      // WithWeight
	DefaultMetadataBudget    = wire.MetadataLimit       // WithMetadataBudget
	DefaultDiscoveryInterval = 10 * time.Second         // WithDiscoveryInterval
	DefaultLookupExpiry      = 2 * time.Minute          // WithLookupExpiry
	maxWeight                = 10000.0                  // Nacos accepts weights in (0, 10000]
)

// Keys of the registry's own options in go-micro's options Context. The keys of the
// options that build the SDK client are sdkclient's, shared with the config source.
type (
	GroupKey             struct{} // string
	ClusterKey           struct{} // string
	WeightKey            struct{} // float64
	PushEmptyProtectKey  struct{} // bool
	MetadataBudgetKey    struct{} // int
	DiscoveryIntervalKey struct{} // time.Duration
	LookupExpiryKey      struct{} // time.Duration
)

// Options is what an adapter passes on of go-micro's registry.Options.
type Options struct {
	Addrs     []string
	Timeout   time.Duration
	Secure    bool
	TLSConfig *tls.Config
	Context   context.Context
	Logger    logging.Logger // nil: logging.Discard
}

// Settings is everything the registry needs, derived and validated from Options.
type Settings struct {
	servers           []constant.ServerConfig
	client            constant.ClientConfig
	group             string
	cluster           string
	weight            float64
	metadataBudget    int
	pushEmptyProtect  bool
	discoveryInterval time.Duration
	lookupExpiry      time.Duration
	log               logging.Logger

	diagOnce sync.Once
	diag     *sdkclient.Diagnoser // finds why Nacos is unreachable (see diagnoser)
}

// NewSettings validates o and fills in the defaults.
func NewSettings(o Options) (*Settings, error) {
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s := &Settings{
		weight:            DefaultWeight,
		metadataBudget:    DefaultMetadataBudget,
		discoveryInterval: DefaultDiscoveryInterval,
		lookupExpiry:      DefaultLookupExpiry,
		log:               o.Logger,
	}
	if s.log == nil {
		s.log = logging.Discard
	}
	env := sdkclient.RegistryEnv
	group, _ := ctx.Value(GroupKey{}).(string)
	group, groupErr := sdkclient.Group(group, env, DefaultGroup)
	if groupErr != nil {
		return nil, groupErr
	}
	s.group = group
	if v, ok := ctx.Value(ClusterKey{}).(string); ok {
		s.cluster = v
	} else if v, _, ok := env.OwnVar("CLUSTER"); ok {
		s.cluster = v
	}
	if err := wire.CheckCluster(s.cluster); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(WeightKey{}).(float64); ok {
		s.weight = v
	} else if v, variable, ok := env.OwnVar("WEIGHT"); ok {
		w, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("nacos: %s=%q is not a number", variable, v)
		}
		s.weight = w
	}
	if err := checkWeight(s.weight); err != nil {
		return nil, err
	}
	if v, ok := ctx.Value(MetadataBudgetKey{}).(int); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: metadata budget must be positive, got %d", v)
		}
		s.metadataBudget = v
	}
	if v, ok := ctx.Value(DiscoveryIntervalKey{}).(time.Duration); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: discovery interval must be positive, got %v", v)
		}
		s.discoveryInterval = v
	}
	if v, ok := ctx.Value(LookupExpiryKey{}).(time.Duration); ok {
		if v <= 0 {
			return nil, fmt.Errorf("nacos: lookup expiry must be positive, got %v", v)
		}
		s.lookupExpiry = v
	}
	s.pushEmptyProtect, _ = ctx.Value(PushEmptyProtectKey{}).(bool)
	var err error
	s.servers, s.client, err = sdkclient.Build(ctx, sdkclient.Connection{
		Addrs: o.Addrs, Timeout: o.Timeout, Secure: o.Secure, TLSConfig: o.TLSConfig, Env: env,
	})
	if err != nil {
		return nil, err
	}
	// The registry needs to see a service become empty; WithPushEmptyProtection decides
	// what to do with it.
	s.client.UpdateCacheWhenEmpty = true
	return s, nil
}

func checkWeight(w float64) error {
	if math.IsNaN(w) || w <= 0 || w > maxWeight {
		return fmt.Errorf("nacos: weight must be in (0, %v], got %v", maxWeight, w)
	}
	return nil
}

// Timeout is the timeout of a request to Nacos, and how long a call waits for Nacos.
func (s *Settings) Timeout() time.Duration {
	return time.Duration(s.client.TimeoutMs) * time.Millisecond
}

// Logger is where the registry logs.
func (s *Settings) Logger() logging.Logger { return s.log }

// logf logs a line of the registry.
func (s *Settings) logf(level logging.Level, format string, args ...any) {
	logging.Logf(s.log, level, format, args...)
}

// addrs lists the servers, for messages.
func (s *Settings) addrs() string {
	addrs := make([]string, len(s.servers))
	for i, sc := range s.servers {
		addrs[i] = net.JoinHostPort(sc.IpAddr, strconv.FormatUint(sc.Port, 10))
	}
	return strings.Join(addrs, ", ")
}

// sameClient says whether s and t build the same SDK client.
func (s *Settings) sameClient(t *Settings) bool {
	return reflect.DeepEqual(s.servers, t.servers) && reflect.DeepEqual(s.client, t.client)
}

// SDKConfig returns the SDK's server list and client configuration the settings build.
func (s *Settings) SDKConfig() ([]constant.ServerConfig, constant.ClientConfig) {
	return s.servers, s.client
}

// diagnoser probes the servers of the settings' client, when the SDK says Nacos is
// unreachable without saying why.
func (s *Settings) diagnoser() *sdkclient.Diagnoser {
	s.diagOnce.Do(func() { s.diag = sdkclient.NewDiagnoser(s.servers, s.client, sdkclient.RegistryEnv) })
	return s.diag
}
