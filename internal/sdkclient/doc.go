// Package sdkclient is what the registry (internal/core and internal/naming) and the
// config source (internal/configsource) share to build and run nacos-sdk-go clients:
// the option keys both read, the parsing of Nacos addresses, the building of the SDK's
// client configuration, the checks of names Nacos refuses, the login check, the process-wide
// SDK logger, the access to the SDK's unexported fields, and the gate that keeps client
// shutdowns apart from what else uses the SDK's process-wide client map (clientmap.go).
package sdkclient
