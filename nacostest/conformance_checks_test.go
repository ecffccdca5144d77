package nacostest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// Every parameter check of the naming requests, at and beyond its limit:
// the refusal (type, codes, message) and what the SDK makes of it.
func conformParamChecks(c *conformer) {
	client, raw := c.client(), c.raw()
	modify := func(f func(*vo.RegisterInstanceParam)) vo.RegisterInstanceParam {
		p := instance("chk", "10.9.0.1", 80, nil)
		f(&p)
		return p
	}
	cases := []struct {
		name  string
		param vo.RegisterInstanceParam
	}{
		{"service name of 512", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("s", 512) })},
		{"service name of 513", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = strings.Repeat("s", 513) })},
		{"leading @", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "@svc" })},
		{"@@ in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "a@@b" })},
		{"single @ in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "a@b" })},
		{"space in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "my svc" })},
		{"tab in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "my\tsvc" })},
		{"CJK in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "svc服务" })},
		{"other unicode in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "svc-ü-ω" })},
		{"slash and colon in service name", modify(func(p *vo.RegisterInstanceParam) { p.ServiceName = "a/b:c" })},
		{"group of 128", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = strings.Repeat("g", 127) + ":" })},
		{"group of 129", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = strings.Repeat("g", 129) })},
		{"slash in group", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = "a/b" })},
		{"dot and dash in group", modify(func(p *vo.RegisterInstanceParam) { p.GroupName = "a.b-c_d" })},
		{"cluster of 64", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = strings.Repeat("c", 63) + "-" })},
		{"cluster of 65", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = strings.Repeat("c", 65) })},
		{"dot in cluster", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = "c.1" })},
		{"comma in cluster", modify(func(p *vo.RegisterInstanceParam) { p.ClusterName = "c1,c2" })},
		{"ip of 128", modify(func(p *vo.RegisterInstanceParam) { p.Ip = strings.Repeat("1", 128) })},
		{"ip of 129", modify(func(p *vo.RegisterInstanceParam) { p.Ip = strings.Repeat("1", 129) })},
		{"space in ip", modify(func(p *vo.RegisterInstanceParam) { p.Ip = "10.0.0.1 x" })},
		{"hostname ip", modify(func(p *vo.RegisterInstanceParam) { p.Ip = "host.example" })},
		{"empty ip", modify(func(p *vo.RegisterInstanceParam) { p.Ip = "" })},
		{"port 65535", modify(func(p *vo.RegisterInstanceParam) { p.Port = 65535 })},
		{"port 65536", modify(func(p *vo.RegisterInstanceParam) { p.Port = 65536 })},
		{"metadata of 1024", modify(func(p *vo.RegisterInstanceParam) { p.Metadata = metadataOfLength(1024) })},
		{"metadata of 1025", modify(func(p *vo.RegisterInstanceParam) { p.Metadata = metadataOfLength(1025) })},
		{"metadata of 1025 with a blank value", modify(func(p *vo.RegisterInstanceParam) {
			p.Metadata = map[string]string{"k": strings.Repeat("v", 1023), "blank": "   "}
		})},
		{"weight 0", modify(func(p *vo.RegisterInstanceParam) { p.Weight = 0 })},
		{"weight -1", modify(func(p *vo.RegisterInstanceParam) { p.Weight = -1 })},
		{"weight 20000", modify(func(p *vo.RegisterInstanceParam) { p.Weight = 20000 })},
	}
	for _, tc := range cases {
		ok, err := client.RegisterInstance(tc.param)
		c.record(tc.name+": SDK", outcomeOf(ok, err))
		group := tc.param.GroupName
		if group == "" {
			group = "DEFAULT_GROUP" // as the SDK sends it
		}
		request := rpc_request.NewInstanceRequest(c.namespace, tc.param.ServiceName, group, "registerInstance", instanceOf(tc.param))
		c.record(tc.name+": raw", viewOfResponse(raw.call(c.t, "InstanceRequest", request, nil)))
	}
	// Namespaces: the SDK puts its own into every request.
	for _, namespace := range []string{strings.Repeat("n", 64), strings.Repeat("n", 65), "dev.1", "dev_1-2"} {
		request := rpc_request.NewInstanceRequest(namespace, "chk-ns", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("chk-ns", "10.9.0.1", 80, nil)))
		c.record(fmt.Sprintf("namespace of %d %q: raw", len(namespace), namespace[:min(len(namespace), 8)]), viewOfResponse(raw.call(c.t, "InstanceRequest", request, nil)))
	}
	// A port below 0 is only possible in raw JSON.
	negative := rpc_request.NewInstanceRequest(c.namespace, "chk", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("chk", "10.9.0.1", 80, nil)))
	body, _ := json.Marshal(negative)
	body = []byte(strings.Replace(string(body), `"port":80`, `"port":-1`, 1))
	c.record("port -1: raw", viewOfResponse(raw.call(c.t, "InstanceRequest", body, nil)))

	// The other requests' checks.
	badIP := instanceOf(instance("chk", "10.0.0.1 x", 80, nil))
	good := instanceOf(instance("chk", "10.0.0.1", 80, nil))
	for _, tc := range []struct {
		name, requestType string
		request           any
	}{
		{"batch with a bad ip", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "chk", "DEFAULT_GROUP", "batchRegisterInstance", []model.Instance{badIP})},
		{"batch with a bad group", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "chk", "a/b", "batchRegisterInstance", []model.Instance{instanceOf(instance("chk", "10.0.0.1", 80, nil))})},
		{"subscribe with a bad group", "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "chk", "a/b", "", true)},
		{"subscribe with a bad cluster", "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "chk", "DEFAULT_GROUP", "c1,c 2", true)},
		{"subscribe with a bad service name", "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "a@@b", "DEFAULT_GROUP", "", true)},
		{"list with a bad group", "ServiceListRequest", rpc_request.NewServiceListRequest(c.namespace, "", "a/b", 1, 10, "")},
		{"list with a bad namespace", "ServiceListRequest", rpc_request.NewServiceListRequest("dev.1", "", "DEFAULT_GROUP", 1, 10, "")},
		{"query with a bad udp port", "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, "chk", "DEFAULT_GROUP", "", false, 70000)},
		{"query with a bad cluster", "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, "chk", "DEFAULT_GROUP", "c.1", false, 0)},
		{"deregister with a bad ip", "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "chk", "DEFAULT_GROUP", "deregisterInstance", badIP)},
		// Blank names pass the checker (it skips blank values) and reach the handlers.
		{"register with a blank group", "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "chk", "", "registerInstance", good)},
		{"register with a blank service name", "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "", "DEFAULT_GROUP", "registerInstance", good)},
		{"deregister with a blank group", "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "chk", "", "deregisterInstance", good)},
		{"batch with a blank group", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "chk", "", "batchRegisterInstance", []model.Instance{good})},
		{"batch with a blank service name", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "", "DEFAULT_GROUP", "batchRegisterInstance", []model.Instance{good})},
		{"subscribe with a blank group", "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "chk", "", "", true)},
		{"subscribe with a blank service name", "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "", "DEFAULT_GROUP", "", true)},
		{"query with a blank group", "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, "chk", "", "", false, 0)},
		{"query with a blank service name", "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, "", "DEFAULT_GROUP", "", false, 0)},
		{"list with a blank group", "ServiceListRequest", rpc_request.NewServiceListRequest(c.namespace, "", "", 1, 10, "")},
	} {
		c.record(tc.name+": raw", viewOfResponse(raw.call(c.t, tc.requestType, tc.request, nil)))
	}
	list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: 1, PageSize: 100})
	c.record("services registered", struct {
		Count int64
		Names []string
		Error bool
	}{list.Count, sortedCopy(list.Doms), err != nil})
}

// The checks the register handler makes after the filters, and requests of
// an unknown kind.
func conformInstanceChecks(c *conformer) {
	raw := c.raw()
	underscore := instance("ichk", "10.10.0.1", 80, nil)
	underscore.ClusterName = "c_1"
	heartBeat := func(settings ...string) vo.RegisterInstanceParam {
		metadata := map[string]string{}
		for i := 0; i+1 < len(settings); i += 2 {
			metadata["preserved.heart.beat."+settings[i]] = settings[i+1]
		}
		return instance("ichk", "10.10.0.1", 80, metadata)
	}
	for _, tc := range []struct {
		name string
		p    vo.RegisterInstanceParam
	}{
		{"cluster with _", underscore},
		{"heart beat timeout below interval", heartBeat("timeout", "1000")},
		{"interval above the default timeout", heartBeat("interval", "20000")},
		{"non-numeric heart beat settings", heartBeat("interval", "soon", "timeout", "later")},
		{"consistent heart beat settings", heartBeat("interval", "1000", "timeout", "3000")},
		{"heart beat interval equal to its timeout", heartBeat("interval", "3000", "timeout", "3000")},
		{"ip delete timeout below interval", instance("ichk", "10.10.0.1", 80, map[string]string{"preserved.ip.delete.timeout": "1000"})},
	} {
		// The SDK keeps redoing a refused registration: a client per case,
		// closed after it.
		name, p, client := tc.name, tc.p, c.client()
		start := time.Now()
		ok, err := client.RegisterInstance(p)
		// A handler's refusal is an error response, which the SDK retries.
		c.record(name+": SDK", struct {
			outcome
			Retried bool
		}{outcomeOf(ok, err), time.Since(start) > 250*time.Millisecond})
		client.CloseClient()
		request := rpc_request.NewInstanceRequest(c.namespace, "ichk", "DEFAULT_GROUP", "registerInstance", instanceOf(p))
		c.record(name+": raw", viewOfResponse(raw.call(c.t, "InstanceRequest", request, nil)))
	}
	for _, tc := range []struct {
		name, requestType string
		request           any
	}{
		{"unknown instance operation", "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "ichk", "DEFAULT_GROUP", "bogus", instanceOf(instance("ichk", "10.10.0.1", 1, nil)))},
		{"unknown batch operation", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest(c.namespace, "ichk", "DEFAULT_GROUP", "bogus", nil)},
		{"unknown request type", "NoSuchRequest", map[string]string{}},
		{"malformed body", "InstanceRequest", []byte("{not json")},
	} {
		c.record(tc.name, viewOfResponse(raw.call(c.t, tc.requestType, tc.request, nil)))
	}
}

// The connection protocol around the requests: server check, setup and its
// acknowledgement, requests before setup, health checks.
func conformProtocol(c *conformer) {
	grpcAddr := grpcAddrOf(c.t, c.addr)
	r := dialUnregisteredAddr(c.t, grpcAddr)
	check := r.call(c.t, "ServerCheckRequest", rpc_request.NewServerCheckRequest(), nil)
	var body struct {
		ConnectionID string `json:"connectionId"`
	}
	_ = json.Unmarshal(check.Body, &body)
	c.record("server check", struct {
		Response        responseView
		HasConnectionID bool
	}{viewOfResponse(check), body.ConnectionID != ""})
	c.record("register before setup", viewOfResponse(r.call(c.t, "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "proto", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("proto", "10.11.0.1", 1, nil))), nil)))

	// As SDK v2.3.5 sets up (no ability table): no acknowledgement.
	sdk := c.raw()
	c.record("health check after setup", viewOfResponse(sdk.call(c.t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil)))
	// As the Java client sets up (with its ability table): 2.3+ acknowledges.
	setup := map[string]any{}
	encoded, _ := json.Marshal(sdkConnectionSetup())
	_ = json.Unmarshal(encoded, &setup)
	setup["abilityTable"] = map[string]bool{}
	encoded, _ = json.Marshal(setup)
	java := dialUnregisteredAddr(c.t, grpcAddr)
	java.openStreamWith(c.t, encoded)
	waitFor(time.Second, func() bool { return len(java.received("SetupAckRequest")) > 0 })
	acks := func(r *rawClient) []map[string]any {
		var out []map[string]any
		for _, m := range r.received("SetupAckRequest") {
			var ack map[string]any
			_ = json.Unmarshal(m.Body, &ack)
			delete(ack, "requestId")
			out = append(out, ack)
		}
		return out
	}
	c.record("setup with an ability table: acknowledgements", acks(java))
	c.record("setup as SDK v2.3.5: acknowledgements", acks(sdk))
	// A setup without labels is not taken.
	bare, _ := json.Marshal(rpc_request.NewConnectionSetupRequest())
	unlabelled := dialUnregisteredAddr(c.t, grpcAddr)
	unlabelled.openStreamWith(c.t, bare)
	var health rawResponse
	waitFor(time.Second, func() bool {
		health = unlabelled.call(c.t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil)
		return health.Success
	})
	c.record("health check after a setup without labels", viewOfResponse(health))

	// With auth off the SDK still logs in when it has a username.
	resp, err := http.PostForm("http://"+c.addr+"/nacos/v1/auth/users/login", url.Values{"username": {"nacos"}, "password": {"not-the-password"}})
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	c.record("login with auth off", resp.StatusCode)
}

// A connection that sends nothing for 20 s is probed with a
// ClientDetectionRequest: one that answers stays, one that does not is
// closed and its instances go. This takes about half a minute.
func conformClientDetection(c *conformer) {
	answering, silent, watcher := c.raw(), c.raw(), c.raw()
	silent.mu.Lock()
	silent.ignoreDetection = true
	silent.mu.Unlock()
	for i, r := range []*rawClient{answering, silent} {
		name := fmt.Sprintf("detect-%d", i)
		request := rpc_request.NewInstanceRequest(c.namespace, name, "DEFAULT_GROUP", "registerInstance", instanceOf(instance(name, "10.12.0.1", 80, nil)))
		mustSucceed(c.t, r.call(c.t, "InstanceRequest", request, nil), "InstanceResponse")
	}
	hosts := func(name string) []string {
		_, info := c.rawQuery(watcher, "DEFAULT_GROUP", name, "", false)
		return addrs(info.Hosts)
	}
	start := time.Now()
	gone := waitFor(NacosClientIdle+15*time.Second, func() bool { return len(hosts("detect-1")) == 0 })
	c.record("the silent connection's instance goes", gone)
	c.record("it went after the idle time", time.Since(start) >= NacosClientIdle)
	c.record("the answering connection's instance stays", hosts("detect-0"))
	probes := func(r *rawClient) []map[string]any {
		var out []map[string]any
		for _, m := range r.received("ClientDetectionRequest") {
			var probe map[string]any
			_ = json.Unmarshal(m.Body, &probe)
			probe["requestId"] = probe["requestId"] != "" // its value is the server's
			out = append(out, probe)
		}
		return out[:min(len(out), 1)]
	}
	c.record("probes of the answering connection", probes(answering))
	c.record("probes of the silent connection", probes(silent))
	c.record("the busy connection is not probed", len(watcher.received("ClientDetectionRequest")))
	c.record("the silent connection afterwards", viewOfResponse(silent.call(c.t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil)))
}
