package nacostest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// The config service, by raw gRPC: queries, publishes with types and
// compare-and-swap, parameter checks, remove, listening by md5 and pushes, and
// the public namespace, spelled "", "public" and "null".
func conformConfig(c *conformer) {
	conn, listener := c.raw(), c.raw()
	ns, group := c.namespace, c.group
	summary := func(r rawResponse) responseView { return viewOfResponse(r) }
	publish := func(tenant, group, dataID, content, cas, contentType string) rawResponse {
		req := rpc_request.NewConfigPublishRequest(group, dataID, tenant, content, cas)
		if contentType != "" {
			req.AdditionMap["type"] = contentType
		}
		return conn.call(c.t, "ConfigPublishRequest", req, nil)
	}
	type queried struct {
		Response                  responseView
		Content, Md5, ContentType string
		Stamped                   bool
	}
	query := func(tenant, group, dataID string) queried {
		r := conn.call(c.t, "ConfigQueryRequest", rpc_request.NewConfigQueryRequest(group, dataID, tenant), nil)
		var body struct {
			Content, Md5, ContentType string
			LastModified              int64
		}
		_ = json.Unmarshal(r.Body, &body)
		return queried{summary(r), body.Content, body.Md5, body.ContentType, body.LastModified > 0}
	}
	// settled queries until the answer holds content ("" for none): Nacos serves a
	// change to queries a few milliseconds after it acknowledged it.
	settled := func(tenant, group, dataID, content string) queried {
		var q queried
		waitFor(3*time.Second, func() bool { q = query(tenant, group, dataID); return q.Content == content })
		return q
	}
	remove := func(tenant, group, dataID string) rawResponse {
		return conn.call(c.t, "ConfigRemoveRequest", rpc_request.NewConfigRemoveRequest(group, dataID, tenant), nil)
	}
	// listen answers the changed configs as tenant/dataId (the group is the scenario's).
	listen := func(on bool, tenant, dataID, md5 string) string {
		req := rpc_request.NewConfigBatchListenRequest(1)
		req.Listen = on
		req.ConfigListenContexts = append(req.ConfigListenContexts, model.ConfigListenContext{Group: group, DataId: dataID, Tenant: tenant, Md5: md5})
		r := listener.call(c.t, "ConfigBatchListenRequest", req, nil)
		var body struct{ ChangedConfigs []model.ConfigContext }
		_ = json.Unmarshal(r.Body, &body)
		var changed []string
		for _, cc := range body.ChangedConfigs {
			changed = append(changed, strings.Replace(cc.Tenant, ns, "<ns>", 1)+"/"+cc.DataId)
		}
		return fmt.Sprintf("%+v changed=%v", summary(r), changed)
	}
	// pushes returns the pushes received since the last call, as tenant/dataId,
	// waiting wait for one to come, and a while more for others.
	pushes := func(wait time.Duration) []string {
		waitFor(wait, func() bool { return len(listener.stream.configPushes()) > 0 })
		time.Sleep(300 * time.Millisecond) // more may follow: this observes that none does
		got := listener.stream.takeConfigPushes()
		for i, p := range got {
			got[i] = strings.Replace(strings.Replace(p, ns, "<ns>", 1), "/"+group+"/", "/", 1)
		}
		return got
	}

	// Query, publish, types, md5.
	c.record("query missing", query(ns, group, "app"))
	c.record("publish", summary(publish(ns, group, "app", "greeting: hi\n", "", "yaml")))
	c.record("read right after publish", query(ns, group, "app").Content != "")
	c.record("query", settled(ns, group, "app", "greeting: hi\n"))
	c.record("publish unknown type", summary(publish(ns, group, "typed", "x", "", "ini")))
	c.record("query unknown type", settled(ns, group, "typed", "x").ContentType)
	c.record("publish no type", summary(publish(ns, group, "untyped", "x", "", "")))
	c.record("query no type", settled(ns, group, "untyped", "x").ContentType)

	// Compare-and-swap.
	c.record("cas wrong md5", summary(publish(ns, group, "app", "greeting: cas\n", md5Hex("other"), "yaml")))
	c.record("cas missing config", summary(publish(ns, group, "new", "x", md5Hex("other"), "")))
	c.record("cas right md5", summary(publish(ns, group, "app", "greeting: cas\n", md5Hex("greeting: hi\n"), "yaml")))
	c.record("after cas", settled(ns, group, "app", "greeting: cas\n").Content)

	// Parameter checks.
	c.record("publish blank content", summary(publish(ns, group, "blank", " ", "", "")))
	c.record("publish bad dataId", summary(publish(ns, group, "a b", "x", "", "")))
	c.record("publish empty dataId", summary(publish(ns, group, "", "x", "", "")))
	c.record("publish bad group", summary(publish(ns, "a/b", "x", "x", "", "")))
	c.record("publish empty group", summary(publish(ns, "", "x", "x", "", "")))
	c.record("publish bad tenant", summary(publish("a b", group, "x", "x", "", "")))
	c.record("query bad dataId", query(ns, group, "a b").Response)
	c.record("query empty group", query(ns, "", "app").Response)
	c.record("remove bad dataId", summary(remove(ns, group, "a b")))
	c.record("remove missing", summary(remove(ns, group, "never")))

	// Listening and pushes.
	c.record("listen missing", listen(true, ns, "live", ""))
	c.record("listen missing with an md5", listen(true, ns, "live", md5Hex("x")))
	publish(ns, group, "live", "v1", "", "")
	c.record("push on publish", pushes(pushWait))
	settled(ns, group, "live", "v1")
	c.record("listen old md5", listen(true, ns, "live", md5Hex("v0")))
	c.record("listen current md5", listen(true, ns, "live", md5Hex("v1")))
	publish(ns, group, "live", "v1", "", "")
	c.record("push on unchanged publish", pushes(time.Second))
	remove(ns, group, "live")
	c.record("push on remove", pushes(pushWait))
	settled(ns, group, "live", "")
	c.record("listen removed", listen(true, ns, "live", md5Hex("v1")))
	c.record("unlisten", listen(false, ns, "live", ""))
	publish(ns, group, "live", "v2", "", "")
	c.record("push after unlisten", pushes(time.Second))

	// The public namespace, spelled "" and "public" (the group is the scenario's own).
	publish("", group, "pub", "public content", "", "")
	c.record("query public as public", settled("public", group, "pub", "public content").Content)
	publish("public", group, "pub2", "spelled public", "", "")
	c.record("query public-spelled as empty", settled("", group, "pub2", "spelled public").Content)
	publish("null", group, "pub3", "spelled null", "", "")
	c.record("query null-spelled as empty", settled("", group, "pub3", "spelled null").Content)
	c.record("listen as public", listen(true, "public", "pub", md5Hex("public content")))
	publish("", group, "pub", "changed", "", "")
	c.record("push to a public listener", pushes(pushWait))
	c.record("listen as empty", listen(true, "", "pub", md5Hex("changed")))
	publish("public", group, "pub", "changed again", "", "")
	c.record("push to both spellings", pushes(pushWait))
	for _, tenant := range []string{"", "public", "null"} {
		for _, dataID := range []string{"pub", "pub2", "pub3"} {
			remove(tenant, group, dataID)
		}
	}
}
