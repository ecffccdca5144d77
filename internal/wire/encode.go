package wire

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// The codec turns a go-micro Service into Nacos instances (one per node, here) and Nacos
// instances back into go-micro Services (one per version, decode.go); packed.go packs the
// service fields both ways.
//
// A node's own metadata is stored as plain instance metadata, so the Nacos console and
// other clients see it. What Nacos has no field for lives under reserved keys. A user key
// that happens to start with reservedPrefix is stored with the prefix doubled, so no user
// key can ever be mistaken for a reserved one.
//
// The version is written under the original community plugin's key, legacyVersion, for
// readers still on that plugin (the HTTP broker tells queues from broadcasts by it); a
// node's own metadata key of that name is kept under keyNodeVersion instead. It is also
// written under keyVersion, the only key earlier releases of this registry read, so that
// no reader sees a node under the wrong version during a rolling upgrade. That ninth key
// of a typical go-micro node costs every Go reader about 350 bytes per instance (a small
// Go map holds 8), the SDK's cache included: the price of upgrades without a gap.
const (
	reservedPrefix = "micro."
	keyNodeID      = reservedPrefix + "id"
	keyVersion     = reservedPrefix + "version"      // the version, where earlier releases read it
	keyService     = reservedPrefix + "service"      // endpoints and service metadata, packed
	keyNodeVersion = reservedPrefix + "node.version" // the node's own legacyVersion key
	legacyVersion  = "version"                       // the version, where the original plugin kept it
)

// MetadataLimit is how many characters of metadata a default Nacos server accepts per
// instance (nacos.naming.service.metadata.length).
const MetadataLimit = 1024

// NodeKey identifies a node within a service: go-micro identifies nodes by id, and
// versions are independent of each other.
type NodeKey struct{ Version, ID string }

// EncodedNode is one node as it is published to Nacos.
type EncodedNode struct {
	Key      NodeKey
	Instance model.Instance
}

// InstanceFields are the Nacos fields that come from the registry's options or the
// call's parameters, not from the go-micro service.
type InstanceFields struct {
	Cluster  string
	Weight   float64
	Extra    map[string]string // added to every node's metadata; the node's own keys win
	IP       string            // if set, replaces the host of every node's address
	Port     uint64            // if set, replaces the port of every node's address
	Disabled bool              // registered with Nacos's enabled flag off: not served
	Unwell   bool              // registered with Nacos's healthy flag off: not served
}

// SameInstance says whether two instances are equal in every field the registry
// publishes.
func SameInstance(a, b model.Instance) bool {
	if a.Ip != b.Ip || a.Port != b.Port || a.Weight != b.Weight || a.ClusterName != b.ClusterName ||
		a.Enable != b.Enable || a.Healthy != b.Healthy || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Encode turns every node of s into a Nacos instance. It never modifies s. When
// the packed service fields do not fit in the metadata budget they are left out, endpoints
// first; dropped says what was left out ("" if nothing).
func Encode(s *Service, f InstanceFields, budget int) (nodes []EncodedNode, dropped string, err error) {
	if s == nil {
		return nil, "", errors.New("nacos: service is nil")
	}
	if err := CheckServiceName(s.Name); err != nil {
		return nil, "", err
	}
	if len(s.Nodes) == 0 {
		return nil, "", fmt.Errorf("nacos: service %q has no nodes", s.Name)
	}
	nodes = make([]EncodedNode, 0, len(s.Nodes))
	seen := make(map[string]bool, len(s.Nodes))
	largest := 0
	for _, n := range s.Nodes {
		in, err := encodeNode(s, n, f)
		if err != nil {
			return nil, "", err
		}
		if seen[n.Id] {
			return nil, "", fmt.Errorf("nacos: service %q lists node %q twice", s.Name, n.Id)
		}
		seen[n.Id] = true
		size := MetadataLen(in.Metadata)
		if size > budget {
			return nil, "", fmt.Errorf("nacos: node %q of service %q: its metadata takes %d characters, over the budget of %d", n.Id, s.Name, size, budget)
		}
		if size > largest {
			largest = size
		}
		nodes = append(nodes, EncodedNode{Key: NodeKey{s.Version, n.Id}, Instance: in})
	}
	packed, dropped := packWithin(s, budget-largest-utf16Len(keyService))
	if packed != "" {
		for i := range nodes {
			nodes[i].Instance.Metadata[keyService] = packed
		}
	}
	return nodes, dropped, nil
}

func encodeNode(s *Service, n *Node, f InstanceFields) (model.Instance, error) {
	if n == nil {
		return model.Instance{}, fmt.Errorf("nacos: service %q has a nil node", s.Name)
	}
	if n.Id == "" {
		return model.Instance{}, fmt.Errorf("nacos: a node of service %q has no id", s.Name)
	}
	ip, port, err := splitAddress(n.Address)
	if err != nil {
		return model.Instance{}, fmt.Errorf("nacos: node %q of service %q: %v", n.Id, s.Name, err)
	}
	if f.IP != "" {
		ip = f.IP
	}
	if f.Port != 0 {
		port = f.Port
	}
	md := make(map[string]string, len(f.Extra)+len(n.Metadata)+4)
	for _, from := range []map[string]string{f.Extra, n.Metadata} {
		for k, v := range from {
			switch {
			case strings.HasPrefix(k, reservedPrefix):
				k = reservedPrefix + k
			case k == legacyVersion:
				k = keyNodeVersion
			}
			md[k] = v
		}
	}
	md[keyNodeID] = n.Id
	if s.Version != "" {
		md[keyVersion] = s.Version
		md[legacyVersion] = s.Version
	}
	return model.Instance{
		Ip:          ip,
		Port:        port,
		Weight:      f.Weight,
		Enable:      !f.Disabled,
		Healthy:     !f.Unwell,
		Ephemeral:   true,
		ClusterName: f.Cluster,
		Metadata:    md,
	}, nil
}

// splitAddress splits a go-micro node address (host:port, IPv6 in brackets).
func splitAddress(addr string) (string, uint64, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q is not host:port", addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("address %q has an invalid port (want 0-65535)", addr)
	}
	if err := CheckIP(host); err != nil {
		return "", 0, fmt.Errorf("address %q has an invalid host", addr)
	}
	return host, p, nil
}

// packWithin packs the service fields into at most room characters, leaving out
// endpoints, then service metadata, until they fit.
func packWithin(s *Service, room int) (packed, dropped string) {
	candidates := []struct {
		fields  serviceFields
		dropped string
	}{
		{serviceFields{s.Metadata, s.Endpoints}, ""},
		{serviceFields{s.Metadata, nil}, "endpoints"},
	}
	for _, c := range candidates {
		if len(c.fields.Metadata) == 0 && len(c.fields.Endpoints) == 0 {
			return "", c.dropped
		}
		if p := pack(c.fields); len(p) <= room { // ASCII: one byte, one character
			return p, c.dropped
		}
	}
	if len(s.Endpoints) == 0 {
		return "", "service metadata"
	}
	return "", "endpoints and service metadata"
}
