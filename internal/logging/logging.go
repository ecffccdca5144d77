// Package logging is the plugin's logging vocabulary, free of go-micro: the levels, and
// the Logger every package of the plugin logs to. Each go-micro line's adapter
// implements Logger with that line's logger.
package logging

import (
	"fmt"
	"strings"
)

// Level is a log level, numbered as go-micro numbers its own (v3, v4 and v5 alike).
type Level int8

// The levels, from the most verbose.
const (
	TraceLevel Level = iota - 2
	DebugLevel
	InfoLevel
	WarnLevel
	ErrorLevel
	FatalLevel
)

// Logger receives what the plugin logs.
type Logger interface {
	// Enabled says whether a line of the level would be written: callers skip building
	// lines nobody reads.
	Enabled(level Level) bool
	// Log writes one line.
	Log(level Level, msg string)
}

// Prefix begins every line and error of the plugin, once.
const Prefix = "nacos: "

// Logf writes a line of the plugin, prefixed "nacos: " once (an error logged as the
// line's start keeps its own prefix, not a second), if the level is enabled.
func Logf(l Logger, level Level, format string, args ...any) {
	if l != nil && l.Enabled(level) {
		l.Log(level, Prefix+Unprefixed(fmt.Sprintf(format, args...)))
	}
}

// Unprefixed is s without the "nacos: " it may begin with, however many times.
func Unprefixed(s string) string {
	for strings.HasPrefix(s, Prefix) {
		s = s[len(Prefix):]
	}
	return s
}

// Discard is a Logger that writes nothing.
var Discard Logger = discard{}

type discard struct{}

func (discard) Enabled(Level) bool { return false }
func (discard) Log(Level, string)  {}

func (l Level) String() string {
	switch l {
	case TraceLevel:
		return "trace"
	case DebugLevel:
		return "debug"
	case InfoLevel:
		return "info"
	case WarnLevel:
		return "warn"
	case ErrorLevel:
		return "error"
	case FatalLevel:
		return "fatal"
	}
	return ""
}
