package wire

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// greeterService looks like what go-micro's RPC server registers (see the contract doc):
// an IPv6 address, nil service metadata, a subscriber endpoint without a response.
func greeterService(endpoints int) *Service {
	s := &Service{
		Name:    "greeter",
		Version: "1.0.0",
		Nodes: []*Node{{
			Id:      "greeter-314f0c6e-3c1b-4c3b-9a55-5f8d7c2a1e90",
			Address: "[fd00::2]:45393",
			Metadata: map[string]string{
				"broker": "http", "protocol": "mucp", "registry": "nacos", "server": "mucp", "transport": "http",
			},
		}},
	}
	for i := 0; i < endpoints; i++ {
		s.Endpoints = append(s.Endpoints, &Endpoint{
			Name: fmt.Sprintf("Greeter.Method%d", i),
			Request: &Value{Name: "Request", Type: "Request", Values: []*Value{
				{Name: "name", Type: "string"}, {Name: "count", Type: "int32"},
			}},
			Response: &Value{Name: "Response", Type: "Response", Values: []*Value{
				{Name: "msg", Type: "string"},
			}},
			Metadata: map[string]string{},
		})
	}
	s.Endpoints = append(s.Endpoints, &Endpoint{
		Name:     "Func",
		Request:  &Value{Name: "Event", Type: "Event"},
		Metadata: map[string]string{"subscriber": "true", "topic": "topic.a"},
	})
	return s
}

func randomText(n int) string {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.Intn(26))
	}
	return string(b)
}

// roundTrip encodes s as the registry would and decodes it as Nacos would hand it back.
func roundTrip(t testing.TB, s *Service, budget int) ([]*Service, string) {
	t.Helper()
	nodes, dropped, err := Encode(s, InstanceFields{Weight: 1}, budget)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	hosts := make([]model.Instance, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.Instance
		if got := MetadataLen(n.Instance.Metadata); got > budget {
			t.Fatalf("node %q uses %d metadata characters, over %d", n.Key.ID, got, budget)
		}
	}
	var out []*Service
	for _, v := range Decode(s.Name, hosts, nil) {
		out = append(out, v.Service)
	}
	return out, dropped
}

func TestCodecRoundTrip(t *testing.T) {
	in := greeterService(3)
	in.Metadata = map[string]string{"team": "core"}
	got, dropped := roundTrip(t, in, MetadataLimit)
	if dropped != "" {
		t.Fatalf("dropped %s", dropped)
	}
	if len(got) != 1 {
		t.Fatalf("got %d services, want 1", len(got))
	}
	if !reflect.DeepEqual(got[0], in) {
		t.Fatalf("round trip changed the service:\n got %+v\nwant %+v", got[0], in)
	}
}

func TestCodecDoesNotModifyCaller(t *testing.T) {
	in := greeterService(1)
	in.Nodes = append(in.Nodes, &Node{Id: "b", Address: "10.0.0.1:1"}) // nil metadata
	before := cloneService(t, in)
	if _, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) || in.Nodes[1].Metadata != nil {
		t.Fatalf("encode modified the caller's service")
	}
}

func TestCodecOverBudgetDropsEndpointsFirst(t *testing.T) {
	in := greeterService(3)
	in.Endpoints[0].Metadata["doc"] = randomText(3000) // does not compress below the budget
	in.Metadata = map[string]string{"team": "core"}
	got, dropped := roundTrip(t, in, MetadataLimit)
	if dropped != "endpoints" {
		t.Fatalf("dropped %q, want endpoints", dropped)
	}
	if got[0].Endpoints != nil || !reflect.DeepEqual(got[0].Metadata, in.Metadata) {
		t.Fatalf("want service metadata kept and endpoints dropped, got %+v %+v", got[0].Metadata, got[0].Endpoints)
	}
	if !reflect.DeepEqual(got[0].Nodes, in.Nodes) {
		t.Fatalf("nodes changed: %+v", got[0].Nodes)
	}

	in.Metadata = map[string]string{"doc": randomText(3000)}
	if _, dropped = roundTrip(t, in, MetadataLimit); dropped != "endpoints and service metadata" {
		t.Fatalf("dropped %q", dropped)
	}
}

func TestCodecTwentyEndpointsFitTheDefaultBudget(t *testing.T) {
	got, dropped := roundTrip(t, greeterService(20), MetadataLimit)
	if dropped != "" || len(got[0].Endpoints) != 21 {
		t.Fatalf("dropped %q, %d endpoints", dropped, len(got[0].Endpoints))
	}
}

func TestCodecRefusesOversizedNodeMetadata(t *testing.T) {
	in := greeterService(0)
	in.Nodes[0].Metadata["blob"] = strings.Repeat("x", 1000)
	_, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit)
	if err == nil || !strings.Contains(err.Error(), "budget of 1024") {
		t.Fatalf("want an over-budget error, got %v", err)
	}
}

// Nacos counts metadata in Java characters (UTF-16 units), not bytes.
func TestCodecCountsMetadataAsNacosDoes(t *testing.T) {
	in := &Service{Name: "s", Nodes: []*Node{{Id: "n", Address: "1.2.3.4:80",
		Metadata: map[string]string{"😀": strings.Repeat("é", 1013)}}}} // 2+1013+len("micro.id")+1 = 1024
	if _, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit); err != nil {
		t.Fatalf("1024 characters (2030 bytes) must fit: %v", err)
	}
}

func TestCodecReservedKeysDoNotCollide(t *testing.T) {
	in := &Service{Name: "s", Version: "v", Nodes: []*Node{{
		Id: "real", Address: "1.2.3.4:5",
		Metadata: map[string]string{keyNodeID: "fake", keyVersion: "fake", "micro.micro.x": "y", "micro.": "z"},
	}}}
	got, _ := roundTrip(t, in, MetadataLimit)
	if got[0].Nodes[0].Id != "real" || got[0].Version != "v" || !reflect.DeepEqual(got[0].Nodes[0].Metadata, in.Nodes[0].Metadata) {
		t.Fatalf("got %+v %+v", got[0], got[0].Nodes[0])
	}
}

// Readers still on the original community plugin take the version from the metadata
// key "version"; a node's own key of that name still comes back as it was.
func TestCodecWritesTheOriginalPluginsVersionKey(t *testing.T) {
	in := greeterService(1)
	nodes, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit)
	if err != nil {
		t.Fatal(err)
	}
	if v := nodes[0].Instance.Metadata["version"]; v != in.Version {
		t.Fatalf("the original plugin's key holds %q, want %q", v, in.Version)
	}
	if v := nodes[0].Instance.Metadata[keyVersion]; v != in.Version {
		t.Fatalf("%s, where earlier releases read the version, holds %q, want %q", keyVersion, v, in.Version)
	}
	got, _ := roundTrip(t, in, MetadataLimit)
	if _, ok := got[0].Nodes[0].Metadata["version"]; ok {
		t.Fatalf("the version key came back as node metadata: %v", got[0].Nodes[0].Metadata)
	}

	in.Nodes[0].Metadata["version"] = "node's own"
	nodes, _, _ = Encode(in, InstanceFields{Weight: 1}, MetadataLimit)
	if v := nodes[0].Instance.Metadata["version"]; v != in.Version {
		t.Fatalf("the original plugin's key holds %q, want %q", v, in.Version)
	}
	if got, _ = roundTrip(t, in, MetadataLimit); !reflect.DeepEqual(got[0], in) {
		t.Fatalf("round trip changed the service:\n got %+v\nwant %+v", got[0].Nodes[0], in.Nodes[0])
	}

	// The first release wrote a node's own "version" key as it was.
	old := nodes[0].Instance
	old.Metadata = maps.Clone(old.Metadata)
	old.Metadata[keyVersion] = in.Version
	old.Metadata["version"] = "node's own"
	delete(old.Metadata, keyNodeVersion)
	if got := Decode("greeter", []model.Instance{old}, nil); got[0].Service.Nodes[0].Metadata["version"] != "node's own" {
		t.Fatalf("a node's own version key written by the previous release was lost: %v", got[0].Service.Nodes[0].Metadata)
	}
}

// What a register_instance_param can set beyond the options: the address of every node,
// and its health and enabled flags.
func TestCodecInstanceFieldsFromParams(t *testing.T) {
	in := greeterService(0)
	nodes, _, err := Encode(in, InstanceFields{Weight: 2, IP: "10.9.8.7", Port: 7000, Disabled: true, Unwell: true, Cluster: "east"}, MetadataLimit)
	if err != nil {
		t.Fatal(err)
	}
	got := nodes[0].Instance
	if got.Ip != "10.9.8.7" || got.Port != 7000 || got.Enable || got.Healthy || !got.Ephemeral || got.Weight != 2 || got.ClusterName != "east" {
		t.Fatalf("got %+v", got)
	}
	if decoded := Decode("greeter", []model.Instance{got}, nil); len(decoded) != 0 {
		t.Fatalf("a disabled, unhealthy instance must not be served: %+v", decoded[0].Service)
	}
	nodes, _, _ = Encode(in, InstanceFields{Weight: 1, Port: 7000}, MetadataLimit)
	if got := nodes[0].Instance; got.Ip != "fd00::2" || got.Port != 7000 || !got.Enable || !got.Healthy {
		t.Fatalf("only the port was to change: %+v", got)
	}
}

func TestCodecGroupsByVersionAndKeepsSharedAddresses(t *testing.T) {
	// The HTTP broker registers several nodes with one address, across versions.
	var hosts []model.Instance
	for _, n := range []struct{ version, id string }{{"ff.http.broadcast", "t1"}, {"q1", "t2"}, {"q1", "t3"}} {
		s := &Service{Name: "micro.http.broker", Version: n.version, Nodes: []*Node{{
			Id: n.id, Address: "127.0.0.1:38187", Metadata: map[string]string{"broker": "http", "topic": n.id},
		}}}
		nodes, _, err := Encode(s, InstanceFields{Weight: 1}, MetadataLimit)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, nodes[0].Instance)
	}
	versions := Decode("micro.http.broker", hosts, nil)
	if len(versions) != 2 || versions[0].Service.Version != "ff.http.broadcast" || len(versions[1].Service.Nodes) != 2 {
		t.Fatalf("got %d versions", len(versions))
	}
	if versions[1].Service.Nodes[0].Id != "t2" || versions[1].Service.Nodes[1].Id != "t3" {
		t.Fatalf("nodes not sorted by id")
	}
}

func TestCodecForeignAndUnusableInstances(t *testing.T) {
	hosts := []model.Instance{
		{InstanceId: "10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@legacy", Ip: "10.0.0.1", Port: 80, Weight: 1, Healthy: true, Enable: true,
			Metadata: map[string]string{"version": "old", "protocol": "mucp"}},
		{Ip: "10.0.0.2", Port: 80, Weight: 1, Healthy: false, Enable: true},
		{Ip: "10.0.0.3", Port: 80, Weight: 1, Healthy: true, Enable: false},
		{Ip: "10.0.0.4", Port: 80, Weight: 0, Healthy: true, Enable: true},
		{Ip: "10.0.0.5", Port: 80, Weight: 1, Healthy: true, Enable: true, Metadata: map[string]string{keyNodeID: "n", keyService: "zgarbage"}},
	}
	versions := Decode("legacy", hosts, nil)
	if len(versions) != 2 {
		t.Fatalf("got %d versions, want 2", len(versions))
	}
	if n := versions[1].Service.Nodes[0]; versions[1].Service.Version != "old" || n.Id != hosts[0].InstanceId || n.Address != "10.0.0.1:80" {
		t.Fatalf("foreign instance decoded as %+v", n)
	}
	if v := versions[0].Service; v.Nodes[0].Id != "n" || v.Endpoints != nil {
		t.Fatalf("garbled packed fields must be ignored, got %+v", v)
	}
}

func TestCodecBadInput(t *testing.T) {
	ok := func() *Service {
		return &Service{Name: "s", Nodes: []*Node{{Id: "n", Address: "1.2.3.4:80"}}}
	}
	cases := map[string]func(*Service) *Service{
		"nil service":     func(*Service) *Service { return nil },
		"empty name":      func(s *Service) *Service { s.Name = ""; return s },
		"name with space": func(s *Service) *Service { s.Name = "a b"; return s },
		"name with @@":    func(s *Service) *Service { s.Name = "a@@b"; return s },
		"leading @":       func(s *Service) *Service { s.Name = "@a"; return s },
		"CJK name":        func(s *Service) *Service { s.Name = "服务"; return s },
		"long name":       func(s *Service) *Service { s.Name = strings.Repeat("a", 513); return s },
		"no nodes":        func(s *Service) *Service { s.Nodes = nil; return s },
		"nil node":        func(s *Service) *Service { s.Nodes[0] = nil; return s },
		"node without id": func(s *Service) *Service { s.Nodes[0].Id = ""; return s },
		"duplicate id":    func(s *Service) *Service { s.Nodes = append(s.Nodes, s.Nodes[0]); return s },
		"no port":         func(s *Service) *Service { s.Nodes[0].Address = "1.2.3.4"; return s },
		"bad port":        func(s *Service) *Service { s.Nodes[0].Address = "1.2.3.4:http"; return s },
		"port too large":  func(s *Service) *Service { s.Nodes[0].Address = "1.2.3.4:65536"; return s },
		"negative port":   func(s *Service) *Service { s.Nodes[0].Address = "1.2.3.4:-1"; return s },
		"empty host":      func(s *Service) *Service { s.Nodes[0].Address = ":80"; return s },
		"empty address":   func(s *Service) *Service { s.Nodes[0].Address = ""; return s },
		"CJK host":        func(s *Service) *Service { s.Nodes[0].Address = "主机:80"; return s },
		"oversized node": func(s *Service) *Service {
			s.Nodes[0].Metadata = map[string]string{"k": strings.Repeat("v", 1100)}
			return s
		},
		"long unicode key": func(s *Service) *Service {
			s.Nodes[0].Metadata = map[string]string{"😀": strings.Repeat("é", 1014)}
			return s
		},
	}
	if _, _, err := Encode(ok(), InstanceFields{Weight: 1}, MetadataLimit); err != nil {
		t.Fatalf("the valid service was refused: %v", err)
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := Encode(mutate(ok()), InstanceFields{Weight: 1}, MetadataLimit)
			if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
				t.Fatalf("want a nacos: error, got %v", err)
			}
		})
	}
}

// legacyInstance is a node of greeterService(1), with service metadata {"team": "core"},
// as the first release wrote it: micro.service in the 'z' form.
var legacyInstance = map[string]string{"broker": "http", "micro.id": "greeter-314f0c6e-3c1b-4c3b-9a55-5f8d7c2a1e90",
	"micro.service": "z輼恪溂湬鷊撥揑챳斥態眥\uab2f桩蔧庞翀썮阪伛踐踊羞剒偎烒潹涚私斠弅蛠叁遈甁烸故襳鋫恃噰ꆭꡗ鑚뤇坪笗먁媋쌮霹빠镅咙灸똓瓵坊鸤漡一嗿쨀",
	"micro.version": "1.0.0", "protocol": "mucp", "registry": "nacos", "server": "mucp", "transport": "http"}

// Instances the first release registered still decode, so that readers can be upgraded
// before or after the writers.
func TestCodecDecodesTheFirstReleasesForm(t *testing.T) {
	want := greeterService(1)
	want.Metadata = map[string]string{"team": "core"}
	h := model.Instance{Ip: "fd00::2", Port: 45393, Weight: 1, Healthy: true, Enable: true, Metadata: legacyInstance}
	got := Decode("greeter", []model.Instance{h}, nil)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Service, want) {
		t.Fatalf("got %+v\nwant %+v", got[0].Service, want)
	}
}

// The packed form is ASCII and decodes with base64 and gunzip, as docs/wire-format.md says.
func TestCodecPackedFormDecodesByHand(t *testing.T) {
	in := greeterService(2)
	in.Metadata = map[string]string{"team": "core"}
	nodes, _, err := Encode(in, InstanceFields{Weight: 1}, MetadataLimit)
	if err != nil {
		t.Fatal(err)
	}
	packed := nodes[0].Instance.Metadata[keyService]
	if !strings.HasPrefix(packed, "gz:") || strings.Trim(packed[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
		t.Fatalf("packed form is not gz: and base64: %q", packed)
	}
	want, _ := json.Marshal(serviceFields{in.Metadata, in.Endpoints})
	for _, tool := range []string{"sh", "cut", "base64", "gunzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here to run docs/wire-format.md's line", tool)
		}
	}
	cmd := exec.Command("sh", "-c", `printf %s "$PACKED" | cut -c4- | base64 -d | gunzip`)
	cmd.Env = append(os.Environ(), "PACKED="+packed)
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != string(want) {
		t.Fatalf("the shell line gave %v:\n%s\nwant\n%s", err, out, want)
	}
}

// Whatever Nacos hands back under micro.service, decoding neither panics nor fails the
// node: a bad packed value only loses the endpoints.
func FuzzCodecUnpack(f *testing.F) {
	for _, n := range []int{0, 1, 5} {
		nodes, _, _ := Encode(greeterService(n), InstanceFields{Weight: 1}, MetadataLimit)
		f.Add(nodes[0].Instance.Metadata[keyService])
	}
	f.Add(legacyInstance[keyService])
	f.Add("gz:")
	f.Add("z")
	f.Fuzz(func(t *testing.T, packed string) {
		h := model.Instance{Ip: "10.0.0.1", Port: 1, Weight: 1, Healthy: true, Enable: true,
			Metadata: map[string]string{keyNodeID: "n", keyService: packed}}
		got := Decode("s", []model.Instance{h}, nil)
		if len(got) != 1 || len(got[0].Service.Nodes) != 1 {
			t.Fatalf("the node was lost: %+v", got)
		}
		if f, err := unpack(packed); err == nil && !reflect.DeepEqual(f.Endpoints, got[0].Service.Endpoints) {
			t.Fatalf("decoded endpoints differ from unpack's")
		}
	})
}

func BenchmarkCodec20Endpoints(b *testing.B) {
	s := greeterService(20)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := Encode(s, InstanceFields{Weight: 1}, MetadataLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	nodes, _, _ := Encode(s, InstanceFields{Weight: 1}, MetadataLimit)
	hosts := []model.Instance{nodes[0].Instance}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if len(Decode(s.Name, hosts, nil)[0].Service.Endpoints) != 21 {
				b.Fatal("endpoints lost")
			}
		}
	})
}

// pack remembers what it packed, and must never hand out the packed form of other
// fields: fields changed in place, or differing only in nil against empty.
func TestPackRemembersOnlyEqualFields(t *testing.T) {
	s := greeterService(3)
	unpacked := func(p string) serviceFields {
		t.Helper()
		f, err := unpack(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := pack(serviceFields{nil, s.Endpoints})
	if again := pack(serviceFields{nil, cloneService(t, s).Endpoints}); again != first {
		t.Fatal("equal fields packed differently")
	}
	s.Endpoints[1].Request.Values[0].Type = "int64" // in place, as a careless caller might
	if got := unpacked(pack(serviceFields{nil, s.Endpoints})); !reflect.DeepEqual(got.Endpoints, s.Endpoints) {
		t.Fatalf("a change in place was not packed: %+v", got.Endpoints[1].Request.Values[0])
	}
	s.Endpoints[0].Metadata = nil // marshals as null, not {}
	if got := unpacked(pack(serviceFields{nil, s.Endpoints})); got.Endpoints[0].Metadata != nil {
		t.Fatal("nil endpoint metadata came back as the remembered empty map")
	}
}

// cloneService is a deep copy of s.
func cloneService(t testing.TB, s *Service) *Service {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c Service
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}
