package nacostest

// Differential conformance: the same scripted interactions, through the real
// SDK and raw gRPC, against nacostest and against the real Nacos at
// NACOS_ADDR; what each shows is compared observation by observation. Every
// difference must be fixed or listed in conformanceDeviations (and in the
// package doc), where the test checks that it is still there.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/micro-registry/nacos/internal/testkit"
)

// realNacosAddr is the HTTP address of a real Nacos to compare with, as the
// root package's tests take it: NACOS_ADDR=host:port.
var realNacosAddr = os.Getenv("NACOS_ADDR")

// conformer runs one scenario against one server and records what it sees.
type conformer struct {
	t *testing.T
	// variant names the server: "nacos" (the real one), "nacostest", or
	// "nacostest+delay" (WithPushDelay(NacosPushDelay)).
	variant   string
	addr      string // HTTP host:port
	namespace string // unique to the scenario, the same on every server
	group     string // unique to the scenario, for what must be in "public"
	// version is the real Nacos's. Before 2.3 it leaves instance ids blank,
	// so instance lists are compared without them (see "instance ids").
	version  string
	observed []observation
}

type observation struct{ key, value string }

// record notes what the scenario observed under key, as canonical JSON.
func (c *conformer) record(key string, value any) {
	c.t.Helper()
	encoded, err := json.Marshal(value)
	if err != nil {
		c.t.Fatalf("record %s: %v", key, err)
	}
	for _, o := range c.observed {
		if o.key == key {
			c.t.Fatalf("scenario records %q twice", key)
		}
	}
	c.observed = append(c.observed, observation{key, string(encoded)})
}

// client is an SDK naming client of the scenario's namespace.
func (c *conformer) client(configure ...func(*constant.ClientConfig)) naming_client.INamingClient {
	c.t.Helper()
	inNamespace := func(cc *constant.ClientConfig) { cc.NamespaceId = c.namespace }
	return newClient(c.t, []string{c.addr}, append([]func(*constant.ClientConfig){inNamespace}, configure...)...)
}

// raw is a new raw gRPC connection, set up as the SDK sets one up.
func (c *conformer) raw() *rawClient {
	c.t.Helper()
	return dialRawAddr(c.t, grpcAddrOf(c.t, c.addr))
}

// grpcAddrOf is where a Nacos whose HTTP address is addr serves gRPC.
func grpcAddrOf(t testing.TB, addr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("NACOS_ADDR %q: %v", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("NACOS_ADDR %q: %v", addr, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+grpcPortOffset))
}

// scenario is a scripted interaction. Variants lists the nacostest variants
// to compare with the real server (default: "nacostest").
type scenario struct {
	name     string
	variants []string
	run      func(c *conformer)
}

// deviation is a known difference between a nacostest variant and real
// Nacos, listed in the package doc. The test fails if it is no longer
// observed, so that the list stays true.
type deviation struct {
	auth     bool   // a deviation of TestConformanceAuth
	variant  string // "" for every nacostest variant
	keys     string // a regexp of the observations: scenario/observation
	versions string // a regexp of the Nacos versions that differ ("" for all)
	why      string
}

func (d deviation) applies(variant, version string) bool {
	return (d.variant == "" || d.variant == variant) && (d.versions == "" || regexp.MustCompile(d.versions).MatchString(version))
}

// conformanceDeviations are the known differences, each listed in the
// package doc.
var conformanceDeviations = []deviation{
	{variant: "nacostest", keys: `: timing$|^pushes/raw subscriber: first push timing$`,
		why: "pushes go out at once unless WithPushDelay(NacosPushDelay), which pushes as Java does"},
	{variant: "nacostest", keys: `^pushes/raw subscriber: (every push|pushes after subscribing)$|^merged-pushes/two changes at once: callbacks$`,
		why: "without WithPushDelay a new subscriber gets no push, an unchanged list is not pushed and changes are not merged"},
	{keys: `^param-checks/port -1: raw$`,
		why: "a negative port does not decode (nacostest reads the SDK's uint64): a 502 deserialize failure where Java's parameter checker refuses it with 400; the SDK cannot send one"},
	{keys: `^protocol/setup with an ability table: acknowledgements$`,
		why: "the SetupAckRequest (2.3+) announces supportPersistentInstanceByGrpc false: nacostest keeps no persistent instances; 2.2 sends none; 3.x also announces fuzzyWatch, lock and mcp, which nacostest does not serve"},
	{keys: `^protocol/login with auth off$`,
		why: "with auth off nacostest logs anyone in; Java checks the credentials even then (the SDK only logs the failure; 3.0 answers 500 when the user does not exist, as the admin nacos does not until someone sets its password)"},
	{auth: true, keys: `^auth/login of an unknown user$`, versions: `^2\.2\.`,
		why: `Nacos 2.2 says "caused: <user>;", 2.3+ "caused: User <user> not found;"`},
	{keys: `^instances/instance ids$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 leaves instanceId blank in gRPC answers; nacostest fills it in as 2.3+ does"},
	{keys: `^param-checks/`, versions: `^2\.2\.`,
		why: "Nacos 2.2 has no parameter checker (added in 2.3): it takes what 2.3+ refuses"},
	{keys: `^instance-checks/.*: raw$|^instance-checks/unknown (instance|batch) operation$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 answers a handler's refusal with resultCode 500, 2.3+ with the error code (400)"},
	{keys: `^client-detection/`, versions: `^2\.2\.`,
		why: "Nacos 2.2 does not probe idle connections; 2.3+ does, as nacostest"},
	{keys: `^config/read right after publish$`,
		why: "nacostest serves a publish to queries at once; Nacos acknowledges it before the cache its queries read has it"},
	{keys: `^config/(publish bad (dataId|group|tenant)|query bad dataId|remove bad dataId)$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 has no parameter checker (added in 2.3): ParamUtils's messages, a bad tenant taken, a bad dataId queried"},
	{keys: `^config/query unknown type$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 keeps a config type it does not know; 2.5 stores it as \"text\", as nacostest"},
	{keys: `^config/cas wrong md5$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 ignores casMd5 in a gRPC publish"},
	{keys: `^config/(query public as public|query (public|null)-spelled as empty|push to both spellings)$`, versions: `^2\.2\.`,
		why: "Nacos 2.2 takes \"public\" and \"null\" for tenants of their own everywhere; 2.5 reads them as the default namespace (\"\") but in listening, as nacostest"},
}

// realNacosVersion asks the server at addr for its version (testkit.ServerVersion: the
// state API of 2.x or of 3.x).
func realNacosVersion(t testing.TB, addr string) string {
	t.Helper()
	return testkit.ServerVersion(t, addr)
}

// isNacos3 says whether the real server's version is 3.x or later.
func isNacos3(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 3
}

// versionOptions are the options that make nacostest answer as this version of
// Nacos: WithNacos3 for 3.x (the default is 2.x).
func versionOptions(version string) []Option {
	if isNacos3(version) {
		return []Option{WithNacos3()}
	}
	return nil
}

func TestConformance(t *testing.T) {
	if realNacosAddr == "" {
		t.Skip("compares nacostest with a real Nacos: set NACOS_ADDR=host:port (scripts/real-nacos.sh start)")
	}
	if strings.Contains(realNacosAddr, ",") {
		t.Skip("compares nacostest with one real Nacos; NACOS_ADDR lists several")
	}
	// Logins (the SDK's and the scenarios') go through http.DefaultTransport, whose
	// idle connections to the real server would outlive the test.
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	version := realNacosVersion(t, realNacosAddr)
	var compared, deviations int
	seen := make(map[int]bool) // deviations observed, by index
	ran := 0
	for _, sc := range conformanceScenarios {
		t.Run(sc.name, func(t *testing.T) {
			ran++
			namespace := fmt.Sprintf("conf-%s-%x", sc.name, rand.Uint32())
			group := fmt.Sprintf("CONF_%x", rand.Uint32())
			real := runScenario(t, sc, "nacos", realNacosAddr, namespace, group, version)
			variants := sc.variants
			if len(variants) == 0 {
				variants = []string{"nacostest"}
			}
			for _, variant := range variants {
				opts := versionOptions(version)
				if variant == "nacostest+delay" {
					opts = append(opts, WithPushDelay(NacosPushDelay))
				}
				srv := newServer(t, opts...)
				ours := runScenario(t, sc, variant, srv.Addr(), namespace, group, version)
				n, d := compareObservations(t, version, variant, sc.name, real, ours, seen)
				compared += n
				deviations += d
			}
		})
	}
	if ran == len(conformanceScenarios) { // with -run, some deviations cannot show
		checkDeviationsSeen(t, false, version, seen)
	}
	t.Logf("Nacos %s: %d observations compared in %d scenarios; %d differences, all documented deviations", version, compared, ran, deviations)
}

// checkDeviationsSeen fails the test if a documented deviation of the test
// (TestConformanceAuth's or TestConformance's) that applies to this version
// was not observed.
func checkDeviationsSeen(t *testing.T, auth bool, version string, seen map[int]bool) {
	t.Helper()
	if t.Failed() {
		return
	}
	for i, d := range conformanceDeviations {
		if d.auth == auth && !seen[i] && (d.applies("nacostest", version) || d.applies("nacostest+delay", version)) {
			t.Errorf("the documented deviation %q (%s) was not observed against Nacos %s: remove it from conformanceDeviations and the package doc", d.keys, d.why, version)
		}
	}
}

func runScenario(t *testing.T, sc scenario, variant, addr, namespace, group, version string) []observation {
	t.Helper()
	var observed []observation
	t.Run(variant, func(t *testing.T) {
		c := &conformer{t: t, variant: variant, addr: addr, namespace: namespace, group: group, version: version}
		sc.run(c)
		observed = c.observed
	})
	if t.Failed() {
		t.FailNow()
	}
	return observed
}

// compareObservations compares what a nacostest variant showed with what the
// real server showed and returns how many observations it compared and how
// many differed as documented; seen collects the deviations observed.
func compareObservations(t *testing.T, version, variant, scenarioName string, real, ours []observation, seen map[int]bool) (compared, deviations int) {
	t.Helper()
	values := func(obs []observation) map[string]string {
		m := make(map[string]string, len(obs))
		for _, o := range obs {
			m[o.key] = o.value
		}
		return m
	}
	realValues, ourValues := values(real), values(ours)
	keys := make([]string, 0, len(realValues))
	for k := range realValues {
		keys = append(keys, k)
	}
	for k := range ourValues {
		if _, ok := realValues[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		compared++
		key := scenarioName + "/" + k
		realValue, ourValue := realValues[k], ourValues[k]
		if realValue == ourValue {
			continue
		}
		if i, ok := knownDeviation(variant, key, version); ok {
			deviations++
			seen[i] = true
			t.Logf("documented deviation of %s at %s: %s\n\tNacos %s: %s\n\t%s: %s", variant, key, conformanceDeviations[i].why, version, orNothing(realValue), variant, orNothing(ourValue))
			continue
		}
		t.Errorf("%s differs from Nacos %s at %s:\n\tNacos:     %s\n\t%s: %s", variant, version, key, orNothing(realValue), variant, orNothing(ourValue))
	}
	return compared, deviations
}

func orNothing(v string) string {
	if v == "" {
		return "(not observed)"
	}
	return v
}

// knownDeviation returns the index of the documented deviation that covers
// this observation of this variant against this version.
func knownDeviation(variant, key, version string) (int, bool) {
	for i, d := range conformanceDeviations {
		if d.applies(variant, version) && regexp.MustCompile(d.keys).MatchString(key) {
			return i, true
		}
	}
	return 0, false
}

// ---------------------------------------------------------------------------
// Normal forms: what is compared of instances, services and responses.
// ---------------------------------------------------------------------------

// instances is instances in a stable order (ip, port, metadata), every
// field the SDK decodes, but instance ids against Nacos 2.2.
func (c *conformer) instances(instances []model.Instance) []model.Instance {
	out := append([]model.Instance{}, instances...)
	if strings.HasPrefix(c.version, "2.2.") {
		for i := range out {
			out[i].InstanceId = ""
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Ip != b.Ip {
			return a.Ip < b.Ip
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		am, _ := json.Marshal(a.Metadata)
		bm, _ := json.Marshal(b.Metadata)
		return string(am) < string(bm)
	})
	return out
}

// serviceView is a service as the SDK decodes it, but for its version stamp
// (lastRefTime), which is a time: only whether it is set is compared.
type serviceView struct {
	Name, GroupName, Clusters, Checksum string
	CacheMillis                         uint64
	Hosts                               []model.Instance
	Valid, AllIPs, Reach                bool
	Stamped                             bool
}

func (c *conformer) viewOf(s model.Service) serviceView {
	return serviceView{
		Name: s.Name, GroupName: s.GroupName, Clusters: s.Clusters, Checksum: s.Checksum,
		CacheMillis: s.CacheMillis, Hosts: c.instances(s.Hosts),
		Valid: s.Valid, AllIPs: s.AllIPs, Reach: s.ReachProtectionThreshold,
		Stamped: s.LastRefTime > 0,
	}
}

// responseView is what a raw response says: its type and common fields.
type responseView struct {
	Type                  string
	ResultCode, ErrorCode int
	Success               bool
	Message               string
}

func viewOfResponse(r rawResponse) responseView {
	return responseView{Type: r.Type, ResultCode: r.ResultCode, ErrorCode: r.ErrorCode, Success: r.Success, Message: r.Message}
}

// outcome is what an SDK call returned: its result and whether it failed.
type outcome struct {
	OK    bool
	Error bool
}

func outcomeOf(ok bool, err error) outcome { return outcome{ok, err != nil} }

// addrs is the "ip:port" list of instances, sorted.
func addrs(instances []model.Instance) []string {
	out := []string{}
	for _, in := range instances {
		out = append(out, addrOf(in))
	}
	sort.Strings(out)
	return out
}

func sortedCopy(names []string) []string {
	out := append([]string{}, names...)
	sort.Strings(out)
	return out
}
