package sdkclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// DefaultTimeout is the SDK's request timeout when none is given.
const DefaultTimeout = 5 * time.Second

// Keys of the options that build the SDK client, the same in both packages: each
// package's option functions store their values under these in its options' Context.
type (
	NamespaceKey        struct{} // string
	AuthKey             struct{} // Credentials
	AccessKeyKey        struct{} // Credentials
	ClientConfigKey     struct{} // constant.ClientConfig
	TLSKey              struct{} // constant.TLSConfig
	LogDirKey           struct{} // string
	CacheDirKey         struct{} // string
	LoadCacheAtStartKey struct{} // bool
)

// Credentials are a username and password, or an access key and secret key.
type Credentials struct{ User, Secret string }

// Connection is what go-micro's own options say about reaching Nacos.
type Connection struct {
	Addrs     []string // nil: DefaultAddress, or the address server of ClientConfig.Endpoint
	Timeout   time.Duration
	Secure    bool
	TLSConfig *tls.Config
	Env       Env // the environment variables that set what no option did
}

// Build validates the options and returns the SDK's server list and client
// configuration.
func Build(ctx context.Context, conn Connection) ([]constant.ServerConfig, constant.ClientConfig, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cc, given := ctx.Value(ClientConfigKey{}).(constant.ClientConfig)
	var servers []constant.ServerConfig
	if conn.Addrs != nil || cc.Endpoint == "" {
		contextPath := defaultContextPath
		if v, variable, ok := conn.Env.Conn("CONTEXT_PATH"); ok {
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " ?#") {
				return nil, cc, fmt.Errorf("nacos: %s=%q is not a path (e.g. /nacos)", variable, v)
			}
			contextPath = strings.TrimRight(v, "/")
		}
		var err error
		if servers, err = parseAddrs(conn.Addrs, contextPath); err != nil {
			return nil, cc, err
		}
	} // else the SDK asks the address server (Aliyun MSE) for the list
	inCode := map[any]bool{}
	for _, k := range []any{NamespaceKey{}, AuthKey{}, AccessKeyKey{}, TLSKey{}} {
		inCode[k] = ctx.Value(k) != nil
	}
	inCode[TLSKey{}] = inCode[TLSKey{}] || conn.Secure || conn.TLSConfig != nil
	if err := applyEnv(conn.Env, &cc, inCode); err != nil {
		return nil, cc, err
	}
	if v, ok := ctx.Value(NamespaceKey{}).(string); ok {
		cc.NamespaceId = v
	}
	if err := CheckNamespace(cc.NamespaceId); err != nil {
		return nil, cc, err
	}
	switch {
	case conn.Timeout < 0:
		return nil, cc, fmt.Errorf("nacos: timeout must not be negative, got %v", conn.Timeout)
	case conn.Timeout > 0:
		cc.TimeoutMs = uint64(conn.Timeout / time.Millisecond)
	case cc.TimeoutMs == 0:
		cc.TimeoutMs = uint64(DefaultTimeout / time.Millisecond)
	}
	if v, ok := ctx.Value(AuthKey{}).(Credentials); ok {
		if v.User == "" {
			return nil, cc, fmt.Errorf("nacos: WithAuth needs a username")
		}
		cc.Username, cc.Password = v.User, v.Secret
	}
	if v, ok := ctx.Value(AccessKeyKey{}).(Credentials); ok {
		if v.User == "" || v.Secret == "" {
			return nil, cc, fmt.Errorf("nacos: WithAccessKey needs both an access key and a secret key")
		}
		cc.AccessKey, cc.SecretKey = v.User, v.Secret
	}
	if err := setTLS(ctx, conn, &cc.TLSCfg); err != nil {
		return nil, cc, err
	}
	if v, ok := ctx.Value(LogDirKey{}).(string); ok {
		cc.LogDir = v
	}
	if v, ok := ctx.Value(CacheDirKey{}).(string); ok {
		cc.CacheDir = v
	}
	if cc.CacheDir == "" {
		cc.CacheDir = diskCacheDir()
	}
	if v, ok := ctx.Value(LoadCacheAtStartKey{}).(bool); ok {
		cc.NotLoadCacheAtStart = !v
	} else if !given {
		cc.NotLoadCacheAtStart = true
	}
	return servers, cc, nil
}

// setTLS applies WithTLS, then go-micro's Secure and TLSConfig. The SDK reads the CA and
// client certificates from files only, so a tls.Config that carries them in memory is
// refused rather than silently dropped.
func setTLS(ctx context.Context, conn Connection, t *constant.TLSConfig) error {
	if v, ok := ctx.Value(TLSKey{}).(constant.TLSConfig); ok {
		*t = v
		t.Appointed, t.Enable = true, true
	}
	if !conn.Secure && conn.TLSConfig == nil {
		return nil
	}
	t.Appointed, t.Enable = true, true
	if c := conn.TLSConfig; c != nil {
		if c.RootCAs != nil || len(c.Certificates) > 0 || c.GetCertificate != nil || c.GetClientCertificate != nil {
			return fmt.Errorf("nacos: the TLS config sets RootCAs or Certificates, which nacos-sdk-go cannot take from a tls.Config: " +
				"name the files with WithTLS(constant.TLSConfig{CaFile: ..., CertFile: ..., KeyFile: ...})")
		}
		t.TrustAll = t.TrustAll || c.InsecureSkipVerify
		if c.ServerName != "" {
			t.ServerNameOverride = c.ServerName
		}
	}
	return nil
}

// noDiskCache names the directory diskCacheDir points at; SDK lines that mention it are
// dropped (see sdkLogger).
const noDiskCache = "nacos-sdk-cache-is-off"

// diskCacheDir is where the SDK is told to write its disk cache when the user named no
// directory. The SDK always writes one file per service or config change and offers no
// switch to turn that off, so it is pointed below the null device, where every write
// fails and nothing reaches the disk (the SDK's complaint about it is dropped by
// sdkLogger).
func diskCacheDir() string { return filepath.Join(os.DevNull, noDiskCache) }

// DiskCacheOff reports whether the SDK was given no disk cache directory of the user's.
func DiskCacheOff(cc constant.ClientConfig) bool { return cc.CacheDir == diskCacheDir() }
