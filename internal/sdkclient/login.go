package sdkclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/http_agent"
	"github.com/nacos-group/nacos-sdk-go/v2/common/security"
)

// CheckLogin tells refused credentials from an unreachable server. nacos-sdk-go v2.3.5
// logs in when a client starts, but builds the client even when the login is refused,
// after which Nacos refuses every request and the SDK reports that without a reason
// (or not at all: a refused subscription looks like an empty service). An unreachable
// server is not an error here: the SDK keeps trying to log in. A refusal is an error
// without the "nacos: " prefix, for the caller to wrap; it says where the credentials
// come from (env names the variables).
func CheckLogin(cc constant.ClientConfig, servers []constant.ServerConfig, env Env) error {
	if cc.Username == "" {
		return nil
	}
	ok, err := security.NewNacosAuthClient(cc, servers, &http_agent.HttpAgent{}).Login()
	var unreachable *url.Error
	if ok || err == nil || errors.As(err, &unreachable) {
		return nil
	}
	reason := strings.TrimSpace(err.Error())
	var spring struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(reason), &spring) == nil && spring.Message != "" {
		reason = fmt.Sprintf("HTTP %d, %q (Nacos 3 does not say why)", spring.Status, spring.Message)
	}
	return fmt.Errorf("login as %q refused: %s; credentials were given: check the username and password (WithAuth, or %s and %s)",
		cc.Username, Redact(reason), env.Name("USERNAME"), env.Name("PASSWORD"))
}
