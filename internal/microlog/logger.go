// Package microlog is what the go-micro adapters of this module's line, the registry
// (package nacos) and the config source (package nacosconfig), share: the plugin's
// logger over go-micro v3's.
//
// Every line has its own, as it imports the line's go-micro: gomicro5's and gomicro4's
// are generated from the root module's by internal/genline.
package microlog

import (
	"github.com/asim/go-micro/v3/logger"

	"github.com/micro-registry/nacos/internal/logging"
)

var _ logging.Logger = microLogger{}

// Logger is the plugin's logger over l, or over go-micro's DefaultLogger at the time of
// logging when l is nil.
func Logger(l logger.Logger) logging.Logger { return microLogger{l} }

type microLogger struct{ l logger.Logger }

func (m microLogger) logger() logger.Logger {
	if m.l != nil {
		return m.l
	}
	return logger.DefaultLogger
}

func (m microLogger) Enabled(level logging.Level) bool {
	return logger.V(logger.Level(level), m.logger())
}

func (m microLogger) Log(level logging.Level, msg string) { m.logger().Log(logger.Level(level), msg) }
