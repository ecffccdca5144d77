package logging

import (
	"errors"
	"fmt"
	"testing"
)

type lines []string

func (*lines) Enabled(Level) bool          { return true }
func (l *lines) Log(level Level, m string) { *l = append(*l, m) }

// A line that starts with an error of the plugin has one "nacos: " prefix.
func TestLogfPrefixesOnce(t *testing.T) {
	var l lines
	err := fmt.Errorf("nacos: register service %q: %w", "a", errors.New("refused"))
	Logf(&l, WarnLevel, "%v (attempt 1)", err)
	Logf(&l, WarnLevel, "%v", fmt.Errorf("nacos: %s", err))
	want := lines{`nacos: register service "a": refused (attempt 1)`, `nacos: register service "a": refused`}
	if fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", l, want)
	}
}
