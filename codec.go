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

// version is one version of a service as decoded from one instance list: a go-micro
// Service shared by every reader of the list, and never modified (readers get copies),
// plus what the watchers need to compare versions cheaply.
type version struct {
	service  *registry.Service
	clusters []string      // Nacos cluster of service.Nodes[i]
	packed   string        // packed service fields; equal strings mean equal fields
	list     *instanceList // the list it was decoded from; nil if made by withoutNodes
	hostOf   []int32       // service.Nodes[i] was decoded from list.hosts[hostOf[i]]

	indexOnce sync.Once
	index     map[string]int // position in service.Nodes by node id, built when first needed
}

// instanceList is one instance list and what it decoded to.
type instanceList struct {
	hosts    []model.Instance
	versions []*version
	at       []nodeRef // where the node of hosts[i] went
}

// nodeRef is versions[v-1].service.Nodes[n] of an instanceList; v is 0 for an instance
// not served.
type nodeRef struct{ v, n int32 }

// withoutNodes returns an empty copy of v, to be filled with some of its nodes.
func (v *version) withoutNodes() *version {
	shallow := *v.service
	shallow.Nodes = nil
	return &version{service: &shallow, packed: v.packed}
}

// nodeIndex returns where each node id is in v.service.Nodes (the last, for an id that
// repeats).
func (v *version) nodeIndex() map[string]int {
	v.indexOnce.Do(func() {
		v.index = make(map[string]int, len(v.service.Nodes))
		for i, n := range v.service.Nodes {
			v.index[n.Id] = i
		}
	})
	return v.index
}

// decodedNode is a node and the instance, hosts[host], it was decoded from.
type decodedNode struct {
	node *registry.Node
	raw  *model.Instance // nil: not taken
	host int32
}

// building is a version being decoded.
type building struct {
	v     *version
	base  *version      // the same version in the previous list, if any
	slots []decodedNode // by position in base.service.Nodes: sorted by id
	extra []decodedNode // nodes not in base
}

// take notes an instance's packed fields. Nodes of one version may disagree while it is
// being redeployed; the longest packed form carries the most (an over-budget node
// carries less).
func (b *building) take(h *model.Instance) {
	if packed := h.Metadata[keyService]; len(packed) > len(b.v.packed) || (len(packed) == len(b.v.packed) && packed > b.v.packed) {
		b.v.packed = packed
	}
}

// decodeInstances groups Nacos instances into one go-micro Service per version, keeping
// only instances that are healthy, enabled, have a positive weight and can be dialled.
// Versions and their nodes are sorted, so equal inputs decode equally.
//
// base is what the previous list of the service decoded to, or nil. Nacos pushes the
// whole list on every change, and most of it is what it was, mostly in the same order: an
// instance equal to the one a node of base was decoded from gets that very node, and a
// version whose packed fields did not change gets its fields. A push then costs one
// comparison per unchanged instance, and watchers tell unchanged nodes by their pointer.
func decodeInstances(name string, hosts []model.Instance, base []*version) []*version {
	var prev *instanceList
	if len(base) > 0 && base[0].list != nil {
		prev = base[0].list
	} else {
		base = nil
	}
	list := &instanceList{hosts: hosts, at: make([]nodeRef, len(hosts))}
	byVersion := map[string]*building{}
	versionOf := func(ver string) *building {
		b := byVersion[ver]
		if b == nil {
			b = &building{v: &version{service: &registry.Service{Name: name, Version: ver}, list: list}}
			for _, v := range base {
				if v.service.Version == ver && v.list == prev {
					b.base, b.slots = v, make([]decodedNode, len(v.service.Nodes))
				}
			}
			byVersion[ver] = b
		}
		return b
	}
	var fromBase []*building // by version in prev
	if prev != nil {
		fromBase = make([]*building, len(prev.versions))
	}
	for i := range hosts {
		h := &hosts[i]
		if !h.Healthy || !h.Enable || h.Weight <= 0 || h.Ip == "" || h.Port == 0 || h.Port > 65535 {
			continue // not to be called, or cannot be
		}
		// First, the instance at the same place in the previous list: the same, or the
		// same node changed.
		var id, ver string
		if prev != nil && i < len(prev.hosts) && prev.at[i].v > 0 {
			ref := prev.at[i]
			bv := prev.versions[ref.v-1]
			same := prev.hosts[i].InstanceId == h.InstanceId && sameInstance(prev.hosts[i], *h)
			if !same {
				id, ver = nodeIdentity(h)
			}
			if same || ver == bv.service.Version && id == bv.service.Nodes[ref.n].Id {
				b := fromBase[ref.v-1]
				if b == nil {
					b = versionOf(bv.service.Version)
					fromBase[ref.v-1] = b
				}
				if b.slots[ref.n].raw == nil {
					node := bv.service.Nodes[ref.n]
					if !same {
						node = decodeInstance(h, id)
					}
					b.take(h)
					b.slots[ref.n] = decodedNode{node, h, int32(i)}
					continue
				}
			}
		}
		if id == "" {
			id, ver = nodeIdentity(h)
		}
		b := versionOf(ver)
		b.take(h)
		if b.base != nil {
			if j, ok := b.base.nodeIndex()[id]; ok && b.slots[j].raw == nil {
				node := b.base.service.Nodes[j]
				if was := &prev.hosts[b.base.hostOf[j]]; was.InstanceId != h.InstanceId || !sameInstance(*was, *h) {
					node = decodeInstance(h, id)
				}
				b.slots[j] = decodedNode{node, h, int32(i)}
				continue
			}
		}
		b.extra = append(b.extra, decodedNode{decodeInstance(h, id), h, int32(i)})
	}
	list.versions = make([]*version, 0, len(byVersion))
	for _, b := range byVersion {
		b.finish()
		list.versions = append(list.versions, b.v)
	}
	sort.Slice(list.versions, func(i, j int) bool { return list.versions[i].service.Version < list.versions[j].service.Version })
	for vi, v := range list.versions {
		for n, host := range v.hostOf {
			list.at[host] = nodeRef{int32(vi + 1), int32(n)}
		}
	}
	return list.versions
}

// finish lays out the version's nodes, sorted by id: the nodes of base in their order,
// with the new ones merged in; and sets its service fields.
func (b *building) finish() {
	v := b.v
	sort.SliceStable(b.extra, func(i, j int) bool { return b.extra[i].node.Id < b.extra[j].node.Id })
	n := len(b.extra)
	for _, s := range b.slots {
		if s.raw != nil {
			n++
		}
	}
	v.service.Nodes, v.hostOf, v.clusters = make([]*registry.Node, 0, n), make([]int32, 0, n), make([]string, 0, n)
	add := func(d decodedNode) {
		v.service.Nodes = append(v.service.Nodes, d.node)
		v.hostOf = append(v.hostOf, d.host)
		v.clusters = append(v.clusters, d.raw.ClusterName)
	}
	extra := b.extra
	for _, s := range b.slots {
		if s.raw == nil {
			continue
		}
		for len(extra) > 0 && extra[0].node.Id < s.node.Id {
			add(extra[0])
			extra = extra[1:]
		}
		add(s)
	}
	for _, d := range extra {
		add(d)
	}
	// Nodes of one id (the same node registered twice, briefly, or a foreign client's
	// choice) keep the order of the list, whatever the base.
	for i := 0; i < len(v.service.Nodes); {
		j := i + 1
		for j < len(v.service.Nodes) && v.service.Nodes[j].Id == v.service.Nodes[i].Id {
			j++
		}
		if j-i > 1 {
			sort.Sort(byHost{v, i, j})
		}
		i = j
	}
	switch {
	case b.base != nil && b.base.packed == v.packed:
		v.service.Metadata, v.service.Endpoints = b.base.service.Metadata, b.base.service.Endpoints
	case v.packed != "":
		if f, err := unpack(v.packed); err == nil {
			v.service.Metadata, v.service.Endpoints = f.Metadata, f.Endpoints
		}
	}
}

// nodeIdentity returns the node id and the version of an instance. Instances registered
// by other clients (no reserved keys) get their Nacos instance id (or address) as node id
// and the original plugin's "version" key.
func nodeIdentity(h *model.Instance) (id, ver string) {
	if id, ours := h.Metadata[keyNodeID]; ours {
		return id, h.Metadata[keyVersion]
	}
	id = h.InstanceId
	if id == "" {
		id = net.JoinHostPort(h.Ip, strconv.FormatUint(h.Port, 10))
	}
	return id, h.Metadata[legacyVersion]
}

// decodeInstance reads the node of one instance, whose id nodeIdentity found.
func decodeInstance(h *model.Instance, id string) *registry.Node {
	// Sized for what is left without the reserved keys: a map of up to 8 entries is one
	// small table, which maps.Clone copies whole (copy.go).
	node := &registry.Node{
		Id:       id,
		Address:  net.JoinHostPort(h.Ip, strconv.FormatUint(h.Port, 10)),
		Metadata: make(map[string]string, max(len(h.Metadata)-4, 0)),
	}
	_, ours := h.Metadata[keyNodeID]
	ver := h.Metadata[keyVersion]
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
		case k == keyNodeVersion:
			node.Metadata[legacyVersion] = v
		}
	}
	return node
}

// byHost sorts nodes i to j of a version by their place in the instance list.
type byHost struct {
	v    *version
	i, j int
}

func (s byHost) Len() int           { return s.j - s.i }
func (s byHost) Less(a, b int) bool { return s.v.hostOf[s.i+a] < s.v.hostOf[s.i+b] }
func (s byHost) Swap(a, b int) {
	a, b = s.i+a, s.i+b
	n, h, c := s.v.service.Nodes, s.v.hostOf, s.v.clusters
	n[a], n[b] = n[b], n[a]
	h[a], h[b] = h[b], h[a]
	c[a], c[b] = c[b], c[a]
}
