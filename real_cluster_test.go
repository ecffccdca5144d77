package nacos

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/asim/go-micro/v3/registry"
	"github.com/micro-registry/nacos/internal/testkit"
)

var (
	// realCluster lists the HTTP addresses of the members of a real Nacos cluster,
	// e.g. what scripts/real-nacos.sh cluster prints.
	realCluster = os.Getenv("NACOS_CLUSTER_ADDRS")
	// realClusterStop is a shell command that stops one member when given its HTTP
	// port as last argument, e.g. "scripts/real-nacos.sh stop".
	realClusterStop = os.Getenv("NACOS_CLUSTER_STOP")
)

// sdkConnections is how many SDK clients are connected to the member at addr (its
// connections from other members left out).
func sdkConnections(t testing.TB, addr string) int {
	t.Helper()
	return testkit.SDKConnections(t, addr)
}

// One member of a real three-member Nacos cluster is stopped while registries hold
// all three addresses; a publisher and the reader were connected to that member.
// Their nodes stay registered, the reader's GetService and watchers stay current, and
// later changes reach it. It stops a member for good: start the cluster again to run
// it again. The embedded form is TestReliabilityClusterMemberLossKeepsAReaderCurrent.
func TestReliabilityRealClusterMemberLoss(t *testing.T) {
	t.Parallel()
	testkit.RunChecked(t, false, func(t *testing.T) {
		members := strings.Split(realCluster, ",")
		if realCluster == "" || realClusterStop == "" || len(members) < 3 {
			t.Skip("stops a member of a real Nacos cluster: set NACOS_CLUSTER_ADDRS to its three members' addresses (scripts/real-nacos.sh cluster prints them) and NACOS_CLUSTER_STOP to a command that stops the member whose port it is given (scripts/real-nacos.sh stop)")
		}
		namespace := fmt.Sprintf("test-%d", time.Now().UnixNano())
		newReg := func(opts ...registry.Option) *nacosRegistry {
			r := NewRegistry(append([]registry.Option{registry.Addrs(members...), registry.Timeout(3 * time.Second), WithNamespace(namespace)}, opts...)...).(*nacosRegistry)
			t.Cleanup(func() { r.Close() })
			return r
		}
		// place starts r's client and returns the member it connected to; live counts
		// the registries placed and not closed.
		live := 0
		counts := func() (per []int, total int) {
			per = make([]int, len(members))
			for i, addr := range members {
				per[i] = sdkConnections(t, addr)
				total += per[i]
			}
			return per, total
		}
		place := func(r *nacosRegistry) int {
			t.Helper()
			var before []int
			eventually(t, 10*time.Second, func() bool {
				per, total := counts()
				before = per
				return total == live
			}, "connections of closed registries did not go")
			if _, err := r.ListServices(); err != nil {
				t.Fatalf("ListServices: %v", err)
			}
			member := -1
			eventually(t, 10*time.Second, func() bool {
				per, _ := counts()
				for i := range per {
					if per[i] > before[i] {
						member = i
					}
				}
				return member >= 0
			}, "no member got the new connection")
			live++
			return member
		}
		pubA := newReg()
		lost := place(pubA)
		// onMember returns a registry connected to a member that want accepts.
		onMember := func(role string, want func(member int) bool, opts ...registry.Option) *nacosRegistry {
			for try := 0; try < 30; try++ {
				r := newReg(opts...)
				if want(place(r)) {
					return r
				}
				r.Close()
				live--
			}
			t.Fatalf("no %s landed where wanted in 30 tries", role)
			return nil
		}
		reader := onMember("reader", func(m int) bool { return m == lost }, WithDiscoveryInterval(200*time.Millisecond))
		// pubB, which deregisters a node after the loss, is elsewhere: the survivors keep
		// the lost member's copy of its clients' nodes until those clients expire
		// (nacos.naming.client.expired.time, 3 minutes by default), which would hide the
		// deregistration of a node registered through the lost member until then.
		pubB := onMember("second publisher", func(m int) bool { return m != lost })
		connect(t, pubA, reader, pubB)

		survivor := &testEnv{addr: members[(lost+1)%len(members)], namespace: namespace}
		h := newHeal(t, pubA, pubB, reader, nil)
		h.connections = func() int { return sdkConnections(t, survivor.addr) }
		server := func() string { return survivor.held(t, namespace, "", h.names...) }
		subscribers := func(name string) int { return survivor.subscribers(t, namespace, "", name) }
		start := time.Now()
		h.recovered(t, start, server, subscribers)
		t.Logf("before the loss: every node in the surviving member's view %s after registering", millis(time.Since(start)))

		_, port, err := net.SplitHostPort(members[lost])
		if err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		out, err := exec.Command("sh", "-c", realClusterStop+" "+port).CombinedOutput()
		if err != nil {
			t.Fatalf("NACOS_CLUSTER_STOP %q %s: %v\n%s", realClusterStop, port, err, out)
		}
		t.Logf("member %s (the publisher's and the reader's) stopped in %s", members[lost], millis(time.Since(stopped)))
		back, subscribed, lookedUp, watched := h.recovered(t, stopped, server, subscribers)
		t.Logf("from the stop: nodes in the survivor's view after %s, reader subscribed there after %s, its GetService right after %s, its watchers right after %s",
			millis(back), millis(subscribed), millis(lookedUp), millis(watched))
		changed := time.Now()
		h.afterwards(t, server, subscribers)
		t.Logf("a node registered and one deregistered after the loss reached the reader in %s", millis(time.Since(changed)))
	})
}
