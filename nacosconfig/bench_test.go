package nacosconfig

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/source"
)

// The SDK queries one config at most 5 times a second, process-wide; the benchmarks
// spread their work over keys and space each key's uses by perKey, outside the timer.
const perKey = 210 * time.Millisecond

// pacer waits, with the timer stopped, until key k may be used again.
type pacer struct {
	b    *testing.B
	last map[int]time.Time
}

func (p *pacer) wait(k int) {
	if wait := time.Until(p.last[k].Add(perKey)); wait > 0 {
		p.b.StopTimer()
		time.Sleep(wait)
		p.b.StartTimer()
	}
	p.last[k] = time.Now()
}

// yaml100KB is a YAML document of about 100 KB: services with nested settings.
func yaml100KB() string {
	var b strings.Builder
	for i := 0; b.Len() < 100<<10; i++ {
		fmt.Fprintf(&b, "service-%d:\n  name: greeter-%d\n  port: %d\n  tags: [a, b, c]\n  limits:\n    cpu: \"500m\"\n    memory: 256Mi\n", i, i, 8000+i)
	}
	return b.String()
}

// BenchmarkRead100KBYAML measures Read of one 100 KB YAML dataId from Nacos on loopback:
// query, parse, merge and encode as JSON.
func BenchmarkRead100KBYAML(b *testing.B) {
	const keys = 20
	env := newEnv(b)
	content := yaml100KB()
	sources := make([]source.Source, keys)
	for i := range sources {
		id := fmt.Sprintf("big-%02d.yaml", i)
		env.publish(b, id, content)
		sources[i] = env.source(b, []string{id})
		if _, err := sources[i].Read(); err != nil { // connect outside the timer
			b.Fatal(err)
		}
	}
	p := &pacer{b: b, last: map[int]time.Time{}}
	b.SetBytes(int64(len(content)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.wait(i % keys)
		if _, err := sources[i%keys].Read(); err != nil {
			b.Fatal(err)
		}
	}
}
