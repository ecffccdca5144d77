package configsource

import (
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// The source waits on nacos-sdk-go's listen loop, which takes a wake-up only between
// rounds, and whose rounds wait for Nacos up to the SDK's own 3-second timeout,
// whatever the client's. The tests here stall the SDK's listen request on the server
// and check that Watch and Close still return within the source's timeout, saying in
// the log what they did not wait for.

// stallTimeout is the source's timeout in these tests: well under the SDK's 3 s.
const stallTimeout = time.Second

// withinStall is how long Watch and Close may take here: the timeout and some slack for
// a loaded machine, still well under the SDK's 3 s.
const withinStall = stallTimeout + time.Second

func TestWatchIsBoundedWhileAListenRoundIsStuck(t *testing.T) {
	env := newEnv(t)
	srv := env.Embedded(t, "FailRequests, to stall the SDK's listen round")
	env.Publish(t, "app.yaml", "v: 0")
	log := &testkit.LogLines{}
	s := env.source(t, []string{"app.yaml"}, with(TimeoutKey{}, stallTimeout), withLogger(log))
	read(t, s)

	undo := srv.FailRequests(nacostest.ConfigBatchListenRequest, nacostest.FailTimeout)
	defer undo()
	start := time.Now()
	w, err := s.Watch()
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if took > withinStall {
		t.Fatalf("Watch took %v while the SDK's listen round was stuck, with the timeout %v", took, stallTimeout)
	}
	if !strings.Contains(log.Text(), "listen round") {
		t.Fatalf("Watch did not log why it returned before the SDK's listen round ended:\n%s", log.Text())
	}

	undo() // Nacos answers: the watch works
	env.Publish(t, "app.yaml", "v: 1")
	if got := decoded(t, next(t, w, changeWithin)); got["v"] != 1.0 {
		t.Fatalf("after the stall: got %v", got)
	}
}

func TestCloseIsBoundedWhileAListenRoundIsStuck(t *testing.T) {
	env := newEnv(t)
	srv := env.Embedded(t, "FailRequests, to stall the SDK's listen round")
	env.Publish(t, "app.yaml", "v: 0")
	log := &testkit.LogLines{}
	s := env.source(t, []string{"app.yaml"}, with(TimeoutKey{}, stallTimeout), withLogger(log))
	watch(t, s)
	c := s.currentClient()

	listens := srv.Requests(nacostest.ConfigBatchListenRequest)
	undo := srv.FailRequests(nacostest.ConfigBatchListenRequest, nacostest.FailTimeout)
	defer undo()
	env.Publish(t, "app.yaml", "v: 1") // Nacos pushes; the SDK's next round asks about it
	eventually(t, changeWithin, func() bool { return srv.Requests(nacostest.ConfigBatchListenRequest) > listens }, "the SDK asked nothing after the change")
	start := time.Now()
	s.Close()
	if took := time.Since(start); took > withinStall {
		t.Fatalf("Close took %v while the SDK's listen round was stuck, with the timeout %v", took, stallTimeout)
	}
	if !strings.Contains(log.Text(), "listen round") {
		t.Fatalf("Close did not log what the client still waits for:\n%s", log.Text())
	}

	undo() // the round ends, and the client with it, in the background
	select {
	case <-c.Close():
	case <-time.After(c.idleWithin() + stallTimeout):
		t.Fatalf("the client did not end after the stall; it waits for %s", c.waitingFor())
	}
}
