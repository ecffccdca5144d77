package nacostest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// loginPath is where SDK v2.3.5 logs in: {contextPath}/v1/auth/users/login
// with the default context path /nacos. loginPathV3 is Nacos 3.x's own
// (WithNacos3).
const (
	loginPath   = "/nacos/v1/auth/users/login"
	loginPathV3 = "/nacos/v3/auth/user/login"
)

// tokenTTLSeconds is Java's default token lifetime. The SDK renews the token
// after 80% of it, i.e. never during a test.
const tokenTTLSeconds = 18000

// Messages of Nacos's default auth plugin (2.3 to 2.5: NacosAuthManager,
// NacosSignatureAlgorithm, NacosUserDetailsServiceImpl). A wrong password is
// answered HTTP 403 with the message as body, an unknown user HTTP 500; a
// naming request without a valid token gets its own response type with
// errorCode 403 and the message.
const (
	userNotFound     = "user not found!" // no token, or a wrong password
	unknownUser      = "caused: User %s not found;"
	tokenInvalid     = "token invalid!" // not three dot-separated parts
	unsupportedToken = "unsupported signature algorithm"
	badSignature     = "Invalid signature"
	tokenExpired     = "token expired!"
	// Nacos 3.x's (AbstractAuthenticationManager, AuthResult.format).
	userNotFound3   = "User not found! Please check user exist or password is right!"
	refusalFormat3  = "Code: %d, Message: %s."
	identityFailed3 = http.StatusUnauthorized
)

// authority checks credentials and issues and verifies tokens: JWTs signed
// with HS256, as Nacos's, under a key of its own. Cluster members share one,
// as Nacos members share the token secret.
type authority struct {
	enabled  bool
	nacos3   bool // WithNacos3: 3.x's refusals
	username string
	password string
	key      []byte
}

func newAuthority(o options) *authority {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return &authority{enabled: o.auth, nacos3: o.nacos3, username: o.username, password: o.password, key: key}
}

// loginProblem says why a login fails: HTTP status and body. With auth off
// anyone logs in (Java checks the credentials even then; the SDK just logs
// the failure).
func (a *authority) loginProblem(username, password string) (status int, body string) {
	if !a.enabled {
		return 0, ""
	}
	if username == "" || subtle.ConstantTimeCompare([]byte(username), []byte(a.username)) != 1 {
		return http.StatusInternalServerError, fmt.Sprintf(unknownUser, username)
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(a.password)) != 1 {
		return http.StatusForbidden, userNotFound
	}
	return 0, ""
}

// jwtHeader is the JWT header of HS256, as Nacos encodes it.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`))

// jwtHeaders are the headers Nacos knows: HS256, HS384 and HS512.
var jwtHeaders = map[string]bool{
	jwtHeader: true,
	base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS384"}`)): true,
	base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS512"}`)): true,
}

// token issues a token for the user, valid for tokenTTLSeconds.
func (a *authority) token(username string) string {
	payload, err := json.Marshal(struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}{username, time.Now().Unix() + tokenTTLSeconds})
	if err != nil {
		panic(err) // strings and numbers always encode
	}
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + a.signature(signed)
}

func (a *authority) signature(signed string) string {
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// tokenProblem returns why a request with this token is refused, or "" if it
// may proceed, in the words of the version the server follows.
func (a *authority) tokenProblem(token string) string {
	problem := a.tokenCheck(token)
	if problem == "" || !a.nacos3 {
		return problem
	}
	if problem == userNotFound {
		problem = userNotFound3
	}
	return fmt.Sprintf(refusalFormat3, identityFailed3, problem)
}

// tokenCheck checks the token as NacosSignatureAlgorithm.verify does.
func (a *authority) tokenCheck(token string) string {
	if !a.enabled {
		return ""
	}
	if isBlank(token) {
		return userNotFound
	}
	parts := strings.Split(token, ".")
	switch {
	case len(parts) != 3:
		return tokenInvalid
	case !jwtHeaders[parts[0]]:
		return unsupportedToken
	case parts[0] != jwtHeader || !hmac.Equal([]byte(parts[2]), []byte(a.signature(parts[0]+"."+parts[1]))):
		return badSignature
	}
	var payload struct {
		Exp int64 `json:"exp"`
	}
	decoded, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(decoded, &payload) != nil || payload.Exp < time.Now().Unix() {
		return tokenExpired
	}
	return ""
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, s.handleLogin)
	if s.opts.nacos3 {
		mux.HandleFunc(loginPathV3, s.handleLogin)
		mux.HandleFunc(statePathV3, s.handleState)
		mux.HandleFunc(namespacesPathV3, s.handleNamespaces)
	} else {
		mux.HandleFunc(statePath, s.handleState)
		mux.HandleFunc(namespacesPath, s.handleNamespaces)
	}
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
	status, problem := s.backend.auth.loginProblem(username, r.FormValue("password"))
	s.logf("nacostest: login of user %q at %s: %d %s", username, r.URL.Path, status, problem)
	if problem != "" && s.opts.nacos3 {
		// Only a user not found by name is Spring's refusal (blank credentials are
		// the auth plugin's).
		springError(w, r, status == http.StatusInternalServerError && !isBlank(username) && !isBlank(r.FormValue("password")))
		return
	}
	if problem != "" {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(problem))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int    `json:"tokenTtl"` // must be a JSON number: the SDK asserts float64
		GlobalAdmin bool   `json:"globalAdmin"`
		Username    string `json:"username"`
	}{s.backend.auth.token(username), tokenTTLSeconds, username == nacosAdmin, username})
}

// nacosAdmin is the user that Nacos makes its admin.
const nacosAdmin = "nacos"

// springError answers a refused login as Nacos 3.x does: Spring's JSON error
// body, whose message hides the reason. At the v1 path 3.x's API-compatibility
// filter turns every refusal into a 500; at its own path an unknown user is a
// 403 (Spring Security's "Access Denied"), any other refusal a 500.
func springError(w http.ResponseWriter, r *http.Request, unknownUser bool) {
	status, reason, message := http.StatusInternalServerError, "Internal Server Error", "Handle API Compatibility failed, please see log for detail."
	if r.URL.Path == loginPathV3 {
		message = "No message available"
		if unknownUser {
			status, reason, message = http.StatusForbidden, "Forbidden", "Access Denied"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Timestamp string `json:"timestamp"`
		Status    int    `json:"status"`
		Error     string `json:"error"`
		Message   string `json:"message"`
		Path      string `json:"path"`
	}{time.Now().UTC().Format("2006-01-02T15:04:05.000+00:00"), status, reason, message, r.URL.Path})
}
