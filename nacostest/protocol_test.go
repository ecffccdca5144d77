package nacostest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
)

// Like Nacos 2.3+, the server acknowledges a setup with SetupAckRequest only
// when the client sends its ability table, which SDK v2.3.5 does not.
func TestSetupAckOnlyForAClientWithAbilities(t *testing.T) {
	srv := newServer(t)
	setup := map[string]any{}
	encoded, _ := json.Marshal(sdkConnectionSetup())
	_ = json.Unmarshal(encoded, &setup)
	setup["abilityTable"] = map[string]bool{}
	encoded, _ = json.Marshal(setup)
	java := dialUnregistered(t, srv)
	java.openStreamWith(t, encoded)
	eventually(t, 5*time.Second, func() bool { return len(java.received("SetupAckRequest")) == 1 })
	var ack struct {
		AbilityTable map[string]bool `json:"abilityTable"`
		Module       string          `json:"module"`
	}
	if err := json.Unmarshal(java.received("SetupAckRequest")[0].Body, &ack); err != nil || ack.Module != "internal" || len(ack.AbilityTable) == 0 {
		t.Fatalf("SetupAckRequest %s: %v", java.received("SetupAckRequest")[0].Body, err)
	}

	sdk := dialRaw(t, srv)
	// A request answered after the setup shows the ack would have come first.
	mustSucceed(t, sdk.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), nil), "InstanceResponse")
	if got := sdk.received("SetupAckRequest"); len(got) != 0 {
		t.Fatalf("a client without abilities got %d SetupAckRequest", len(got))
	}
	if got := len(sdk.received(notifySubscriberRequest)); got != 0 {
		t.Fatalf("%d pushes without a subscription", got)
	}
}

// Java fails on a setup without labels and never registers the connection.
func TestSetupWithoutLabelsIsNotTaken(t *testing.T) {
	srv := newServer(t)
	r := dialUnregistered(t, srv)
	bare, _ := json.Marshal(rpc_request.NewConnectionSetupRequest())
	r.openStreamWith(t, bare)
	eventually(t, 5*time.Second, func() bool { return srv.Requests(ConnectionSetupRequest) == 1 })
	got := r.call(t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil)
	if got.ErrorCode != codeUnregistered {
		t.Fatalf("health check after a setup without labels: %s", got.Body)
	}
}

// A connection that sends nothing for the idle time is probed with a
// ClientDetectionRequest; one that answers stays, one that does not is
// closed and its instances go. Clients that keep talking are not probed.
func TestClientDetection(t *testing.T) {
	const idle = 400 * time.Millisecond
	srv := newServer(t, WithClientDetection(idle))
	answering, silent := dialRaw(t, srv), dialRaw(t, srv)
	silent.mu.Lock()
	silent.ignoreDetection = true
	silent.mu.Unlock()
	mustSucceed(t, answering.call(t, "InstanceRequest", registerRequest("a", "10.0.0.1", 80), nil), "InstanceResponse")
	mustSucceed(t, silent.call(t, "InstanceRequest", registerRequest("b", "10.0.0.2", 80), nil), "InstanceResponse")
	sdk := newClient(t, []string{srv.Addr()})
	register(t, sdk, instance("c", "10.0.0.3", 80, nil))

	eventually(t, 10*time.Second, func() bool { return holds(srv, "b") })
	if n := len(silent.received("ClientDetectionRequest")); n == 0 {
		t.Fatal("the silent connection was closed without a probe")
	}
	if !holds(srv, "a", "10.0.0.1:80") || len(answering.received("ClientDetectionRequest")) == 0 {
		t.Fatalf("the answering connection: instances %v, probes %d", srv.Instances("", "", "a"), len(answering.received("ClientDetectionRequest")))
	}
	// It is probed again and again, and stays.
	probes := len(answering.received("ClientDetectionRequest"))
	eventually(t, 10*time.Second, func() bool { return len(answering.received("ClientDetectionRequest")) > probes })
	if !holds(srv, "a", "10.0.0.1:80") || !holds(srv, "c", "10.0.0.3:80") {
		t.Fatalf("instances of connections that answer went: a %v, c %v", srv.Instances("", "", "a"), srv.Instances("", "", "c"))
	}
	if got := silent.call(t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil); got.Success {
		t.Fatal("the closed connection is still served")
	}
}

// Blank service and group names pass the parameter checker, which skips
// blank values, and are refused by the handlers that build a grouped name.
func TestBlankNamesAreRefused(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	good := instanceOf(instance("svc", "10.0.0.1", 80, nil))
	const (
		blankService = "Param 'serviceName' is illegal, serviceName is blank"
		blankGroup   = "Param 'groupName' is illegal, groupName is blank"
	)
	for _, tc := range []struct {
		requestType string
		request     any
		want        string
	}{
		{"InstanceRequest", rpc_request.NewInstanceRequest("public", "svc", "", "registerInstance", good), blankGroup},
		{"InstanceRequest", rpc_request.NewInstanceRequest("public", " ", "DEFAULT_GROUP", "deregisterInstance", good), blankService},
		{"BatchInstanceRequest", rpc_request.NewBatchInstanceRequest("public", "", "", "batchRegisterInstance", nil), blankService},
		{"SubscribeServiceRequest", rpc_request.NewSubscribeServiceRequest("public", "svc", "", "", true), blankGroup},
	} {
		resp := raw.call(t, tc.requestType, tc.request, nil)
		if resp.Type != "ErrorResponse" || resp.ResultCode != 500 || resp.ErrorCode != 500 || resp.Message != tc.want {
			t.Errorf("%s: got %s %s, want ErrorResponse 500/500 %q", tc.requestType, resp.Type, resp.Body, tc.want)
		}
	}
	if names := srv.Services("", ""); len(names) != 0 || srv.Subscribers("", "", "svc") != 0 {
		t.Fatalf("refused requests changed the store: %v", names)
	}
}

// Unlike the SDK, which sends "public", Java gives a blank namespace in a
// request no default: it is a namespace of its own.
func TestBlankNamespaceInARequestIsNotPublic(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	mustSucceed(t, raw.call(t, "InstanceRequest", rpc_request.NewInstanceRequest("", "svc", "DEFAULT_GROUP", "registerInstance", instanceOf(instance("svc", "10.0.0.1", 80, nil))), nil), "InstanceResponse")
	if len(srv.Instances("public", "", "svc")) != 0 {
		t.Fatal(`a request in namespace "" registered in "public"`)
	}
	list := raw.call(t, "ServiceListRequest", rpc_request.NewServiceListRequest("", "", "DEFAULT_GROUP", 1, 10, ""), nil)
	var body struct {
		ServiceNames []string `json:"serviceNames"`
	}
	if err := json.Unmarshal(list.Body, &body); err != nil || len(body.ServiceNames) != 1 {
		t.Fatalf(`the service list of namespace "": %s`, list.Body)
	}
}
