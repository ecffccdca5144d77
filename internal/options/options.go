// Package options is what every adapter's option functions share: each stores its value
// in the Context of that go-micro line's options struct (registry.Options,
// source.Options), under a key of the package that reads it.
package options

import "context"

// Setter returns the function that makes options of O: given a key and a value, an
// option that stores the value under the key in the Context that ctx points to.
func Setter[O any](ctx func(*O) *context.Context) func(key, value any) func(*O) {
	return func(key, value any) func(*O) {
		return func(o *O) {
			c := ctx(o)
			if *c == nil {
				*c = context.Background()
			}
			*c = context.WithValue(*c, key, value)
		}
	}
}
