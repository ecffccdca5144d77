package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// How the suite calls a line's methods: by name, through reflection, with arguments
// converted to the parameter types by JSON, and per-call options made as functions
// that set the option struct's fields by name (TTL, Context, Service), as go-micro's own
// option functions do.

// object is a value of a line (a registry, a watcher, a source) whose methods the suite calls.
type object struct{ v reflect.Value }

func objectOf(v any) object {
	if v == nil {
		panic("suite: a nil value of the line")
	}
	return object{reflect.ValueOf(v)}
}

// call calls the method with args, converted to its parameter types, and, if it takes
// options, one option that sets what o says. It returns the results.
func (o object) call(method string, o2 callOptions, args ...any) []reflect.Value {
	m := o.v.MethodByName(method)
	if !m.IsValid() {
		panic(fmt.Sprintf("suite: %s has no method %s", o.v.Type(), method))
	}
	t := m.Type()
	in := make([]reflect.Value, 0, len(args)+1)
	for i, a := range args {
		in = append(in, convert(a, t.In(i)))
	}
	if t.IsVariadic() && !o2.zero() {
		in = append(in, o2.option(t.In(t.NumIn()-1).Elem()))
	}
	return m.Call(in)
}

// callOptions are the per-call options of the suite: what go-micro's RegisterTTL,
// RegisterContext, WatchService and the other Context options set.
type callOptions struct {
	TTL     time.Duration
	Context context.Context
	Service string
}

func (c callOptions) zero() bool { return c == callOptions{} }

// option returns a value of the option function type fn (func(*XOptions)) that sets
// the fields of c that are set.
func (c callOptions) option(fn reflect.Type) reflect.Value {
	return reflect.MakeFunc(fn, func(args []reflect.Value) []reflect.Value {
		o := args[0].Elem()
		set := func(name string, v any, isSet bool) {
			if f := o.FieldByName(name); isSet && f.IsValid() {
				f.Set(reflect.ValueOf(v))
			}
		}
		set("TTL", c.TTL, c.TTL != 0)
		set("Context", c.Context, c.Context != nil)
		set("Service", c.Service, c.Service != "")
		return nil
	})
}

// convert returns a as a value of type t: itself if it is assignable, or else a
// translated through JSON.
func convert(a any, t reflect.Type) reflect.Value {
	if a == nil {
		return reflect.Zero(t)
	}
	if v := reflect.ValueOf(a); v.Type().AssignableTo(t) {
		return v
	}
	p := reflect.New(t)
	mustJSON(a, p.Interface())
	return p.Elem()
}

// into translates a line's value v into out (a pointer to a suite value) through JSON.
func into(v reflect.Value, out any) {
	mustJSON(v.Interface(), out)
}

func mustJSON(from, to any) {
	b, err := json.Marshal(from)
	if err == nil {
		err = json.Unmarshal(b, to)
	}
	if err != nil {
		panic(fmt.Sprintf("suite: translating %T into %T: %v", from, to, err))
	}
}

// errorOf is a result of type error.
func errorOf(v reflect.Value) error {
	if v.IsNil() {
		return nil
	}
	return v.Interface().(error)
}

// isNil says whether a result is a nil pointer or interface.
func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func:
		return v.IsNil()
	}
	return false
}

// newWith calls the constructor fn (a func(...Option) T of the line) with opts.
func newWith(fn any, opts []any) any {
	f := reflect.ValueOf(fn)
	elem := f.Type().In(0).Elem()
	in := make([]reflect.Value, len(opts))
	for i, o := range opts {
		in[i] = reflect.ValueOf(o).Convert(elem)
	}
	return f.Call(in)[0].Interface()
}
