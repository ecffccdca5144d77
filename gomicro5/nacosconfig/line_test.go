package nacosconfig_test

import "go-micro.dev/v5/config"

// What go-micro v4 and v5 do differently from v3 in the examples (which are generated
// from the root's; gomicro5's line_test.go is written by hand, and gomicro4's generated
// from it).

// oneLoad are the options of go-micro's config for a one-shot load: without
// WithWatcherDisabled, the config follows every change in Nacos, and its Close prints
// its watcher's Stop error (<nil>) to stdout.
var oneLoad = []config.Option{config.WithWatcherDisabled()}
