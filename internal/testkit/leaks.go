package testkit

import "go.uber.org/goleak"

// GoMicroGoroutines are the goroutines go-micro starts when its packages load (its
// default config's loader), whatever the plugin does: goleak checks ignore them.
var GoMicroGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config/loader/memory.(*memory).Watch.func1"),
	goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config.(*config).run.func2"),
}
