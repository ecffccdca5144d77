package nacos

import (
	"github.com/asim/go-micro/v3/logger"
)

// logf logs what the plugin itself has to say. The SDK's own lines go through the
// process-wide SDK logger the registry shares with the config source (see
// sdkclient.InstallLogger).
func (c *config) logf(level logger.Level, format string, args ...interface{}) {
	l := c.log
	if l == nil {
		l = logger.DefaultLogger
	}
	l.Logf(level, "nacos: "+format, args...)
}
