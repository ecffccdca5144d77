package nacostest

import (
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
)

// versionSeen returns a condition: w's last list is one instance with
// metadata version v.
func versionSeen(w *watcher, v string) func() bool {
	return func() bool {
		last, _ := w.latest()
		return len(last) == 1 && last[0].Metadata["version"] == v
	}
}

func versioned(v string) vo.RegisterInstanceParam {
	return instance("svc", "10.0.0.1", 80, map[string]string{"version": v})
}

// publishedAndWatched starts a client that registers version 1 of "svc" and a
// second client that watches it, and waits until the watcher has seen it.
func publishedAndWatched(t testing.TB, srv *Server) (publisher naming_client.INamingClient, w *watcher) {
	t.Helper()
	publisher = newClient(t, []string{srv.Addr()})
	reader := newClient(t, []string{srv.Addr()})
	register(t, publisher, versioned("1"))
	w = watch(t, reader, "svc")
	eventually(t, 5*time.Second, versionSeen(w, "1"))
	return publisher, w
}

func TestRestartClientsRedoRegistrationsAndSubscriptions(t *testing.T) {
	skipIfSDKReconnectsUnderRace(t)
	srv := newServer(t)
	addr := srv.Addr()
	publisher, w := publishedAndWatched(t, srv)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, srv.Addr())
	}
	// The SDK reconnects and redoes its registration and subscription.
	eventually(t, 10*time.Second, func() bool {
		return holds(srv, "svc", "10.0.0.1:80") && srv.Subscribers("", "", "svc") == 1
	})
	// The new subscription receives fresh pushes.
	register(t, publisher, versioned("2"))
	eventually(t, 5*time.Second, versionSeen(w, "2"))
}

func TestDropConnectionsRemovesStateUntilClientsRedo(t *testing.T) {
	skipIfSDKReconnectsUnderRace(t)
	srv := newServer(t)
	_, w := publishedAndWatched(t, srv)
	setups := srv.Requests(ConnectionSetupRequest)

	// Hold back the re-registration to see the state in between.
	undo := srv.FailRequests(InstanceRequest, FailTimeout)
	srv.DropConnections()
	if !holds(srv, "svc") {
		t.Fatalf("a dropped connection's instance must go: %+v", srv.Instances("", "", "svc"))
	}
	// Both clients reconnect; the reader re-subscribes and sees the empty list.
	eventually(t, 10*time.Second, func() bool {
		return srv.Requests(ConnectionSetupRequest) == setups+2 && srv.Subscribers("", "", "svc") == 1 && w.sees()
	})
	undo()
	eventually(t, 5*time.Second, versionSeen(w, "1"))
	if !holds(srv, "svc", "10.0.0.1:80") {
		t.Fatalf("re-registration missing: %+v", srv.Instances("", "", "svc"))
	}
}

func TestHoldPushesKeepsOrderUntilRelease(t *testing.T) {
	srv := newServer(t)
	publisher, w := publishedAndWatched(t, srv)
	before := w.count()

	release := srv.HoldPushes()
	register(t, publisher, versioned("2"))
	register(t, publisher, versioned("3"))
	never(t, 200*time.Millisecond, func() bool { return w.count() != before })

	release()
	release() // idempotent
	eventually(t, 5*time.Second, versionSeen(w, "3"))
	w.mu.Lock()
	defer w.mu.Unlock()
	var order []string
	for _, update := range w.updates[before:] {
		order = append(order, update[0].Metadata["version"])
	}
	if strings.Join(order, ",") != "2,3" {
		t.Fatalf("released pushes arrived as %v, want 2,3", order)
	}
}

func TestPushDelay(t *testing.T) {
	srv := newServer(t)
	publisher, w := publishedAndWatched(t, srv)

	const delay = 300 * time.Millisecond
	srv.SetPushDelay(delay)
	start := time.Now()
	register(t, publisher, versioned("2"))
	eventually(t, 5*time.Second, versionSeen(w, "2"))
	if took := time.Since(start); took < delay {
		t.Fatalf("push arrived after %v, before the %v delay", took, delay)
	}

	srv.SetPushDelay(0)
	register(t, publisher, versioned("3"))
	eventually(t, 5*time.Second, versionSeen(w, "3"))
}

// After an injected error or timeout, the tests below leave the SDK alone
// until it has recovered by itself: nacos-sdk-go v2.3.5 reads its status
// without synchronisation in every request while a failed one updates it
// atomically, so a concurrent call would be reported by the race detector.
func TestFailRequests(t *testing.T) {
	t.Run("FailWithError", func(t *testing.T) {
		srv := newServer(t)
		client := newClient(t, []string{srv.Addr()})
		undo := srv.FailRequests(InstanceRequest, FailWithError)
		ok, err := client.RegisterInstance(versioned("1"))
		if ok || err == nil || !strings.Contains(err.Error(), injectedFailure) {
			t.Fatalf("RegisterInstance = %v, %v; want the injected error", ok, err)
		}
		if n := srv.Requests(InstanceRequest); n < 3 {
			t.Fatalf("the SDK retries ErrorResponse; server saw %d InstanceRequests", n)
		}
		// The failed request makes the SDK redo its registrations, again
		// and again while they fail; after undo the redo succeeds.
		undo()
		eventually(t, 5*time.Second, func() bool { return holds(srv, "svc", "10.0.0.1:80") })
	})
	t.Run("FailRefused", func(t *testing.T) {
		srv := newServer(t)
		client := newClient(t, []string{srv.Addr()})
		defer srv.FailRequests(InstanceRequest, FailRefused)()
		ok, err := client.RegisterInstance(versioned("1"))
		if ok || err != nil {
			t.Fatalf("RegisterInstance = %v, %v; want false, nil", ok, err)
		}
		// Retrying would make three. A second one can come from the redo the
		// SDK runs right after connecting, if it sees the cached instance.
		if n := srv.Requests(InstanceRequest); n > 2 {
			t.Fatalf("a typed refusal is not retried; server saw %d InstanceRequests", n)
		}
		if !holds(srv, "svc") {
			t.Fatalf("refused registration stored: %+v", srv.Instances("", "", "svc"))
		}
	})
	t.Run("FailNoHandler", func(t *testing.T) {
		srv := newServer(t)
		client := newClient(t, []string{srv.Addr()})
		defer srv.FailRequests(BatchInstanceRequest, FailNoHandler)()
		ok, err := client.BatchRegisterInstance(vo.BatchRegisterInstanceParam{ServiceName: "svc", Instances: []vo.RegisterInstanceParam{
			instance("svc", "10.0.0.1", 80, nil), instance("svc", "10.0.0.2", 80, nil),
		}})
		if ok || err == nil || err.Error() != "RequestHandler Not Found" {
			t.Fatalf("BatchRegisterInstance = %v, %v; want Java's error for an unknown request type", ok, err)
		}
		if !holds(srv, "svc") {
			t.Fatalf("refused batch stored: %+v", srv.Instances("", "", "svc"))
		}
	})
	t.Run("FailTimeout", func(t *testing.T) {
		srv := newServer(t)
		client := newClient(t, []string{srv.Addr()}, func(c *constant.ClientConfig) { c.TimeoutMs = 300 })
		undo := srv.FailRequests(InstanceRequest, FailTimeout)
		start := time.Now()
		ok, err := client.RegisterInstance(versioned("1"))
		if ok || err == nil {
			t.Fatalf("RegisterInstance = %v, %v; want a timeout", ok, err)
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Fatalf("RegisterInstance gave up after %v, before its timeout", took)
		}
		// As with FailWithError, the SDK redoes the registration by itself.
		undo()
		undo() // idempotent
		eventually(t, 5*time.Second, func() bool { return holds(srv, "svc", "10.0.0.1:80") })
	})
	t.Run("FailLateAnswer", func(t *testing.T) {
		srv := newServer(t)
		client := newClient(t, []string{srv.Addr()})
		undo := srv.FailRequests(InstanceRequest, FailLateAnswer)
		done := make(chan error, 1)
		go func() {
			_, err := client.RegisterInstance(versioned("1"))
			done <- err
		}()
		// Served at once, answered only after undo.
		eventually(t, 5*time.Second, func() bool { return srv.HeldAnswers() == 1 && holds(srv, "svc", "10.0.0.1:80") })
		select {
		case err := <-done:
			t.Fatalf("answered before undo: %v", err)
		default:
		}
		undo()
		if err := <-done; err != nil {
			t.Fatalf("RegisterInstance after undo: %v", err)
		}
		if n := srv.HeldAnswers(); n != 0 {
			t.Fatalf("%d answers still held", n)
		}
	})
}

func TestPushRaw(t *testing.T) {
	srv := newServer(t)
	_, w := publishedAndWatched(t, srv)
	acks := srv.Requests(NotifySubscriberResponse)
	setups := srv.Requests(ConnectionSetupRequest)

	// The SDK drops a push it cannot decode, without acknowledging it. (JSON
	// that does not even parse would crash SDK v2.3.5: see PushRaw.)
	srv.PushRaw("", "", "svc", []byte(`{"hosts":"none","lastRefTime":"soon"}`))
	// A well-formed raw push is taken as is.
	srv.PushRaw("", "", "svc", []byte(`{"name":"svc","groupName":"DEFAULT_GROUP","clusters":"","lastRefTime":99999999999999,
		"hosts":[{"ip":"192.0.2.7","port":7,"weight":1,"healthy":true,"enabled":true}]}`))
	eventually(t, 5*time.Second, func() bool { return w.sees("192.0.2.7:7") })
	eventually(t, 5*time.Second, func() bool { return srv.Requests(NotifySubscriberResponse) == acks+1 })
	if srv.Requests(ConnectionSetupRequest) != setups {
		t.Fatal("a malformed push must not break the connection")
	}
}
