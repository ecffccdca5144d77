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

// SDKPushReceiver is the goroutine every nacos-sdk-go v2.3.5 naming client leaves
// behind: its UDP listener for Nacos 1.x pushes (naming_http.PushReceiver), which
// CloseClient cancels but which stays blocked reading its socket for the life of the
// process.
var SDKPushReceiver = goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_http.(*PushReceiver).startServer.func1")
