package sdkclient

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
)

const (
	// DefaultAddress is where Nacos is looked for when no address is given.
	DefaultAddress     = "127.0.0.1:8848"
	defaultPort        = 8848                   // for an address without a port
	defaultContextPath = "/nacos"               // for an http:// address without a path
	grpcPortOffset     = constant.RpcPortOffset // the SDK dials gRPC at the HTTP port + 1000
	maxHTTPPort        = 65535 - grpcPortOffset // so the gRPC port still exists
)

// ParseAddrs turns Nacos addresses into the SDK's server list. nil means
// DefaultAddress; an empty list is an error.
func ParseAddrs(addrs []string) ([]constant.ServerConfig, error) {
	return parseAddrs(addrs, defaultContextPath)
}

// parseAddrs is ParseAddrs with the context path of the addresses that name none.
func parseAddrs(addrs []string, contextPath string) ([]constant.ServerConfig, error) {
	if addrs == nil {
		addrs = []string{DefaultAddress}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("nacos: empty address list")
	}
	servers := make([]constant.ServerConfig, 0, len(addrs))
	for _, a := range addrs {
		sc, err := parseAddr(strings.TrimSpace(a), contextPath)
		if err != nil {
			return nil, err
		}
		servers = append(servers, sc)
	}
	return servers, nil
}

// ParseAddr accepts host:port, a bare host (port 8848), and http:// or https:// URLs with
// an optional context path (default /nacos).
func ParseAddr(addr string) (constant.ServerConfig, error) {
	return parseAddr(addr, defaultContextPath)
}

func parseAddr(addr, contextPath string) (constant.ServerConfig, error) {
	sc := constant.ServerConfig{Scheme: "http", ContextPath: contextPath}
	if addr == "" {
		return sc, fmt.Errorf("nacos: empty address")
	}
	hostport := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return sc, fmt.Errorf("nacos: address %q is not a valid URL: %v", addr, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return sc, fmt.Errorf("nacos: address %q: scheme must be http or https", addr)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return sc, fmt.Errorf("nacos: address %q: only scheme, host, port and path are allowed (use WithAuth for credentials)", redactURL(u))
		}
		sc.Scheme, hostport = u.Scheme, u.Host
		if p := strings.TrimRight(u.Path, "/"); p != "" {
			sc.ContextPath = p
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host name, IPv4, bracketed or bare IPv6 address.
		host, port = hostport, strconv.Itoa(defaultPort)
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" || strings.ContainsAny(host, " \t/[]@") {
		return sc, fmt.Errorf("nacos: address %q has no valid host", addr)
	}
	if ip := net.ParseIP(host); ip == nil && strings.Contains(host, ":") {
		return sc, fmt.Errorf("nacos: address %q has no valid host", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return sc, fmt.Errorf("nacos: address %q has an invalid port %q", addr, port)
	}
	if n > maxHTTPPort {
		return sc, fmt.Errorf("nacos: address %q: port %d leaves no gRPC port (Nacos serves gRPC at port+%d)", addr, n, grpcPortOffset)
	}
	sc.IpAddr, sc.Port = host, n
	return sc, nil
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("xxxxx")
	}
	return c.String()
}
