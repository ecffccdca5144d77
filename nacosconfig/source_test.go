package nacosconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/config/encoder"
	"github.com/asim/go-micro/v3/config/source"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"

	"github.com/micro-registry/nacos/internal/configsource"
	"github.com/micro-registry/nacos/internal/gomicro3"
	"github.com/micro-registry/nacos/internal/logging"
	"github.com/micro-registry/nacos/internal/sdkclient"
)

// decoded is the JSON of a ChangeSet as a Go value.
func decoded(t testing.TB, cs *source.ChangeSet) map[string]interface{} {
	t.Helper()
	var v map[string]interface{}
	if err := json.Unmarshal(cs.Data, &v); err != nil {
		t.Fatalf("ChangeSet data %q: %v", cs.Data, err)
	}
	return v
}

func read(t testing.TB, s source.Source) map[string]interface{} {
	t.Helper()
	cs, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if cs.Format != "json" || cs.Checksum != cs.Sum() || cs.Timestamp.IsZero() || cs.Source != "nacos" {
		t.Fatalf("ChangeSet format %q checksum %q timestamp %v source %q", cs.Format, cs.Checksum, cs.Timestamp, cs.Source)
	}
	return decoded(t, cs)
}

func TestBadOptionsNeverPanic(t *testing.T) {
	cases := map[string][]source.Option{
		"no dataId":           {},
		"empty dataId list":   {WithDataID()},
		"bad dataId":          {WithDataID("a b.yaml")},
		"unknown extension":   {WithDataID("app.ini")},
		"unknown format":      {WithDataID("app"), WithFormat("xml")},
		"bad group":           {WithDataID("a.yaml"), WithGroup("a/b")},
		"bad namespace":       {WithDataID("a.yaml"), WithNamespace("a b")},
		"empty address list":  {WithDataID("a.yaml"), WithAddress([]string{})},
		"bad address":         {WithDataID("a.yaml"), WithAddress([]string{"ftp://nacos"})},
		"negative timeout":    {WithDataID("a.yaml"), WithTimeout(-time.Second)},
		"half an access key":  {WithDataID("a.yaml"), WithAccessKey("ak", "")},
		"auth without user":   {WithDataID("a.yaml"), WithAuth("", "x")},
		"TLS certs in memory": {WithDataID("a.yaml"), WithTLSConfig(&tls.Config{RootCAs: x509.NewCertPool()})},
		"nil option":          {nil},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			s := NewSource(opts...)
			defer s.(interface{ Close() error }).Close()
			_, readErr := s.Read()
			_, watchErr := s.Watch()
			writeErr := s.Write(&source.ChangeSet{Data: []byte(`{"a":1}`), Format: "json"})
			for i, err := range []error{readErr, watchErr, writeErr} {
				if err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
					t.Fatalf("call %d: want a nacos: error, got %v", i, err)
				}
			}
		})
	}
}

func TestStopIsIdempotentAndUnblocksNext(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml"})
	w, err := s.Watch()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Next()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Next block; it must return either way
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, source.ErrWatcherStopped) {
			t.Fatalf("Next: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not unblock Next")
	}
	if _, err := w.Next(); !errors.Is(err, source.ErrWatcherStopped) {
		t.Fatalf("Next after Stop: %v", err)
	}
	s.Close()
	if _, err := s.Watch(); err == nil {
		t.Fatal("Watch after Close")
	}
}

// Every option reaches the core under the core's key (or sdkclient's), the logger as a
// logging.Logger over the go-micro one, and the encoder by its name.
func TestOptionsReachTheCore(t *testing.T) {
	tlsConfig := &tls.Config{ServerName: "nacos.example"}
	files := constant.TLSConfig{CaFile: "ca.pem"}
	cc := constant.ClientConfig{AppName: "app"}
	rec := gomicro3.NewLogRecorder()
	o := source.NewOptions(WithAddress([]string{"nacos:8848"}), WithNamespace("dev"), WithGroup("g"), WithDataID("a.yaml", "b.toml"),
		WithFormat("yaml"), WithRequired(true), WithKeepOnDelete(true), WithTimeout(2*time.Second), WithAuth("u", "p"),
		WithAccessKey("ak", "sk"), WithTLSConfig(tlsConfig), WithTLS(files), WithClientConfig(cc), WithLogDir("/l"), WithCacheDir("/c"),
		WithLogger(rec), source.WithEncoder(namedEncoder("toml")))
	co := coreOptions(o)
	for key, want := range map[interface{}]interface{}{
		configsource.AddressKey{}: []string{"nacos:8848"}, sdkclient.NamespaceKey{}: "dev", configsource.GroupKey{}: "g",
		configsource.DataIDKey{}: []string{"a.yaml", "b.toml"}, configsource.FormatKey{}: "yaml", configsource.RequiredKey{}: true,
		configsource.KeepOnDeleteKey{}: true, configsource.TimeoutKey{}: 2 * time.Second,
		sdkclient.AuthKey{}: sdkclient.Credentials{User: "u", Secret: "p"}, sdkclient.AccessKeyKey{}: sdkclient.Credentials{User: "ak", Secret: "sk"},
		configsource.TLSConfigKey{}: tlsConfig, sdkclient.TLSKey{}: files, sdkclient.ClientConfigKey{}: cc,
		sdkclient.LogDirKey{}: "/l", sdkclient.CacheDirKey{}: "/c",
	} {
		if got := co.Context.Value(key); !reflect.DeepEqual(got, want) {
			t.Errorf("%T: got %v, want %v", key, got, want)
		}
	}
	if co.Encoder != "toml" {
		t.Errorf("encoder: got %q", co.Encoder)
	}
	logging.Logf(co.Logger, logging.WarnLevel, "hello %d", 1)
	if got := rec.Text(); got != "warn nacos: hello 1" {
		t.Errorf("the core's logger wrote %q to WithLogger's", got)
	}
	if coreOptions(source.NewOptions()).Encoder != FormatJSON {
		t.Error("go-micro's default encoder is not passed on as json")
	}
}

// namedEncoder is a go-micro encoder that has only a name.
type namedEncoder string

func (e namedEncoder) Encode(interface{}) ([]byte, error) { return nil, errors.New("not implemented") }
func (e namedEncoder) Decode([]byte, interface{}) error   { return errors.New("not implemented") }
func (e namedEncoder) String() string                     { return string(e) }

var _ encoder.Encoder = namedEncoder("")

// The ChangeSets of Read and Watch are go-micro's, with go-micro's checksum, and Write
// takes go-micro's.
func TestChangeSetsAreGoMicros(t *testing.T) {
	env := newEnv(t)
	s := env.source(t, []string{"app.yaml"})
	if err := s.Write(&source.ChangeSet{Data: []byte(`{"a":1}`), Format: "json"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, changeWithin, func() bool { got, _ := env.Stored(t, "app.yaml"); return got == "a: 1\n" }, "Write did not store YAML")
	if got := read(t, s); got["a"] != 1.0 { // read checks the ChangeSet's fields
		t.Fatalf("Read: %v", got)
	}
	w := watch(t, s)
	env.Publish(t, "app.yaml", "a: 2")
	cs := next(t, w, changeWithin)
	if got := decoded(t, cs); got["a"] != 2.0 || cs.Checksum != cs.Sum() || cs.Format != FormatJSON || cs.Source != "nacos" || cs.Timestamp.IsZero() {
		t.Fatalf("Watch: %v, checksum %q (go-micro's %q), format %q, source %q, timestamp %v", got, cs.Checksum, cs.Sum(), cs.Format, cs.Source, cs.Timestamp)
	}
	if err := s.Write(nil); err == nil || !strings.HasPrefix(err.Error(), "nacos: ") {
		t.Fatalf("Write(nil): %v", err)
	}
}

// The core's checksum is go-micro's ChangeSet.Sum, computed without go-micro.
func TestChecksumIsGoMicros(t *testing.T) {
	for _, data := range []string{"", "{}", `{"a":1}`, strings.Repeat("x", 1<<16)} {
		core := &configsource.ChangeSet{Data: []byte(data)}
		micro := &source.ChangeSet{Data: []byte(data)}
		if core.Sum() != micro.Sum() {
			t.Errorf("Sum of %.20q: %q, go-micro's %q", data, core.Sum(), micro.Sum())
		}
	}
}
