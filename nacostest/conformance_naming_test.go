package nacostest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_response"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// The scenarios of the conformance test: naming, and config (config_conformance_test.go).
var conformanceScenarios = []scenario{
	{name: "instances", run: conformInstances},
	{name: "pushes", variants: []string{"nacostest", "nacostest+delay"}, run: conformPushes},
	{name: "merged-pushes", variants: []string{"nacostest", "nacostest+delay"}, run: conformMergedPushes},
	{name: "service-list", run: conformServiceList},
	{name: "one-publication", run: conformOnePublication},
	{name: "batch", run: conformBatch},
	{name: "second-connection", variants: []string{"nacostest", "nacostest+delay"}, run: conformSecondConnection},
	{name: "empty-services", run: conformEmptyServices},
	{name: "namespaces-groups", run: conformNamespacesAndGroups},
	{name: "param-checks", run: conformParamChecks},
	{name: "instance-checks", run: conformInstanceChecks},
	{name: "protocol", run: conformProtocol},
	{name: "client-detection", run: conformClientDetection},
	{name: "config", run: conformConfig},
}

// pushWait is how long a scenario waits for a push that may not come: well
// beyond Java's push delay (500 ms, processed every 100 ms).
const pushWait = 2500 * time.Millisecond

// pushTiming says when a push arrived, in the bounds the test states: at
// once (within 200 ms) or after Java's push delay (0.25 to 2.5 s; less than
// the 500 ms when the change merges into a push already pending, such as
// the one Java sends a new subscriber).
func pushTiming(latency time.Duration, arrived bool) string {
	switch {
	case !arrived:
		return "none within " + pushWait.String()
	case latency < 200*time.Millisecond:
		return "at once"
	case latency >= 250*time.Millisecond:
		return "after the push delay"
	default:
		return fmt.Sprintf("out of bounds: %v", latency.Round(time.Millisecond))
	}
}

// rawQuery asks for a service over raw gRPC.
func (c *conformer) rawQuery(raw *rawClient, group, service, clusters string, healthyOnly bool) (responseView, serviceView) {
	c.t.Helper()
	resp := raw.call(c.t, "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(c.namespace, service, group, clusters, healthyOnly, 0), nil)
	var body rpc_response.QueryServiceResponse
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		c.t.Fatalf("QueryServiceResponse %s: %v", resp.Body, err)
	}
	return viewOfResponse(resp), c.viewOf(body.ServiceInfo)
}

// Every field of an instance as registered and as read back: by another
// client's select, its cache, and a raw query with and without healthyOnly.
func conformInstances(c *conformer) {
	pub, reader, raw := c.client(), c.client(), c.raw()
	full := instance("inst-full", "10.1.0.1", 8080, map[string]string{"k": "v", "preserved.heart.beat.interval": "3000", "preserved.ip.delete.timeout": "40000"})
	full.Weight, full.ClusterName, full.GroupName = 2.5, "east", c.group
	unhealthy := instance("inst-unhealthy", "10.1.0.2", 80, nil)
	unhealthy.Healthy = false
	disabled := instance("inst-disabled", "10.1.0.3", 80, nil)
	disabled.Enable = false
	heavy := instance("inst-heavy", "10.1.0.4", 80, nil)
	heavy.Weight = 10000.5
	for _, p := range []vo.RegisterInstanceParam{full, unhealthy, disabled, heavy, instance("inst-plain", "10.1.0.5", 0, nil)} {
		ok, err := pub.RegisterInstance(p)
		c.record(p.ServiceName+" register", outcomeOf(ok, err))
		group := p.GroupName
		if group == "" {
			group = "DEFAULT_GROUP"
		}
		all, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: p.ServiceName, GroupName: p.GroupName})
		c.record(p.ServiceName+" SelectAllInstances", struct {
			Instances []model.Instance
			Error     bool
		}{c.instances(all), err != nil})
		healthy, err := reader.SelectInstances(vo.SelectInstancesParam{ServiceName: p.ServiceName, GroupName: p.GroupName, HealthyOnly: true})
		c.record(p.ServiceName+" SelectInstances healthy", struct {
			Addrs []string
			Error bool
		}{addrs(healthy), err != nil})
		svc, err := reader.GetService(vo.GetServiceParam{ServiceName: p.ServiceName, GroupName: p.GroupName})
		c.record(p.ServiceName+" GetService", struct {
			Service serviceView
			Error   bool
		}{c.viewOf(svc), err != nil})
		for _, healthyOnly := range []bool{false, true} {
			resp, info := c.rawQuery(raw, group, p.ServiceName, "", healthyOnly)
			c.record(fmt.Sprintf("%s raw query healthyOnly=%v", p.ServiceName, healthyOnly), struct {
				Response responseView
				Service  serviceView
			}{resp, info})
		}
	}
	ids, _ := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "inst-full", GroupName: c.group})
	var idList []string
	for _, in := range ids {
		idList = append(idList, in.InstanceId)
	}
	c.record("instance ids", idList)
	for _, clusters := range []string{"east", "west", "east,west"} {
		_, info := c.rawQuery(raw, c.group, "inst-full", clusters, false)
		c.record("inst-full raw query clusters="+clusters, info)
	}
}

// step makes a change and records the callback it brings, if any, and when.
func (c *conformer) step(w *watcher, name string, change func()) {
	c.t.Helper()
	before := w.count()
	start := time.Now()
	change()
	arrived := waitFor(pushWait, func() bool { return w.count() > before })
	latency := time.Since(start)
	var list []model.Instance
	if arrived {
		list, _ = w.latest()
	}
	c.record(name+": callback", struct {
		Callbacks int
		Instances []model.Instance
	}{w.count() - before, c.instances(list)})
	c.record(name+": timing", pushTiming(latency, arrived))
}

// The pushes a subscriber gets, through the SDK and on a raw stream, while
// two publishers register, update, re-register unchanged, deregister and
// leave. Each change waits for its push before the next.
func conformPushes(c *conformer) {
	reader, a, b := c.client(), c.client(), c.client()
	w := watch(c.t, reader, "push")
	raw := c.raw()
	subscribed := time.Now()
	raw.call(c.t, "SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest(c.namespace, "push", "DEFAULT_GROUP", "", true), nil)
	// Java pushes to every new subscriber, after the push delay.
	waitFor(pushWait, func() bool { return len(raw.received(notifySubscriberRequest)) > 0 })
	c.record("raw subscriber: pushes after subscribing", len(raw.received(notifySubscriberRequest)))
	if pushes := raw.received(notifySubscriberRequest); len(pushes) > 0 {
		c.record("raw subscriber: first push timing", pushTiming(pushes[0].At.Sub(subscribed), true))
	}
	v := func(version string) map[string]string { return map[string]string{"version": version} }
	c.step(w, "a registers", func() { register(c.t, a, instance("push", "10.2.0.1", 1, v("1"))) })
	c.step(w, "b registers", func() { register(c.t, b, instance("push", "10.2.0.2", 2, nil)) })
	c.step(w, "a updates its metadata", func() { register(c.t, a, instance("push", "10.2.0.1", 1, v("2"))) })
	c.step(w, "a registers unchanged", func() { register(c.t, a, instance("push", "10.2.0.1", 1, v("2"))) })
	c.step(w, "b deregisters", func() {
		ok, err := b.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "push", Ip: "10.2.0.2", Port: 2, Ephemeral: true})
		c.record("b deregisters: outcome", outcomeOf(ok, err))
	})
	c.step(w, "a closes its client", a.CloseClient)
	// The raw stream saw every push, also those the SDK does not call back for;
	// the last one may reach it a little after the SDK.
	waitFor(pushWait, func() bool { return raw.stream.sees() })
	var lists [][]string
	for _, m := range raw.received(notifySubscriberRequest) {
		var push rpc_request.NotifySubscriberRequest
		if err := json.Unmarshal(m.Body, &push); err != nil {
			c.t.Fatalf("push %s: %v", m.Body, err)
		}
		lists = append(lists, addrs(push.ServiceInfo.Hosts))
	}
	c.record("raw subscriber: every push", lists)
}

// Two changes in quick succession: Java merges them into one push.
func conformMergedPushes(c *conformer) {
	reader, a, b := c.client(), c.client(), c.client()
	w := watch(c.t, reader, "merge")
	c.step(w, "a registers", func() { register(c.t, a, instance("merge", "10.3.0.1", 1, nil)) })
	before := w.count()
	register(c.t, b, instance("merge", "10.3.0.2", 2, nil))
	register(c.t, a, instance("merge", "10.3.0.1", 1, map[string]string{"version": "2"}))
	final := func() bool {
		last, _ := w.latest()
		for _, in := range last {
			if in.Ip == "10.3.0.1" && in.Metadata["version"] == "2" {
				return len(last) == 2
			}
		}
		return false
	}
	waitFor(pushWait, final)
	// A push that would follow the merged one would come at once.
	waitFor(200*time.Millisecond, func() bool { return w.count() > before+2 })
	last, _ := w.latest()
	c.record("two changes at once: callbacks", w.count()-before)
	c.record("final list", c.instances(last))
}

// Service lists: counts, pages and groups.
func conformServiceList(c *conformer) {
	client := c.client()
	for _, name := range []string{"list-e", "list-c", "list-a", "list-d", "list-b"} {
		register(c.t, client, instance(name, "10.4.0.1", 80, nil))
	}
	other := instance("list-x", "10.4.0.1", 80, nil)
	other.GroupName = c.group
	register(c.t, client, other)
	// Java lists in hash-set order, nacostest in name order: the pages are
	// compared by size, and together.
	var union []string
	for _, page := range []struct{ no, size uint32 }{{1, 2}, {2, 2}, {3, 2}, {4, 2}, {1, 0}, {0, 2}, {1, 100}} {
		list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: page.no, PageSize: page.size})
		c.record(fmt.Sprintf("page %d size %d", page.no, page.size), struct {
			Count, Names int
			Error        bool
		}{int(list.Count), len(list.Doms), err != nil})
		if page.size == 2 && page.no >= 1 {
			union = append(union, list.Doms...)
		}
	}
	c.record("pages 1 to 4 of 2, together", sortedCopy(union))
	all, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: 1, PageSize: 100})
	c.record("all names", struct {
		Names []string
		Error bool
	}{sortedCopy(all.Doms), err != nil})
	list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{GroupName: c.group, PageNo: 1, PageSize: 10})
	c.record("other group", struct {
		Count int64
		Names []string
		Error bool
	}{list.Count, list.Doms, err != nil})
	list, err = client.GetAllServicesInfo(vo.GetAllServiceInfoParam{GroupName: c.group + "_NONE", PageNo: 1, PageSize: 10})
	c.record("unknown group", struct {
		Count int64
		Names []string
		Error bool
	}{list.Count, list.Doms, err != nil})
	// A service stays listed after its last instance left.
	ok, err := client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "list-a", Ip: "10.4.0.1", Port: 80, Ephemeral: true})
	c.record("deregister the last instance", outcomeOf(ok, err))
	all, err = client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: 1, PageSize: 100})
	c.record("all names after the last instance left", struct {
		Names []string
		Error bool
	}{sortedCopy(all.Doms), err != nil})
	raw := c.raw()
	resp := raw.call(c.t, "ServiceListRequest", rpc_request.NewServiceListRequest(c.namespace, "", "DEFAULT_GROUP", 1, 10, ""), nil)
	c.record("raw list response", viewOfResponse(resp))
}

// A connection holds one publication per service: a second register
// replaces the first, a deregister removes it whatever it names.
func conformOnePublication(c *conformer) {
	client, reader := c.client(), c.client()
	all := func(name string) {
		c.t.Helper()
		got, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "one"})
		c.record(name, struct {
			Addrs []string
			Error bool
		}{addrs(got), err != nil})
	}
	w := watch(c.t, reader, "one")
	c.step(w, "register 10.5.0.1:1", func() { register(c.t, client, instance("one", "10.5.0.1", 1, nil)) })
	c.step(w, "register 10.5.0.2:2 from the same client", func() { register(c.t, client, instance("one", "10.5.0.2", 2, nil)) })
	all("after two registers")
	register(c.t, client, instance("one-other", "10.5.0.3", 3, nil))
	all("after registering another service")
	c.step(w, "deregister another address", func() {
		ok, err := client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "one", Ip: "192.168.9.9", Port: 9, Ephemeral: true})
		c.record("deregister another address: outcome", outcomeOf(ok, err))
	})
	all("after deregistering another address")
	ok, err := client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "never", Ip: "10.5.0.1", Port: 1, Ephemeral: true})
	c.record("deregister a service never registered", outcomeOf(ok, err))
	// A raw deregister from a connection that published nothing changes nothing.
	other := c.raw()
	resp := other.call(c.t, "InstanceRequest", rpc_request.NewInstanceRequest(c.namespace, "one-other", "DEFAULT_GROUP", "deregisterInstance", instanceOf(instance("one-other", "10.5.0.3", 3, nil))), nil)
	c.record("raw deregister from another connection", viewOfResponse(resp))
	got, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "one-other"})
	c.record("one-other after another connection's deregister", struct {
		Addrs []string
		Error bool
	}{addrs(got), err != nil})
}

// Batch registration replaces the connection's publication as a whole.
func conformBatch(c *conformer) {
	client, reader := c.client(), c.client()
	w := watch(c.t, reader, "batch")
	batch := func(name string, instances ...vo.RegisterInstanceParam) {
		c.t.Helper()
		c.step(w, name, func() {
			ok, err := client.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: "batch", Instances: instances})
			c.record(name+": outcome", outcomeOf(ok, err))
		})
	}
	batch("batch of two", instance("batch", "10.6.0.1", 1, nil), instance("batch", "10.6.0.2", 2, nil))
	batch("batch of one replaces it", instance("batch", "10.6.0.3", 3, nil))
	c.step(w, "a register replaces the batch", func() { register(c.t, client, instance("batch", "10.6.0.4", 4, nil)) })
	batch("a batch replaces the register", instance("batch", "10.6.0.5", 5, nil), instance("batch", "10.6.0.5", 5, nil))
	v := func(version string) map[string]string { return map[string]string{"version": version} }
	batch("same address, different metadata", instance("batch", "10.6.0.6", 6, v("1")), instance("batch", "10.6.0.6", 6, v("2")))
	// Instances the register handler would refuse (NamingUtils.checkInstanceIsLegal)
	// go through a batch: Java leaves that check to its own client.
	underscore := instance("batch", "10.6.0.7", 7, nil)
	underscore.ClusterName = "c_1"
	shortTimeout := instance("batch", "10.6.0.8", 8, map[string]string{"preserved.heart.beat.timeout": "1000"})
	batch("instances the register check refuses", underscore, shortTimeout)
	raw := c.raw()
	mixed := rpc_request.NewBatchInstanceRequest(c.namespace, "batch-raw", "DEFAULT_GROUP", "batchRegisterInstance", []model.Instance{
		instanceOf(instance("batch-raw", "10.6.1.1", 1, nil)),
		{Ip: "10.6.1.2", Port: 2, Weight: 1, Enable: true, Healthy: true, Ephemeral: false, Metadata: map[string]string{}},
	})
	c.record("raw batch with a persistent instance", viewOfResponse(raw.call(c.t, "BatchInstanceRequest", mixed, nil)))
	got, err := reader.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "batch-raw"})
	c.record("raw batch with a persistent instance: stored", struct {
		Instances []model.Instance
		Error     bool
	}{c.instances(got), err != nil})
	empty := rpc_request.NewBatchInstanceRequest(c.namespace, "batch-raw", "DEFAULT_GROUP", "batchRegisterInstance", []model.Instance{})
	c.record("raw empty batch", viewOfResponse(raw.call(c.t, "BatchInstanceRequest", empty, nil)))
}

// What a second connection sees and does after the first one closed.
func conformSecondConnection(c *conformer) {
	reader := c.client()
	w := watch(c.t, reader, "second")
	first := c.client()
	c.step(w, "the first client registers", func() { register(c.t, first, instance("second", "10.7.0.1", 1, nil)) })
	c.step(w, "the first client closes", first.CloseClient)
	second := c.client()
	c.step(w, "a second client registers the same instance", func() { register(c.t, second, instance("second", "10.7.0.1", 1, nil)) })
	list, err := second.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: 1, PageSize: 10})
	c.record("service list", struct {
		Names []string
		Error bool
	}{sortedCopy(list.Doms), err != nil})
}

// Services nobody registered: subscribing, selecting, querying, listing.
func conformEmptyServices(c *conformer) {
	client := c.client()
	w := watch(c.t, client, "nobody")
	waitFor(pushWait, func() bool { return w.count() > 0 })
	c.record("subscribe: callbacks", w.count())
	all, err := client.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "nobody-else"})
	c.record("SelectAllInstances", struct {
		Addrs []string
		Error bool
	}{addrs(all), err != nil})
	_, err = client.SelectOneHealthyInstance(vo.SelectOneHealthInstanceParam{ServiceName: "nobody-else"})
	c.record("SelectOneHealthyInstance fails", err != nil)
	svc, err := client.GetService(vo.GetServiceParam{ServiceName: "nobody-else"})
	c.record("GetService", struct {
		Service serviceView
		Error   bool
	}{c.viewOf(svc), err != nil})
	raw := c.raw()
	resp, info := c.rawQuery(raw, "DEFAULT_GROUP", "nobody-at-all", "", false)
	c.record("raw query", struct {
		Response responseView
		Service  serviceView
	}{resp, info})
	list, err := client.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageNo: 1, PageSize: 10})
	c.record("subscribed services are not listed", struct {
		Count int64
		Names []string
		Error bool
	}{list.Count, list.Doms, err != nil})
}

// Namespaces and groups isolate: the same service name in two namespaces
// and two groups, each seen only where it lives; namespace "" is "public".
func conformNamespacesAndGroups(c *conformer) {
	a := c.client()
	other := c.namespace + "-b"
	b := newClient(c.t, []string{c.addr}, func(cc *constant.ClientConfig) { cc.NamespaceId = other })
	register(c.t, a, instance("iso", "10.8.0.1", 1, nil))
	register(c.t, b, instance("iso", "10.8.0.2", 2, nil))
	grouped := instance("iso", "10.8.0.3", 3, nil)
	grouped.GroupName = c.group
	register(c.t, b, grouped)
	for name, client := range map[string]interface {
		SelectAllInstances(vo.SelectAllInstancesParam) ([]model.Instance, error)
	}{"a": a, "b": b} {
		for _, group := range []string{"", c.group} {
			got, err := client.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "iso", GroupName: group})
			c.record(fmt.Sprintf("namespace %s group %q", name, groupLabel(c, group)), struct {
				Addrs []string
				Error bool
			}{addrs(got), err != nil})
		}
	}
	list, err := a.GetAllServicesInfo(vo.GetAllServiceInfoParam{NameSpace: other, GroupName: c.group, PageNo: 1, PageSize: 10})
	c.record("a lists b's namespace by name", struct {
		Count int64
		Names []string
		Error bool
	}{list.Count, list.Doms, err != nil})
	// "" and "public" are the same namespace; the unique group keeps it ours.
	public := newClient(c.t, []string{c.addr})
	named := newClient(c.t, []string{c.addr}, func(cc *constant.ClientConfig) { cc.NamespaceId = "public" })
	inPublic := instance("iso-public", "10.8.0.4", 4, nil)
	inPublic.GroupName = c.group
	register(c.t, public, inPublic)
	got, err := named.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "iso-public", GroupName: c.group})
	c.record(`"public" sees what "" registered`, struct {
		Addrs []string
		Error bool
	}{addrs(got), err != nil})
	raw := c.raw()
	for _, namespace := range []string{"", "public"} {
		resp := raw.call(c.t, "ServiceQueryRequest", rpc_request.NewServiceQueryRequest(namespace, "iso-public", c.group, "", false, 0), nil)
		var body rpc_response.QueryServiceResponse
		_ = json.Unmarshal(resp.Body, &body)
		c.record(fmt.Sprintf("raw query in namespace %q", namespace), addrs(body.ServiceInfo.Hosts))
	}
}

// groupLabel names the scenario's unique group so that the key is the same
// on every server.
func groupLabel(c *conformer, group string) string {
	if group == c.group {
		return "unique"
	}
	return group
}
