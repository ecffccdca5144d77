package nacostest

import (
	"maps"
	"time"
)

// pushTask is a push waiting for the push delay (WithPushDelay), as Java's
// PushDelayTask: the changes to a service within the delay merge into one
// push of the list as it is when the delay is over.
type pushTask struct {
	timer *time.Timer
	// toAll is set for a change; otherwise targets are new subscribers,
	// each pushed the list once.
	toAll   bool
	targets map[*connection]bool
}

// schedulePush pushes the service d after now, or with the push already
// pending: to every subscriber (target nil) or to target only. The caller
// holds st.mu.
func (st *store) schedulePush(k serviceKey, target *connection) {
	task := st.pending[k]
	if task == nil {
		task = &pushTask{targets: make(map[*connection]bool)}
		task.timer = time.AfterFunc(st.pushDelay, func() { st.firePush(k, task) })
		st.pending[k] = task
	}
	if target == nil {
		task.toAll = true
	} else {
		task.targets[target] = true
	}
}

// firePush sends a pending push. Like Java, it stamps the list with the
// time it is built.
func (st *store) firePush(k serviceKey, task *pushTask) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending[k] != task {
		return // cancelled by a reset
	}
	delete(st.pending, k)
	svc := st.services[k]
	if svc == nil {
		return // nobody subscribes any more
	}
	subscribers := svc.subscribers
	if !task.toAll {
		subscribers = maps.Clone(svc.subscribers)
		maps.DeleteFunc(subscribers, func(c *connection, _ string) bool { return !task.targets[c] })
	}
	st.push(k, svc.hosts, st.tick(), subscribers)
}

// cancelPushes drops every pending push. The caller holds st.mu.
func (st *store) cancelPushes() {
	for k, task := range st.pending {
		task.timer.Stop()
		delete(st.pending, k)
	}
}

// stopPushes drops every pending push when the store's servers close.
func (st *store) stopPushes() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cancelPushes()
}
