package configsource

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

func TestWatchDeliversEachChangeInOrder(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "live.yaml", "greeting: v0")
	s := env.source(t, []string{"live.yaml"})
	w := watch(t, s)
	for _, v := range []string{"v1", "v2", "v3"} {
		env.Publish(t, "live.yaml", "greeting: "+v)
		cs := next(t, w, changeWithin)
		if got := decoded(t, cs)["greeting"]; got != v || cs.Checksum != cs.Sum() || cs.Timestamp.IsZero() {
			t.Fatalf("got %v (checksum %q, timestamp %v), want %s", got, cs.Checksum, cs.Timestamp, v)
		}
	}
	// A change that leaves the config as it was is no change.
	env.Publish(t, "live.yaml", "# same\ngreeting: v3")
	env.Remove(t, "live.yaml")
	if got := decoded(t, next(t, w, changeWithin)); len(got) != 0 {
		t.Fatalf("a deleted dataId is empty, got %v", got)
	}
}

func TestKeepOnDelete(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "a.yaml", "a: 1")
	env.Publish(t, "b.yaml", "b: 1")
	s := env.source(t, []string{"a.yaml", "b.yaml"}, with(KeepOnDeleteKey{}, true))
	w := watch(t, s)
	env.Remove(t, "a.yaml")
	env.Publish(t, "b.yaml", "b: 2")
	if got := decoded(t, next(t, w, changeWithin)); !reflect.DeepEqual(got, map[string]interface{}{"a": 1.0, "b": 2.0}) {
		t.Fatalf("got %v: the deleted dataId should keep its last content", got)
	}
}

func TestMalformedPushIsLoggedAndTheLastGoodStands(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "app.yaml", "a: 1")
	log := &testkit.LogLines{}
	s := env.source(t, []string{"app.yaml"}, withLogger(log))
	w := watch(t, s)
	env.Publish(t, "app.yaml", "a: [broken\n")
	eventually(t, changeWithin, func() bool { return strings.Contains(log.Text(), `"app.yaml"`) }, "no log line about the malformed content: %s", log.Text())
	if !strings.Contains(log.Text(), "line") {
		t.Fatalf("the log line does not say where: %s", log.Text())
	}
	env.Publish(t, "app.yaml", "a: 2")
	if got := decoded(t, next(t, w, changeWithin)); got["a"] != 2.0 {
		t.Fatalf("after a malformed push: got %v, want a: 2", got)
	}
}

// An older content that the SDK calls back after a newer one (each callback runs in a
// goroutine of its own) is recognised by its md5 and dropped.
func TestOlderContentCalledBackLateNeverWins(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "app.yaml", "v: 1")
	s := env.source(t, []string{"app.yaml"})
	w := watch(t, s)
	env.Publish(t, "app.yaml", "v: 2")
	if got := decoded(t, next(t, w, changeWithin)); got["v"] != 2.0 {
		t.Fatalf("got %v", got)
	}
	c := s.currentClient()
	s.changed(c, "app.yaml", "v: 1") // the late callback of the first content
	env.Publish(t, "app.yaml", "v: 3")
	if got := decoded(t, next(t, w, changeWithin)); got["v"] != 3.0 {
		t.Fatalf("got %v after an old content came late, want v: 3", got)
	}
}

func TestManyWatchersShareOneListener(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "app.yaml", "v: 0")
	s := env.source(t, []string{"app.yaml"})
	read(t, s)
	var watchers []*ChangeWatcher
	for range 20 {
		w, err := s.Watch()
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, w)
	}
	if srv := env.Srv; srv != nil {
		eventually(t, changeWithin, func() bool { return srv.ConfigListeners("", "", "app.yaml") == 1 }, "listeners: %d", srv.ConfigListeners("", "", "app.yaml"))
	}
	env.Publish(t, "app.yaml", "v: 1")
	for _, w := range watchers {
		if got := decoded(t, next(t, w, changeWithin)); got["v"] != 1.0 {
			t.Fatalf("got %v", got)
		}
	}
	for _, w := range watchers[1:] {
		w.Stop()
	}
	env.Publish(t, "app.yaml", "v: 2")
	if got := decoded(t, next(t, watchers[0], changeWithin)); got["v"] != 2.0 {
		t.Fatalf("the remaining watcher got %v", got)
	}
	watchers[0].Stop()
	if s.currentClient() != nil {
		t.Fatal("the last watcher to stop kept the SDK client")
	}
	if srv := env.Srv; srv != nil {
		eventually(t, 5*time.Second, func() bool { return srv.ConfigListeners("", "", "app.yaml") == 0 }, "Nacos still has a listener")
	}
}

func TestStopIsIdempotentAndUnblocksNext(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml"})
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Next()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Next block; it must return either way
	w.Stop()
	w.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, ErrWatcherStopped) {
			t.Fatalf("Next: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not unblock Next")
	}
	if _, err := w.Next(); !errors.Is(err, ErrWatcherStopped) {
		t.Fatalf("Next after Stop: %v", err)
	}
	s.Close()
	if _, err := s.Watch(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
}

// A push that reaches the SDK while a listen round waits for its answer is not lost:
// nacos-sdk-go v2.3.5 ends the round by marking every config Nacos did not report
// changed as in step, over the push's mark, and would not ask again before its
// 5-minute full sync. Here the round about a.yaml's change is answered late, and b.yaml
// changes meanwhile. (With a cache directory, the SDK starts a listener afresh from its
// snapshot: the recovery differs.)
func TestChangePushedDuringAListenRoundIsDelivered(t *testing.T) {
	t.Run("no cache directory", func(t *testing.T) { changePushedDuringAListenRound(t) })
	t.Run("WithCacheDir", func(t *testing.T) { changePushedDuringAListenRound(t, with(sdkclient.CacheDirKey{}, t.TempDir())) })
}

func changePushedDuringAListenRound(t *testing.T, opts ...option) {
	env := newEnv(t)
	srv := env.Embedded(t, "FailLateAnswer, to answer a listen round late")
	// Names of their own: the SDK's process-wide limit of 5 queries a second per config
	// would make a repeated run (-count) read the snapshot of WithCacheDir.
	a, b := fmt.Sprintf("a-%d.yaml", rand.Int64()), fmt.Sprintf("b-%d.yaml", rand.Int64())
	env.Publish(t, a, "a: 0")
	env.Publish(t, b, "b: 0")
	s := env.source(t, []string{a, b}, opts...)
	w := watch(t, s)

	undo := srv.FailRequests(nacostest.ConfigBatchListenRequest, nacostest.FailLateAnswer)
	defer undo()
	acks := srv.Requests(nacostest.NotifySubscriberResponse) // the SDK acknowledges every push so
	env.Publish(t, a, "a: 1")
	eventually(t, changeWithin, func() bool { return srv.HeldAnswers() == 1 }, "the SDK asked nothing about %s's change", a)
	env.Publish(t, b, "b: 1")
	eventually(t, changeWithin, func() bool { return srv.Requests(nacostest.NotifySubscriberResponse) == acks+2 }, "the SDK did not take %s's push", b)
	undo()

	deadline := time.Now().Add(changeWithin)
	for {
		got := decoded(t, next(t, w, time.Until(deadline)))
		if got["a"] == 1.0 && got["b"] == 1.0 {
			return
		}
		if got["b"] != 0.0 {
			t.Fatalf("got %v", got)
		}
	}
}
