package nacostest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
)

// configKey identifies a config: Java's groupKey (dataId, group, tenant).
type configKey struct{ tenant, group, dataID string }

// key normalises the tenant of a publish, query or remove like Java's
// NamespaceUtil.processNamespaceParameter, so that the spellings of the
// default namespace meet (nacostest keeps it under ""). 2.x (2.5): blank,
// "public" and "null" in any case; 3.x (WithNacos3): blank and, trimmed,
// "public", its default namespace id. Other tenants are trimmed.
func (st *configStore) key(tenant, group, dataID string) configKey {
	switch {
	case isBlank(tenant):
		tenant = ""
	case st.nacos3:
		if tenant = strings.TrimSpace(tenant); tenant == defaultNamespace {
			tenant = ""
		}
	case strings.EqualFold(tenant, defaultNamespace) || strings.EqualFold(tenant, "null"):
		tenant = ""
	default:
		tenant = strings.TrimSpace(tenant)
	}
	return configKey{tenant: tenant, group: group, dataID: dataID}
}

// listenKey is the config a listener of this tenant hears: 2.x keys listeners
// by the tenant as sent (ConfigChangeBatchListenRequestHandler), so that a
// listener of "public" hears nothing of the default namespace (""); 3.x
// normalises it as a publish does.
func (st *configStore) listenKey(tenant, group, dataID string) configKey {
	if st.nacos3 {
		return st.key(tenant, group, dataID)
	}
	return configKey{tenant: tenant, group: group, dataID: dataID}
}

// helperKey is the key the helpers name, where group "" is DEFAULT_GROUP.
func (st *configStore) helperKey(namespace, group, dataID string) configKey {
	if group == "" {
		group = defaultGroup
	}
	return st.key(namespace, group, dataID)
}

// configItem is a stored config, as Java's ConfigCacheService and its disk dump
// keep it.
type configItem struct {
	content      string
	md5          string // of the UTF-8 content, lower-case hex
	contentType  string
	lastModified int64 // milliseconds
}

// configStore is the config data and who listens to it. Unlike naming data it
// is persistent: it survives Restart. Cluster members share one, as they
// share Java's database.
type configStore struct {
	maxContent int
	nacos3     bool // WithNacos3

	mu    sync.Mutex // guards the fields below
	items map[configKey]*configItem
	// listeners holds, per config, each listening connection and the tenant
	// it spelled, which its pushes repeat: the SDK keys its cache by it.
	listeners    map[configKey]map[*connection]string
	lastModified int64 // the latest stamp handed out
	pushCount    int64 // numbers the pushes (their requestId)
}

func newConfigStore(o options) *configStore {
	return &configStore{
		maxContent: o.maxConfigContent,
		nacos3:     o.nacos3,
		items:      make(map[configKey]*configItem),
		listeners:  make(map[configKey]map[*connection]string),
	}
}

func md5Hex(content string) string {
	sum := md5.Sum([]byte(content))
	return hex.EncodeToString(sum[:])
}

// The types Java keeps (ConfigType); any other is stored as "text".
var configTypes = map[string]bool{"properties": true, "xml": true, "json": true, "text": true, "html": true, "yaml": true, "toml": true}

// publish stores content unless casMd5 is set and the stored content's md5
// differs (Java's insertOrUpdateCas: a config that does not exist yet is
// inserted whatever casMd5 says). Listeners are told only when the content
// changed, as Java dumps an unchanged md5 without a LocalDataChangeEvent.
func (st *configStore) publish(k configKey, content, casMd5, contentType string) (ok bool) {
	if !configTypes[contentType] {
		contentType = "text"
	}
	sum := md5Hex(content)
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.items[k]
	if old != nil && !isBlank(casMd5) && old.md5 != casMd5 {
		return false
	}
	st.lastModified = max(time.Now().UnixMilli(), st.lastModified+1)
	st.items[k] = &configItem{content: content, md5: sum, contentType: contentType, lastModified: st.lastModified}
	if old == nil || old.md5 != sum {
		st.notify(k)
	}
	return true
}

// remove deletes the config and tells its listeners; a config that does not
// exist is no change.
func (st *configStore) remove(k configKey) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.items[k]; ok {
		delete(st.items, k)
		st.notify(k)
	}
}

func (st *configStore) get(k configKey) (configItem, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	item, ok := st.items[k]
	if !ok {
		return configItem{}, false
	}
	return *item, true
}

// listen makes c a listener of the config and reports whether md5 is out of
// date (Java's ConfigCacheService.isUptodate: a config that does not exist
// has md5 "").
func (st *configStore) listen(c *connection, k configKey, tenant, md5 string) (changed bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !c.removed {
		if st.listeners[k] == nil {
			st.listeners[k] = make(map[*connection]string)
		}
		st.listeners[k][c] = tenant
	}
	current := ""
	if item := st.items[k]; item != nil {
		current = item.md5
	}
	return md5 != current
}

func (st *configStore) unlisten(c *connection, k configKey) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.listeners[k], c)
	if len(st.listeners[k]) == 0 {
		delete(st.listeners, k)
	}
}

// removeConnection drops the connection's listeners, as Java's
// ConfigConnectionEventListener does when a client disconnects.
func (st *configStore) removeConnection(c *connection) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, byConn := range st.listeners {
		delete(byConn, c)
		if len(byConn) == 0 {
			delete(st.listeners, k)
		}
	}
}

// notify queues a ConfigChangeNotifyRequest for every listener of k. The lock
// is held, so every connection receives a config's changes in order.
func (st *configStore) notify(k configKey) {
	for c, tenant := range st.listeners[k] {
		st.pushCount++
		body, err := json.Marshal(rpc_request.ConfigChangeNotifyRequest{ConfigRequest: &rpc_request.ConfigRequest{
			Request: &rpc_request.Request{RequestId: "config-" + strconv.FormatInt(st.pushCount, 10)},
			DataId:  k.dataID, Group: k.group, Tenant: tenant, Module: "config",
		}})
		if err != nil {
			panic(err) // strings always encode
		}
		c.enqueue(configChangeNotifyRequest, body)
	}
}

const configChangeNotifyRequest = "ConfigChangeNotifyRequest"

func (st *configStore) listenerCount(k configKey) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.listeners[k])
}

// PublishConfig stores content as config dataID of group in namespace and
// notifies its listeners, as a client's publish does, with the same checks:
// it returns Nacos's refusal, e.g. of blank content. Namespace "" (or
// "public") is the default namespace, group "" DEFAULT_GROUP. The content is
// stored as given, whatever its format.
func (s *Server) PublishConfig(namespace, group, dataID, content string) error {
	k := s.backend.configs.helperKey(namespace, group, dataID)
	if problem := s.backend.configs.publishProblem(k, content); problem != "" {
		return &configError{problem}
	}
	s.backend.configs.publish(k, content, "", "")
	return nil
}

// Config returns the content of a config and whether it exists. Namespace ""
// (or "public") is the default namespace, group "" DEFAULT_GROUP.
func (s *Server) Config(namespace, group, dataID string) (content string, ok bool) {
	item, ok := s.backend.configs.get(s.backend.configs.helperKey(namespace, group, dataID))
	return item.content, ok
}

// RemoveConfig deletes a config and notifies its listeners. Removing a config
// that does not exist does nothing.
func (s *Server) RemoveConfig(namespace, group, dataID string) {
	s.backend.configs.remove(s.backend.configs.helperKey(namespace, group, dataID))
}

// ConfigListeners returns how many connections listen to a config.
func (s *Server) ConfigListeners(namespace, group, dataID string) int {
	return s.backend.configs.listenerCount(s.backend.configs.helperKey(namespace, group, dataID))
}

// configError is Nacos's refusal of a config operation.
type configError struct{ message string }

func (e *configError) Error() string { return "nacostest: " + e.message }
