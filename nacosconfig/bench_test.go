package nacosconfig

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/source"
)

// The SDK queries one config at most 5 times a second, process-wide; the benchmarks
// spread their work over keys and space each key's uses by perKey, outside the timer.
const perKey = 210 * time.Millisecond

// pacer waits, with the timer stopped, until key k may be used again: every perKey,
// or every if set.
type pacer struct {
	b     *testing.B
	last  map[int]time.Time
	every time.Duration
}

func (p *pacer) wait(k int) {
	every := p.every
	if every == 0 {
		every = perKey
	}
	if wait := time.Until(p.last[k].Add(every)); wait > 0 {
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
		env.Publish(b, id, content)
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

// BenchmarkChangeToNext measures the latency from a change published to Nacos to the
// watcher's Next returning it, on loopback: the push, the SDK's listen round and query,
// the source's parse and merge. It reports the median and the 99th percentile of the
// changes (p50-ms, p99-ms); ns/op is the time of a change without the pacing.
func BenchmarkChangeToNext(b *testing.B) {
	const keys = 20
	env := newEnv(b)
	watchers := make([]source.Watcher, keys)
	ids := make([]string, keys)
	for k := range watchers {
		ids[k] = fmt.Sprintf("latency-%02d.yaml", k)
		env.Publish(b, ids[k], "v: -1")
		w, err := env.source(b, []string{ids[k]}).Watch()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Stop() })
		watchers[k] = w
	}
	// Each change costs two queries of its key (the SDK's fetch and the source's
	// recheck): one key changes at most every 2 * perKey.
	p := &pacer{b: b, last: map[int]time.Time{}, every: 2 * perKey}
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % keys
		p.wait(k)
		start := time.Now()
		env.Publish(b, ids[k], fmt.Sprintf("v: %d", i))
		for {
			cs := next(b, watchers[k], changeWithin)
			var v struct{ V int }
			if err := json.Unmarshal(cs.Data, &v); err != nil {
				b.Fatal(err)
			}
			if v.V == i {
				break
			}
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	ms := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
