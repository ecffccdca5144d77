// Command genline writes the go-micro v5 and v4 lines (gomicro5/ and gomicro4/) from the
// v3 line (the repository root), which is written by hand. go-micro's lines have the
// same registry and config source APIs but for their import paths, so the adapters,
// their example and the tests every line runs are written once, in the root, and the
// other lines' are the root's with the paths rewritten: one source, no copy to keep in
// step by hand. What the lines really do differently stays in small hand-written files.
//
// A line's module holds:
//
//   - Files generated from the root: every .go file of the line's packages (the root
//     package, nacosconfig, example, internal/microlog), written to the same place under
//     gomicro5 and gomicro4, except the v3 line's own: the files named *_v3.go or
//     *_v3_test.go, and the root's deeper tests (of the test files, only those named in
//     sharedTests are every line's).
//   - gomicro5's hand-written files: what v4 and v5 do alike, and otherwise than v3 (the
//     logger, the tests' TestMain). gomicro4's are generated from them, but for those
//     named *_v5.go or *_v5_test.go: what v5 alone does, with hand-written *_v4.go
//     twins in gomicro4.
//   - go.mod and go.sum, each module's own.
//
// A file written from another line has the other line's go-micro import paths, the
// import paths of the line's packages and the words "go-micro v3" (or v5) rewritten for
// its own line (see rewriter), a "Code generated" first line naming its source, and
// gofmt's layout (a rewritten import path may sort elsewhere). A generated file whose
// source is gone is removed. The paths of the line's packages are rewritten only where
// quoted: the root module's other packages (internal/core, nacostest, ...) are every
// line's, imported as they are, and the comments may name the modules. So a shared file
// says "go-micro v3" only of its own line; it names the others without "go-micro".
//
// Run from the repository root:
//
//	go run ./internal/genline         # rewrite gomicro5 and gomicro4
//	go run ./internal/genline -check  # fail if either is not what it would write
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A line is one go-micro line of the repository, as the rewriting sees it.
type line struct {
	name    string // "v5", as in "go-micro v5"
	dir     string // its module's folder, from the repository root
	module  string // its module's path
	goMicro string // go-micro's module path
	cmd     string // the import path of go-micro's cmd package
}

var (
	v3 = line{"v3", ".", "github.com/micro-registry/nacos", "github.com/asim/go-micro/v3", "github.com/asim/go-micro/v3/cmd"}
	v5 = line{"v5", "gomicro5", "github.com/micro-registry/nacos/gomicro5", "go-micro.dev/v5", "go-micro.dev/v5/cmd"}
	v4 = line{"v4", "gomicro4", "github.com/micro-registry/nacos/gomicro4", "go-micro.dev/v4", "go-micro.dev/v4/util/cmd"}
)

// packages are the folders, within a line's module, of the packages every line has.
var packages = []string{".", "nacosconfig", "example", "internal/microlog"}

// sharedTests are the root's test files that every line runs. The root's other tests
// test the core more deeply through the v3 line.
var sharedTests = []string{
	"e2e_service_test.go",
	"example_test.go",
	"linebench_test.go",
	"suite_test.go",
	"example/main_test.go",
	"nacosconfig/example_test.go",
}

func main() {
	check := flag.Bool("check", false, "only check that gomicro5 and gomicro4 are up to date")
	flag.Parse()
	stale, err := run(*check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genline:", err)
		os.Exit(1)
	}
	if *check && len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "genline: stale: %s (run go run ./internal/genline)\n", strings.Join(stale, ", "))
		os.Exit(1)
	}
}

// run writes (or with check, compares) every generated file, and returns those that
// differed, and the generated files that no source makes any more.
func run(check bool) (stale []string, err error) {
	g := &generator{check: check, made: map[string]bool{}}
	roots, err := rootFiles()
	if err != nil {
		return nil, err
	}
	for _, to := range []line{v5, v4} {
		for _, f := range roots {
			if err := g.write(v3, to, f); err != nil {
				return nil, err
			}
		}
	}
	own, err := v5Files(g.made)
	if err != nil {
		return nil, err
	}
	for _, f := range own {
		if err := g.write(v5, v4, f); err != nil {
			return nil, err
		}
	}
	for _, l := range []line{v5, v4} {
		if err := g.removeUnmade(l); err != nil {
			return nil, err
		}
	}
	return g.stale, nil
}

// rootFiles are the root's files that every line has, relative to the root.
func rootFiles() ([]string, error) {
	var files []string
	for _, dir := range packages {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := path.Join(dir, e.Name())
			test := strings.HasSuffix(name, "_test.go")
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_v3.go") ||
				strings.HasSuffix(name, "_v3_test.go") || test && !slices.Contains(sharedTests, name) {
				continue
			}
			files = append(files, name)
		}
	}
	for _, f := range sharedTests {
		if !slices.Contains(files, f) {
			return nil, fmt.Errorf("%s, a test every line runs, is not a file of the root's packages", f)
		}
	}
	return files, nil
}

// v5Files are gomicro5's hand-written files that gomicro4 shares, relative to gomicro5:
// all its .go files but those made from the root and those of v5 alone.
func v5Files(fromRoot map[string]bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(v5.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || fromRoot[p] ||
			strings.HasSuffix(p, "_v5.go") || strings.HasSuffix(p, "_v5_test.go") || isGenerated(p) {
			return err
		}
		rel, err := filepath.Rel(v5.dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

// generator writes generated files, or with check only compares them, and keeps track.
type generator struct {
	check bool
	made  map[string]bool // the files written (or compared), by their path from the root
	stale []string        // those that were not what they should be
}

// write writes the line to's file from the line from's file (both named relative to
// their module's folder).
func (g *generator) write(from, to line, file string) error {
	src := filepath.Join(from.dir, file)
	dst := filepath.Join(to.dir, file)
	text, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	header := "// Code generated by internal/genline from " + filepath.ToSlash(src) + "; DO NOT EDIT.\n\n"
	want, err := format.Source([]byte(header + rewriter(from, to).Replace(string(text))))
	if err != nil {
		return fmt.Errorf("%s, written for go-micro %s: %w", src, to.name, err)
	}
	g.made[dst] = true
	if got, _ := os.ReadFile(dst); bytes.Equal(got, want) {
		return nil
	}
	g.stale = append(g.stale, dst)
	if g.check {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, want, 0o644)
}

// removeUnmade removes (or with check, reports) the generated files of l that no
// source made.
func (g *generator) removeUnmade(l line) error {
	return filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || g.made[p] || !isGenerated(p) {
			return err
		}
		g.stale = append(g.stale, p)
		if g.check {
			return nil
		}
		return os.Remove(p)
	})
}

// rewriter turns the text of a file of the line from into the text of the line to's:
// go-micro's cmd package (which v4 keeps in util/cmd), go-micro's other import paths
// (and the function names in quotes that start with them, such as goleak's), the
// import paths of the line's own packages, and "go-micro v3" (or v5) in the comments.
// strings.Replacer tries its pairs in order: the most specific comes first.
func rewriter(from, to line) *strings.Replacer {
	pairs := []string{
		strconv.Quote(from.cmd), strconv.Quote(to.cmd),
		`"` + from.goMicro, `"` + to.goMicro,
		"go-micro " + from.name, "go-micro " + to.name,
	}
	for _, p := range packages {
		pairs = append(pairs, strconv.Quote(path.Join(from.module, p)), strconv.Quote(path.Join(to.module, p)))
	}
	return strings.NewReplacer(pairs...)
}

// isGenerated says whether a file was written by genline.
func isGenerated(p string) bool {
	b, err := os.ReadFile(p)
	return err == nil && bytes.HasPrefix(b, []byte("// Code generated by internal/genline "))
}
