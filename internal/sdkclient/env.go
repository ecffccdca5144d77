package sdkclient

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

// The environment sets every option that go-micro's flags cannot carry, for the
// registry and the config source alike, so that a service is configured without code.
// The names read beside go-micro's own MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS: the
// registry's are MICRO_REGISTRY_NACOS_<NAME>, the config source's MICRO_CONFIG_NACOS_<NAME>,
// and the config source falls back on the registry's for what reaches the same Nacos
// (the address, namespace, credentials, context path and TLS files; not the group, which
// means another thing to each). An option given in code wins over the environment, and
// so does a field of WithClientConfig. Secret values never appear in an error or a log.
//
// Names, after the prefix (the table of README.md and docs/configuration.md):
//
//	NAMESPACE       namespace id                 (WithNamespace)
//	GROUP           group                        (WithGroup)
//	CLUSTER         cluster, registry only       (WithCluster)
//	WEIGHT          weight, registry only        (WithWeight)
//	USERNAME        username                     (WithAuth)
//	PASSWORD        password                     (WithAuth)
//	ACCESS_KEY      access key                   (WithAccessKey)
//	SECRET_KEY      secret key                   (WithAccessKey)
//	CONTEXT_PATH    context path of the addresses without one (default /nacos)
//	TLS_CA_FILE     CA file: TLS on              (WithTLS)
//	TLS_CERT_FILE   client certificate file      (WithTLS)
//	TLS_KEY_FILE    client key file              (WithTLS)
//	TLS_SERVER_NAME server name to verify        (WithTLS)
//	TLS_TRUST_ALL   true: TLS on, no verification (WithTLS)
//	ADDRESS         addresses, config source only (WithAddress; else MICRO_REGISTRY_ADDRESS)
//	TIMEOUT         timeout, config source only  (WithTimeout)
const (
	RegistryPrefix = "MICRO_REGISTRY_NACOS_"
	ConfigPrefix   = "MICRO_CONFIG_NACOS_"
)

// LookupEnv reads the environment: os.LookupEnv, but for tests.
var LookupEnv = os.LookupEnv

// Env is the environment one client reads: its own names, then those it falls back on
// for the connection's settings.
type Env struct {
	Own      string // the prefix of its own names
	Fallback string // the prefix it falls back on for the connection's settings; "" none
}

var (
	RegistryEnv = Env{Own: RegistryPrefix}
	ConfigEnv   = Env{Own: ConfigPrefix, Fallback: RegistryPrefix}
)

// Own returns the variable of this client's own name, and which variable it is.
func (e Env) OwnVar(name string) (value, variable string, ok bool) {
	if e.Own == "" {
		return "", "", false
	}
	variable = e.Own + name
	value, ok = LookupEnv(variable)
	return strings.TrimSpace(value), variable, ok && strings.TrimSpace(value) != ""
}

// Conn returns a connection setting: this client's own name, then the one it falls back on.
func (e Env) Conn(name string) (value, variable string, ok bool) {
	if value, variable, ok = e.OwnVar(name); ok || e.Fallback == "" {
		return value, variable, ok
	}
	return Env{Own: e.Fallback}.OwnVar(name)
}

// Name is the name of a connection setting's variable, for messages: the client's own.
func (e Env) Name(name string) string {
	if e.Own == "" {
		return RegistryPrefix + name
	}
	return e.Own + name
}

// Addrs returns the addresses the environment gives the config source: its own
// ADDRESS, else go-micro's MICRO_REGISTRY_ADDRESS when the registry is Nacos's
// (MICRO_REGISTRY nacos, or unset). nil: none.
func (e Env) Addrs() []string {
	if v, _, ok := e.OwnVar("ADDRESS"); ok {
		return strings.Split(v, ",")
	}
	if reg, _ := LookupEnv("MICRO_REGISTRY"); reg != "" && reg != "nacos" {
		return nil
	}
	if v, ok := LookupEnv("MICRO_REGISTRY_ADDRESS"); ok && strings.TrimSpace(v) != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// Duration reads a duration of the client's own names ("5s", or a number of seconds).
func (e Env) Duration(name string) (time.Duration, bool, error) {
	v, variable, ok := e.OwnVar(name)
	if !ok {
		return 0, false, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d, true, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), true, nil
	}
	return 0, false, fmt.Errorf("nacos: %s=%q is not a duration (e.g. 5s)", variable, v)
}

// applyEnv sets, from the environment, what neither an option nor WithClientConfig set:
// the namespace, the credentials, the access key and the TLS files. given says which
// options were given in code.
func applyEnv(e Env, cc *constant.ClientConfig, given map[any]bool) error {
	if v, _, ok := e.Conn("NAMESPACE"); ok && !given[NamespaceKey{}] && cc.NamespaceId == "" {
		cc.NamespaceId = v
	}
	if !given[AuthKey{}] && cc.Username == "" {
		user, _, hasUser := e.Conn("USERNAME")
		password, pvar, hasPassword := e.Conn("PASSWORD")
		switch {
		case hasUser:
			cc.Username, cc.Password = user, password
		case hasPassword:
			return fmt.Errorf("nacos: %s is set but no username: set %s too", pvar, e.Name("USERNAME"))
		}
	}
	if !given[AccessKeyKey{}] && cc.AccessKey == "" && cc.SecretKey == "" {
		ak, akvar, hasAK := e.Conn("ACCESS_KEY")
		sk, skvar, hasSK := e.Conn("SECRET_KEY")
		switch {
		case hasAK && hasSK:
			cc.AccessKey, cc.SecretKey = ak, sk
		case hasAK:
			return fmt.Errorf("nacos: %s is set but no secret key: set %s too", akvar, e.Name("SECRET_KEY"))
		case hasSK:
			return fmt.Errorf("nacos: %s is set but no access key: set %s too", skvar, e.Name("ACCESS_KEY"))
		}
	}
	if !given[TLSKey{}] && !cc.TLSCfg.Enable {
		t := constant.TLSConfig{}
		any := false
		for name, field := range map[string]*string{"TLS_CA_FILE": &t.CaFile, "TLS_CERT_FILE": &t.CertFile, "TLS_KEY_FILE": &t.KeyFile, "TLS_SERVER_NAME": &t.ServerNameOverride} {
			if v, _, ok := e.Conn(name); ok {
				*field, any = v, true
			}
		}
		if v, variable, ok := e.Conn("TLS_TRUST_ALL"); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("nacos: %s=%q is not true or false", variable, v)
			}
			t.TrustAll, any = b, any || b
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			return fmt.Errorf("nacos: a client certificate needs both %s and %s", e.Name("TLS_CERT_FILE"), e.Name("TLS_KEY_FILE"))
		}
		if any {
			t.Appointed, t.Enable = true, true
			cc.TLSCfg = t
		}
	}
	return nil
}
