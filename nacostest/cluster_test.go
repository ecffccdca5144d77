package nacostest

import (
	"testing"
	"time"
)

func newCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c, err := NewCluster(n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Every member holds a change at once: the deviation from Nacos's Distro sync
// (a second or so) that the package doc lists.
func TestClusterMembersShareOneStore(t *testing.T) {
	c := newCluster(t, 3, WithAuth("nacos", "s3cret"))
	addrs := c.Addrs()
	if len(addrs) != 3 || addrs[0] == addrs[1] || addrs[1] == addrs[2] {
		t.Fatalf("Addrs = %v", addrs)
	}
	// Tokens are shared too: log in on member 0, use them on member 1.
	publisher := newClient(t, []string{addrs[0]}, credentials("nacos", "s3cret"))
	reader := newClient(t, []string{addrs[1]}, credentials("nacos", "s3cret"))
	w := watch(t, reader, "svc")
	register(t, publisher, instance("svc", "10.0.0.1", 80, nil))
	eventually(t, 5*time.Second, func() bool { return w.sees("10.0.0.1:80") })
	for i := range 3 {
		if !holds(c.Member(i), "svc", "10.0.0.1:80") || c.Member(i).Subscribers("", "", "svc") != 1 {
			t.Fatalf("member %d: instances %v, subscribers %d", i, c.Member(i).Instances("", "", "svc"), c.Member(i).Subscribers("", "", "svc"))
		}
	}
	if c.Member(0).Connections() != 1 || c.Member(1).Connections() != 1 || c.Member(2).Connections() != 0 {
		t.Fatalf("connections per member: %d %d %d", c.Member(0).Connections(), c.Member(1).Connections(), c.Member(2).Connections())
	}
}

func TestClusterFailover(t *testing.T) {
	skipIfSDKReconnectsUnderRace(t)
	c := newCluster(t, 3)
	publisher := newClient(t, c.Addrs())
	register(t, publisher, instance("svc", "10.0.0.1", 80, nil))
	connected := -1
	for i := range 3 {
		if c.Member(i).Connections() == 1 {
			connected = i
		}
	}
	if connected < 0 {
		t.Fatal("the publisher is connected to no member")
	}
	other := (connected + 1) % 3
	reader := newClient(t, []string{c.Addrs()[other]})
	w := watch(t, reader, "svc")
	eventually(t, 5*time.Second, func() bool { return w.sees("10.0.0.1:80") })

	c.Member(connected).Close()
	// The publisher moves to a surviving member and registers again.
	eventually(t, 10*time.Second, func() bool {
		return holds(c.Member(other), "svc", "10.0.0.1:80") && c.Member(connected).Connections() == 0 &&
			c.Member(other).Connections()+c.Member(3-connected-other).Connections() == 2
	})
	eventually(t, 5*time.Second, func() bool { return w.sees("10.0.0.1:80") })
}
