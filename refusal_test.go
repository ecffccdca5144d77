package nacos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// steadyFor is how long a test watches for requests that must not come: the maintain
// loop retries within 100 ms and the SDK redoes within a second.
const steadyFor = 2 * time.Second

// steady fails the test if count changes during steadyFor, and returns its final value.
func steady(t *testing.T, what string, count func() int64) int64 {
	t.Helper()
	before := count()
	deadline := time.Now().Add(steadyFor)
	for time.Now().Before(deadline) {
		if now := count(); now != before {
			t.Fatalf("%s went from %d to %d after the call returned: something is still retrying", what, before, now)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return before
}

// A cluster name with '_' passes Nacos's parameter checker but not the register
// handler (NamingUtils.checkInstanceIsLegal): it is refused before anything is sent.
func TestClusterNacosRefusesIsRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	r := env.registry(t, WithCluster("east_1"))
	err := r.Register(service("refused-cluster", "v1", "n1"))
	if err == nil || !strings.Contains(err.Error(), `cluster "east_1"`) || strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("Register with WithCluster(\"east_1\"): %v; want an error naming the cluster, not retried", err)
	}
	ok := env.registry(t)
	err = ok.Register(service("refused-cluster", "v1", "n1"), RegisterParam(vo.RegisterInstanceParam{ClusterName: "east_1"}))
	if err == nil || !strings.Contains(err.Error(), `cluster "east_1"`) {
		t.Fatalf("Register with RegisterParam cluster east_1: %v; want an error naming the cluster", err)
	}
	if env.srv != nil {
		if n := env.srv.Requests(nacostest.InstanceRequest) + env.srv.Requests(nacostest.BatchInstanceRequest); n != 0 {
			t.Fatalf("%d registrations were sent", n)
		}
	}
}

// Against a server without batch registration (Nacos 2.0, 2.1), several nodes of one
// service are refused once, with the version they need; nothing is retried, the SDK's
// reconnect cache does not keep the batch, and what was registered stays.
func TestBatchOnAServerWithoutItFailsClearlyOnce(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, batchOnAServerWithoutIt) // the SDK reconnects after the refusal
}

func batchOnAServerWithoutIt(t *testing.T) {
	env := newEnv(t)
	srv := env.embedded(t, "FailNoHandler, to answer as a Nacos without batch support")
	r := connectedRegistry(t, env)
	single := service("old-server", "v1", "n1")
	must(t, r.Register(single), "register one node")
	srv.FailRequests(nacostest.BatchInstanceRequest, nacostest.FailNoHandler)

	err := r.Register(service("old-server", "v1", "n2"))
	if err == nil || !strings.Contains(err.Error(), "Nacos 2.2 or later") || strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("Register of a second node: %v; want a refusal naming Nacos 2.2", err)
	}
	quiet(t, srv, r) // the SDK's own reconnect after the refused request is over
	batches := steady(t, "BatchInstanceRequests", func() int64 { return srv.Requests(nacostest.BatchInstanceRequest) })
	t.Logf("%d batch requests for one refused registration (the SDK tries 3 times)", batches)

	// The refusal is remembered: the next one is not even sent.
	err = r.Register(service("old-server", "v1", "n2", "n3"))
	if err == nil || !strings.Contains(err.Error(), "Nacos 2.2 or later") {
		t.Fatalf("second Register of several nodes: %v", err)
	}
	if n := srv.Requests(nacostest.BatchInstanceRequest); n != batches {
		t.Fatalf("a second batch was sent (%d requests, %d before)", n, batches)
	}

	// A reconnect redoes what the SDK cached: the single node, not the batch.
	srv.DropConnections()
	quiet(t, srv, r)
	state := func() string { return serverState(srv, "", "", "old-server") }
	eventually(t, recovery, func() bool { return state() == stateOf(single) }, "the server holds %s", state)
	steady(t, "BatchInstanceRequests after a reconnect", func() int64 { return srv.Requests(nacostest.BatchInstanceRequest) })
	if got := state(); got != stateOf(single) {
		t.Fatalf("after the refusals and a reconnect the server holds %s, want %s", got, stateOf(single))
	}
}

// A refusal the SDK passes on without its reason (Java's filters: auth, parameter
// checks) is reported and not retried; a refused Deregister leaves the nodes registered.
func TestRefusalWithoutAReasonIsNotRetried(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	srv := env.embedded(t, "FailRequests, to refuse without a reason")
	r := connectedRegistry(t, env)
	kept := service("refused-kept", "v1", "k1")
	mustRegister(t, r, kept)
	quiet(t, srv, r) // the client's start-up is over: the registry sends again what it sent just before

	undo := srv.FailRequests(nacostest.InstanceRequest, nacostest.FailRefused)
	err := r.Register(service("refused-new", "v1", "n1"))
	if err == nil || !strings.Contains(err.Error(), "refused by the server") || strings.Contains(err.Error(), "keeps trying") {
		t.Fatalf("refused Register: %v", err)
	}
	err = r.Deregister(kept)
	if err == nil || !strings.Contains(err.Error(), "refused by the server") {
		t.Fatalf("refused Deregister: %v", err)
	}
	steady(t, "InstanceRequests", func() int64 { return srv.Requests(nacostest.InstanceRequest) })
	undo()
	steady(t, "InstanceRequests once the server accepts again", func() int64 { return srv.Requests(nacostest.InstanceRequest) })
	if got := serverState(srv, "", "", "refused-kept", "refused-new"); got != stateOf(kept) {
		t.Fatalf("the server holds %s, want only the node whose deregistration was refused: %s", got, stateOf(kept))
	}
	must(t, r.Register(service("refused-new", "v1", "n1")), "register once the server accepts")
}

// A listing the server refuses must fail clearly, not look like a namespace without
// services (a user without read permission on a namespace gets such refusals). The SDK's
// GetServiceList ignores the response's success flag.
func TestReliabilityRefusedServiceListFailsClearly(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	srv := env.embedded(t, "FailRequests")
	r := connectedRegistry(t, env)
	mustRegister(t, r, service("rel-list", "v1", "n1"))
	undo := srv.FailRequests(nacostest.ServiceListRequest, nacostest.FailRefused)
	defer undo()
	list, err := r.ListServices()
	mustFailClearly(t, fmt.Sprintf("ListServices refused by the server (answered %q)", nameList(list)), err)
	w, err := r.Watch()
	if w != nil {
		w.Stop()
	}
	mustFailClearly(t, "Watch of all services refused by the server", err)
}
