package nacostest

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

const (
	defaultNamespace = "public"
	defaultGroup     = "DEFAULT_GROUP"
	defaultCluster   = "DEFAULT"
	// cacheMillis is Java's default for ServiceInfo.cacheMillis.
	cacheMillis = 10000
)

// serviceKey identifies a service; namespaces and groups are isolated.
type serviceKey struct{ namespace, group, name string }

// newServiceKey applies Nacos's defaults: namespace "" is "public" (so both
// spellings meet), group "" is DEFAULT_GROUP.
func newServiceKey(namespace, group, name string) serviceKey {
	if namespace == "" {
		namespace = defaultNamespace
	}
	if group == "" {
		group = defaultGroup
	}
	return serviceKey{namespace: namespace, group: group, name: name}
}

func (k serviceKey) groupedName() string { return k.group + "@@" + k.name }

// store is the naming data: services, who publishes what, who subscribes.
// Cluster members share one. Pushes are queued while the lock is held, so
// every connection receives a service's versions in order.
type store struct {
	mu          sync.Mutex // guards the fields below, and every service's
	services    map[serviceKey]*service
	lastRefTime int64 // the latest version stamp handed out
	pushCount   int64 // numbers the pushes (their requestId)
	// pushDelay > 0 pushes as Java does (WithPushDelay): through pending.
	pushDelay time.Duration
	pending   map[serviceKey]*pushTask
}

type service struct {
	// listed is set by the first registration; like Java, the service then
	// stays in the service list after its last instance has gone.
	listed bool
	// publications holds each connection's one publication: a single
	// instance from a register, or a list from a batch register.
	publications map[*connection][]entry
	// subscribers maps each subscribed connection to the clusters it asked
	// for ("" means all).
	subscribers map[*connection]string
	// hosts is the union of the publications, deduplicated and sorted.
	hosts       []entry
	lastRefTime int64
}

// entry is an instance as the server returns it, with its sort keys.
type entry struct {
	instance model.Instance
	metadata string // the metadata as canonical JSON
	// identity is the whole instance as canonical JSON. Java builds the
	// instance list as a set of whole instances (Instance.equals compares
	// every field), so entries collapse only when identical.
	identity string
}

func newStore(pushDelay time.Duration) *store {
	return &store{services: make(map[serviceKey]*service), pushDelay: pushDelay, pending: make(map[serviceKey]*pushTask)}
}

// tick returns a version stamp for lastRefTime, later than every one before.
// The SDK drops a serviceInfo whose lastRefTime is not above the one it has
// cached, so two changes in the same millisecond must still differ. One
// clock for the whole store keeps stamps rising across Restart too.
func (st *store) tick() int64 {
	st.lastRefTime = max(time.Now().UnixMilli(), st.lastRefTime+1)
	return st.lastRefTime
}

// serviceFor returns the service, creating it unlisted.
func (st *store) serviceFor(k serviceKey) *service {
	svc := st.services[k]
	if svc == nil {
		svc = &service{
			publications: make(map[*connection][]entry),
			subscribers:  make(map[*connection]string),
			lastRefTime:  st.tick(),
		}
		st.services[k] = svc
	}
	return svc
}

// forgetIfUnused drops a service nobody registered nor subscribes to.
func (st *store) forgetIfUnused(k serviceKey, svc *service) {
	if !svc.listed && len(svc.subscribers) == 0 {
		delete(st.services, k)
	}
}

// publish replaces the connection's publication for the service.
func (st *store) publish(c *connection, k serviceKey, instances []model.Instance) {
	entries := make([]entry, len(instances))
	for i, in := range instances {
		entries[i] = newEntry(k, in)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if c.removed {
		return // a request that raced with its connection's end
	}
	svc := st.serviceFor(k)
	svc.listed = true
	svc.publications[c] = entries
	st.refresh(k, svc)
}

// unpublish removes the connection's publication for the service, if any.
func (st *store) unpublish(c *connection, k serviceKey) {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.services[k]
	if svc == nil {
		return
	}
	if _, ok := svc.publications[c]; ok {
		delete(svc.publications, c)
		st.refresh(k, svc)
	}
}

func (st *store) subscribe(c *connection, k serviceKey, clusters string) model.Service {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.serviceFor(k)
	if !c.removed {
		svc.subscribers[c] = clusters
		if st.pushDelay > 0 {
			st.schedulePush(k, c) // Java pushes to every new subscriber
		}
	}
	info := serviceInfo(k, svc.hosts, svc.lastRefTime, clusters, false)
	st.forgetIfUnused(k, svc)
	return info
}

func (st *store) unsubscribe(c *connection, k serviceKey, clusters string) model.Service {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.services[k]
	if svc == nil {
		return serviceInfo(k, nil, st.tick(), clusters, false)
	}
	delete(svc.subscribers, c)
	st.forgetIfUnused(k, svc)
	return serviceInfo(k, svc.hosts, svc.lastRefTime, clusters, false)
}

func (st *store) query(k serviceKey, clusters string, healthyOnly bool) model.Service {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.services[k]
	if svc == nil {
		return serviceInfo(k, nil, st.tick(), clusters, healthyOnly)
	}
	return serviceInfo(k, svc.hosts, svc.lastRefTime, clusters, healthyOnly)
}

// removeConnection drops everything the connection published or subscribed
// to and pushes the services that changed.
func (st *store) removeConnection(c *connection) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c.removed = true
	for k, svc := range st.services {
		delete(svc.subscribers, c)
		if _, ok := svc.publications[c]; ok {
			delete(svc.publications, c)
			st.refresh(k, svc)
		}
		st.forgetIfUnused(k, svc)
	}
}

// reset forgets everything, as a restarted server would.
func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.services = make(map[serviceKey]*service)
	st.cancelPushes()
}

// refresh recomputes the instance list after the publications changed and,
// if it differs, stamps a new version and pushes the full list to every
// subscriber. An update that changes nothing pushes nothing, unless pushes
// follow Java (WithPushDelay): then every update is pushed, after the delay.
func (st *store) refresh(k serviceKey, svc *service) {
	hosts := union(svc.publications)
	changed := !sameEntries(hosts, svc.hosts)
	if changed {
		svc.hosts = hosts
		svc.lastRefTime = st.tick()
	}
	if st.pushDelay > 0 {
		st.schedulePush(k, nil)
		return
	}
	if changed {
		st.push(k, svc.hosts, svc.lastRefTime, svc.subscribers)
	}
}

// push queues the list to these subscribers (connection -> clusters).
func (st *store) push(k serviceKey, hosts []entry, lastRefTime int64, subscribers map[*connection]string) {
	// Subscribers that asked for the same clusters get the same bytes.
	bodies := make(map[string][]byte)
	for c, clusters := range subscribers {
		body, ok := bodies[clusters]
		if !ok {
			info, err := json.Marshal(serviceInfo(k, hosts, lastRefTime, clusters, false))
			if err != nil {
				panic(err) // a model.Service always encodes
			}
			body = st.notification(k, info)
			bodies[clusters] = body
		}
		c.enqueue(notifySubscriberRequest, body)
	}
}

// pushRaw sends serviceInfo, as is, to every subscriber of the service.
func (st *store) pushRaw(k serviceKey, serviceInfo []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.services[k]
	if svc == nil {
		return
	}
	body := st.notification(k, serviceInfo)
	for c := range svc.subscribers {
		c.enqueue(notifySubscriberRequest, body)
	}
}

// notification encodes a NotifySubscriberRequest around serviceInfo, which
// is spliced in unchecked so that PushRaw can send malformed JSON.
func (st *store) notification(k serviceKey, serviceInfo []byte) []byte {
	st.pushCount++
	head, err := json.Marshal(rpc_request.NamingRequest{
		Request:     &rpc_request.Request{RequestId: strconv.FormatInt(st.pushCount, 10)},
		Namespace:   k.namespace,
		ServiceName: k.name,
		GroupName:   k.group,
		Module:      "naming",
	})
	if err != nil {
		panic(err) // strings always encode
	}
	// Reopen the encoded object: drop its closing brace, add the field.
	body := append(head[:len(head)-1:len(head)-1], `,"serviceInfo":`...)
	body = append(body, serviceInfo...)
	return append(body, '}')
}

// union merges the publications into one sorted list of distinct instances.
func union(publications map[*connection][]entry) []entry {
	seen := make(map[string]bool)
	hosts := []entry{}
	for _, entries := range publications {
		for _, e := range entries {
			if !seen[e.identity] {
				seen[e.identity] = true
				hosts = append(hosts, e)
			}
		}
	}
	sort.Slice(hosts, func(i, j int) bool {
		a, b := hosts[i], hosts[j]
		switch {
		case a.instance.Ip != b.instance.Ip:
			return a.instance.Ip < b.instance.Ip
		case a.instance.Port != b.instance.Port:
			return a.instance.Port < b.instance.Port
		case a.metadata != b.metadata:
			return a.metadata < b.metadata
		default:
			return a.identity < b.identity
		}
	})
	return hosts
}

func sameEntries(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].identity != b[i].identity {
			return false
		}
	}
	return true
}

// serviceInfo is what subscribers and queries get. Like Java
// (ServiceUtil.selectInstancesWithHealthyProtection with enableOnly), it
// leaves out disabled instances, instances outside clusters (a
// comma-separated list, "" for all) and, if healthyOnly, unhealthy ones.
// The name is bare and the group separate, as the SDK keys its cache by
// groupName@@name.
func serviceInfo(k serviceKey, hosts []entry, lastRefTime int64, clusters string, healthyOnly bool) model.Service {
	wanted := make(map[string]bool)
	if strings.TrimSpace(clusters) != "" {
		for _, cluster := range strings.Split(clusters, ",") {
			wanted[cluster] = true
		}
	}
	selected := []model.Instance{}
	for _, e := range hosts {
		in := e.instance
		if !in.Enable || (len(wanted) > 0 && !wanted[in.ClusterName]) || (healthyOnly && !in.Healthy) {
			continue
		}
		selected = append(selected, in)
	}
	return model.Service{
		Name:        k.name,
		GroupName:   k.group,
		Clusters:    clusters,
		CacheMillis: cacheMillis,
		Hosts:       selected,
		LastRefTime: uint64(lastRefTime),
		Valid:       true,
	}
}

// newEntry returns the instance as Java stores and returns it
// (InstanceUtil.setInstanceIdIfEmpty, ClientOperationService.getPublishInfo,
// InstanceUtil.parseToApiInstance).
func newEntry(k serviceKey, in model.Instance) entry {
	out := in
	if out.InstanceId == "" {
		idService := in.ServiceName
		if isBlank(idService) {
			idService = k.groupedName()
		}
		// Java makes the id before it defaults the cluster, so an instance
		// registered without one gets "ip#port##group@@service".
		out.InstanceId = fmt.Sprintf("%s#%d#%s#%s", in.Ip, in.Port, in.ClusterName, idService)
	}
	if isBlank(out.ClusterName) {
		out.ClusterName = defaultCluster
	}
	out.ServiceName = k.groupedName()
	out.Ephemeral = true
	out.Metadata = maps.Clone(in.Metadata)
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	out.InstanceHeartBeatInterval = metadataMillis(out.Metadata, heartBeatIntervalKey, defaultHeartBeatInterval)
	out.InstanceHeartBeatTimeOut = metadataMillis(out.Metadata, heartBeatTimeoutKey, defaultHeartBeatTimeout)
	out.IpDeleteTimeout = metadataMillis(out.Metadata, ipDeleteTimeoutKey, defaultIPDeleteTimeout)
	metadata, err := json.Marshal(out.Metadata)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	identity, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return entry{instance: out, metadata: string(metadata), identity: string(identity)}
}

// Heartbeat settings live in preserved metadata keys; Java's Instance
// getters read them with these defaults (PreservedMetadataKeys, Constants).
const (
	heartBeatIntervalKey     = "preserved.heart.beat.interval"
	heartBeatTimeoutKey      = "preserved.heart.beat.timeout"
	ipDeleteTimeoutKey       = "preserved.ip.delete.timeout"
	defaultHeartBeatInterval = 5000
	defaultHeartBeatTimeout  = 15000
	defaultIPDeleteTimeout   = 30000
)

var digits = regexp.MustCompile(`^\d+$`)

func metadataMillis(metadata map[string]string, key string, fallback int) int {
	v := metadata[key]
	if !digits.MatchString(v) {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fallback
	}
	return n
}

// Instance is an instance as the server holds it.
type Instance struct {
	ID        string // Nacos's instanceId: ip#port#cluster#group@@service
	IP        string
	Port      uint64
	Weight    float64
	Healthy   bool
	Enabled   bool
	Ephemeral bool
	Cluster   string
	Metadata  map[string]string
}

// Instances returns the instances the service holds right now, disabled ones
// included (subscribers do not see those), sorted by ip, port, then metadata.
// Namespace "" means "public", group "" means DEFAULT_GROUP. The result is a
// copy.
func (s *Server) Instances(namespace, group, service string) []Instance {
	st := s.backend.store
	st.mu.Lock()
	defer st.mu.Unlock()
	svc := st.services[newServiceKey(namespace, group, service)]
	if svc == nil {
		return []Instance{}
	}
	instances := make([]Instance, len(svc.hosts))
	for i, e := range svc.hosts {
		in := e.instance
		instances[i] = Instance{
			ID: in.InstanceId, IP: in.Ip, Port: in.Port, Weight: in.Weight, Healthy: in.Healthy, Enabled: in.Enable,
			Ephemeral: in.Ephemeral, Cluster: in.ClusterName, Metadata: maps.Clone(in.Metadata),
		}
	}
	return instances
}

// Services returns the sorted names of the services registered in the
// namespace and group, including those whose instances have all gone.
func (s *Server) Services(namespace, group string) []string {
	k := newServiceKey(namespace, group, "")
	return s.backend.store.names(k.namespace, k.group)
}

// names returns the sorted names of the services registered in exactly this
// namespace and group.
func (st *store) names(namespace, group string) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	names := []string{}
	for k, svc := range st.services {
		if svc.listed && k.namespace == namespace && k.group == group {
			names = append(names, k.name)
		}
	}
	sort.Strings(names)
	return names
}

// Subscribers returns how many connections subscribe to the service.
func (s *Server) Subscribers(namespace, group, service string) int {
	st := s.backend.store
	st.mu.Lock()
	defer st.mu.Unlock()
	if svc := st.services[newServiceKey(namespace, group, service)]; svc != nil {
		return len(svc.subscribers)
	}
	return 0
}
