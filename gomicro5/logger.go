package nacos

import (
	"go-micro.dev/v5/logger"
	"go-micro.dev/v5/registry"
)

// Where the registry logs: the one thing go-micro v4 and v5 do differently from v3 (the
// rest of the package is generated from the root's, the v3 line's; gomicro5's logger.go
// is written by hand, and gomicro4's generated from it). Their registry.Options has a
// Logger field, which go-micro's own registry.Logger sets, so WithLogger is that
// option, and Options fills the field in with the logger the registry logs to.

// WithLogger sends what the registry logs to l instead of go-micro's
// logger.DefaultLogger of the moment. It is go-micro's own registry.Logger, which sets
// registry.Options.Logger, kept under this name for the v3 line and the config source:
// either will do.
func WithLogger(l logger.Logger) registry.Option { return registry.Logger(l) }

// givenLogger is registry.Options.Logger: the logger of WithLogger (or registry.Logger),
// nil when none was given.
func givenLogger(o registry.Options) logger.Logger { return o.Logger }

// Options returns the current options. Logger is go-micro's logger.DefaultLogger of the
// moment when no logger was given: the registry logs there.
func (r *nacosRegistry) Options() registry.Options {
	r.mu.RLock()
	o := r.opts
	r.mu.RUnlock()
	if o.Logger == nil {
		o.Logger = logger.DefaultLogger
	}
	return o
}
