package suite

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/micro-registry/nacos/internal/wire"
)

// RunFleet checks that services of several lines in one Nacos namespace see each other:
// the same wire format, metadata keys and grouping by version. Every line registers a
// node of one service, with endpoints and metadata; the first two lines register
// version 1.0.0 and the others 2.0.0, so versions hold nodes of several lines. Every
// line's GetService sees every node, with what its line registered, grouped by version;
// every line's watcher sees the other lines' nodes come and go.
func RunFleet(t *testing.T, lines ...Line) {
	e := newEnv(t, &lines[0])
	regs := make([]*Registry, len(lines))
	readers := make([]*reader, len(lines))
	registered := map[string]*wire.Service{} // by version
	for i := range lines {
		regs[i] = (&env{e.ConfigEnv, &lines[i]}).registry(t, Options{})
		readers[i] = readWatcher(t, regs[i], "greeter")
	}
	version := func(i int) string {
		if i < 2 {
			return "1.0.0"
		}
		return "2.0.0"
	}
	var want []string
	for i, l := range lines {
		id := strings.ReplaceAll(l.Name, " ", "-")
		s := greeter(version(i), id)
		s.Nodes[0].Metadata["line"] = l.Name
		must(t, regs[i].Register(s, 0, nil), l.Name+": register")
		want = append(want, version(i)+"/"+id)
		if v := registered[s.Version]; v != nil {
			v.Nodes = append(v.Nodes, s.Nodes...)
		} else {
			registered[s.Version] = s
		}
	}
	all := joinSorted(want)
	for i, l := range lines {
		eventually(t, within, func() bool { return seen(regs[i], "greeter") == all }, "%s sees %q, want %q", l.Name, seenBy(regs[i], "greeter"), all)
		got, _ := regs[i].GetService("greeter", nil)
		for _, s := range got {
			w := registered[s.Version]
			sortNodes(s)
			sortNodes(w)
			if !reflect.DeepEqual(s, w) {
				t.Fatalf("%s sees version %s as\n%s\nwant\n%s", l.Name, s.Version, describe(s), describe(w))
			}
		}
		eventually(t, within, func() bool { return readers[i].state() == watchedState(all) }, "%s's watcher has %q, want %q", l.Name, readers[i].state, watchedState(all))
	}
	// The last line's node leaves: every line sees it go.
	last := len(lines) - 1
	gone := registered[version(last)]
	must(t, regs[last].Deregister(gone, nil), lines[last].Name+": deregister")
	rest := joinSorted(want[:last])
	for i, l := range lines {
		eventually(t, within, func() bool { return seen(regs[i], "greeter") == rest }, "%s sees %q after the deregistration, want %q", l.Name, seenBy(regs[i], "greeter"), rest)
		eventually(t, within, func() bool { return readers[i].state() == watchedState(rest) }, "%s's watcher has %q, want %q", l.Name, readers[i].state, watchedState(rest))
	}
}

// joinSorted is the items sorted, comma-separated, as nodeIDs lists nodes.
func joinSorted(items []string) string {
	items = append([]string(nil), items...)
	sort.Strings(items)
	return strings.Join(items, ",")
}

// watchedState is a nodeIDs list of the greeter as a reader's state lists it.
func watchedState(list string) string {
	var keys []string
	for _, item := range strings.Split(list, ",") {
		if item != "" {
			keys = append(keys, "greeter "+item)
		}
	}
	return strings.Join(keys, ",")
}

// sortNodes sorts the service's nodes by id, as GetService does.
func sortNodes(s *wire.Service) {
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Id < s.Nodes[j].Id })
}
