// Package protoconflict lets go-micro v3, v4 and v5 load in one process, which only the
// mixed-fleet test asks of them (a real fleet runs each line in its own process): each
// line registers the same protobuf messages (its codec/protorpc envelope), and
// google.golang.org/protobuf panics at the second registration unless
// GOLANG_PROTOBUF_REGISTRATION_CONFLICT says otherwise. It reads the variable at each
// conflict, and this package, imported first by the test and depending on os alone, is
// initialised before any go-micro package (Go initialises the ready packages in import
// path order, and github.com/micro-registry sorts before go-micro.dev; go-micro v3's
// protorpc, github.com/asim/..., registers first and so conflicts with nothing).
package protoconflict

import "os"

func init() {
	if os.Getenv("GOLANG_PROTOBUF_REGISTRATION_CONFLICT") == "" {
		os.Setenv("GOLANG_PROTOBUF_REGISTRATION_CONFLICT", "ignore")
	}
}
