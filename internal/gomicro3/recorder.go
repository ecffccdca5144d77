// Package gomicro3 holds the go-micro v3 line's test helpers: a logger that keeps what
// it is given (the line's logger adapter is package microlog).
package gomicro3

import (
	"fmt"
	"strings"
	"sync"

	"github.com/asim/go-micro/v3/logger"
)

// LogRecorder is a go-micro v3 logger, for tests, that keeps what it is given, one line per call,
// each starting with its level.
type LogRecorder struct {
	logger.Logger
	mu    sync.Mutex // guards lines
	lines []string
}

// NewLogRecorder returns a LogRecorder that takes every level.
func NewLogRecorder() *LogRecorder {
	return &LogRecorder{Logger: logger.NewLogger(logger.WithLevel(logger.TraceLevel))}
}

// Log keeps a line.
func (l *LogRecorder) Log(level logger.Level, v ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level.String()+" "+fmt.Sprint(v...))
}

// Logf keeps a formatted line.
func (l *LogRecorder) Logf(level logger.Level, format string, v ...interface{}) {
	l.Log(level, fmt.Sprintf(format, v...))
}

// Text returns the lines kept so far.
func (l *LogRecorder) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Len returns how many lines were kept so far.
func (l *LogRecorder) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}
