package configsource

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
	"github.com/micro-registry/nacos/internal/testkit"
	"github.com/micro-registry/nacos/nacostest"
)

// infoLines keeps the lines of a logger at go-micro's default level, info.
type infoLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *infoLines) Enabled(level logging.Level) bool { return level >= logging.InfoLevel }
func (l *infoLines) Log(level logging.Level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level.String()+" "+msg)
}
func (l *infoLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// While Nacos is down, a source read every second logs, at the default level, one
// warning with the cause, at most one reminder a minute, and one line when Nacos is
// back. A minute is scaled down to 3 s, every interval of the log's alike (see the
// registry's TestQuietLogWhileNacosIsDown); it runs in a child process, which the
// scaling does not race with.
func TestQuietLogWhileNacosIsDown(t *testing.T) {
	testkit.RunChecked(t, true, quietLogWhileNacosIsDown)
}

func quietLogWhileNacosIsDown(t *testing.T) {
	if testkit.RealNacos != "" {
		t.Skip("starts an embedded Nacos where none was")
	}
	const scale = 20
	minute := time.Minute / scale
	sdkclient.ReminderEvery /= scale
	sdkclient.DownAfter /= scale
	sdkclient.PollEvery /= scale
	sdkclient.FindingTTL /= scale

	addr := testkit.UnreachableAddrs(t)[0].Addr // a closed port
	log := &infoLines{}
	o := Options{Context: context.Background(), Logger: log}
	for _, opt := range []option{with(AddressKey{}, []string{addr}), with(TimeoutKey{}, time.Second), with(DataIDKey{}, []string{"quiet.yaml"})} {
		opt(&o)
	}
	s, _ := New(o)
	defer s.Close()
	for start := time.Now(); time.Since(start) < minute; {
		_, _ = s.Read()
		time.Sleep(time.Second / scale)
	}
	t.Logf("the log of a minute (scaled) with Nacos down: %q", log.text())
	lines := strings.Split(log.text(), "\n")
	if len(lines) > 2 || lines[0] == "" {
		t.Fatalf("%d lines in a minute with Nacos down; want 1 warning and at most 1 reminder: %s", len(lines), log.text())
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "warn nacos: ") || !strings.Contains(line, "cannot reach Nacos at "+addr) || !strings.Contains(line, "connection refused") {
			t.Fatalf("want warnings that say why Nacos is unreachable, got %q", line)
		}
	}
	srv, err := nacostest.NewServer(nacostest.WithAddr(addr))
	if err != nil {
		t.Skipf("the closed port cannot be reused: %v", err)
	}
	defer srv.Close()
	back := "info nacos: Nacos at " + addr + " is reachable again"
	testkit.Eventually(t, 30*time.Second, func() bool {
		_, _ = s.Read()
		return strings.Contains(log.text(), back)
	}, "the log says Nacos is back: %s", log.text)
	if n := len(strings.Split(log.text(), "\n")); n > 5 {
		t.Fatalf("%d lines from Nacos down to Nacos back; want at most 5: %s", n, log.text())
	}
	t.Logf("the whole log: %q", log.text())
}
