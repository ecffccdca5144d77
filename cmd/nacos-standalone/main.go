// Command nacos-standalone runs the nacostest server in the foreground, for
// trying clients by hand or from other languages: a Nacos naming and
// config server (HTTP login, server state and namespace listing on the given
// port, gRPC on port+1000) kept in memory. It stops on SIGINT or SIGTERM.
//
// Usage:
//
//	nacos-standalone [-addr 127.0.0.1:8848] [-auth user:password]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/micro-registry/nacos/nacostest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "nacos-standalone:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("nacos-standalone", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8848", "HTTP `address`; gRPC listens on its port + 1000")
	auth := flags.String("auth", "", "require clients to log in as `user:password`")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	opts := []nacostest.Option{nacostest.WithAddr(*addr)}
	if *auth != "" {
		user, password, ok := strings.Cut(*auth, ":")
		if !ok || user == "" {
			return errors.New("-auth wants user:password")
		}
		opts = append(opts, nacostest.WithAuth(user, password))
	}
	srv, err := nacostest.NewServer(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "nacos-standalone: Nacos naming and config server on %s (HTTP), %s (gRPC)\n", srv.Addr(), srv.GRPCAddr())
	<-ctx.Done()
	return nil
}
