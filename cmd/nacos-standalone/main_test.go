package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-auth", "nacos:s3cret"}, stdout)
		stdout.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v (run: %v)", err, <-done)
	}
	// "nacos-standalone: Nacos naming and config server on HOST:PORT (HTTP), ..."
	fields := strings.Fields(line)
	addr := fields[len(fields)-4]
	resp, err := http.PostForm("http://"+addr+"/nacos/v1/auth/users/login", url.Values{"username": {"nacos"}, "password": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login on %s: %s", addr, resp.Status)
	}

	cancel()
	go io.Copy(io.Discard, out)
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-auth", "no-colon"},
		{"-auth", ":password"},
		{"-addr", "127.0.0.1:65000"}, // gRPC would need port 66000
		{"extra"},
		{"-unknown"},
	} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
