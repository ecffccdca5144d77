package nacostest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
)

// loginPath is where SDK v2.3.5 logs in: {contextPath}/v1/auth/users/login
// with the default context path /nacos.
const loginPath = "/nacos/v1/auth/users/login"

// tokenTTLSeconds is Java's default token lifetime. The SDK renews the token
// after 80% of it, i.e. never during a test.
const tokenTTLSeconds = 18000

// Messages of Nacos's default auth plugin (2.3/2.4: AbstractAuthenticationManager,
// NacosSignatureAlgorithm). A bad login is answered HTTP 403 with the
// message as body; a naming request without a valid token gets its own
// response type with errorCode 403 and the message.
const (
	userNotFound = "user not found!" // no token, or wrong username or password
	tokenInvalid = "token invalid!"  // a token this server did not issue
)

// authority checks credentials and the tokens it issued. Cluster members
// share one, as Nacos members share the token secret.
type authority struct {
	enabled  bool
	username string
	password string

	mu     sync.Mutex
	tokens map[string]bool
}

func newAuthority(o options) *authority {
	return &authority{enabled: o.auth, username: o.username, password: o.password, tokens: make(map[string]bool)}
}

// login returns a new token for good credentials. With auth off anyone gets
// one, as the SDK logs in whenever it has a username.
func (a *authority) login(username, password string) (token string, ok bool) {
	if a.enabled {
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(a.username)) == 1
		passwordOK := subtle.ConstantTimeCompare([]byte(password), []byte(a.password)) == 1
		if !userOK || !passwordOK || username == "" {
			return "", false
		}
	}
	random := make([]byte, 16)
	_, _ = rand.Read(random) // never fails (crypto/rand)
	token = hex.EncodeToString(random)
	a.mu.Lock()
	a.tokens[token] = true
	a.mu.Unlock()
	return token, true
}

// tokenProblem returns why a naming request with this token is refused, or
// "" if it may proceed.
func (a *authority) tokenProblem(token string) string {
	if !a.enabled {
		return ""
	}
	if isBlank(token) {
		return userNotFound
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.tokens[token] {
		return tokenInvalid
	}
	return ""
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, s.handleLogin)
	return mux
}

// handleLogin answers the SDK's login: a form with username and password.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	username := r.FormValue("username")
	token, ok := s.backend.auth.login(username, r.FormValue("password"))
	s.logf("nacostest: login of user %q: ok=%v", username, ok)
	if !ok {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(userNotFound))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int    `json:"tokenTtl"` // must be a JSON number: the SDK asserts float64
		GlobalAdmin bool   `json:"globalAdmin"`
		Username    string `json:"username"`
	}{token, tokenTTLSeconds, true, username})
}
