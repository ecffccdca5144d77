// Command nacos-endpoints prints a go-micro service registered in Nacos as go-micro sees
// it, as JSON: one entry per version, with its metadata, endpoints and nodes. It reads
// every form of micro.service the registry has written.
//
// Usage:
//
//	nacos-endpoints -service greeter [-addr 127.0.0.1:8848] [-namespace id] [-group DEFAULT_GROUP] [-auth user:password]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/asim/go-micro/v3/logger"
	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "nacos-endpoints:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("nacos-endpoints", flag.ContinueOnError)
	flags.SetOutput(stderr)
	service := flags.String("service", "", "the go-micro service `name` (required)")
	addr := flags.String("addr", nacos.DefaultAddress, "Nacos `addresses`, comma-separated")
	namespace := flags.String("namespace", "", "Nacos namespace `id` (default public)")
	group := flags.String("group", nacos.DefaultGroup, "Nacos `group`")
	auth := flags.String("auth", "", "log in as `user:password`")
	timeout := flags.Duration("timeout", nacos.DefaultTimeout, "how long to wait for Nacos")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if *service == "" {
		return errors.New("-service is required")
	}
	opts := []registry.Option{
		registry.Addrs(strings.Split(*addr, ",")...),
		registry.Timeout(*timeout),
		nacos.WithNamespace(*namespace),
		nacos.WithGroup(*group),
		nacos.WithLogger(logger.NewLogger(logger.WithLevel(logger.WarnLevel), logger.WithOutput(stderr))),
	}
	if *auth != "" {
		user, password, ok := strings.Cut(*auth, ":")
		if !ok || user == "" {
			return errors.New("-auth wants user:password")
		}
		opts = append(opts, nacos.WithAuth(user, password))
	}
	r := nacos.NewRegistry(opts...)
	defer r.(io.Closer).Close()
	services, err := r.GetService(*service)
	if errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("no instances of %q in group %q (namespace %q)", *service, *group, *namespace)
	}
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(services, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}
