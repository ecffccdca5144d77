package sdkclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/micro-registry/nacos/internal/logging"
)

// The start-up diagnosis of a client, once, in the background (never in a call's way):
// the log says the server's version and whether auth is on, warns when auth is on and
// no credentials were given, and when the namespace given is not a namespace id of the
// server but the name of one (Nacos takes any id, and a name is a namespace of its own,
// empty). Where the server does not say, or auth forbids the namespace listing, it is
// skipped quietly (at debug level).

// introduce runs the start-up diagnosis, within the client's timeout, unless stop is
// closed first.
func (d *Diagnoser) introduce(log logging.Logger, stop <-chan struct{}) {
	if len(d.servers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	client := noKeepAlive()
	defer client.CloseIdleConnections()
	sc := d.servers[0]
	addr := hostPort(sc.IpAddr, sc.Port)
	st, err := FetchState(ctx, sc, client)
	if err != nil {
		logging.Logf(log, logging.DebugLevel, "the Nacos at %s did not say its version: %v", addr, err)
		return
	}
	d.state.Store(&st)
	auth := "off"
	if st.AuthEnabled {
		auth = "on"
	}
	switch {
	case st.AuthEnabled && d.cc.Username == "" && d.cc.AccessKey == "":
		logging.Logf(log, logging.WarnLevel, "Nacos %s at %s has auth on, and no credentials were given: it will refuse this client's requests; set WithAuth(username, password), or %s and %s",
			st.Version, addr, d.env.Name("USERNAME"), d.env.Name("PASSWORD"))
	default:
		logging.Logf(log, logging.InfoLevel, "Nacos %s at %s, auth %s", st.Version, addr, auth)
	}
	d.checkNamespace(ctx, client, st, log)
}

// checkNamespace warns when the namespace given is the name of a namespace rather than
// its id.
func (d *Diagnoser) checkNamespace(ctx context.Context, client *http.Client, st ServerState, log logging.Logger) {
	ns := d.cc.NamespaceId
	if ns == "" || strings.EqualFold(ns, "public") {
		return
	}
	sc := d.servers[0]
	params := url.Values{}
	if d.cc.Username != "" {
		token, err := login(ctx, client, baseURL(sc)+sc.ContextPath, d.cc.Username, d.cc.Password)
		if err != nil {
			logging.Logf(log, logging.DebugLevel, "cannot check namespace %q: %v", ns, err)
			return
		}
		params.Set("accessToken", token)
	}
	path := "/v1/console/namespaces"
	if st.Nacos3 {
		path = "/v3/admin/core/namespace/list"
	}
	body, status, err := get(ctx, client, baseURL(sc)+sc.ContextPath+path+"?"+params.Encode())
	if err != nil || status != http.StatusOK {
		logging.Logf(log, logging.DebugLevel, "cannot check namespace %q: listing the namespaces answered %d %s %v", ns, status, body, err)
		return
	}
	var list struct {
		Data []struct {
			ID   string `json:"namespace"`
			Name string `json:"namespaceShowName"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &list) != nil {
		return
	}
	var named string
	for _, n := range list.Data {
		if n.ID == ns {
			return
		}
		if n.Name == ns {
			named = n.ID
		}
	}
	if named != "" {
		logging.Logf(log, logging.WarnLevel, "namespace %q is not a namespace id of Nacos at %s but the name of namespace %q: "+
			"Nacos takes namespaces by id, so this client uses an empty namespace of its own; give the id (WithNamespace, or %s)",
			ns, hostPort(sc.IpAddr, sc.Port), named, d.env.Name("NAMESPACE"))
	}
}

// State returns what the server said of itself at start-up, if it did.
func (d *Diagnoser) State() (ServerState, bool) {
	if st := d.state.Load(); st != nil {
		return *st, true
	}
	return ServerState{}, false
}

// AuthHint is what a refusal that may be about credentials adds: whether credentials
// were given, and what to set.
func (d *Diagnoser) AuthHint() string {
	st, known := d.State()
	switch {
	case d.cc.Username != "":
		return fmt.Sprintf("; credentials were given, as user %q: check its password and its permissions on namespace %q (WithAuth, or %s and %s)",
			d.cc.Username, namespaceName(d.cc.NamespaceId), d.env.Name("USERNAME"), d.env.Name("PASSWORD"))
	case d.cc.AccessKey != "":
		return fmt.Sprintf("; an access key was given: check it, its secret key and its permissions (WithAccessKey, or %s and %s)", d.env.Name("ACCESS_KEY"), d.env.Name("SECRET_KEY"))
	case known && st.AuthEnabled:
		return fmt.Sprintf("; Nacos %s has auth on, and no credentials were given: set WithAuth(username, password), or %s and %s",
			st.Version, d.env.Name("USERNAME"), d.env.Name("PASSWORD"))
	}
	return fmt.Sprintf("; no credentials were given: if Nacos has auth on, set WithAuth(username, password), or %s and %s",
		d.env.Name("USERNAME"), d.env.Name("PASSWORD"))
}

func namespaceName(ns string) string {
	if ns == "" {
		return "public"
	}
	return ns
}

// LooksLikeAuth says whether a refusal's reason is about credentials or permissions.
func LooksLikeAuth(reason string) bool { return authHint(reason) != "" }

func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return body, resp.StatusCode, err
}

// login logs in at the path the SDK uses (which 3.x keeps) and returns the token.
func login(ctx context.Context, client *http.Client, base, user, password string) (string, error) {
	form := url.Values{"username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/users/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		AccessToken string `json:"accessToken"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer) != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("the login as %q was refused (%d)", user, resp.StatusCode)
	}
	return answer.AccessToken, nil
}
