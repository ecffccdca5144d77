package configsource

import (
	"testing"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// watching returns a source of app.yaml, read and watched, on an embedded server.
func watching(t *testing.T) (*nacostest.Server, *Source, func() map[string]interface{}) {
	t.Helper()
	env := newEnv(t)
	srv := env.Embedded(t, "Restart, DropConnections and FailRequests")
	env.Publish(t, "app.yaml", "v: 0")
	s := env.source(t, []string{"app.yaml"})
	w := watch(t, s)
	return srv, s, func() map[string]interface{} { return decoded(t, next(t, w, changeWithin)) }
}

// The tests here make the SDK reconnect: under -race they run in a child process that
// tolerates only nacos-sdk-go's own reconnect races (testkit.RunChecked).

func TestWatchResumesAfterRestart(t *testing.T) {
	testkit.RunChecked(t, false, watchResumesAfterRestart)
}

func watchResumesAfterRestart(t *testing.T) {
	srv, _, nextValues := watching(t)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := srv.PublishConfig("", "", "app.yaml", "v: 1"); err != nil {
		t.Fatal(err)
	}
	if got := nextValues(); got["v"] != 1.0 {
		t.Fatalf("after Restart: got %v", got)
	}
	if err := srv.PublishConfig("", "", "app.yaml", "v: 2"); err != nil {
		t.Fatal(err)
	}
	if got := nextValues(); got["v"] != 2.0 {
		t.Fatalf("the watch did not resume: got %v", got)
	}
}

// A change made while the client has no listener on the server (its connection
// dropped, its listen request not yet served) is delivered once it listens again.
func TestChangeWhileDisconnectedIsDelivered(t *testing.T) {
	testkit.RunChecked(t, false, changeWhileDisconnectedIsDelivered)
}

func changeWhileDisconnectedIsDelivered(t *testing.T) {
	srv, _, nextValues := watching(t)
	undo := srv.FailRequests(nacostest.ConfigBatchListenRequest, nacostest.FailTimeout)
	srv.DropConnections()
	if n := srv.ConfigListeners("", "", "app.yaml"); n != 0 {
		t.Fatalf("%d listeners after the drop", n)
	}
	if err := srv.PublishConfig("", "", "app.yaml", "v: 1"); err != nil {
		t.Fatal(err)
	}
	undo()
	if got := nextValues(); got["v"] != 1.0 {
		t.Fatalf("after reconnecting: got %v", got)
	}
}
