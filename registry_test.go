package nacos

import (
	"errors"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
)

func TestRegisterEveryNodeVisibleToAnotherRegistry(t *testing.T) {
	env := newEnv(t)
	a, b := env.registry(t), env.registry(t)
	if err := a.Register(service("svc", "v1", "n1", "n2")); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(service("svc", "v1", "n3")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return seen(b, "svc") == "v1/n1,v1/n2,v1/n3" }, "b sees %q", seen(b, "svc"))
	if err := a.Deregister(&registry.Service{Name: "svc", Version: "v1", Nodes: []*registry.Node{{Id: "n2"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return seen(b, "svc") == "v1/n1,v1/n3" }, "b sees %q", seen(b, "svc"))
}

func TestGetServiceNotFound(t *testing.T) {
	env := newEnv(t)
	r := env.registry(t)
	if _, err := r.GetService("nobody"); err != registry.ErrNotFound {
		t.Fatalf("got %v, want registry.ErrNotFound itself", err)
	}
	if err := r.Register(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return seen(r, "svc") == "v1/n1" }, "sees %q", seen(r, "svc"))
	if err := r.Deregister(service("svc", "v1", "n1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { _, err := r.GetService("svc"); return errors.Is(err, registry.ErrNotFound) }, "last node still seen")
}
