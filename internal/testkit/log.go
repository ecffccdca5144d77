package testkit

import (
	"strings"
	"sync"

	"github.com/micro-registry/nacos/internal/logging"
)

// LogLines is a logging.Logger that keeps what it is given, one line per call, each
// starting with its level. Every level is enabled.
type LogLines struct {
	mu    sync.Mutex // guards lines
	lines []string
}

// Enabled says yes to every level.
func (*LogLines) Enabled(logging.Level) bool { return true }

// Log keeps a line.
func (l *LogLines) Log(level logging.Level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level.String()+" "+msg)
}

// Text returns the lines kept so far.
func (l *LogLines) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
