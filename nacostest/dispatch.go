package nacostest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	auto "github.com/nacos-group/nacos-sdk-go/v2/api/grpc"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_response"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// Error codes of com.alibaba.nacos.api.exception.NacosException.
const (
	codeInvalidParam = 400 // INVALID_PARAM
	codeNoRight      = 403 // NO_RIGHT
	codeServerError  = 500 // SERVER_ERROR
	codeUnregistered = 301 // UN_REGISTER
	codeNoHandler    = 302 // NO_HANDLER
	codeBadGateway   = 502 // BAD_GATEWAY: the payload did not parse
)

// deserializeFailed is Java's message for a body that does not decode.
const deserializeFailed = "errCode: 101, errMsg: Nacos deserialize failed.  "

const (
	resultSuccess = 200 // ResponseCode.SUCCESS
	resultFail    = 500 // ResponseCode.FAIL
)

// connection is one client transport (one SDK gRPC connection). Everything a
// client publishes or subscribes belongs to its connection and goes with it.
type connection struct {
	id     string
	server *Server
	ended  chan struct{} // closed once the connection's state is gone
	// removed is set, under the store's lock, when the connection has
	// ended, so that a request still in flight cannot publish for it.
	removed bool
	// setUp is set when the client's stream said ConnectionSetupRequest.
	// Like Java, the server answers nothing but ServerCheckRequest before:
	// a subscription on a transport without a stream could never be pushed to.
	setUp atomic.Bool
	// remote is the client's address, which names its transport.
	remote string
	// lastActive is when the client last sent a request or a response (unix
	// nanoseconds), for client detection (detection.go).
	lastActive atomic.Int64
	// probe is the ClientDetectionRequest awaiting an answer, if any.
	probe atomic.Pointer[probe]

	mu    sync.Mutex // guards queue
	queue []queuedPush
	wake  chan struct{} // signals the sender that queue grew
	// serverRequests are requests to the client other than pushes
	// (SetupAckRequest, ClientDetectionRequest): sent at once, never held.
	serverRequests chan *auto.Payload
}

type queuedPush struct {
	messageType string // NotifySubscriberRequest or ConfigChangeNotifyRequest
	body        []byte // its JSON
	due         time.Time
}

type connectionKey struct{}

func connectionFrom(ctx context.Context) *connection {
	c, _ := ctx.Value(connectionKey{}).(*connection)
	return c
}

// connectionTracker is the gRPC stats handler that gives each transport its
// connection: TagConn puts it into the context of every call on that
// transport, ConnEnd removes its state.
type connectionTracker struct{ server *Server }

func (t connectionTracker) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	// Java's connection id format: <millis>_<remote ip>_<remote port>.
	host, port, _ := net.SplitHostPort(info.RemoteAddr.String())
	c := &connection{
		id:             fmt.Sprintf("%d_%s_%s", time.Now().UnixMilli(), host, port),
		server:         t.server,
		remote:         info.RemoteAddr.String(),
		ended:          make(chan struct{}),
		wake:           make(chan struct{}, 1),
		serverRequests: make(chan *auto.Payload, 4),
	}
	return context.WithValue(ctx, connectionKey{}, c)
}

func (t connectionTracker) HandleConn(ctx context.Context, event stats.ConnStats) {
	s, c := t.server, connectionFrom(ctx)
	switch event.(type) {
	case *stats.ConnBegin:
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.logf("nacostest: connection %s opened", c.id)
	case *stats.ConnEnd:
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.backend.store.removeConnection(c)
		s.backend.configs.removeConnection(c)
		close(c.ended)
		s.logf("nacostest: connection %s closed", c.id)
	}
}

func (connectionTracker) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (connectionTracker) HandleRPC(context.Context, stats.RPCStats)                       {}

// enqueue queues a push for this connection's sender. It never blocks, so a
// slow client cannot hold up the store.
func (c *connection) enqueue(messageType string, body []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, queuedPush{messageType: messageType, body: body, due: time.Now().Add(c.server.pushes.currentDelay())})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *connection) head() (queuedPush, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return queuedPush{}, false
	}
	return c.queue[0], true
}

func (c *connection) pop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue[0] = queuedPush{}
	c.queue = c.queue[1:]
}

// sendPushes sends the connection's queued pushes in order, each once it is
// due and pushes are not held, and its other server requests at once, until
// ctx ends. It is the only goroutine that sends on the stream, which
// serialises Send. Acks are not awaited: they arrive on the receive side.
func (c *connection) sendPushes(ctx context.Context, stream auto.BiRequestStream_RequestBiStreamServer) {
	for {
		var (
			wake  <-chan struct{} = c.wake // nothing queued: wait for a push
			due   <-chan time.Time
			timer *time.Timer
		)
		if next, ok := c.head(); ok {
			if held := c.server.pushes.heldUntil(); held != nil {
				wake = held
			} else if wait := time.Until(next.due); wait > 0 {
				timer = time.NewTimer(wait)
				due = timer.C
			} else {
				c.pop()
				if stream.Send(payload(next.messageType, next.body)) != nil {
					return
				}
				continue
			}
		}
		var err error
		select {
		case <-wake:
		case <-due:
		case p := <-c.serverRequests:
			err = stream.Send(p)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return
		}
	}
}

// sendServerRequest queues a request other than a push for the sender; it
// is dropped if the client does not take what is queued already.
func (c *connection) sendServerRequest(requestType string, body []byte) {
	select {
	case c.serverRequests <- payload(requestType, body):
	default:
	}
}

const notifySubscriberRequest = "NotifySubscriberRequest"

func payload(messageType string, body []byte) *auto.Payload {
	return &auto.Payload{Metadata: &auto.Metadata{Type: messageType}, Body: &anypb.Any{Value: body}}
}

// grpcService implements the two gRPC services the SDK uses.
type grpcService struct {
	auto.UnimplementedRequestServer
	auto.UnimplementedBiRequestStreamServer
	server *Server
}

// RequestBiStream receives the client's stream messages (connection setup,
// responses to pushes and probes) while a second goroutine sends the
// pushes.
func (g *grpcService) RequestBiStream(stream auto.BiRequestStream_RequestBiStreamServer) error {
	s, c := g.server, connectionFrom(stream.Context())
	ctx, cancel := context.WithCancel(stream.Context())
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		c.sendPushes(ctx, stream)
	}()
	defer func() {
		cancel()
		<-senderDone
	}()
	for {
		p, err := stream.Recv()
		if err != nil {
			return nil
		}
		messageType := p.GetMetadata().GetType()
		s.counters.add(messageType)
		switch messageType {
		case "ConnectionSetupRequest":
			c.setUpFrom(p.GetBody().GetValue())
		case "ClientDetectionResponse":
			c.answered(p.GetBody().GetValue())
		default:
			// Acks (NotifySubscriberResponse) need nothing beyond the count;
			// anything else is ignored, as Java ignores what it has no handler for.
		}
		if c.setUp.Load() && strings.HasSuffix(messageType, "Response") {
			c.active()
		}
	}
}

// Request answers one unary request: faults first, then the handler for
// its metadata.type.
func (g *grpcService) Request(ctx context.Context, p *auto.Payload) (*auto.Payload, error) {
	s, c := g.server, connectionFrom(ctx)
	requestType := p.GetMetadata().GetType()
	defer s.counters.begin(requestType)()
	h, known := handlers[requestType]
	responseType := "ErrorResponse"
	if known {
		responseType = h.responseType()
	}
	r, injected, err := s.faults.apply(ctx, s.quit, requestType, responseType)
	switch {
	case err != nil:
		return nil, err
	case injected:
	case requestType != "ServerCheckRequest" && !c.setUp.Load():
		// The SDK reconnects and redoes everything when told so.
		r = errorReply(resultFail, codeUnregistered, "Connection is unregistered.")
	case !known:
		c.active()
		r = noHandler()
	default:
		c.active()
		r = h.serve(s, c, p)
		if err := s.faults.holdAnswer(ctx, s.quit, requestType); err != nil {
			return nil, err
		}
	}
	s.logf("nacostest: %s %s -> %s", c.id, requestType, r.responseType)
	return r.payload(p)
}

// reply is a response ready to be encoded: its metadata.type and its body.
type reply struct {
	responseType string
	body         interface{ SetRequestId(string) }
}

// respond replies with one of the SDK's response types.
func respond(body rpc_response.IResponse) reply {
	return reply{body.GetResponseType(), body}
}

func (r reply) payload(request *auto.Payload) (*auto.Payload, error) {
	var id struct {
		RequestID string `json:"requestId"`
	}
	_ = json.Unmarshal(request.GetBody().GetValue(), &id) // a bad body has been answered already
	r.body.SetRequestId(id.RequestID)
	body, err := json.Marshal(r.body)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "nacostest: encoding %s: %v", r.responseType, err)
	}
	return payload(r.responseType, body), nil
}

func succeeded() *rpc_response.Response {
	return &rpc_response.Response{ResultCode: resultSuccess, Success: true}
}

func failed(resultCode, errorCode int, message string) *rpc_response.Response {
	return &rpc_response.Response{ResultCode: resultCode, ErrorCode: errorCode, Message: message}
}

// errorReply is an ErrorResponse. Java builds most with resultCode 500, but
// those made from a handler's exception carry the error code as resultCode.
func errorReply(resultCode, errorCode int, message string) reply {
	return reply{"ErrorResponse", failed(resultCode, errorCode, message)}
}

// noHandler is Java's answer to a request type it has no handler for.
func noHandler() reply {
	return errorReply(resultFail, codeNoHandler, "RequestHandler Not Found")
}

// refusal is a response of the request's own type that says no, the way
// Java's request filters (auth, parameter checks) answer. The SDK does not
// retry these: it hands success=false to the caller.
func refusal(responseType string, errorCode int, message string) reply {
	return reply{responseType, failed(resultFail, errorCode, message)}
}

// requestHandler serves one request type.
type requestHandler interface {
	responseType() string
	serve(s *Server, c *connection, p *auto.Payload) reply
}

// handlers maps metadata.type to its handler; anything else gets
// "RequestHandler Not Found".
var handlers = map[string]requestHandler{
	"ServerCheckRequest": &handler[rpc_request.ServerCheckRequest]{
		response: "ServerCheckResponse",
		handle: func(_ *Server, c *connection, _ *rpc_request.ServerCheckRequest) reply {
			return respond(&rpc_response.ServerCheckResponse{Response: succeeded(), ConnectionId: c.id})
		},
	},
	"HealthCheckRequest": &handler[rpc_request.HealthCheckRequest]{
		response: "HealthCheckResponse",
		handle: func(*Server, *connection, *rpc_request.HealthCheckRequest) reply {
			return respond(&rpc_response.HealthCheckResponse{Response: succeeded()})
		},
	},
	"InstanceRequest": &handler[rpc_request.InstanceRequest]{
		response: "InstanceResponse",
		secured:  true,
		params:   instanceParams,
		handle:   handleInstance,
	},
	"BatchInstanceRequest": &handler[rpc_request.BatchInstanceRequest]{
		response: "BatchInstanceResponse",
		secured:  true,
		params:   batchInstanceParams,
		handle:   handleBatchInstance,
	},
	"SubscribeServiceRequest": &handler[rpc_request.SubscribeServiceRequest]{
		response: "SubscribeServiceResponse",
		secured:  true,
		params:   subscribeParams,
		handle:   handleSubscribe,
	},
	"ServiceQueryRequest": &handler[rpc_request.ServiceQueryRequest]{
		response: "QueryServiceResponse",
		secured:  true,
		params:   queryParams,
		handle:   handleQuery,
	},
	"ServiceListRequest": &handler[rpc_request.ServiceListRequest]{
		response: "ServiceListResponse",
		secured:  true,
		params:   listParams,
		handle:   handleServiceList,
	},
	"ConfigQueryRequest": &handler[rpc_request.ConfigQueryRequest]{
		response: "ConfigQueryResponse",
		secured:  true,
		params:   func(r *rpc_request.ConfigQueryRequest) []paramInfo { return configParams(r.ConfigRequest) },
		handle:   handleConfigQuery,
	},
	"ConfigPublishRequest": &handler[rpc_request.ConfigPublishRequest]{
		response: "ConfigPublishResponse",
		secured:  true,
		params:   func(r *rpc_request.ConfigPublishRequest) []paramInfo { return configParams(r.ConfigRequest) },
		handle:   handleConfigPublish,
	},
	"ConfigRemoveRequest": &handler[rpc_request.ConfigRemoveRequest]{
		response: "ConfigRemoveResponse",
		secured:  true,
		params:   func(r *rpc_request.ConfigRemoveRequest) []paramInfo { return configParams(r.ConfigRequest) },
		handle:   handleConfigRemove,
	},
	"ConfigBatchListenRequest": &handler[rpc_request.ConfigBatchListenRequest]{
		response: "ConfigChangeBatchListenResponse",
		secured:  true,
		params:   batchListenParams,
		handle:   handleConfigBatchListen,
	},
}

// handler decodes a request of type R and passes it through what Java's
// request pipeline does before the handler: the auth filter for secured
// requests, then the parameter checker.
type handler[R any] struct {
	response string
	secured  bool                 // Java: @Secured, needs a token when auth is on
	params   func(*R) []paramInfo // Java: @ExtractorManager.Extractor
	handle   func(*Server, *connection, *R) reply
}

func (h *handler[R]) responseType() string { return h.response }

func (h *handler[R]) serve(s *Server, c *connection, p *auto.Payload) reply {
	req := new(R)
	if err := json.Unmarshal(p.GetBody().GetValue(), req); err != nil {
		return errorReply(resultFail, codeBadGateway, deserializeFailed)
	}
	if h.secured {
		if problem := s.backend.auth.tokenProblem(p.GetMetadata().GetHeaders()["accessToken"]); problem != "" {
			return refusal(h.response, codeNoRight, problem)
		}
	}
	if h.params != nil {
		if problem := paramProblem(h.params(req)); problem != "" {
			return refusal(h.response, codeInvalidParam, "Param check invalid:"+problem)
		}
	}
	return h.handle(s, c, req)
}

// namingRequest returns the common part of a naming request, which the
// decoder leaves nil when the body lacks all of its fields.
func namingRequest(r *rpc_request.NamingRequest) rpc_request.NamingRequest {
	if r == nil {
		return rpc_request.NamingRequest{}
	}
	return *r
}

// keyOf is the service a request names, as it names it: unlike the SDK,
// Java gives a blank namespace no default, so "" is not "public" here.
func keyOf(r *rpc_request.NamingRequest) serviceKey {
	n := namingRequest(r)
	return serviceKey{namespace: n.Namespace, group: n.GroupName, name: n.ServiceName}
}

func handleInstance(s *Server, c *connection, req *rpc_request.InstanceRequest) reply {
	k := keyOf(req.NamingRequest)
	if problem := blankNameProblem(k); problem != "" {
		return errorReply(resultFail, codeServerError, problem)
	}
	switch req.Type {
	case "registerInstance":
		if problem := instanceProblem(req.Instance); problem != "" {
			return errorReply(codeInvalidParam, codeInvalidParam, problem)
		}
		s.backend.store.publish(c, k, []model.Instance{req.Instance})
	case "deregisterInstance":
		// Java drops the connection's publication for the service whatever
		// ip and port the request names.
		s.backend.store.unpublish(c, k)
	default:
		return errorReply(codeInvalidParam, codeInvalidParam, "Unsupported request type "+req.Type)
	}
	return respond(&rpc_response.InstanceResponse{Response: succeeded()})
}

func handleBatchInstance(s *Server, c *connection, req *rpc_request.BatchInstanceRequest) reply {
	if problem := blankNameProblem(keyOf(req.NamingRequest)); problem != "" {
		return errorReply(resultFail, codeServerError, problem)
	}
	if req.Type != "batchRegisterInstance" {
		return errorReply(codeInvalidParam, codeInvalidParam, "Unsupported request type "+req.Type)
	}
	s.backend.store.publish(c, keyOf(req.NamingRequest), req.Instances)
	return respond(&rpc_response.BatchInstanceResponse{Response: succeeded()})
}

func handleSubscribe(s *Server, c *connection, req *rpc_request.SubscribeServiceRequest) reply {
	k := keyOf(req.NamingRequest)
	if problem := blankNameProblem(k); problem != "" {
		return errorReply(resultFail, codeServerError, problem)
	}
	var info model.Service
	if req.Subscribe {
		info = s.backend.store.subscribe(c, k, req.Clusters)
	} else {
		info = s.backend.store.unsubscribe(c, k, req.Clusters)
	}
	r := succeeded()
	r.Message = "success"
	return respond(&rpc_response.SubscribeServiceResponse{Response: r, ServiceInfo: info})
}

func handleQuery(s *Server, _ *connection, req *rpc_request.ServiceQueryRequest) reply {
	info := s.backend.store.query(keyOf(req.NamingRequest), req.Cluster, req.HealthyOnly)
	return respond(&rpc_response.QueryServiceResponse{Response: succeeded(), ServiceInfo: info})
}

func handleServiceList(s *Server, _ *connection, req *rpc_request.ServiceListRequest) reply {
	k := keyOf(req.NamingRequest)
	names := s.backend.store.names(k.namespace, k.group)
	return respond(&rpc_response.ServiceListResponse{
		Response:     succeeded(),
		Count:        len(names),
		ServiceNames: page(names, req.PageNo, req.PageSize),
	})
}

// page returns page pageNo (1-based) of names like Java's
// ServiceUtil.pageServiceName: pageSize 0 gives no names.
func page(names []string, pageNo, pageSize int) []string {
	start := max((pageNo-1)*pageSize, 0)
	if start >= len(names) || pageSize <= 0 {
		return []string{}
	}
	return names[start:min(start+pageSize, len(names))]
}
