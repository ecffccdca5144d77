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
	rv := reflect.ValueOf(v)
	for _, name := range path {
		for rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct || !rv.CanAddr() {
			return nil
		}
		field := rv.FieldByName(name)
		if !field.IsValid() {
			return nil
		}
		rv = reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem()
	}
	if (rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer) && rv.IsNil() {
		return nil
	}
	return rv.Interface()
}
