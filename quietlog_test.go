package nacos

import (
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos/internal/gomicro3"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// While Nacos is down, the log at go-micro's default level (info) holds one warning
// when that is found, at most one reminder a minute, with the cause, and one info line
// when Nacos is back; no stack trace, no SDK line. A minute is scaled down to 3 s: every
// interval of the log's (the reminder, the grace before the warning, the polling) is
// divided by the same factor, and the client works as the example's does, scaled alike:
// a watch tried every 5 s and a lookup every second, for a whole (scaled) minute.
//
// It runs in a child process, where its registry is the first of the process: the
// SDK's logger is process-wide, and this registry's logger is the one it writes to.
func TestQuietLogWhileNacosIsDown(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, true, quietLogWhileNacosIsDown)
}

func quietLogWhileNacosIsDown(t *testing.T) {
	if realNacos != "" {
		t.Skip("starts an embedded Nacos where none was")
	}
	const scale = 20
	minute := time.Minute / scale
	sdkclient.ReminderEvery /= scale
	sdkclient.DownAfter /= scale
	sdkclient.PollEvery /= scale
	sdkclient.FindingTTL /= scale

	addr := testkit.UnreachableAddrs(t)[0].Addr // a closed port
	log := &gomicro3.LogRecorder{Logger: logger.NewLogger(logger.WithLevel(logger.InfoLevel))}
	r := NewRegistry(registry.Addrs(addr), registry.Timeout(time.Second), WithLogger(log))
	defer func() { Close(r); <-r.(*nacosRegistry).core.Ended() }()

	// A minute of the example's client: a watch tried every 5 s, a lookup every second.
	start := time.Now()
	for i := 0; time.Since(start) < minute; i++ {
		if i%5 == 0 {
			if w, err := r.Watch(registry.WatchService("greeter")); err == nil {
				w.Stop()
			}
		}
		_, _ = r.GetService("greeter")
		time.Sleep(time.Second / scale)
	}
	lines := log.Text()
	t.Logf("the log of a minute (scaled) with Nacos down: %q", lines)
	if n := log.Len(); n > 4 || n < 1 {
		t.Fatalf("%d lines in a minute with Nacos down; want 1 warning and at most 1 reminder (and the line that says it is back, to come)", n)
	}
	for _, line := range strings.Split(lines, "\n") {
		if !strings.HasPrefix(line, "warn nacos: ") || !strings.Contains(line, "cannot reach Nacos at "+addr) || !strings.Contains(line, "connection refused") {
			t.Fatalf("want warnings that say why Nacos is unreachable, got %q", line)
		}
	}

	srv, err := nacostest.NewServer(nacostest.WithAddr(addr))
	if err != nil {
		t.Skipf("the closed port cannot be reused: %v", err)
	}
	defer srv.Close()
	testkit.Eventually(t, 30*time.Second, func() bool { return strings.Contains(log.Text(), "info nacos: Nacos at "+addr+" is reachable again") },
		"the log says Nacos is back: %s", log.Text)
	if n := log.Len(); n > 5 {
		t.Fatalf("%d lines, from Nacos down to Nacos back; want at most 5:\n%s", n, log.Text())
	}
	t.Logf("the whole log: %q", log.Text())
}
