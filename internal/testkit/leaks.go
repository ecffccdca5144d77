package testkit

import "go.uber.org/goleak"

// GoMicroGoroutines are the goroutines go-micro starts whatever the plugin does, and
// goleak checks ignore them: its default config's loader, started when its packages
// load, and the janitor of each client's (and memory store's) go-cache, which ends only
// once the garbage collector has finalized that client, which may not run again before
// goleak looks when a test built a go-micro service near the end of a run.
var GoMicroGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
	goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config/loader/memory.(*memory).Watch.func1"),
	goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config.(*config).run.func2"),
}
