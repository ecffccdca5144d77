package nacostest

import (
	"errors"
	"fmt"
)

// Cluster is a set of servers sharing one store, like the members of a Nacos
// cluster: an instance registered through any member is seen through every
// member, and pushes reach subscribers on all of them. Give a client all of
// Addrs to test failover. Unlike real members, which sync by Distro about a
// second later (TestReliabilityRealClusterMemberLoss measures it), the
// members see every change at once.
type Cluster struct {
	members []*Server
}

// NewCluster starts n servers that share their naming data and login tokens.
// The options apply to every member; WithAddr is not allowed.
func NewCluster(n int, opts ...Option) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("nacostest: a cluster needs at least one member, not %d", n)
	}
	o := buildOptions(opts)
	if o.addr != "" {
		return nil, errors.New("nacostest: WithAddr cannot be used with NewCluster: members need distinct ports")
	}
	shared := &backend{store: newStore(o.pushDelay), auth: newAuthority(o), configs: newConfigStore(o)}
	c := &Cluster{}
	for range n {
		s, err := startServer(o, shared, true)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.members = append(c.members, s)
	}
	return c, nil
}

// Addrs returns the members' addresses, in member order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.members))
	for i, s := range c.members {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Member returns member i, counting from 0.
func (c *Cluster) Member(i int) *Server {
	return c.members[i]
}

// Close closes every member. It is idempotent.
func (c *Cluster) Close() {
	for _, s := range c.members {
		s.Close()
	}
	if len(c.members) > 0 {
		c.members[0].backend.store.stopPushes()
	}
}
