package main

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"
	"go.uber.org/goleak"

	"github.com/micro-registry/nacos"
	"github.com/micro-registry/nacos/nacostest"
)

func TestMain(m *testing.M) {
	logger.DefaultLogger = logger.NewLogger(logger.WithLevel(logger.FatalLevel))
	goleak.VerifyTestMain(m,
		goleak.IgnoreCurrent(),
		// go-micro starts these when its packages load.
		goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config/loader/memory.(*memory).Watch.func1"),
		goleak.IgnoreTopFunction("github.com/asim/go-micro/v3/config.(*config).run.func2"),
		// nacos-sdk-go v2.3.5 leaves every closed client's UDP push receiver reading
		// its socket (see sdkLeftovers in the nacos package's tests).
		goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_http.(*PushReceiver).startServer.func1"),
	)
}

func TestPrintsTheServiceAsGoMicroSeesIt(t *testing.T) {
	srv, err := nacostest.NewServer(nacostest.WithAuth("nacos", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := nacos.NewRegistry(registry.Addrs(srv.Addr()), nacos.WithAuth("nacos", "s3cret"), nacos.WithGroup("blue"))
	defer r.(io.Closer).Close()
	in := &registry.Service{
		Name: "greeter", Version: "1.0.0", Metadata: map[string]string{"team": "core"},
		Endpoints: []*registry.Endpoint{{
			Name:     "Greeter.Hello",
			Request:  &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{{Name: "name", Type: "string"}}},
			Response: &registry.Value{Name: "Response", Type: "Response", Values: []*registry.Value{{Name: "msg", Type: "string"}}},
			Metadata: map[string]string{},
		}},
		Nodes: []*registry.Node{{Id: "greeter-1", Address: "10.0.0.1:8080", Metadata: map[string]string{"protocol": "mucp"}}},
	}
	if err := r.Register(in); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run([]string{"-addr", srv.Addr(), "-service", "greeter", "-group", "blue", "-auth", "nacos:s3cret"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var got []*registry.Service
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON of go-micro services: %v\n%s", err, stdout.String())
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], in) {
		t.Fatalf("printed\n%s\nwant %+v", stdout.String(), in)
	}
}

func TestRunFailsClearly(t *testing.T) {
	srv, err := nacostest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", srv.Addr()}, "-service is required"},
		{[]string{"-addr", srv.Addr(), "-service", "nobody"}, `no instances of "nobody"`},
		{[]string{"-addr", srv.Addr(), "-service", "s", "-auth", "no-colon"}, "-auth wants user:password"},
		{[]string{"-addr", srv.Addr(), "-service", "s", "extra"}, "unexpected arguments"},
		{[]string{"-addr", "127.0.0.1:1", "-service", "s", "-timeout", "300ms"}, "nacos:"},
	} {
		start := time.Now()
		err := run(c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q): got %v, want an error containing %q", c.args, err, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("run(%q) took %v", c.args, d)
		}
	}
}
