package nacostest

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FailMode says how FailRequests makes requests fail.
type FailMode int

const (
	// FailWithError answers ErrorResponse (resultCode 500, errorCode 500).
	// The SDK retries three times, returns an error and then redoes all its
	// registrations and subscriptions, as after any failed request.
	FailWithError FailMode = iota
	// FailRefused answers the request's own response type with
	// success:false, resultCode 500, errorCode 500. The SDK does not retry:
	// RegisterInstance returns (false, nil), Subscribe an empty service.
	FailRefused
	// FailTimeout never answers, until undo or Close; the request is then
	// served normally or cancelled. The SDK call times out (TimeoutMs).
	FailTimeout
	// FailNoHandler answers as a server without a handler for the request
	// type: ErrorResponse with errorCode 302 (NO_HANDLER) and "RequestHandler
	// Not Found". Nacos 2.0 and 2.1 answer BatchInstanceRequest so. The SDK
	// treats it as FailWithError.
	FailNoHandler
	// FailLateAnswer serves the request at once, as usual, but holds its answer
	// until undo, the call is cancelled or the server closes: a slow reply path.
	// What the request did on the server stands; the SDK call times out
	// (TimeoutMs) if undo comes too late. HeldAnswers counts the answers held.
	FailLateAnswer
)

const injectedFailure = "nacostest: injected failure"

// FailRequests makes every unary request of this metadata.type (e.g.
// InstanceRequest) fail in the given mode until undo is called. A later call
// for the same type replaces the earlier one. undo is idempotent.
func (s *Server) FailRequests(requestType RequestType, mode FailMode) (undo func()) {
	return s.faults.install(string(requestType), mode)
}

type faults struct {
	mu     sync.Mutex // guards byType and held
	byType map[string]*fault
	held   int // answers FailLateAnswer holds now
}

// HeldAnswers is how many answers FailLateAnswer holds now.
func (s *Server) HeldAnswers() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.held
}

type fault struct {
	mode   FailMode
	undone chan struct{}
	once   sync.Once
}

func (f *faults) install(requestType string, mode FailMode) (undo func()) {
	installed := &fault{mode: mode, undone: make(chan struct{})}
	f.mu.Lock()
	if f.byType == nil {
		f.byType = make(map[string]*fault)
	}
	f.byType[requestType] = installed
	f.mu.Unlock()
	return func() {
		installed.once.Do(func() {
			f.mu.Lock()
			if f.byType[requestType] == installed {
				delete(f.byType, requestType)
			}
			f.mu.Unlock()
			close(installed.undone)
		})
	}
}

// apply runs the fault installed for requestType, if any. It returns the
// reply to send instead of serving the request (injected), or an error to
// end the call, or neither, to serve it normally. A FailTimeout fault waits
// here until undone, the call is cancelled or the server closes.
func (f *faults) apply(ctx context.Context, quit <-chan struct{}, requestType, responseType string) (r reply, injected bool, err error) {
	f.mu.Lock()
	current := f.byType[requestType]
	f.mu.Unlock()
	if current == nil {
		return reply{}, false, nil
	}
	switch current.mode {
	case FailLateAnswer:
		return reply{}, false, nil // served first; see holdAnswer
	case FailRefused:
		return refusal(responseType, codeServerError, injectedFailure), true, nil
	case FailNoHandler:
		return noHandler(), true, nil
	case FailTimeout:
		select {
		case <-current.undone:
			return reply{}, false, nil
		case <-ctx.Done():
			return reply{}, false, status.FromContextError(ctx.Err()).Err()
		case <-quit:
			return reply{}, false, status.Error(codes.Unavailable, "nacostest: server closed")
		}
	default:
		return errorReply(resultFail, codeServerError, injectedFailure), true, nil
	}
}

// holdAnswer holds the answer to a served request of requestType while a
// FailLateAnswer fault is installed for it. It returns an error to end the
// call instead of answering, or nil.
func (f *faults) holdAnswer(ctx context.Context, quit <-chan struct{}, requestType string) error {
	f.mu.Lock()
	current := f.byType[requestType]
	if current == nil || current.mode != FailLateAnswer {
		f.mu.Unlock()
		return nil
	}
	f.held++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.held--
		f.mu.Unlock()
	}()
	select {
	case <-current.undone:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-quit:
		return status.Error(codes.Unavailable, "nacostest: server closed")
	}
}

// HoldPushes queues every push of this server (per connection, order kept)
// until release is called. Holds nest: pushes flow once every release has
// been called. release is idempotent.
func (s *Server) HoldPushes() (release func()) {
	return s.pushes.hold()
}

// SetPushDelay makes every later push leave d after the change that caused
// it (0, the default, sends at once), like Java's push delay (500 ms by
// default there).
func (s *Server) SetPushDelay(d time.Duration) {
	s.pushes.setDelay(d)
}

// pushGate holds and delays the pushes of one server.
type pushGate struct {
	mu       sync.Mutex // guards the fields below
	holds    int
	released chan struct{} // closed when the last hold is released
	delay    time.Duration
}

func (g *pushGate) hold() (release func()) {
	g.mu.Lock()
	if g.holds == 0 {
		g.released = make(chan struct{})
	}
	g.holds++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.holds--
			if g.holds == 0 {
				close(g.released)
			}
		})
	}
}

// heldUntil returns a channel closed when pushes may flow again, or nil if
// they may flow now.
func (g *pushGate) heldUntil() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holds == 0 {
		return nil
	}
	return g.released
}

func (g *pushGate) setDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delay = d
}

func (g *pushGate) currentDelay() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.delay
}

// PushRaw sends every subscriber of the service a NotifySubscriberRequest
// whose serviceInfo is serviceInfoJSON, unchecked: it may be malformed, to
// see how clients cope. Namespace "" means "public", group "" DEFAULT_GROUP.
//
// Beware: nacos-sdk-go v2.3.5 drops a push whose fields have the wrong types
// (e.g. {"hosts":"none"}), but a body that is not JSON at all makes it
// dereference a nil pointer while logging the failure
// (GrpcClient.handleServerRequest), which crashes the client's process.
func (s *Server) PushRaw(namespace, group, service string, serviceInfoJSON []byte) {
	s.backend.store.pushRaw(newServiceKey(namespace, group, service), serviceInfoJSON)
}
