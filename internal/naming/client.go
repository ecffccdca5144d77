// Package naming is the registry's boundary with Nacos's naming service: the Client the
// core talks to, in its own terms, and SDKClient, which implements it with nacos-sdk-go
// v2.3.5's naming client. Every use of the SDK's internals and every workaround of one
// of its defects is in sdk.go, each with the defect it answers and a canary in
// sdk_test.go; no other package of the plugin knows them.
package naming

import (
	"errors"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"google.golang.org/grpc/status"

	"github.com/micro-registry/nacos/internal/sdkclient"
)

// ServiceKey names a Nacos service within a client's namespace.
type ServiceKey struct{ Group, Name string }

func (k ServiceKey) String() string { return k.Group + "@@" + k.Name }

// Client is what the registry needs of a Nacos naming client. Its methods are safe for
// concurrent use; each is one request to Nacos, at most the client's timeout long.
type Client interface {
	// Publish makes Nacos hold exactly instances of a service from this client's
	// connection: none is a deregistration, for which named is an instance published
	// before. The client never publishes again by itself: after a reconnection, the
	// caller does (see Dial's reconnected).
	Publish(key ServiceKey, instances []model.Instance, named model.Instance) error
	// Subscribe subscribes to a service. push receives every newer instance list, with
	// its version stamp, on the SDK's goroutines; it must return at once. When
	// Subscribe returns, push has had the current list.
	Subscribe(key ServiceKey, push func(hosts []model.Instance, stamp uint64)) (unsubscribe func(), err error)
	// ServiceNames reads the page of service names param names, and how many there are.
	ServiceNames(param vo.GetAllServiceInfoParam) (names []string, total int64, err error)
	// Close ends the client. It returns at once; done is closed once it has ended.
	Close() (done <-chan struct{})
}

// RefusedError is a request Nacos refused for a reason that asking again will not
// change: a parameter it does not accept, a request type it does not know, a missing
// permission. It is reported once and never retried.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// IsRefusal says whether err is, or wraps, a RefusedError.
func IsRefusal(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// IsUnreachable says whether err is a request that got no answer from Nacos: the
// connection is down or being made, or the request timed out. Reconnecting cures it.
// Any other error that is not a refusal is Nacos failing to serve the request.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var grpc interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpc) {
		return true
	}
	return sdkclient.IsUnreachable(err) || errors.Is(err, ErrNoClient)
}

// ErrNoClient says that the registry has no connection to Nacos yet.
var ErrNoClient = errors.New("no connection to Nacos yet")

// MayBeAuth says whether a refusal may be about credentials or permissions: one the SDK
// passes on without its reason, or one whose reason says so.
func MayBeAuth(err error) bool {
	if err == nil || IsUnreachable(err) {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, errNoReason) || sdkclient.LooksLikeAuth(msg)
}
