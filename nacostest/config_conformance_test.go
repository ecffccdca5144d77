package nacostest

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// configConformanceAddr is the HTTP address of a real Nacos (NACOS_ADDR=host:port)
// that TestConfigConformance compares nacostest's config service with.
var configConformanceAddr = os.Getenv("NACOS_ADDR")

// configDeviations are the observations where nacostest answers differently from real
// Nacos on purpose (see the package doc); the test checks that they still differ.
var configDeviations = map[string]string{
	"read right after publish": "nacostest serves a publish to queries at once; Nacos updates the cache queries read a few milliseconds later",
}

// configBefore25 are the observations where Nacos before 2.5 answers otherwise than
// 2.5, which nacostest follows (measured on 2.2.3): they are logged, not compared.
var configBefore25 = map[string]string{
	"query unknown type":            "a type Nacos does not know is kept as given, not stored as \"text\"",
	"cas wrong md5":                 "a publish over gRPC ignores casMd5",
	"publish bad dataId":            "no parameter checker (2.3+): ParamUtils's message",
	"publish bad group":             "no parameter checker (2.3+): ParamUtils's message",
	"publish bad tenant":            "no parameter checker (2.3+): any tenant is taken",
	"query bad dataId":              "no parameter checker (2.3+): not found",
	"remove bad dataId":             "no parameter checker (2.3+): ParamUtils's message, error code 0",
	"query public as public":        "\"public\" is a tenant of its own, not the default namespace (\"\")",
	"query public-spelled as empty": "\"public\" is a tenant of its own, not the default namespace (\"\")",
	"push to both spellings":        "\"public\" is a tenant of its own, not the default namespace (\"\")",
}

// TestConfigConformance runs the same config requests, over raw gRPC, against
// nacostest and the real Nacos at NACOS_ADDR, and compares every answer: codes,
// messages, md5, content types, listen answers and pushes, the public namespace.
func TestConfigConformance(t *testing.T) {
	if configConformanceAddr == "" {
		t.Skip("compares with a real Nacos: set NACOS_ADDR=host:port")
	}
	if os.Getenv("NACOS_AUTH") != "" {
		t.Skip("the raw requests carry no access token: run it against a Nacos without auth")
	}
	host, port, err := net.SplitHostPort(configConformanceAddr)
	if err != nil {
		t.Fatal(err)
	}
	httpPort, _ := strconv.Atoi(port)
	version := serverVersion(t, configConformanceAddr)
	before25 := version < "2.5"
	suffix := strconv.FormatInt(rand.Int63(), 36)
	real := configScenario(t, net.JoinHostPort(host, strconv.Itoa(httpPort+1000)), suffix)
	embedded := configScenario(t, newServer(t).GRPCAddr(), suffix)
	for _, o := range real {
		want, got := o.value, lookup(embedded, o.key)
		_, deviates := configDeviations[o.key]
		switch older, isOlder := configBefore25[o.key]; {
		case before25 && isOlder:
			if got != want {
				t.Logf("%s: Nacos %s differs from 2.5 and nacostest: %s\n  nacos     %s\n  nacostest %s", o.key, version, older, want, got)
			}
		case deviates && got == want:
			t.Errorf("%s: the documented deviation is gone (%s): both %s", o.key, configDeviations[o.key], got)
		case !deviates && got != want:
			t.Errorf("%s:\n  nacos     %s\n  nacostest %s", o.key, want, got)
		}
	}
	if testing.Verbose() {
		for _, o := range real {
			t.Logf("%s: %s", o.key, o.value)
		}
	}
	t.Logf("Nacos %s: %d observations compared", version, len(real))
}

// serverVersion asks the Nacos at addr for its version.
func serverVersion(t *testing.T, addr string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/nacos/v1/console/server/state", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true // no idle connection left behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil || state.Version == "" {
		t.Fatalf("the server state of %s: %v", addr, err)
	}
	return state.Version
}

func lookup(observed []observation, key string) string {
	for _, o := range observed {
		if o.key == key {
			return o.value
		}
	}
	return "(not observed)"
}

type observation struct{ key, value string }

// configScenario runs the scenario against the server at grpcAddr, in a namespace and
// with dataIds named after suffix, and returns what it observed.
func configScenario(t *testing.T, grpcAddr, suffix string) []observation {
	var observed []observation
	record := func(key string, v any) {
		encoded, _ := json.Marshal(v)
		observed = append(observed, observation{key, string(encoded)})
	}
	ns := "conf-" + suffix
	id := func(name string) string { return name + "-" + suffix }
	c, listener := dialRawAt(t, grpcAddr), dialRawAt(t, grpcAddr)
	answer := func(requestType string, body any) rawResponse { return c.call(t, requestType, body, nil) }
	summary := func(r rawResponse) string {
		return fmt.Sprintf("%s success=%v result=%d error=%d %q", r.Type, r.Success, r.ResultCode, r.ErrorCode, r.Message)
	}
	publish := func(tenant, group, dataID, content, cas, contentType string) rawResponse {
		req := rpc_request.NewConfigPublishRequest(group, dataID, tenant, content, cas)
		if contentType != "" {
			req.AdditionMap["type"] = contentType
		}
		return answer("ConfigPublishRequest", req)
	}
	type queried struct {
		Summary, Content, Md5, ContentType string
		Stamped                            bool
	}
	query := func(tenant, group, dataID string) queried {
		r := answer("ConfigQueryRequest", rpc_request.NewConfigQueryRequest(group, dataID, tenant))
		var body struct {
			Content, Md5, ContentType string
			LastModified              int64
		}
		_ = json.Unmarshal(r.Body, &body)
		return queried{summary(r), body.Content, body.Md5, body.ContentType, body.LastModified > 0}
	}
	// settled queries until the answer holds content (or none, for ""): Nacos serves a
	// change to queries a few milliseconds after it acknowledged it.
	settled := func(tenant, group, dataID, content string) queried {
		deadline := time.Now().Add(3 * time.Second)
		for {
			q := query(tenant, group, dataID)
			if q.Content == content || time.Now().After(deadline) {
				return q
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	remove := func(tenant, group, dataID string) rawResponse {
		return answer("ConfigRemoveRequest", rpc_request.NewConfigRemoveRequest(group, dataID, tenant))
	}
	listen := func(on bool, tenant, group, dataID, md5 string) string {
		req := rpc_request.NewConfigBatchListenRequest(1)
		req.Listen = on
		req.ConfigListenContexts = append(req.ConfigListenContexts, model.ConfigListenContext{Group: group, DataId: dataID, Tenant: tenant, Md5: md5})
		r := listener.call(t, "ConfigBatchListenRequest", req, nil)
		var body struct{ ChangedConfigs []model.ConfigContext }
		_ = json.Unmarshal(r.Body, &body)
		var changed []string
		for _, cc := range body.ChangedConfigs {
			changed = append(changed, cc.Tenant+"/"+cc.Group+"/"+strings.TrimSuffix(cc.DataId, "-"+suffix))
		}
		return summary(r) + " changed=" + strings.Join(changed, ",")
	}
	pushes := func(wait time.Duration) string {
		deadline := time.Now().Add(wait)
		seen := len(listener.stream.configPushes())
		for time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			if n := len(listener.stream.configPushes()); n > seen {
				seen, deadline = n, time.Now().Add(300*time.Millisecond) // more may follow
			}
		}
		got := listener.stream.configPushes()
		listener.stream.mu.Lock()
		listener.stream.configs = nil
		listener.stream.mu.Unlock()
		for i := range got {
			got[i] = strings.TrimSuffix(got[i], "-"+suffix)
		}
		return strings.Join(got, ",")
	}

	// Query, publish, types, md5.
	app := id("app")
	record("query missing", query(ns, "DEFAULT_GROUP", app))
	record("publish", summary(publish(ns, "DEFAULT_GROUP", app, "greeting: hi\n", "", "yaml")))
	record("read right after publish", query(ns, "DEFAULT_GROUP", app).Content != "")
	record("query", settled(ns, "DEFAULT_GROUP", app, "greeting: hi\n"))
	record("publish unknown type", summary(publish(ns, "DEFAULT_GROUP", id("typed"), "x", "", "ini")))
	record("query unknown type", settled(ns, "DEFAULT_GROUP", id("typed"), "x").ContentType)
	record("publish no type", summary(publish(ns, "DEFAULT_GROUP", id("untyped"), "x", "", "")))
	record("query no type", settled(ns, "DEFAULT_GROUP", id("untyped"), "x").ContentType)

	// Compare-and-swap.
	record("cas wrong md5", summary(publish(ns, "DEFAULT_GROUP", app, "greeting: cas\n", md5Hex("other"), "yaml")))
	record("cas missing config", summary(publish(ns, "DEFAULT_GROUP", id("new"), "x", md5Hex("other"), "")))
	record("cas right md5", summary(publish(ns, "DEFAULT_GROUP", app, "greeting: cas\n", md5Hex("greeting: hi\n"), "yaml")))
	record("after cas", settled(ns, "DEFAULT_GROUP", app, "greeting: cas\n").Content)

	// Parameter checks.
	record("publish blank content", summary(publish(ns, "DEFAULT_GROUP", id("blank"), " ", "", "")))
	record("publish bad dataId", summary(publish(ns, "DEFAULT_GROUP", "a b", "x", "", "")))
	record("publish empty dataId", summary(publish(ns, "DEFAULT_GROUP", "", "x", "", "")))
	record("publish bad group", summary(publish(ns, "a/b", id("x"), "x", "", "")))
	record("publish empty group", summary(publish(ns, "", id("x"), "x", "", "")))
	record("publish bad tenant", summary(publish("a b", "DEFAULT_GROUP", id("x"), "x", "", "")))
	record("query bad dataId", query(ns, "DEFAULT_GROUP", "a b").Summary)
	record("query empty group", query(ns, "", app).Summary)
	record("remove bad dataId", summary(remove(ns, "DEFAULT_GROUP", "a b")))
	record("remove missing", summary(remove(ns, "DEFAULT_GROUP", id("never"))))

	// Listening and pushes.
	live := id("live")
	record("listen missing", listen(true, ns, "DEFAULT_GROUP", live, ""))
	record("listen missing with an md5", listen(true, ns, "DEFAULT_GROUP", live, md5Hex("x")))
	publish(ns, "DEFAULT_GROUP", live, "v1", "", "")
	record("push on publish", pushes(2*time.Second))
	settled(ns, "DEFAULT_GROUP", live, "v1")
	record("listen old md5", listen(true, ns, "DEFAULT_GROUP", live, md5Hex("v0")))
	record("listen current md5", listen(true, ns, "DEFAULT_GROUP", live, md5Hex("v1")))
	publish(ns, "DEFAULT_GROUP", live, "v1", "", "")
	record("push on unchanged publish", pushes(time.Second))
	remove(ns, "DEFAULT_GROUP", live)
	record("push on remove", pushes(2*time.Second))
	settled(ns, "DEFAULT_GROUP", live, "")
	record("listen removed", listen(true, ns, "DEFAULT_GROUP", live, md5Hex("v1")))
	record("unlisten", listen(false, ns, "DEFAULT_GROUP", live, ""))
	publish(ns, "DEFAULT_GROUP", live, "v2", "", "")
	record("push after unlisten", pushes(time.Second))

	// The public namespace: "" and "public".
	pub := id("pub")
	publish("", "DEFAULT_GROUP", pub, "public content", "", "")
	record("query public as public", settled("public", "DEFAULT_GROUP", pub, "public content").Content)
	publish("public", "DEFAULT_GROUP", id("pub2"), "spelled public", "", "")
	record("query public-spelled as empty", settled("", "DEFAULT_GROUP", id("pub2"), "spelled public").Content)
	record("listen as public", listen(true, "public", "DEFAULT_GROUP", pub, md5Hex("public content")))
	publish("", "DEFAULT_GROUP", pub, "changed", "", "")
	record("push to a public listener", pushes(2*time.Second))
	record("listen as empty", listen(true, "", "DEFAULT_GROUP", pub, md5Hex("changed")))
	publish("public", "DEFAULT_GROUP", pub, "changed again", "", "")
	record("push to both spellings", pushes(2*time.Second))
	for _, d := range []string{pub, id("pub2")} {
		remove("", "DEFAULT_GROUP", d)
	}
	return observed
}
