package nacos_test

import (
	"fmt"
	"testing"

	"github.com/asim/go-micro/v3/client"
	"github.com/asim/go-micro/v3/cmd"
	"github.com/asim/go-micro/v3/config/source"
	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"github.com/asim/go-micro/v3/selector"
	"github.com/asim/go-micro/v3/server"

	"github.com/micro-registry/nacos"
	"github.com/micro-registry/nacos/internal/suite"
	"github.com/micro-registry/nacos/nacosconfig"
)

// TestSuite runs the behaviours every go-micro line shares (internal/suite) against this
// module's line, go-micro v3. (The root module's other tests go deeper, through the v3
// line.)
func TestSuite(t *testing.T) { suite.Run(t, line) }

// line is go-micro v3's line, as the suite drives it.
var line = suite.Line{
	Name:        "go-micro v3",
	NewRegistry: nacos.NewRegistry,
	Options:     registryOptions,
	CommandLine: commandLine,
	ErrNotFound: registry.ErrNotFound, ErrWatcherStopped: registry.ErrWatcherStopped,
	NewSource:        nacosconfig.NewSource,
	SourceOptions:    sourceOptions,
	ErrSourceStopped: source.ErrWatcherStopped,
}

func registryOptions(o suite.Options) []any {
	var opts []any
	add := func(set bool, opt registry.Option) {
		if set {
			opts = append(opts, opt)
		}
	}
	add(len(o.Addrs) > 0, registry.Addrs(o.Addrs...))
	add(o.Addrs != nil && len(o.Addrs) == 0, nacos.WithAddress(o.Addrs))
	add(o.Timeout != 0, registry.Timeout(o.Timeout))
	add(o.Namespace != "", nacos.WithNamespace(o.Namespace))
	add(o.Group != "", nacos.WithGroup(o.Group))
	add(o.Cluster != "", nacos.WithCluster(o.Cluster))
	add(o.Weight != 0, nacos.WithWeight(o.Weight))
	add(o.User != "" || o.Password != "", nacos.WithAuth(o.User, o.Password))
	add(o.AccessKey != "" || o.Secret != "", nacos.WithAccessKey(o.AccessKey, o.Secret))
	add(o.MetadataBudget != 0, nacos.WithMetadataBudget(o.MetadataBudget))
	add(o.DiscoveryInterval != 0, nacos.WithDiscoveryInterval(o.DiscoveryInterval))
	add(o.PushEmptyProtection, nacos.WithPushEmptyProtection(true))
	add(o.Logs != nil, nacos.WithLogger(logTo(o.Logs)))
	return opts
}

func sourceOptions(o suite.SourceOptions) []any {
	var opts []any
	add := func(set bool, opt source.Option) {
		if set {
			opts = append(opts, opt)
		}
	}
	add(o.Addrs != nil, nacosconfig.WithAddress(o.Addrs))
	add(o.Timeout != 0, nacosconfig.WithTimeout(o.Timeout))
	add(o.Namespace != "", nacosconfig.WithNamespace(o.Namespace))
	add(o.Group != "", nacosconfig.WithGroup(o.Group))
	add(o.DataIDs != nil, nacosconfig.WithDataID(o.DataIDs...))
	add(o.Format != "", nacosconfig.WithFormat(o.Format))
	add(o.Required, nacosconfig.WithRequired(true))
	add(o.KeepOnDelete, nacosconfig.WithKeepOnDelete(true))
	add(o.User != "" || o.Password != "", nacosconfig.WithAuth(o.User, o.Password))
	add(o.Logs != nil, nacosconfig.WithLogger(logTo(o.Logs)))
	return opts
}

// commandLine runs go-micro's command line with args, as a service's Init would, and
// returns the registry it chose.
func commandLine(t testing.TB, args []string) any {
	t.Helper()
	var reg registry.Registry = placeholder{}
	srv, cli, sel, brk := server.NewServer(), client.NewClient(), selector.NewSelector(), newBroker()
	c := cmd.NewCmd(cmd.Registry(&reg), cmd.Server(&srv), cmd.Client(&cli), cmd.Selector(&sel), cmd.Broker(&brk))
	if err := c.App().Run(append([]string{"svc"}, args...)); err != nil {
		t.Fatal(err)
	}
	if srv.Options().Registry != reg {
		t.Fatalf("the command line did not give the server its registry %s", reg)
	}
	return reg
}

// placeholder stands for the registry a service has before cmd replaces it.
type placeholder struct{ registry.Registry }

func (placeholder) String() string { return "placeholder" }

// logTo is a go-micro logger that writes into logs, one line per call, each starting
// with its level.
func logTo(logs *suite.Logs) logger.Logger {
	return recorder{logger.NewLogger(logger.WithLevel(logger.TraceLevel)), logs}
}

type recorder struct {
	logger.Logger
	logs *suite.Logs
}

func (r recorder) Log(level logger.Level, v ...interface{}) {
	r.logs.Add(level.String() + " " + fmt.Sprint(v...))
}

func (r recorder) Logf(level logger.Level, format string, v ...interface{}) {
	r.Log(level, fmt.Sprintf(format, v...))
}
