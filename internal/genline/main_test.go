package main

import "testing"

// The rewriting of a line's text for another line: go-micro's paths (v4's cmd is in
// util/cmd), the line's own packages, "go-micro v3" in comments; not the root module's
// shared packages, nor the module paths in prose.
func TestRewriter(t *testing.T) {
	for _, c := range []struct {
		from, to line
		in, want string
	}{
		{v3, v5, `"github.com/asim/go-micro/v3/cmd"`, `"go-micro.dev/v5/cmd"`},
		{v3, v4, `"github.com/asim/go-micro/v3/cmd"`, `"go-micro.dev/v4/util/cmd"`},
		{v3, v4, `micro "github.com/asim/go-micro/v3"`, `micro "go-micro.dev/v4"`},
		{v3, v5, `"github.com/asim/go-micro/v3/config/source"`, `"go-micro.dev/v5/config/source"`},
		{v3, v5, `_ "github.com/micro-registry/nacos"`, `_ "github.com/micro-registry/nacos/gomicro5"`},
		{v3, v4, `"github.com/micro-registry/nacos/nacosconfig"`, `"github.com/micro-registry/nacos/gomicro4/nacosconfig"`},
		{v3, v5, `"github.com/micro-registry/nacos/internal/microlog"`, `"github.com/micro-registry/nacos/gomicro5/internal/microlog"`},
		{v3, v5, `"github.com/micro-registry/nacos/internal/core"`, `"github.com/micro-registry/nacos/internal/core"`},
		{v3, v5, `"github.com/micro-registry/nacos/nacostest"`, `"github.com/micro-registry/nacos/nacostest"`},
		{v3, v5, `// v3 (github.com/micro-registry/nacos), v5 (github.com/micro-registry/nacos/gomicro5)`, `// v3 (github.com/micro-registry/nacos), v5 (github.com/micro-registry/nacos/gomicro5)`},
		{v3, v4, `// a go-micro v3 registry`, `// a go-micro v4 registry`},
		{v5, v4, `"go-micro.dev/v5/cmd"`, `"go-micro.dev/v4/util/cmd"`},
		{v5, v4, `goleak.IgnoreTopFunction("go-micro.dev/v5/config.(*config).run.func2")`, `goleak.IgnoreTopFunction("go-micro.dev/v4/config.(*config).run.func2")`},
		{v5, v4, `"github.com/micro-registry/nacos/gomicro5"`, `"github.com/micro-registry/nacos/gomicro4"`},
		{v5, v4, `// go-micro v5's registry`, `// go-micro v4's registry`},
	} {
		if got := rewriter(c.from, c.to).Replace(c.in); got != c.want {
			t.Errorf("%s for go-micro %s: %s, want %s", c.in, c.to.name, got, c.want)
		}
	}
}
