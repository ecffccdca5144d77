package nacosconfig

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"

	"github.com/micro-registry/nacos"
)

// A registry and a config source in one process share nacos-sdk-go's process-wide map
// of clients, which a client's shutdown changes without the SDK's lock: registries
// built and closed while a source reads must not race with its reads (under -race the
// race detector fails the test), and both keep working.
func TestRegistryClosingWhileASourceReads(t *testing.T) {
	env := newEnv(t)
	env.Publish(t, "shared.yaml", "a: 1")
	src := env.source(t, []string{"shared.yaml"})
	stop := make(chan struct{})
	var reads sync.WaitGroup
	var readErr error
	reads.Add(1)
	go func() {
		defer reads.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := src.Read(); err != nil {
				readErr = err
				return
			}
		}
	}()
	for i := 0; i < 10; i++ {
		r := nacos.NewRegistry(registry.Addrs(env.Addr), registry.Timeout(3*time.Second))
		node := &registry.Node{Id: fmt.Sprintf("n%d", i), Address: "127.0.0.1:9000"}
		err := r.Register(&registry.Service{Name: fmt.Sprintf("clientmap-%d", i), Version: "v1", Nodes: []*registry.Node{node}})
		nacos.Close(r)
		if err != nil {
			t.Fatalf("Register with a source reading: %v", err)
		}
	}
	close(stop)
	reads.Wait()
	if readErr != nil {
		t.Fatalf("Read with registries closing: %v", readErr)
	}
}
