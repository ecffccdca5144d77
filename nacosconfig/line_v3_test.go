package nacosconfig_test

import "github.com/asim/go-micro/v3/config"

// What go-micro v3 does differently from v4 and v5 in the examples (which are every
// line's; gomicro5's line_test.go is v4's and v5's).

// oneLoad are the options of go-micro's config for a one-shot load: none, as v3 has no
// config.WithWatcherDisabled (and its config.Close prints nothing).
var oneLoad []config.Option
