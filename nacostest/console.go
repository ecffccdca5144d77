package nacostest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// What the server says of itself, as Nacos does at its state endpoint: the version of
// Nacos whose protocol it follows, marked as nacostest's.
const (
	Version  = "2.5.1-nacostest"
	Version3 = "3.0.3-nacostest" // WithNacos3
)

// The HTTP API nacostest serves beside the login: the server's state (2.x's console
// API, or with WithNacos3 3.x's admin API), and the namespace listing of either, which
// clients read to tell a namespace's name from its id. As in Nacos, the state and 2.x's
// listing need no login; 3.x's listing needs a valid token when auth is on.
const (
	statePath        = "/nacos/v1/console/server/state"
	statePathV3      = "/nacos/v3/admin/core/state"
	namespacesPath   = "/nacos/v1/console/namespaces"
	namespacesPathV3 = "/nacos/v3/admin/core/namespace/list"
)

// namespaces are the namespaces created on the server (AddNamespace), by id: Nacos
// serves any namespace id without one, but lists only those created.
type namespaces struct {
	mu    sync.Mutex
	names map[string]string // display name by id
}

// AddNamespace creates a namespace as Nacos's console does: an id, which clients use,
// and a display name. Instances and configs need no namespace created first; the
// listing is what tells a name from an id.
func (s *Server) AddNamespace(id, name string) {
	ns := &s.backend.namespaces
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.names == nil {
		ns.names = map[string]string{}
	}
	ns.names[id] = name
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	state := map[string]any{
		"version":       Version,
		"auth_enabled":  boolString(s.backend.auth.enabled),
		"startup_mode":  "standalone",
		"function_mode": nil,
		"server_port":   strconv.Itoa(s.httpPort),
	}
	if r.URL.Path == statePathV3 {
		state["version"] = Version3
		writeJSON(w, http.StatusOK, map[string]any{"code": 0, "message": "success", "data": state})
		return
	}
	writeJSON(w, http.StatusOK, state)
}

func (s *Server) handleNamespaces(w http.ResponseWriter, r *http.Request) {
	v3 := r.URL.Path == namespacesPathV3
	if v3 && s.backend.auth.enabled {
		if problem := s.backend.auth.tokenProblem(r.FormValue("accessToken")); problem != "" {
			writeJSON(w, http.StatusForbidden, map[string]any{"status": http.StatusForbidden, "error": "Forbidden", "message": problem, "path": r.URL.Path})
			return
		}
	}
	type entry struct {
		Namespace         string `json:"namespace"`
		NamespaceShowName string `json:"namespaceShowName"`
		NamespaceDesc     string `json:"namespaceDesc"`
		Quota             int    `json:"quota"`
		ConfigCount       int    `json:"configCount"`
		Type              int    `json:"type"`
	}
	public := entry{Namespace: "", NamespaceShowName: "public", NamespaceDesc: "Default Namespace", Quota: 200}
	if v3 {
		public.Namespace = "public"
	}
	list := []entry{public}
	ns := &s.backend.namespaces
	ns.mu.Lock()
	ids := make([]string, 0, len(ns.names))
	for id := range ns.names {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		list = append(list, entry{Namespace: id, NamespaceShowName: ns.names[id], Quota: 200, Type: 2})
	}
	ns.mu.Unlock()
	code := 200
	if v3 {
		code = 0
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "message": nil, "data": list})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
