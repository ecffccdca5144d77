package nacosconfig_test

import (
	"os"
	"testing"

	"go-micro.dev/v5/logger"
)

func TestMain(m *testing.M) {
	// The examples' output is checked, and go-micro's default logger writes to stdout
	// (v4's): the registry's and the source's lines of routine (the server's version,
	// say) stay out of it.
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.WarnLevel))
	os.Exit(m.Run())
}
