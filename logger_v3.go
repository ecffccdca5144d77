package nacos

import (
	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
)

// Where the registry logs: the one thing go-micro v3 does differently from v4 and v5 (the
// rest of the package is every line's; gomicro5's logger.go is v4's and v5's). v3's
// registry.Options has no Logger field, so WithLogger keeps its logger in the options'
// Context, and Options returns the options as they were given.

// loggerKey is the key of WithLogger: a go-micro v3 logger.
type loggerKey struct{}

// WithLogger sends what the registry logs to l instead of go-micro's
// logger.DefaultLogger of the moment.
func WithLogger(l logger.Logger) registry.Option { return withValue(loggerKey{}, l) }

// givenLogger is the logger of WithLogger, nil when none was given.
func givenLogger(o registry.Options) logger.Logger {
	if o.Context == nil {
		return nil
	}
	l, _ := o.Context.Value(loggerKey{}).(logger.Logger)
	return l
}

// Options returns the current options.
func (r *nacosRegistry) Options() registry.Options {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.opts
}
