package suite

import (
	"strings"
	"sync"
)

// Logs keeps the lines a line's logger is given, for a test to read. Each line's
// adapter wraps it in a go-micro logger of its own.
type Logs struct {
	mu    sync.Mutex // guards lines
	lines []string
}

// Add keeps one line, which starts with its level ("warn nacos: ...").
func (l *Logs) Add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// Text returns the lines kept so far, one a line.
func (l *Logs) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
