package sdkclient

import (
	"reflect"
	"unsafe"
)

// Field follows a path of (unexported) struct fields from v, through pointers and
// interfaces, and returns the last one's value, or nil if the path does not exist.
// It is how the plugin reaches what nacos-sdk-go v2.3.5 (pinned in go.mod) keeps
// unexported, to work around its defects; with any other layout it finds nothing.
func Field(v interface{}, path ...string) interface{} {
	rv, ok := follow(v, path)
	if !ok || (rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer) && rv.IsNil() {
		return nil
	}
	return rv.Interface()
}

// FieldAddr is Field's pointer to the last field, for a field the SDK stores into
// atomically (an atomic.Value), or nil if the path does not exist.
func FieldAddr(v interface{}, path ...string) interface{} {
	rv, ok := follow(v, path)
	if !ok || len(path) == 0 {
		return nil
	}
	return rv.Addr().Interface()
}

func follow(v interface{}, path []string) (reflect.Value, bool) {
	rv := reflect.ValueOf(v)
	for _, name := range path {
		for rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return rv, false
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct || !rv.CanAddr() {
			return rv, false
		}
		field := rv.FieldByName(name)
		if !field.IsValid() {
			return rv, false
		}
		rv = reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem()
	}
	return rv, rv.IsValid()
}
