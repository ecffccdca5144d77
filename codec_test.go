package nacos

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

	"github.com/asim/go-micro/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// greeterService looks like what go-micro's RPC server registers (see the contract doc):
// an IPv6 address, nil service metadata, a subscriber endpoint without a response.
func greeterService(endpoints int) *registry.Service {
	s := &registry.Service{
		Name:    "greeter",
		Version: "1.0.0",
		Nodes: []*registry.Node{{
			Id:      "greeter-314f0c6e-3c1b-4c3b-9a55-5f8d7c2a1e90",
			Address: "[fd00::2]:45393",
			Metadata: map[string]string{
				"broker": "http", "protocol": "mucp", "registry": "nacos", "server": "mucp", "transport": "http",
			},
		}},
	}
	for i := 0; i < endpoints; i++ {
		s.Endpoints = append(s.Endpoints, &registry.Endpoint{
			Name: fmt.Sprintf("Greeter.Method%d", i),
			Request: &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{
				{Name: "name", Type: "string"}, {Name: "count", Type: "int32"},
			}},
			Response: &registry.Value{Name: "Response", Type: "Response", Values: []*registry.Value{
				{Name: "msg", Type: "string"},
			}},
			Metadata: map[string]string{},
		})
	}
	s.Endpoints = append(s.Endpoints, &registry.Endpoint{
		Name:     "Func",
		Request:  &registry.Value{Name: "Event", Type: "Event"},
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
func roundTrip(t testing.TB, s *registry.Service, budget int) ([]*registry.Service, string) {
	t.Helper()
	nodes, dropped, err := encodeService(s, instanceFields{weight: 1}, budget)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	hosts := make([]model.Instance, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.instance
		if got := metadataLen(n.instance.Metadata); got > budget {
			t.Fatalf("node %q uses %d metadata characters, over %d", n.key.id, got, budget)
		}
	}
	var out []*registry.Service
	for _, v := range decodeInstances(s.Name, hosts, nil) {
		out = append(out, v.service)
	}
	return out, dropped
}

func TestCodecRoundTrip(t *testing.T) {
	in := greeterService(3)
	in.Metadata = map[string]string{"team": "core"}
	got, dropped := roundTrip(t, in, DefaultMetadataBudget)
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
	in.Nodes = append(in.Nodes, &registry.Node{Id: "b", Address: "10.0.0.1:1"}) // nil metadata
	before := copyService(in, true)
	if _, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget); err != nil {
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
	got, dropped := roundTrip(t, in, DefaultMetadataBudget)
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
	if _, dropped = roundTrip(t, in, DefaultMetadataBudget); dropped != "endpoints and service metadata" {
		t.Fatalf("dropped %q", dropped)
	}
}

func TestCodecTwentyEndpointsFitTheDefaultBudget(t *testing.T) {
	got, dropped := roundTrip(t, greeterService(20), DefaultMetadataBudget)
	if dropped != "" || len(got[0].Endpoints) != 21 {
		t.Fatalf("dropped %q, %d endpoints", dropped, len(got[0].Endpoints))
	}
}

func TestCodecRefusesOversizedNodeMetadata(t *testing.T) {
	in := greeterService(0)
	in.Nodes[0].Metadata["blob"] = strings.Repeat("x", 1000)
	_, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget)
	if err == nil || !strings.Contains(err.Error(), "budget of 1024") {
		t.Fatalf("want an over-budget error, got %v", err)
	}
}

// Nacos counts metadata in Java characters (UTF-16 units), not bytes.
func TestCodecCountsMetadataAsNacosDoes(t *testing.T) {
	in := &registry.Service{Name: "s", Nodes: []*registry.Node{{Id: "n", Address: "1.2.3.4:80",
		Metadata: map[string]string{"😀": strings.Repeat("é", 1013)}}}} // 2+1013+len("micro.id")+1 = 1024
	if _, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget); err != nil {
		t.Fatalf("1024 characters (2030 bytes) must fit: %v", err)
	}
}

func TestCodecReservedKeysDoNotCollide(t *testing.T) {
	in := &registry.Service{Name: "s", Version: "v", Nodes: []*registry.Node{{
		Id: "real", Address: "1.2.3.4:5",
		Metadata: map[string]string{keyNodeID: "fake", keyVersion: "fake", "micro.micro.x": "y", "micro.": "z"},
	}}}
	got, _ := roundTrip(t, in, DefaultMetadataBudget)
	if got[0].Nodes[0].Id != "real" || got[0].Version != "v" || !reflect.DeepEqual(got[0].Nodes[0].Metadata, in.Nodes[0].Metadata) {
		t.Fatalf("got %+v %+v", got[0], got[0].Nodes[0])
	}
}

// Readers still on the original community plugin take the version from the metadata
// key "version"; a node's own key of that name still comes back as it was.
func TestCodecWritesTheOriginalPluginsVersionKey(t *testing.T) {
	in := greeterService(1)
	nodes, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget)
	if err != nil {
		t.Fatal(err)
	}
	if v := nodes[0].instance.Metadata["version"]; v != in.Version {
		t.Fatalf("the original plugin's key holds %q, want %q", v, in.Version)
	}
	if v := nodes[0].instance.Metadata[keyVersion]; v != in.Version {
		t.Fatalf("%s, where earlier releases read the version, holds %q, want %q", keyVersion, v, in.Version)
	}
	got, _ := roundTrip(t, in, DefaultMetadataBudget)
	if _, ok := got[0].Nodes[0].Metadata["version"]; ok {
		t.Fatalf("the version key came back as node metadata: %v", got[0].Nodes[0].Metadata)
	}

	in.Nodes[0].Metadata["version"] = "node's own"
	nodes, _, _ = encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget)
	if v := nodes[0].instance.Metadata["version"]; v != in.Version {
		t.Fatalf("the original plugin's key holds %q, want %q", v, in.Version)
	}
	if got, _ = roundTrip(t, in, DefaultMetadataBudget); !reflect.DeepEqual(got[0], in) {
		t.Fatalf("round trip changed the service:\n got %+v\nwant %+v", got[0].Nodes[0], in.Nodes[0])
	}

	// The first release wrote a node's own "version" key as it was.
	old := nodes[0].instance
	old.Metadata = maps.Clone(old.Metadata)
	old.Metadata[keyVersion] = in.Version
	old.Metadata["version"] = "node's own"
	delete(old.Metadata, keyNodeVersion)
	if got := decodeInstances("greeter", []model.Instance{old}, nil); got[0].service.Nodes[0].Metadata["version"] != "node's own" {
		t.Fatalf("a node's own version key written by the previous release was lost: %v", got[0].service.Nodes[0].Metadata)
	}
}

// What a register_instance_param can set beyond the options: the address of every node,
// and its health and enabled flags.
func TestCodecInstanceFieldsFromParams(t *testing.T) {
	in := greeterService(0)
	nodes, _, err := encodeService(in, instanceFields{weight: 2, ip: "10.9.8.7", port: 7000, disabled: true, unwell: true, cluster: "east"}, DefaultMetadataBudget)
	if err != nil {
		t.Fatal(err)
	}
	got := nodes[0].instance
	if got.Ip != "10.9.8.7" || got.Port != 7000 || got.Enable || got.Healthy || !got.Ephemeral || got.Weight != 2 || got.ClusterName != "east" {
		t.Fatalf("got %+v", got)
	}
	if decoded := decodeInstances("greeter", []model.Instance{got}, nil); len(decoded) != 0 {
		t.Fatalf("a disabled, unhealthy instance must not be served: %+v", decoded[0].service)
	}
	nodes, _, _ = encodeService(in, instanceFields{weight: 1, port: 7000}, DefaultMetadataBudget)
	if got := nodes[0].instance; got.Ip != "fd00::2" || got.Port != 7000 || !got.Enable || !got.Healthy {
		t.Fatalf("only the port was to change: %+v", got)
	}
}

func TestCodecGroupsByVersionAndKeepsSharedAddresses(t *testing.T) {
	// The HTTP broker registers several nodes with one address, across versions.
	var hosts []model.Instance
	for _, n := range []struct{ version, id string }{{"ff.http.broadcast", "t1"}, {"q1", "t2"}, {"q1", "t3"}} {
		s := &registry.Service{Name: "micro.http.broker", Version: n.version, Nodes: []*registry.Node{{
			Id: n.id, Address: "127.0.0.1:38187", Metadata: map[string]string{"broker": "http", "topic": n.id},
		}}}
		nodes, _, err := encodeService(s, instanceFields{weight: 1}, DefaultMetadataBudget)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, nodes[0].instance)
	}
	versions := decodeInstances("micro.http.broker", hosts, nil)
	if len(versions) != 2 || versions[0].service.Version != "ff.http.broadcast" || len(versions[1].service.Nodes) != 2 {
		t.Fatalf("got %d versions", len(versions))
	}
	if versions[1].service.Nodes[0].Id != "t2" || versions[1].service.Nodes[1].Id != "t3" {
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
	versions := decodeInstances("legacy", hosts, nil)
	if len(versions) != 2 {
		t.Fatalf("got %d versions, want 2", len(versions))
	}
	if n := versions[1].service.Nodes[0]; versions[1].service.Version != "old" || n.Id != hosts[0].InstanceId || n.Address != "10.0.0.1:80" {
		t.Fatalf("foreign instance decoded as %+v", n)
	}
	if v := versions[0].service; v.Nodes[0].Id != "n" || v.Endpoints != nil {
		t.Fatalf("garbled packed fields must be ignored, got %+v", v)
	}
}

func TestCodecBadInput(t *testing.T) {
	ok := func() *registry.Service {
		return &registry.Service{Name: "s", Nodes: []*registry.Node{{Id: "n", Address: "1.2.3.4:80"}}}
	}
	cases := map[string]func(*registry.Service) *registry.Service{
		"nil service":     func(*registry.Service) *registry.Service { return nil },
		"empty name":      func(s *registry.Service) *registry.Service { s.Name = ""; return s },
		"name with space": func(s *registry.Service) *registry.Service { s.Name = "a b"; return s },
		"name with @@":    func(s *registry.Service) *registry.Service { s.Name = "a@@b"; return s },
		"leading @":       func(s *registry.Service) *registry.Service { s.Name = "@a"; return s },
		"CJK name":        func(s *registry.Service) *registry.Service { s.Name = "服务"; return s },
		"long name":       func(s *registry.Service) *registry.Service { s.Name = strings.Repeat("a", 513); return s },
		"no nodes":        func(s *registry.Service) *registry.Service { s.Nodes = nil; return s },
		"nil node":        func(s *registry.Service) *registry.Service { s.Nodes[0] = nil; return s },
		"node without id": func(s *registry.Service) *registry.Service { s.Nodes[0].Id = ""; return s },
		"duplicate id":    func(s *registry.Service) *registry.Service { s.Nodes = append(s.Nodes, s.Nodes[0]); return s },
		"no port":         func(s *registry.Service) *registry.Service { s.Nodes[0].Address = "1.2.3.4"; return s },
		"bad port":        func(s *registry.Service) *registry.Service { s.Nodes[0].Address = "1.2.3.4:http"; return s },
		"port too large":  func(s *registry.Service) *registry.Service { s.Nodes[0].Address = "1.2.3.4:65536"; return s },
		"negative port":   func(s *registry.Service) *registry.Service { s.Nodes[0].Address = "1.2.3.4:-1"; return s },
		"empty host":      func(s *registry.Service) *registry.Service { s.Nodes[0].Address = ":80"; return s },
		"empty address":   func(s *registry.Service) *registry.Service { s.Nodes[0].Address = ""; return s },
		"CJK host":        func(s *registry.Service) *registry.Service { s.Nodes[0].Address = "主机:80"; return s },
		"oversized node": func(s *registry.Service) *registry.Service {
			s.Nodes[0].Metadata = map[string]string{"k": strings.Repeat("v", 1100)}
			return s
		},
		"long unicode key": func(s *registry.Service) *registry.Service {
			s.Nodes[0].Metadata = map[string]string{"😀": strings.Repeat("é", 1014)}
			return s
		},
	}
	if _, _, err := encodeService(ok(), instanceFields{weight: 1}, DefaultMetadataBudget); err != nil {
		t.Fatalf("the valid service was refused: %v", err)
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := encodeService(mutate(ok()), instanceFields{weight: 1}, DefaultMetadataBudget)
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

// legacyCatalog is typicalEndpoints(t, 2) in the first release's 'z' form.
const legacyCatalog = "z쑋慛왆仈藾郓땝즔陀啄敩輻惔謚睰료ꤵ淟魂誅谞暫坊甔놇뾯揵ꗏ꯫愁澥죺ꥧ傼縷\ua8dc몀紩\ua95b鄹촠髕佚릆儃鸄갴녳筥免ꄉ빖晭擉Ꞿꏂ瀇鬉엔쓐箪髲帼떫愁糔幆盔봡묗褴꺨뇀쥏鷚櫶绚ꍙ꧴롗駓닶곧筚哪鹴兪毿磩똉냴ꚠ硊淿絯딮頣挈넷냋峄쩏쁷螑젔뗁惗捺郩ꛝꂜ붦縨쵛羃쥱矞襨趏윙星쟥\ua83b螵貎声喝壞袜鍢駻瓻栮셀鿴仑듂뛝괖쏧쓄걏뮚怸긇놇鄝渔\uaac9涋堸庼ꖿ亀丟췰"

// Instances the first release registered still decode, so that readers can be upgraded
// before or after the writers.
func TestCodecDecodesTheFirstReleasesForm(t *testing.T) {
	want := greeterService(1)
	want.Metadata = map[string]string{"team": "core"}
	h := model.Instance{Ip: "fd00::2", Port: 45393, Weight: 1, Healthy: true, Enable: true, Metadata: legacyInstance}
	got := decodeInstances("greeter", []model.Instance{h}, nil)
	if len(got) != 1 || !reflect.DeepEqual(got[0].service, want) {
		t.Fatalf("got %+v\nwant %+v", got[0].service, want)
	}
	f, err := unpack(legacyCatalog)
	if err != nil || !reflect.DeepEqual(f.Endpoints, typicalEndpoints(t, 2)) {
		t.Fatalf("catalog endpoints: %v, %+v", err, f.Endpoints)
	}
}

// The packed form is ASCII and decodes with base64 and gunzip, as the README says.
func TestCodecPackedFormDecodesByHand(t *testing.T) {
	in := greeterService(2)
	in.Metadata = map[string]string{"team": "core"}
	nodes, _, err := encodeService(in, instanceFields{weight: 1}, DefaultMetadataBudget)
	if err != nil {
		t.Fatal(err)
	}
	packed := nodes[0].instance.Metadata[keyService]
	if !strings.HasPrefix(packed, "gz:") || strings.Trim(packed[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
		t.Fatalf("packed form is not gz: and base64: %q", packed)
	}
	want, _ := json.Marshal(serviceFields{in.Metadata, in.Endpoints})
	for _, tool := range []string{"sh", "cut", "base64", "gunzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here to run the README's line", tool)
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
		nodes, _, _ := encodeService(greeterService(n), instanceFields{weight: 1}, DefaultMetadataBudget)
		f.Add(nodes[0].instance.Metadata[keyService])
	}
	f.Add(legacyCatalog)
	f.Add(legacyInstance[keyService])
	f.Add("gz:")
	f.Add("z")
	f.Fuzz(func(t *testing.T, packed string) {
		h := model.Instance{Ip: "10.0.0.1", Port: 1, Weight: 1, Healthy: true, Enable: true,
			Metadata: map[string]string{keyNodeID: "n", keyService: packed}}
		got := decodeInstances("s", []model.Instance{h}, nil)
		if len(got) != 1 || len(got[0].service.Nodes) != 1 {
			t.Fatalf("the node was lost: %+v", got)
		}
		if f, err := unpack(packed); err == nil && !reflect.DeepEqual(f.Endpoints, got[0].service.Endpoints) {
			t.Fatalf("decoded endpoints differ from unpack's")
		}
	})
}

func BenchmarkCodec20Endpoints(b *testing.B) {
	s := greeterService(20)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := encodeService(s, instanceFields{weight: 1}, DefaultMetadataBudget); err != nil {
				b.Fatal(err)
			}
		}
	})
	nodes, _, _ := encodeService(s, instanceFields{weight: 1}, DefaultMetadataBudget)
	hosts := []model.Instance{nodes[0].instance}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if len(decodeInstances(s.Name, hosts, nil)[0].service.Endpoints) != 21 {
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
	if again := pack(serviceFields{nil, copyService(s, false).Endpoints}); again != first {
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
