package nacostest

// RequestType names a kind of payload by its metadata.type, as Requests, Idle and
// FailRequests take it: the simple class name of the Java request (or response, for the
// acknowledgements a client sends on its stream).
type RequestType string

// The payloads nacos-sdk-go v2.3.5 sends.
const (
	// The connection's.
	ServerCheckRequest     RequestType = "ServerCheckRequest"
	ConnectionSetupRequest RequestType = "ConnectionSetupRequest" // on the stream
	HealthCheckRequest     RequestType = "HealthCheckRequest"
	// Naming.
	InstanceRequest          RequestType = "InstanceRequest" // register and deregister
	BatchInstanceRequest     RequestType = "BatchInstanceRequest"
	ServiceQueryRequest      RequestType = "ServiceQueryRequest"
	SubscribeServiceRequest  RequestType = "SubscribeServiceRequest" // subscribe and unsubscribe
	ServiceListRequest       RequestType = "ServiceListRequest"
	NotifySubscriberResponse RequestType = "NotifySubscriberResponse" // a push acknowledged, on the stream
	// Config.
	ConfigQueryRequest       RequestType = "ConfigQueryRequest"
	ConfigPublishRequest     RequestType = "ConfigPublishRequest"
	ConfigRemoveRequest      RequestType = "ConfigRemoveRequest"
	ConfigBatchListenRequest RequestType = "ConfigBatchListenRequest"
)
