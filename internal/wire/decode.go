package wire

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// Version is one version of a service as decoded from one instance list: a Service
// shared by every reader of the list, and never modified (readers get copies), plus
// what the watchers need to compare versions cheaply.
type Version struct {
	Service *Service      // its nodes sorted by id, when decoded
	packed  string        // packed service fields; equal strings mean equal fields
	list    *instanceList // the list it was decoded from; nil if made by withoutNodes
	hostOf  []int32       // service.Nodes[i] was decoded from list.hosts[hostOf[i]]

	indexOnce sync.Once
	index     map[string]int // position in service.Nodes by node id, built when first needed
}

// instanceList is one instance list and what it decoded to.
type instanceList struct {
	hosts    []model.Instance
	versions []*Version
	at       []nodeRef // where the node of hosts[i] went
}

// nodeRef is versions[v-1].service.Nodes[n] of an instanceList; v is 0 for an instance
// not served.
type nodeRef struct{ v, n int32 }

// WithoutNodes returns an empty copy of v, to be filled with some of its nodes.
func (v *Version) WithoutNodes() *Version {
	shallow := *v.Service
	shallow.Nodes = nil
	return &Version{Service: &shallow, packed: v.packed}
}

// Decoded says whether v was decoded (not made by WithoutNodes): its nodes are sorted
// by id, and Cluster knows their clusters.
func (v *Version) Decoded() bool { return v.list != nil }

// Cluster returns the Nacos cluster of v.Service.Nodes[i], for a decoded version.
func (v *Version) Cluster(i int) string { return v.list.hosts[v.hostOf[i]].ClusterName }

// SameFields says whether v and w have the same service fields (metadata and
// endpoints), as their packed form tells.
func (v *Version) SameFields(w *Version) bool { return v.packed == w.packed }

// nodeIndex returns where each node id is in v.Service.Nodes (the last, for an id that
// repeats).
func (v *Version) nodeIndex() map[string]int {
	v.indexOnce.Do(func() {
		v.index = make(map[string]int, len(v.Service.Nodes))
		for i, n := range v.Service.Nodes {
			v.index[n.Id] = i
		}
	})
	return v.index
}

// decodedNode is a node and the place in the list of the instance it was decoded from.
type decodedNode struct {
	node *Node // nil: not taken
	host int32
}

// building is a version being decoded.
type building struct {
	v     *Version
	base  *Version      // the same version in the previous list, if any
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

// Decode groups Nacos instances into one go-micro Service per version, keeping
// only instances that are healthy, enabled, have a positive weight and can be dialled.
// Versions and their nodes are sorted, so equal inputs decode equally.
//
// base is what the previous list of the service decoded to, or nil. Nacos pushes the
// whole list on every change, and most of it is what it was, mostly in the same order: an
// instance equal to the one a node of base was decoded from gets that very node, and a
// version whose packed fields did not change gets its fields. A push then costs one
// comparison per unchanged instance, and watchers tell unchanged nodes by their pointer.
func Decode(name string, hosts []model.Instance, base []*Version) []*Version {
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
			b = &building{v: &Version{Service: &Service{Name: name, Version: ver}, list: list}}
			for _, v := range base {
				if v.Service.Version == ver && v.list == prev {
					b.base, b.slots = v, make([]decodedNode, len(v.Service.Nodes))
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
	var lastMetadata map[string]string // of the node decoded last
	decode := func(h *model.Instance, id, ver string) *Node {
		n := decodeInstance(h, id, ver, lastMetadata)
		lastMetadata = n.Metadata
		return n
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
			same := prev.hosts[i].InstanceId == h.InstanceId && SameInstance(prev.hosts[i], *h)
			if !same {
				id, ver = nodeIdentity(h)
			}
			if same || ver == bv.Service.Version && id == bv.Service.Nodes[ref.n].Id {
				b := fromBase[ref.v-1]
				if b == nil {
					b = versionOf(bv.Service.Version)
					fromBase[ref.v-1] = b
				}
				if b.slots[ref.n].node == nil {
					node := bv.Service.Nodes[ref.n]
					if !same {
						node = decode(h, id, ver)
					}
					b.take(h)
					b.slots[ref.n] = decodedNode{node, int32(i)}
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
			if j, ok := b.base.nodeIndex()[id]; ok && b.slots[j].node == nil {
				node := b.base.Service.Nodes[j]
				if was := &prev.hosts[b.base.hostOf[j]]; was.InstanceId != h.InstanceId || !SameInstance(*was, *h) {
					node = decode(h, id, ver)
				}
				b.slots[j] = decodedNode{node, int32(i)}
				continue
			}
		}
		b.extra = append(b.extra, decodedNode{decode(h, id, ver), int32(i)})
	}
	list.versions = make([]*Version, 0, len(byVersion))
	for _, b := range byVersion {
		b.finish()
		list.versions = append(list.versions, b.v)
	}
	sort.Slice(list.versions, func(i, j int) bool { return list.versions[i].Service.Version < list.versions[j].Service.Version })
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
		if s.node != nil {
			n++
		}
	}
	v.Service.Nodes, v.hostOf = make([]*Node, 0, n), make([]int32, 0, n)
	add := func(d decodedNode) {
		v.Service.Nodes = append(v.Service.Nodes, d.node)
		v.hostOf = append(v.hostOf, d.host)
	}
	extra := b.extra
	for _, s := range b.slots {
		if s.node == nil {
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
	for i := 0; i < len(v.Service.Nodes); {
		j := i + 1
		for j < len(v.Service.Nodes) && v.Service.Nodes[j].Id == v.Service.Nodes[i].Id {
			j++
		}
		if j-i > 1 {
			sort.Sort(byHost{v, i, j})
		}
		i = j
	}
	switch {
	case b.base != nil && b.base.packed == v.packed:
		v.Service.Metadata, v.Service.Endpoints = b.base.Service.Metadata, b.base.Service.Endpoints
	case v.packed != "":
		if f, err := unpack(v.packed); err == nil {
			v.Service.Metadata, v.Service.Endpoints = f.Metadata, f.Endpoints
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

// decodeInstance reads the node of one instance, whose id and version nodeIdentity found.
// Its metadata is like, the very map, if they are equal: the nodes of a service mostly
// have the same metadata, and decoded maps are never modified (readers get copies).
func decodeInstance(h *model.Instance, id, ver string, like map[string]string) *Node {
	node := &Node{Id: id, Address: net.JoinHostPort(h.Ip, strconv.FormatUint(h.Port, 10))}
	_, ours := h.Metadata[keyNodeID]
	if like != nil {
		n := 0
		for k, v := range h.Metadata {
			if key, own := nodeMetadataKey(k, v, ver, ours); own {
				if w, ok := like[key]; !ok || w != v {
					n = -1
					break
				}
				n++
			}
		}
		if n == len(like) {
			node.Metadata = like
			return node
		}
	}
	// Sized for what is left without the reserved keys: a map of up to 8 entries is one
	// small table, which maps.Clone copies whole (copy.go).
	node.Metadata = make(map[string]string, max(len(h.Metadata)-4, 0))
	for k, v := range h.Metadata {
		if key, own := nodeMetadataKey(k, v, ver, ours); own {
			node.Metadata[key] = v
		}
	}
	return node
}

// nodeMetadataKey says whether an instance's metadata entry k=v is node metadata, and
// under which key, for an instance of the version ver, registered by this registry
// (ours) or another client.
func nodeMetadataKey(k, v, ver string, ours bool) (key string, own bool) {
	if !strings.HasPrefix(k, reservedPrefix) {
		// Under the legacy key this registry writes the version; the first release
		// wrote a node's own key there.
		return k, !ours || k != legacyVersion || v != ver || ver == ""
	}
	switch rest := k[len(reservedPrefix):]; {
	case strings.HasPrefix(rest, reservedPrefix):
		return rest, true
	case k == keyNodeVersion:
		return legacyVersion, true
	}
	return "", false
}

// byHost sorts nodes i to j of a version by their place in the instance list.
type byHost struct {
	v    *Version
	i, j int
}

func (s byHost) Len() int           { return s.j - s.i }
func (s byHost) Less(a, b int) bool { return s.v.hostOf[s.i+a] < s.v.hostOf[s.i+b] }
func (s byHost) Swap(a, b int) {
	a, b = s.i+a, s.i+b
	n, h := s.v.Service.Nodes, s.v.hostOf
	n[a], n[b] = n[b], n[a]
	h[a], h[b] = h[b], h[a]
}
