package nacostest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	auto "github.com/nacos-group/nacos-sdk-go/v2/api/grpc"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_response"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// rawClient speaks the gRPC protocol directly, with the SDK's own message
// types, for what the SDK client hides: exact refusal messages, unknown
// types, malformed bodies, and reconnect scenarios that the SDK cannot go
// through under the race detector.
type rawClient struct {
	conn   *grpc.ClientConn
	stream *watcher // the pushes received on the connection's stream

	mu       sync.Mutex
	messages []streamMessage // everything received on the stream, in order
	// ignoreDetection leaves ClientDetectionRequest unanswered, as a client
	// that hangs would.
	ignoreDetection bool
}

// streamMessage is one payload the server sent on the stream.
type streamMessage struct {
	Type string
	Body []byte
	At   time.Time
}

// dialRaw connects to a server's gRPC port and sets the connection up as the SDK
// does; one rawClient is one connection.
func dialRaw(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	return dialRawAddr(t, srv.GRPCAddr())
}

// dialRawAddr is dialRaw for the gRPC port at addr, of any Nacos.
func dialRawAddr(t testing.TB, grpcAddr string) *rawClient {
	t.Helper()
	r := dialUnregisteredAddr(t, grpcAddr)
	r.openStream(t)
	deadline := time.Now().Add(5 * time.Second)
	for r.call(t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil).ErrorCode == codeUnregistered {
		if time.Now().After(deadline) {
			t.Fatal("the connection setup was never taken")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// dialUnregistered connects without setting the connection up.
func dialUnregistered(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	return dialUnregisteredAddr(t, srv.GRPCAddr())
}

func dialUnregisteredAddr(t testing.TB, grpcAddr string) *rawClient {
	t.Helper()
	r, err := newRawClient(grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.conn.Close() })
	return r
}

func newRawClient(grpcAddr string) (*rawClient, error) {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	return &rawClient{conn: conn}, err
}

// send sends one unary request, waiting for the connection if need be.
func (r *rawClient) send(ctx context.Context, requestType string, body []byte, headers map[string]string) (*auto.Payload, error) {
	return auto.NewRequestClient(r.conn).Request(ctx, &auto.Payload{
		Metadata: &auto.Metadata{Type: requestType, Headers: headers},
		Body:     &anypb.Any{Value: body},
	}, grpc.WaitForReady(true))
}

// rawResponse is the decoded common part of a response and its type.
type rawResponse struct {
	Type string
	rpc_response.Response
	Body []byte
}

// call sends one unary request and decodes the response; body is encoded
// as JSON unless it is already []byte.
func (r *rawClient) call(t testing.TB, requestType string, body any, headers map[string]string) rawResponse {
	t.Helper()
	encoded, ok := body.([]byte)
	if !ok {
		var err error
		if encoded, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := r.send(ctx, requestType, encoded, headers)
	if err != nil {
		t.Fatalf("%s: %v", requestType, err)
	}
	resp := rawResponse{Type: p.GetMetadata().GetType(), Body: p.GetBody().GetValue()}
	if err := json.Unmarshal(resp.Body, &resp.Response); err != nil {
		t.Fatalf("%s: response %s: %v", requestType, resp.Body, err)
	}
	return resp
}

// openStream opens the bidi stream as the SDK does (ConnectionSetupRequest,
// no reply expected), records every message the server sends on it and
// answers as the SDK does: it acknowledges each push, whose hosts it also
// records, and answers ClientDetectionRequest (unless ignoreDetection).
func (r *rawClient) openStream(t testing.TB) *watcher {
	t.Helper()
	setup, _ := json.Marshal(sdkConnectionSetup())
	return r.openStreamWith(t, setup)
}

// sdkConnectionSetup is the ConnectionSetupRequest of SDK v2.3.5's naming
// client. Java needs the labels: without them it drops the request.
func sdkConnectionSetup() *rpc_request.ConnectionSetupRequest {
	setup := rpc_request.NewConnectionSetupRequest()
	setup.ClientVersion = "Nacos-Go-Client:v2.3.5"
	setup.Labels = map[string]string{"source": "sdk", "module": "naming"}
	return setup
}

// openStreamWith is openStream with this ConnectionSetupRequest body.
func (r *rawClient) openStreamWith(t testing.TB, setup []byte) *watcher {
	t.Helper()
	if r.stream != nil {
		return r.stream
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := auto.NewBiRequestStreamClient(r.conn).RequestBiStream(ctx, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(payload("ConnectionSetupRequest", setup)); err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	r.stream = w
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p, err := stream.Recv()
			if err != nil {
				return
			}
			messageType, body := p.GetMetadata().GetType(), p.GetBody().GetValue()
			r.mu.Lock()
			r.messages = append(r.messages, streamMessage{Type: messageType, Body: body, At: time.Now()})
			ignore := r.ignoreDetection
			r.mu.Unlock()
			var answer rpc_response.IResponse
			var request rpc_request.NotifySubscriberRequest
			if err := json.Unmarshal(body, &request); err != nil {
				continue
			}
			switch {
			case messageType == notifySubscriberRequest:
				w.record(request.ServiceInfo.Hosts)
				answer = &rpc_response.NotifySubscriberResponse{Response: &rpc_response.Response{ResultCode: resultSuccess, Success: true}}
			case messageType == configChangeNotifyRequest:
				w.recordConfig(body)
				// The SDK's config client answers a config push so too.
				answer = &rpc_response.NotifySubscriberResponse{Response: &rpc_response.Response{ResultCode: resultSuccess, Success: true}}
			case messageType == "ClientDetectionRequest" && !ignore:
				answer = &rpc_response.ClientDetectionResponse{Response: &rpc_response.Response{ResultCode: resultSuccess}}
			default:
				continue
			}
			answer.SetRequestId(request.RequestId)
			reply, _ := json.Marshal(answer)
			if stream.Send(payload(answer.GetResponseType(), reply)) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// received returns the messages of this type the server has sent on the
// stream so far.
func (r *rawClient) received(messageType string) []streamMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []streamMessage
	for _, m := range r.messages {
		if m.Type == messageType {
			out = append(out, m)
		}
	}
	return out
}

func registerRequest(service, ip string, port uint64) *rpc_request.InstanceRequest {
	return rpc_request.NewInstanceRequest("public", service, "DEFAULT_GROUP", "registerInstance", instanceOf(instance(service, ip, port, nil)))
}

func subscribeRequest(service string) *rpc_request.SubscribeServiceRequest {
	return rpc_request.NewSubscribeServiceRequest("public", service, "DEFAULT_GROUP", "", true)
}

// mustSucceed fails the test unless resp is a success of type want.
func mustSucceed(t testing.TB, resp rawResponse, want string) {
	t.Helper()
	if resp.Type != want || !resp.Success || resp.ResultCode != resultSuccess {
		t.Fatalf("got %s %s, want a successful %s", resp.Type, resp.Body, want)
	}
}

func TestServerCheckAndHealthCheck(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	srv.ResetCounters() // dialRaw's own checks
	check := raw.call(t, "ServerCheckRequest", rpc_request.NewServerCheckRequest(), nil)
	mustSucceed(t, check, "ServerCheckResponse")
	var body rpc_response.ServerCheckResponse
	if err := json.Unmarshal(check.Body, &body); err != nil || body.ConnectionId == "" {
		t.Fatalf("ServerCheckResponse %s has no connectionId", check.Body)
	}
	mustSucceed(t, raw.call(t, "HealthCheckRequest", rpc_request.NewHealthCheckRequest(), nil), "HealthCheckResponse")
	if srv.Connections() != 1 || srv.Requests(ServerCheckRequest) != 1 || srv.Requests(HealthCheckRequest) != 1 {
		t.Fatalf("connections %d, requests %d/%d", srv.Connections(), srv.Requests(ServerCheckRequest), srv.Requests(HealthCheckRequest))
	}
	srv.ResetCounters()
	if srv.Requests(ServerCheckRequest) != 0 {
		t.Fatal("ResetCounters kept a count")
	}
}

func TestBadRequestsGetErrorResponses(t *testing.T) {
	srv := newServer(t)
	raw := dialRaw(t, srv)
	for _, tc := range []struct {
		name, requestType string
		body              any
		errorCode         int
		message           string
	}{
		{"unknown type", "PersistentInstanceRequest", map[string]string{}, 302, "RequestHandler Not Found"},
		{"malformed body", "InstanceRequest", []byte("{not json"), 502, ""},
		{"unknown instance operation", "InstanceRequest", rpc_request.NewInstanceRequest("public", "svc", "DEFAULT_GROUP", "bogus", instanceOf(instance("svc", "10.0.0.1", 1, nil))), 400, "Unsupported request type bogus"},
		{"unknown batch operation", "BatchInstanceRequest", rpc_request.NewBatchInstanceRequest("public", "svc", "DEFAULT_GROUP", "bogus", nil), 400, "Unsupported request type bogus"},
	} {
		resp := raw.call(t, tc.requestType, tc.body, nil)
		if resp.Type != "ErrorResponse" || resp.Success || resp.ErrorCode != tc.errorCode || (tc.message != "" && resp.Message != tc.message) {
			t.Errorf("%s: got %s %s, want ErrorResponse %d %q", tc.name, resp.Type, resp.Body, tc.errorCode, tc.message)
		}
	}
}

func TestRestartForgetsEverythingAndServesAgain(t *testing.T) {
	srv := newServer(t)
	publisher, subscriber := dialRaw(t, srv), dialRaw(t, srv)
	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), nil), "InstanceResponse")
	subscriber.openStream(t)
	mustSucceed(t, subscriber.call(t, "SubscribeServiceRequest", subscribeRequest("svc"), nil), "SubscribeServiceResponse")

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if len(srv.Instances("", "", "svc")) != 0 || len(srv.Services("", "")) != 0 || srv.Subscribers("", "", "svc") != 0 {
		t.Fatalf("after Restart: instances %v, services %v, subscribers %d",
			srv.Instances("", "", "svc"), srv.Services("", ""), srv.Subscribers("", "", "svc"))
	}
	// Same port, fresh state that pushes again, to new connections.
	publisher, subscriber = dialRaw(t, srv), dialRaw(t, srv)
	pushes := subscriber.openStream(t)
	mustSucceed(t, subscriber.call(t, "SubscribeServiceRequest", subscribeRequest("svc"), nil), "SubscribeServiceResponse")
	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.2", 80), nil), "InstanceResponse")
	eventually(t, 5*time.Second, func() bool { return pushes.sees("10.0.0.2:80") })
}

func TestDropConnectionsPushesTheRemovalAcrossTheCluster(t *testing.T) {
	cluster, err := NewCluster(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	publisher, subscriber := dialRaw(t, cluster.Member(0)), dialRaw(t, cluster.Member(1))
	pushes := subscriber.openStream(t)
	mustSucceed(t, subscriber.call(t, "SubscribeServiceRequest", subscribeRequest("svc"), nil), "SubscribeServiceResponse")
	mustSucceed(t, publisher.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), nil), "InstanceResponse")
	eventually(t, 5*time.Second, func() bool { return pushes.sees("10.0.0.1:80") })

	cluster.Member(0).DropConnections()
	// DropConnections returns once the state is gone; the push follows.
	if !holds(cluster.Member(1), "svc") {
		t.Fatalf("member 1 still holds %v", cluster.Member(1).Instances("", "", "svc"))
	}
	eventually(t, 5*time.Second, func() bool { return pushes.sees() })
	if cluster.Member(1).Subscribers("", "", "svc") != 1 {
		t.Fatal("the subscriber on the other member lost its subscription")
	}
}

// Like Java, the server answers nothing but ServerCheckRequest on a connection whose
// stream has not sent ConnectionSetupRequest: the SDK then reconnects.
func TestRequestsBeforeConnectionSetupAreRefused(t *testing.T) {
	srv := newServer(t)
	r := dialUnregistered(t, srv)
	if got := r.call(t, "ServerCheckRequest", rpc_request.NewServerCheckRequest(), nil); !got.Success {
		t.Fatalf("ServerCheckRequest: %+v", got)
	}
	got := r.call(t, "InstanceRequest", registerRequest("svc", "10.0.0.1", 80), nil)
	if got.Type != "ErrorResponse" || got.ErrorCode != codeUnregistered || got.Message != "Connection is unregistered." {
		t.Fatalf("InstanceRequest before setup: %s %+v", got.Type, got.Response)
	}
	if n := len(srv.Instances("", "", "svc")); n != 0 {
		t.Fatalf("%d instances registered before setup", n)
	}
}
