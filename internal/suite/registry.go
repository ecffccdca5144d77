package suite

import (
	"context"
	"io"
	"reflect"
	"time"

	"github.com/micro-registry/nacos/internal/wire"
)

// Registry is a line's registry as the suite drives it.
type Registry struct {
	obj  object
	line *Line
}

func (l *Line) registry(r any) *Registry { return &Registry{objectOf(r), l} }

// Value is the line's registry itself.
func (r *Registry) Value() any { return r.obj.v.Interface() }

// Init calls Init with the line's options for o.
func (r *Registry) Init(o Options) error {
	var args []reflect.Value
	for _, o := range r.line.Options(o) {
		args = append(args, reflect.ValueOf(o))
	}
	return errorOf(r.obj.v.MethodByName("Init").Call(args)[0])
}

// Addrs are the addresses of the registry's Options.
func (r *Registry) Addrs() []string {
	return r.obj.call("Options", callOptions{})[0].FieldByName("Addrs").Interface().([]string)
}

// String is the registry's String.
func (r *Registry) String() string { return r.obj.call("String", callOptions{})[0].String() }

// Register registers s, with a TTL and a context when they are set.
func (r *Registry) Register(s *wire.Service, ttl time.Duration, ctx context.Context) error {
	return errorOf(r.obj.call("Register", callOptions{TTL: ttl, Context: ctx}, s)[0])
}

// Deregister deregisters s, with a context when it is set.
func (r *Registry) Deregister(s *wire.Service, ctx context.Context) error {
	return errorOf(r.obj.call("Deregister", callOptions{Context: ctx}, s)[0])
}

// GetService looks a service up, with a context when it is set. Its error is the
// line's, untranslated.
func (r *Registry) GetService(name string, ctx context.Context) ([]*wire.Service, error) {
	res := r.obj.call("GetService", callOptions{Context: ctx}, name)
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	var services []*wire.Service
	into(res[0], &services)
	return services, nil
}

// ListServices lists the service names, with a context when it is set.
func (r *Registry) ListServices(ctx context.Context) ([]string, error) {
	res := r.obj.call("ListServices", callOptions{Context: ctx})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	var services []*wire.Service
	into(res[0], &services)
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	return names, nil
}

// Watch watches a service ("": every service), with a context when it is set.
func (r *Registry) Watch(service string, ctx context.Context) (*Watcher, error) {
	res := r.obj.call("Watch", callOptions{Service: service, Context: ctx})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	return &Watcher{objectOf(res[0].Interface())}, nil
}

// Close closes the registry (it is an io.Closer).
func (r *Registry) Close() error { return r.Value().(io.Closer).Close() }

// Watcher is a line's registry watcher as the suite drives it.
type Watcher struct{ obj object }

// Result is a watcher's result.
type Result struct {
	Action  string
	Service *wire.Service
}

// Next is the watcher's Next. Its error is the line's, untranslated.
func (w *Watcher) Next() (*Result, error) {
	res := w.obj.call("Next", callOptions{})
	if err := errorOf(res[1]); err != nil {
		return nil, err
	}
	var r Result
	into(res[0], &r)
	return &r, nil
}

// Stop is the watcher's Stop.
func (w *Watcher) Stop() { w.obj.call("Stop", callOptions{}) }
