package nacos

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// The codec is the one place that turns a go-micro Service into Nacos instances (one per
// node) and Nacos instances back into go-micro Services (one per version).
//
// A node's own metadata is stored as plain instance metadata, so the Nacos console and
// other clients see it. What Nacos has no field for lives under reserved keys. A user key
// that happens to start with reservedPrefix is stored with the prefix doubled, so no user
// key can ever be mistaken for a reserved one.
//
// The version is also written under the original community plugin's key, for readers
// still on that plugin (the HTTP broker tells queues from broadcasts by it); a node's
// own metadata key of that name is kept under keyNodeVersion instead.
const (
	reservedPrefix = "micro."
	keyNodeID      = reservedPrefix + "id"
	keyVersion     = reservedPrefix + "version"
	keyService     = reservedPrefix + "service"      // endpoints and service metadata, packed
	keyNodeVersion = reservedPrefix + "node.version" // the node's own legacyVersion key
	legacyVersion  = "version"                       // where the original plugin kept the version
)

// nodeKey identifies a node within a service: go-micro identifies nodes by id, and
// versions are independent of each other.
type nodeKey struct{ version, id string }

// encodedNode is one node as it is published to Nacos.
type encodedNode struct {
	key      nodeKey
	instance model.Instance
}

// instanceFields are the Nacos fields that come from the registry's options or the
// call's parameters, not from the go-micro service.
type instanceFields struct {
	cluster  string
	weight   float64
	extra    map[string]string // added to every node's metadata; the node's own keys win
	ip       string            // if set, replaces the host of every node's address
	port     uint64            // if set, replaces the port of every node's address
	disabled bool              // registered with Nacos's enabled flag off: not served
	unwell   bool              // registered with Nacos's healthy flag off: not served
}

// serviceFields are the service-level fields Nacos has no place for, with the names of
// go-micro's JSON.
type serviceFields struct {
	Metadata  map[string]string    `json:"metadata,omitempty"`
	Endpoints []*registry.Endpoint `json:"endpoints,omitempty"`
}

// encodeService turns every node of s into a Nacos instance. It never modifies s. When
// the packed service fields do not fit in the metadata budget they are left out, endpoints
// first; dropped says what was left out ("" if nothing).
func encodeService(s *registry.Service, f instanceFields, budget int) (nodes []encodedNode, dropped string, err error) {
	if s == nil {
		return nil, "", errors.New("nacos: service is nil")
	}
	if err := checkServiceName(s.Name); err != nil {
		return nil, "", err
	}
	if len(s.Nodes) == 0 {
		return nil, "", fmt.Errorf("nacos: service %q has no nodes", s.Name)
	}
	nodes = make([]encodedNode, 0, len(s.Nodes))
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
		size := metadataLen(in.Metadata)
		if size > budget {
			return nil, "", fmt.Errorf("nacos: node %q of service %q: its metadata takes %d characters, over the budget of %d", n.Id, s.Name, size, budget)
		}
		if size > largest {
			largest = size
		}
		nodes = append(nodes, encodedNode{key: nodeKey{s.Version, n.Id}, instance: in})
	}
	packed, dropped := packWithin(s, budget-largest-utf16Len(keyService))
	if packed != "" {
		for i := range nodes {
			nodes[i].instance.Metadata[keyService] = packed
		}
	}
	return nodes, dropped, nil
}

func encodeNode(s *registry.Service, n *registry.Node, f instanceFields) (model.Instance, error) {
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
	if f.ip != "" {
		ip = f.ip
	}
	if f.port != 0 {
		port = f.port
	}
	md := make(map[string]string, len(f.extra)+len(n.Metadata)+4)
	for _, from := range []map[string]string{f.extra, n.Metadata} {
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
		Weight:      f.weight,
		Enable:      !f.disabled,
		Healthy:     !f.unwell,
		Ephemeral:   true,
		ClusterName: f.cluster,
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
	if err := checkIP(host); err != nil {
		return "", 0, fmt.Errorf("address %q has an invalid host", addr)
	}
	return host, p, nil
}

// packWithin packs the service fields into at most room characters, leaving out
// endpoints, then service metadata, until they fit.
func packWithin(s *registry.Service, room int) (packed, dropped string) {
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
		if p := pack(c.fields); utf16Len(p) <= room {
			return p, c.dropped
		}
	}
	if len(s.Endpoints) == 0 {
		return "", "service metadata"
	}
	return "", "endpoints and service metadata"
}

// The packed service fields (the value of micro.service) start with a format tag:
//
//	gz:  the current form: base64 (standard alphabet, padded) of the gzip of the JSON
//	     {"metadata":{...},"endpoints":[...]}, go-micro's own JSON of those Service
//	     fields. It decodes with standard tools: cut -c4- | base64 -d | gunzip
//	z    the first release's form, only read: flate-compressed JSON {"m":...,"e":[...]}
//	     with the preset dictionary legacyDict, written 15 bits to a character as code
//	     points from U+4E00
//
// gzip's own header and trailer cost 24 characters over bare deflate, and a preset
// dictionary would save about as many again on small services, but neither bare deflate
// nor a dictionary can be read with base64 and gunzip alone.
const (
	packTag       = "gz:"
	legacyPackTag = "z"
)

// maxUnpacked bounds what a packed value may inflate to: a few characters of deflate
// can stand for megabytes.
const maxUnpacked = 1 << 20

// Compressors are large and slow to build, and go-micro re-registers the same service
// every interval, so compressors are pooled and recent results remembered.
var (
	compressors = sync.Pool{New: func() interface{} {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
		return w
	}}
	packedMu     sync.Mutex
	packedRecent = map[string]string{} // JSON of serviceFields -> packed form
)

const packedRecentMax = 256

func pack(f serviceFields) string {
	raw, err := json.Marshal(f)
	if err != nil {
		return "" // registry types always marshal
	}
	packedMu.Lock()
	p, ok := packedRecent[string(raw)]
	packedMu.Unlock()
	if ok {
		return p
	}
	var buf strings.Builder
	buf.WriteString(packTag)
	b64 := base64.NewEncoder(base64.StdEncoding, &buf)
	w := compressors.Get().(*gzip.Writer)
	w.Reset(b64) // no name, no time: equal fields pack to equal strings
	w.Write(raw)
	w.Close()
	compressors.Put(w)
	b64.Close()
	p = buf.String()
	packedMu.Lock()
	if len(packedRecent) >= packedRecentMax {
		packedRecent = map[string]string{}
	}
	packedRecent[string(raw)] = p
	packedMu.Unlock()
	return p
}

// unpack decodes packed service fields of any known format.
func unpack(s string) (serviceFields, error) {
	var f serviceFields
	var raw []byte
	var err error
	switch {
	case strings.HasPrefix(s, packTag):
		raw, err = gunzip(base64.NewDecoder(base64.StdEncoding, strings.NewReader(s[len(packTag):])))
	case strings.HasPrefix(s, legacyPackTag):
		var legacy legacyFields
		if legacy, err = unpackLegacy(s[len(legacyPackTag):]); err == nil {
			f = serviceFields(legacy)
		}
		return f, err
	default:
		return f, errors.New("unknown packed format")
	}
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(raw, &f)
}

func gunzip(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readAtMost(zr)
}

func readAtMost(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxUnpacked+1))
	if err == nil && len(raw) > maxUnpacked {
		err = fmt.Errorf("packed fields inflate to over %d bytes", maxUnpacked)
	}
	return raw, err
}

// legacyFields are the service fields in the first release's JSON.
type legacyFields struct {
	Metadata  map[string]string    `json:"m,omitempty"`
	Endpoints []*registry.Endpoint `json:"e,omitempty"`
}

// legacyDict is the preset dictionary of the first release's form.
var legacyDict = []byte(`"values":null},{"name":"","type":"int32""int64""uint64""bool""float64""[]string""map[string]string""[]byte""time.Time"` +
	`"metadata":{"stream":"true"}"subscriber":"true","topic":"` +
	`{"m":{},"e":[{"name":"","request":{"name":"","type":"","values":[{"name":"","type":"string","values":null}]},"response":{"name":"","type":"","values":[{"name":"","type":"string","values":null}]},"metadata":{}}]}`)

// Characters of the first release's form each carry 15 bits, as code points from
// legacyBase.
const (
	legacyBase = 0x4E00
	legacyBits = 15
)

func unpackLegacy(s string) (legacyFields, error) {
	var f legacyFields
	var bits []byte
	var acc uint32
	n := 0
	for _, r := range s {
		v := uint32(r) - legacyBase
		if v >= 1<<legacyBits {
			return f, fmt.Errorf("character %q is not of the packed form", r)
		}
		acc = acc<<legacyBits | v
		n += legacyBits
		for n >= 8 {
			n -= 8
			bits = append(bits, byte(acc>>n))
		}
	}
	// The last character may carry a padding byte, which the flate reader never
	// reaches: a flate stream knows where it ends.
	r := flate.NewReaderDict(bytes.NewReader(bits), legacyDict)
	defer r.Close()
	raw, err := readAtMost(r)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(raw, &f)
}

// version is one version of a service as decoded from Nacos: a read-only go-micro
// Service plus what the watchers need to compare versions cheaply.
type version struct {
	service  *registry.Service // never modified once decoded; hand out copies
	clusters []string          // Nacos cluster of service.Nodes[i]
	packed   string            // packed service fields; equal strings mean equal fields
}

// withoutNodes returns an empty copy of v, to be filled with some of its nodes.
func (v *version) withoutNodes() *version {
	shallow := *v.service
	shallow.Nodes = nil
	return &version{service: &shallow, packed: v.packed}
}

// decodeInstances groups Nacos instances into one go-micro Service per version, keeping
// only instances that are healthy, enabled, have a positive weight and can be dialled. Versions and
// their nodes are sorted, so equal inputs decode equally.
func decodeInstances(name string, hosts []model.Instance) []*version {
	byVersion := map[string]*version{}
	for i := range hosts {
		h := &hosts[i]
		if !h.Healthy || !h.Enable || h.Weight <= 0 || h.Ip == "" || h.Port == 0 || h.Port > 65535 {
			continue // not to be called, or cannot be
		}
		node, ver, packed := decodeInstance(h)
		v := byVersion[ver]
		if v == nil {
			v = &version{service: &registry.Service{Name: name, Version: ver}}
			byVersion[ver] = v
		}
		v.service.Nodes = append(v.service.Nodes, node)
		v.clusters = append(v.clusters, h.ClusterName)
		// Nodes of one version may disagree while it is being redeployed; the longest
		// packed form carries the most (an over-budget node carries less).
		if len(packed) > len(v.packed) || (len(packed) == len(v.packed) && packed > v.packed) {
			v.packed = packed
		}
	}
	versions := make([]*version, 0, len(byVersion))
	for _, v := range byVersion {
		if v.packed != "" {
			if f, err := unpack(v.packed); err == nil {
				v.service.Metadata, v.service.Endpoints = f.Metadata, f.Endpoints
			}
		}
		sort.Sort(byNodeID{v})
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].service.Version < versions[j].service.Version })
	return versions
}

// decodeInstance reads one instance. Instances registered by other clients (no reserved
// keys) get their Nacos instance id as node id and the original plugin's "version" key.
func decodeInstance(h *model.Instance) (node *registry.Node, ver, packed string) {
	// Sized for what is left without the reserved keys: a map of up to 8 entries is one
	// small table, which maps.Clone copies whole (copy.go).
	node = &registry.Node{
		Address:  net.JoinHostPort(h.Ip, strconv.FormatUint(h.Port, 10)),
		Metadata: make(map[string]string, max(len(h.Metadata)-4, 0)),
	}
	id, ours := h.Metadata[keyNodeID]
	if !ours {
		node.Id, ver = h.InstanceId, h.Metadata[legacyVersion]
		if node.Id == "" {
			node.Id = node.Address
		}
	} else {
		node.Id, ver = id, h.Metadata[keyVersion]
	}
	for k, v := range h.Metadata {
		if !strings.HasPrefix(k, reservedPrefix) {
			// Under the legacy key this registry writes the version; the release before
			// wrote a node's own key there.
			if !ours || k != legacyVersion || v != ver || ver == "" {
				node.Metadata[k] = v
			}
			continue
		}
		switch rest := k[len(reservedPrefix):]; {
		case strings.HasPrefix(rest, reservedPrefix):
			node.Metadata[rest] = v
		case k == keyService:
			packed = v
		case k == keyNodeVersion:
			node.Metadata[legacyVersion] = v
		}
	}
	return node, ver, packed
}

// byNodeID sorts a version's nodes and their clusters together.
type byNodeID struct{ v *version }

func (s byNodeID) Len() int           { return len(s.v.clusters) }
func (s byNodeID) Less(i, j int) bool { return s.v.service.Nodes[i].Id < s.v.service.Nodes[j].Id }
func (s byNodeID) Swap(i, j int) {
	n, c := s.v.service.Nodes, s.v.clusters
	n[i], n[j] = n[j], n[i]
	c[i], c[j] = c[j], c[i]
}
