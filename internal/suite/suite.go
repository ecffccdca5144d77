// Package suite is the behaviour every go-micro line's adapter must have, as one test
// suite that each line's module runs against its own adapter: the v3 line from the
// root module, the v4 and v5 lines from gomicro4 and gomicro5. It imports no go-micro:
// a line describes itself (Line) and the suite drives the line's registry, watchers,
// config source and config watchers through reflection, by go-micro's method and field
// names, which every line shares, converting the suite's values (package wire's types,
// which have go-micro's field names and JSON tags) to the line's and back through
// encoding/json. What the adapters translate is thus checked against a translation of
// the suite's own.
//
// The suite runs against the embedded nacostest server by default, and against the real
// Nacos at NACOS_ADDR when it is set (testenv); what needs nacostest's fault injection
// is skipped there.
package suite

import (
	"testing"
	"time"
)

// Line is one go-micro line, as its module's tests describe it to the suite.
type Line struct {
	// Name names the line in failure messages: "go-micro v5".
	Name string

	// NewRegistry is the line's nacos.NewRegistry: a func(...registry.Option) registry.Registry.
	NewRegistry any
	// Options returns the line's registry options (registry.Option values) that set
	// what o says.
	Options func(o Options) []any
	// CommandLine returns the registry the line's go-micro command line (its cmd
	// package) makes from args and the environment, as a service's Init would, after
	// the package's blank import put "nacos" in the line's cmd.DefaultRegistries.
	CommandLine func(t testing.TB, args []string) any
	// ErrNotFound and ErrWatcherStopped are the line's registry.ErrNotFound and
	// registry.ErrWatcherStopped.
	ErrNotFound, ErrWatcherStopped error

	// NewSource is the line's nacosconfig.NewSource: a func(...source.Option) source.Source.
	NewSource any
	// SourceOptions returns the line's source options (source.Option values) that set
	// what o says.
	SourceOptions func(o SourceOptions) []any
	// ErrSourceStopped is the line's source.ErrWatcherStopped.
	ErrSourceStopped error
}

// Options are the registry settings the suite uses; a zero field is not set.
type Options struct {
	Addrs               []string // registry.Addrs; non-nil and empty: WithAddress with no address
	Timeout             time.Duration
	Namespace, Group    string
	Cluster             string
	Weight              float64
	User, Password      string // WithAuth, when either is set
	AccessKey, Secret   string // WithAccessKey, when either is set
	MetadataBudget      int
	DiscoveryInterval   time.Duration
	PushEmptyProtection bool
	Logs                *Logs // WithLogger (v3) or registry.Logger (v4, v5): a logger that writes into Logs
}

// SourceOptions are the config source settings the suite uses; a zero field is not set.
type SourceOptions struct {
	Addrs          []string // WithAddress; non-nil and empty: WithAddress with no address
	Timeout        time.Duration
	Namespace      string
	Group          string
	DataIDs        []string
	Format         string
	Required       bool
	KeepOnDelete   bool
	User, Password string
	Logs           *Logs // WithLogger
}

// Run runs the whole suite against the line: its registry, then its config source.
func Run(t *testing.T, line Line) {
	t.Run("registry", func(t *testing.T) { RunRegistry(t, line) })
	t.Run("config", func(t *testing.T) { RunConfig(t, line) })
}

// behaviour is one test of the suite, run as a subtest.
type behaviour struct {
	name string
	test func(t *testing.T, line *Line)
}

// runEach runs each behaviour as a subtest against the line.
func runEach(t *testing.T, line Line, behaviours []behaviour) {
	for _, b := range behaviours {
		t.Run(b.name, func(t *testing.T) { b.test(t, &line) })
	}
}
