// Package fakenaming is an in-memory Nacos naming service for fast, deterministic tests
// of code that talks to naming.Client, in the spirit of net/http/httptest: a Server
// holds the services, and each Client dialled from it is a naming.Client standing for
// one SDK client and its connection to Nacos.
//
//	srv := fakenaming.NewServer()
//	c := srv.Dial("", func(bool) {})         // the public namespace
//	defer c.Close()
//	err := c.Publish(key, instances, model.Instance{})
//	hosts := srv.Instances("", key)      // what Nacos holds, as its console shows it
//
// It does what Nacos 2.x does with what a connection sends (nacos-protocol.md, sections
// 3 and 5), and nothing that Nacos would do otherwise:
//
//   - A connection holds one registration per service: a Publish replaces the
//     connection's registration of the service, and an empty one withdraws it.
//   - An instance is held as Java holds one registered through the SDK: from the
//     fields the SDK sends, ephemeral, with Java's instance id (made before the cluster
//     defaults: ip#port##group@@name without one), cluster DEFAULT by default, service
//     name group@@name, and heartbeat settings from the preserved metadata keys.
//   - A service's instances are the union of every connection's registration, as a set
//     of whole instances: the same address registered twice with different metadata
//     is there twice. Subscribers see the enabled ones.
//   - A subscription to a service without instances is no error. Subscribe delivers the
//     current list before it returns; every change of a list is pushed to every
//     subscriber, with a stamp greater than the one before (Nacos's lastRefTime).
//   - A connection that ends (Client.Close, Client.Reconnect) loses its registrations,
//     and the subscribers are pushed the lists without them.
//   - ServiceNames lists, one page at a time (numbered from 1), the services of a group
//     that were ever registered in the client's namespace.
//
// What the SDK does for its user is done as nacos-sdk-go v2.3.5 does it behind
// naming.SDKClient: a subscription survives a reconnection (the SDK redoes it), and a
// list is pushed only when it changed. The reference is the embedded server nacostest,
// checked against Java: TestFakeAgreesWithNacostest runs one script on both.
//
// Left out: Nacos's push delay, health checks, persistent instances, auth, parameter
// checks beyond blank names and addresses, and the expiry of services left empty (Nacos
// drops them from ServiceNames after about a minute). Pushes are delivered on the
// goroutine of the request that caused them, with the server's lock held: a push
// function must return at once and must not call the Client, as naming.Client asks.
//
// Test hooks: Requests tells when requests of a kind were received; Fail makes them
// fail, Stall holds them until released; Client.Reconnect simulates a new connection.
package fakenaming

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/micro-registry/nacos/internal/naming"
)

// Kind is a kind of request a Client sends.
type Kind int

const (
	Publish      Kind = iota // Client.Publish
	Subscribe                // Client.Subscribe
	Unsubscribe              // the unsubscribe function Subscribe returned
	ServiceNames             // Client.ServiceNames
)

func (k Kind) String() string {
	return [...]string{"Publish", "Subscribe", "Unsubscribe", "ServiceNames"}[k]
}

// Errors for Fail, one of each class the registry tells apart (a refusal is a
// *naming.RefusedError with the reason of the test's choosing).
var (
	// ErrServer is Nacos failing to serve a request (an ErrorResponse).
	ErrServer = errors.New("fakenaming: server error")
	// ErrUnreachable is a request that got no answer, as gRPC reports it: the
	// connection is down, or the request timed out (naming.IsUnreachable).
	ErrUnreachable = status.Error(codes.Unavailable, "fakenaming: no answer from Nacos")
)

// Server is an in-memory Nacos naming service. Its methods are safe for concurrent use.
type Server struct {
	mu       sync.Mutex // guards the fields below, and every Client's registrations and subscriptions
	services map[serviceID]*service
	stamp    uint64 // the last stamp pushed
	clients  map[*Client]bool
	received map[Kind][]time.Time
	faults   map[Kind]error
	stalls   map[Kind]chan struct{}
}

// serviceID names a service across namespaces.
type serviceID struct {
	namespace string
	key       naming.ServiceKey
}

type service struct {
	listed        bool // it was registered: ServiceNames lists it
	registrations map[*Client][]model.Instance
	hosts         []model.Instance // the union of the registrations
	visible       []model.Instance // its enabled instances, as last pushed
	stamp         uint64
	subscribers   map[*subscriber]bool
}

type subscriber struct {
	push func([]model.Instance, uint64)
}

// NewServer returns an empty server.
func NewServer() *Server {
	return &Server{
		services: map[serviceID]*service{},
		clients:  map[*Client]bool{},
		received: map[Kind][]time.Time{},
		faults:   map[Kind]error{},
		stalls:   map[Kind]chan struct{}{},
	}
}

// Requests returns when the requests of a kind were received, oldest first: failed,
// stalled and refused ones included.
func (s *Server) Requests(kind Kind) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received[kind])
}

// Fail makes every later request of a kind fail with err, and change nothing, until
// Fail(kind, nil). An unsubscribe cannot fail: the SDK drops its callback first.
func (s *Server) Fail(kind Kind, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.faults, kind)
	} else {
		s.faults[kind] = err
	}
}

// Stall holds every later request of a kind, once received, until release is called
// (then it is served, or fails as Fail says) or its connection ends (then it fails with
// ErrUnreachable). release may be called more than once.
func (s *Server) Stall(kind Kind) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.stalls[kind] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.stalls[kind] == ch {
				delete(s.stalls, kind)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Instances returns the instances a service of a namespace ("" is public) holds,
// disabled ones included (subscribers do not see those).
func (s *Server) Instances(namespace string, key naming.ServiceKey) []model.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc := s.services[serviceID{normalNamespace(namespace), key}]; svc != nil {
		return cloneHosts(svc.hosts)
	}
	return nil
}

// Clients says how many clients are open.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func normalNamespace(ns string) string {
	if ns == "" {
		return "public"
	}
	return ns
}

// Dial returns a new client of a namespace ("" is public), connected. reconnected is
// called by Reconnect (with lost true), as naming.Dial's is after a lost connection
// is made again.
func (s *Server) Dial(namespace string, reconnected func(lost bool)) *Client {
	c := &Client{srv: s, namespace: normalNamespace(namespace), reconnected: reconnected,
		conn: make(chan struct{}), closed: make(chan struct{})}
	s.mu.Lock()
	s.clients[c] = true
	s.mu.Unlock()
	return c
}

// Client is one SDK client of a Server and its connection. It implements naming.Client.
type Client struct {
	srv         *Server
	namespace   string
	reconnected func(lost bool)
	closing     sync.Once
	closed      chan struct{} // closed by Close

	// Guarded by srv.mu.
	conn       chan struct{} // the connection; closed when it ends
	registered map[naming.ServiceKey]bool
	subs       map[*subscriber]serviceID
}

var _ naming.Client = (*Client)(nil)

// begin receives a request of a kind: it counts it, holds it while stalled and returns
// the error it fails with, if any. The server's lock is held when it returns nil.
func (c *Client) begin(kind Kind) error {
	s := c.srv
	s.mu.Lock()
	s.received[kind] = append(s.received[kind], time.Now())
	conn, stall := c.conn, s.stalls[kind]
	if stall != nil {
		s.mu.Unlock()
		select {
		case <-stall:
		case <-conn:
		}
		s.mu.Lock()
	}
	switch {
	case isClosed(conn) || c.conn != conn:
		s.mu.Unlock()
		return ErrUnreachable
	case s.faults[kind] != nil:
		err := s.faults[kind]
		s.mu.Unlock()
		return err
	}
	return nil
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Publish replaces this connection's registration of a service with instances; none
// withdraws it (named is not looked at: Nacos drops the connection's whole
// registration). Blank names and addresses are refused, as Nacos refuses them.
func (c *Client) Publish(key naming.ServiceKey, instances []model.Instance, named model.Instance) error {
	if err := c.begin(Publish); err != nil {
		return err
	}
	defer c.srv.mu.Unlock()
	if err := checkKey(key); err != nil {
		return err
	}
	hosts := make([]model.Instance, len(instances))
	for i, in := range instances {
		if strings.TrimSpace(in.Ip) == "" || in.Port > 65535 {
			return &naming.RefusedError{Reason: fmt.Sprintf("Instance '%s:%d' is illegal", in.Ip, in.Port)}
		}
		hosts[i] = asNacosHolds(key, in)
	}
	s := c.srv
	id := serviceID{c.namespace, key}
	svc := s.service(id)
	if len(hosts) == 0 {
		if _, ok := svc.registrations[c]; !ok {
			return nil // nothing to withdraw: a success, and no push
		}
		delete(svc.registrations, c)
		delete(c.registered, key)
	} else {
		svc.registrations[c] = hosts
		svc.listed = true
		if c.registered == nil {
			c.registered = map[naming.ServiceKey]bool{}
		}
		c.registered[key] = true
	}
	s.changed(svc)
	return nil
}

// checkKey refuses blank names, as Nacos does.
func checkKey(key naming.ServiceKey) error {
	if strings.TrimSpace(key.Name) == "" || strings.TrimSpace(key.Group) == "" {
		return &naming.RefusedError{Reason: "Param check invalid: blank service or group name"}
	}
	return nil
}

// asNacosHolds returns an instance as Java holds it once registered through the SDK,
// which sends only the fields below (see naming.SDKClient.Publish).
func asNacosHolds(key naming.ServiceKey, in model.Instance) model.Instance {
	out := model.Instance{Ip: in.Ip, Port: in.Port, Weight: in.Weight, Healthy: in.Healthy, Enable: in.Enable,
		Ephemeral: true, ClusterName: in.ClusterName, ServiceName: key.Group + "@@" + key.Name, Metadata: maps.Clone(in.Metadata)}
	out.InstanceId = fmt.Sprintf("%s#%d#%s#%s", out.Ip, out.Port, out.ClusterName, out.ServiceName)
	if strings.TrimSpace(out.ClusterName) == "" {
		out.ClusterName = "DEFAULT"
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	out.InstanceHeartBeatInterval = millis(out.Metadata, "preserved.heart.beat.interval", 5000)
	out.InstanceHeartBeatTimeOut = millis(out.Metadata, "preserved.heart.beat.timeout", 15000)
	out.IpDeleteTimeout = millis(out.Metadata, "preserved.ip.delete.timeout", 30000)
	return out
}

// millis reads a heartbeat setting from its preserved metadata key, as Java's
// Instance does.
func millis(metadata map[string]string, key string, fallback int) int {
	v := metadata[key]
	if strings.Trim(v, "0123456789") != "" || v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fallback
	}
	return n
}

// service returns the service id names, making it if there is none. s.mu must be held.
func (s *Server) service(id serviceID) *service {
	svc := s.services[id]
	if svc == nil {
		s.stamp++
		svc = &service{registrations: map[*Client][]model.Instance{}, stamp: s.stamp, subscribers: map[*subscriber]bool{}}
		s.services[id] = svc
	}
	return svc
}

// changed takes the union of a service's registrations and pushes what subscribers
// see if it changed. s.mu must be held.
func (s *Server) changed(svc *service) {
	byIdentity := map[string]model.Instance{}
	for _, hosts := range svc.registrations {
		for _, h := range hosts {
			identity, err := json.Marshal(h)
			if err != nil {
				panic(err) // an instance always encodes
			}
			byIdentity[h.InstanceId+"\x00"+string(identity)] = h
		}
	}
	keys := slices.Sorted(maps.Keys(byIdentity))
	svc.hosts = svc.hosts[:0:0]
	visible := []model.Instance{}
	for _, k := range keys {
		svc.hosts = append(svc.hosts, byIdentity[k])
		if byIdentity[k].Enable {
			visible = append(visible, byIdentity[k])
		}
	}
	if reflect.DeepEqual(visible, svc.visible) || len(visible) == 0 && len(svc.visible) == 0 {
		return
	}
	s.stamp++
	svc.visible, svc.stamp = visible, s.stamp
	for sub := range svc.subscribers {
		sub.push(cloneHosts(visible), svc.stamp)
	}
}

// cloneHosts copies a list as the SDK hands out each one it receives.
func cloneHosts(hosts []model.Instance) []model.Instance {
	out := make([]model.Instance, len(hosts))
	for i, h := range hosts {
		out[i] = h
		out[i].Metadata = maps.Clone(h.Metadata)
	}
	return out
}

// Subscribe subscribes to a service, and pushes its current list before it returns.
func (c *Client) Subscribe(key naming.ServiceKey, push func([]model.Instance, uint64)) (unsubscribe func(), err error) {
	if err := c.begin(Subscribe); err != nil {
		return nil, err
	}
	defer c.srv.mu.Unlock()
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s := c.srv
	id := serviceID{c.namespace, key}
	svc := s.service(id)
	sub := &subscriber{push: push}
	svc.subscribers[sub] = true
	if c.subs == nil {
		c.subs = map[*subscriber]serviceID{}
	}
	c.subs[sub] = id
	push(cloneHosts(svc.visible), svc.stamp)
	var once sync.Once
	return func() { once.Do(func() { c.unsubscribe(sub) }) }, nil
}

func (c *Client) unsubscribe(sub *subscriber) {
	s := c.srv
	s.mu.Lock()
	id, ok := c.subs[sub]
	if ok {
		delete(c.subs, sub)
		delete(s.services[id].subscribers, sub)
	}
	s.mu.Unlock()
	if ok && c.begin(Unsubscribe) == nil { // sent once the callback is dropped, as the SDK does
		s.mu.Unlock()
	}
}

// ServiceNames returns the page param names of the names of the services of its group
// that were ever registered in the namespace, sorted, and how many there are. Like
// Nacos, a page size of 0 gives an empty page, and a blank group is the default one.
func (c *Client) ServiceNames(param vo.GetAllServiceInfoParam) ([]string, int64, error) {
	if err := c.begin(ServiceNames); err != nil {
		return nil, 0, err
	}
	defer c.srv.mu.Unlock()
	group := cmp.Or(param.GroupName, "DEFAULT_GROUP")
	ns := c.namespace
	if param.NameSpace != "" {
		ns = normalNamespace(param.NameSpace)
	}
	var names []string
	for id, svc := range c.srv.services {
		if id.namespace == ns && id.key.Group == group && svc.listed {
			names = append(names, id.key.Name)
		}
	}
	slices.Sort(names)
	total := int64(len(names))
	start := max(int(param.PageNo)-1, 0) * int(param.PageSize)
	if start >= len(names) {
		return []string{}, total, nil
	}
	return names[start:min(start+int(param.PageSize), len(names))], total, nil
}

// Reconnect ends the client's connection and makes a new one, as the SDK does when its
// connection fails: Nacos drops what the old connection registered (its subscribers are
// pushed the lists without it), requests under way on it fail with ErrUnreachable, and
// the client's subscriptions carry on (the SDK redoes them). Then it calls the
// reconnected function given to Dial.
func (c *Client) Reconnect() {
	s := c.srv
	s.mu.Lock()
	if isClosed(c.closed) {
		s.mu.Unlock()
		return
	}
	c.endConnection()
	c.conn = make(chan struct{})
	s.mu.Unlock()
	c.reconnected(true)
}

// endConnection drops what the connection registered. s.mu must be held.
func (c *Client) endConnection() {
	close(c.conn)
	for key := range c.registered {
		svc := c.srv.services[serviceID{c.namespace, key}]
		delete(svc.registrations, c)
		c.srv.changed(svc)
	}
	c.registered = nil
}

// Close ends the client: Nacos drops its registrations and subscriptions, and its
// requests fail with ErrUnreachable from then on. done is closed at once.
func (c *Client) Close() (done <-chan struct{}) {
	c.closing.Do(func() {
		s := c.srv
		s.mu.Lock()
		defer s.mu.Unlock()
		close(c.closed)
		for sub, id := range c.subs {
			delete(s.services[id].subscribers, sub)
		}
		c.subs = nil
		c.endConnection()
		delete(s.clients, c)
	})
	return c.closed
}
