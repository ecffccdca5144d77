package nacostest

import (
	"testing"
	"time"
)

// With WithPushDelay the server pushes as Java does: the changes within the
// delay make one push of the latest list, a new subscriber gets a push of
// its own, and an unchanged registration is pushed too.
func TestWithPushDelayPushesAsJava(t *testing.T) {
	const delay = 200 * time.Millisecond
	srv := newServer(t, WithPushDelay(delay))
	publisher, subscriber := dialRaw(t, srv), dialRaw(t, srv)
	pushes := subscriber.openStream(t)

	subscribed := time.Now()
	mustSucceed(t, subscriber.call(t, "SubscribeServiceRequest", subscribeRequest("svc"), nil), "SubscribeServiceResponse")
	eventually(t, 5*time.Second, func() bool { return pushes.count() == 1 })
	if took := time.Since(subscribed); took < delay {
		t.Fatalf("the new subscriber's push came after %v, before the delay", took)
	}

	changed := time.Now()
	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 1), nil), "InstanceResponse")
	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.2", 2), nil), "InstanceResponse")
	eventually(t, 5*time.Second, func() bool { return pushes.count() == 2 })
	if took := time.Since(changed); took < delay || !pushes.sees("10.0.0.2:2") {
		last, _ := pushes.latest()
		t.Fatalf("after %v the subscriber has %d pushes, the last %v", took, pushes.count(), last)
	}
	// The two changes were merged: nothing else comes.
	never(t, 2*delay, func() bool { return pushes.count() != 2 })

	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.2", 2), nil), "InstanceResponse")
	eventually(t, 5*time.Second, func() bool { return pushes.count() == 3 && pushes.sees("10.0.0.2:2") })
}

// A restart drops the pushes still waiting for the delay.
func TestWithPushDelayRestartDropsPendingPushes(t *testing.T) {
	srv := newServer(t, WithPushDelay(time.Hour))
	subscriber := dialRaw(t, srv)
	mustSucceed(t, subscriber.call(t, "SubscribeServiceRequest", subscribeRequest("svc"), nil), "SubscribeServiceResponse")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	st := srv.backend.store
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.pending) != 0 {
		t.Fatalf("%d pushes still pending after Restart", len(st.pending))
	}
}
