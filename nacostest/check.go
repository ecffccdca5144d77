package nacostest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// Parameter checks, as Nacos 2.3 to 2.5 apply them to gRPC naming and config
// requests (TestConformance compares them with a real Nacos).
//
// Source: alibaba/nacos, tags 2.3.0 to 2.5.1 (identical rules and messages):
//   - common/.../paramcheck/ParamCheckRule.java: the limits and patterns;
//   - common/.../paramcheck/DefaultParamChecker.java: the order of the checks
//     and the messages;
//   - core/.../paramcheck/impl/*RequestParamExtractor.java: which fields of
//     which request are checked (see the *Params functions in dispatch.go);
//   - core/.../remote/grpc/RemoteParamCheckFilter.java: a failure answers
//     the request's own response type with errorCode 400 (INVALID_PARAM) and
//     message "Param check invalid:" + the checker's message.
//
// The checked limits and messages:
//
//	namespaceId  ≤ 64,  ^[\w-]+$
//	  "Param 'namespaceId/tenant' is illegal, the param length should not exceed 64."
//	  "Param 'namespaceId/tenant' is illegal, illegal characters should not appear in the param."
//	dataId       ≤ 256, ^[a-zA-Z0-9-_:\.]*$ (config requests)
//	  "Param 'dataId' is illegal, the param length should not exceed 256."
//	  "Param 'dataId' is illegal, illegal characters should not appear in the param."
//	serviceName  ≤ 512, ^(?!@).((?!@@)[^\u4E00-\u9FA5\s])*$
//	  "Param 'serviceName' is illegal, the param length should not exceed 512."
//	  "Param 'serviceName' is illegal, illegal characters should not appear in the param."
//	group        ≤ 128, ^[a-zA-Z0-9-_:\.]*$
//	  "Param 'group' is illegal, the param length should not exceed 128."
//	  "Param 'group' is illegal, illegal characters should not appear in the param."
//	cluster      ≤ 64,  ^[0-9a-zA-Z-_]+$ (each of a comma-separated list too)
//	  "Param 'cluster' is illegal, the param length should not exceed 64."
//	  "Param 'cluster' is illegal, illegal characters should not appear in the param."
//	ip           ≤ 128, ^[^\u4E00-\u9FA5\s]*$
//	  "Param 'ip' is illegal, the param length should not exceed 128."
//	  "Param 'ip' is illegal, illegal characters should not appear in the param."
//	port         0..65535
//	  "Param 'port' is illegal, the value should be between 0 and 65535."
//	metadata     sum of key and value lengths ≤ 1024 (blank keys and values count 0)
//	  "Param 'Metadata' is illegal, the param length should not exceed 1024."
//
// Blank values are not checked. Lengths count UTF-16 units, like Java's
// String.length.

// paramInfo holds what a request shows the checker (Java's ParamInfo);
// empty fields are not checked.
type paramInfo struct {
	namespaceID string
	dataID      string
	serviceName string
	group       string
	clusters    string // comma-separated
	cluster     string
	ip          string
	port        string
	metadata    map[string]string
}

// paramProblem returns the message for the first illegal parameter, or "".
func paramProblem(infos []paramInfo) string {
	for _, p := range infos {
		problems := []string{
			namespaceIDRule.check(p.namespaceID),
			dataIDRule.check(p.dataID),
			serviceNameRule.check(p.serviceName),
			groupRule.check(p.group),
			clustersProblem(p.clusters),
			clusterRule.check(p.cluster),
			ipRule.check(p.ip),
			portProblem(p.port),
			metadataProblem(p.metadata),
		}
		for _, problem := range problems {
			if problem != "" {
				return problem
			}
		}
	}
	return ""
}

// textRule is a length limit and a pattern for one parameter.
type textRule struct {
	param  string
	maxLen int
	legal  func(string) bool
}

func (r textRule) check(value string) string {
	switch {
	case isBlank(value):
		return ""
	case javaLength(value) > r.maxLen:
		return fmt.Sprintf("Param '%s' is illegal, the param length should not exceed %d.", r.param, r.maxLen)
	case !r.legal(value):
		return fmt.Sprintf("Param '%s' is illegal, illegal characters should not appear in the param.", r.param)
	}
	return ""
}

var (
	namespaceIDRule = textRule{"namespaceId/tenant", 64, regexp.MustCompile(`^[\w-]+$`).MatchString}
	dataIDRule      = textRule{"dataId", 256, regexp.MustCompile(`^[a-zA-Z0-9_:.-]*$`).MatchString}
	serviceNameRule = textRule{"serviceName", 512, legalServiceName}
	groupRule       = textRule{"group", 128, regexp.MustCompile(`^[a-zA-Z0-9_:.-]*$`).MatchString}
	clusterRule     = textRule{"cluster", 64, regexp.MustCompile(`^[0-9a-zA-Z_-]+$`).MatchString}
	ipRule          = textRule{"ip", 128, func(ip string) bool { return !strings.ContainsFunc(ip, cjkOrSpace) }}
)

// legalServiceName implements ^(?!@).((?!@@)[^\u4E00-\u9FA5\s])*$ (RE2 has
// no lookahead): no leading '@', no "@@", and after the first character (any
// but a line terminator) no CJK ideograph or whitespace.
func legalServiceName(name string) bool {
	first, size := utf8.DecodeRuneInString(name)
	if first == '@' || strings.ContainsRune("\n\r\u0085\u2028\u2029", first) || strings.Contains(name, "@@") {
		return false
	}
	return !strings.ContainsFunc(name[size:], cjkOrSpace)
}

// cjkOrSpace matches [\u4E00-\u9FA5\s] in Java, where \s is [ \t\n\x0B\f\r].
func cjkOrSpace(r rune) bool {
	return (r >= '\u4E00' && r <= '\u9FA5') || strings.ContainsRune(" \t\n\x0B\f\r", r)
}

func clustersProblem(clusters string) string {
	if isBlank(clusters) {
		return ""
	}
	for _, cluster := range strings.Split(clusters, ",") {
		if problem := clusterRule.check(cluster); problem != "" {
			return problem
		}
	}
	return ""
}

const (
	minPort           = 0
	maxPort           = 65535
	maxMetadataLength = 1024
)

func portProblem(port string) string {
	if isBlank(port) {
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > maxPort {
		return fmt.Sprintf("Param 'port' is illegal, the value should be between %d and %d.", minPort, maxPort)
	}
	return ""
}

func metadataProblem(metadata map[string]string) string {
	total := 0
	for k, v := range metadata {
		if !isBlank(k) {
			total += javaLength(k)
		}
		if !isBlank(v) {
			total += javaLength(v)
		}
	}
	if total > maxMetadataLength {
		return fmt.Sprintf("Param 'Metadata' is illegal, the param length should not exceed %d.", maxMetadataLength)
	}
	return ""
}

// clusterNamePattern is Java's Constants.CLUSTER_NAME_PATTERN_STRING, stricter
// than the parameter checker's: no '_'.
var clusterNamePattern = regexp.MustCompile(`^[0-9a-zA-Z-]+$`)

// instanceProblem is NamingUtils.checkInstanceIsLegal, which Java's register
// handler runs after the filters. Its failures are exceptions, so they come
// back as ErrorResponse with code 400, which the SDK retries.
func instanceProblem(in model.Instance) string {
	interval := metadataMillis(in.Metadata, heartBeatIntervalKey, defaultHeartBeatInterval)
	if metadataMillis(in.Metadata, heartBeatTimeoutKey, defaultHeartBeatTimeout) < interval ||
		metadataMillis(in.Metadata, ipDeleteTimeoutKey, defaultIPDeleteTimeout) < interval {
		return "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete timeout'."
	}
	if in.ClusterName != "" && !clusterNamePattern.MatchString(in.ClusterName) {
		return fmt.Sprintf("Instance 'clusterName' should be characters with only 0-9a-zA-Z-. (current: %s)", in.ClusterName)
	}
	return ""
}

// blankNameProblem is NamingUtils.getGroupedName's refusal of a blank
// service or group name. The parameter checker skips blank values; Java's
// register, batch register and subscribe handlers then fail on them with an
// IllegalArgumentException, an ErrorResponse with code 500.
func blankNameProblem(k serviceKey) string {
	switch {
	case isBlank(k.name):
		return "Param 'serviceName' is illegal, serviceName is blank"
	case isBlank(k.group):
		return "Param 'groupName' is illegal, groupName is blank"
	}
	return ""
}

// isBlank is Nacos's StringUtils.isBlank: empty or only Java whitespace.
func isBlank(s string) bool {
	return strings.TrimFunc(s, javaWhitespace) == ""
}

// javaWhitespace is Character.isWhitespace: Unicode space separators except
// the no-break ones, and the ASCII controls \t \n \x0B \f \r \x1C-\x1F.
func javaWhitespace(r rune) bool {
	switch {
	case r == '\u00A0' || r == '\u2007' || r == '\u202F':
		return false
	case unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp):
		return true
	}
	return (r >= '\t' && r <= '\r') || (r >= '\x1C' && r <= '\x1F')
}

// javaLength is Java's String.length: UTF-16 code units.
func javaLength(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// The parameters each request shows the checker, as Java's
// *RequestParamExtractor classes extract them.

func instanceParams(req *rpc_request.InstanceRequest) []paramInfo {
	n := namingRequest(req.NamingRequest)
	in := req.Instance
	return []paramInfo{{
		namespaceID: n.Namespace, serviceName: n.ServiceName, group: n.GroupName,
		cluster: in.ClusterName, ip: in.Ip, port: fmt.Sprint(in.Port), metadata: in.Metadata,
	}}
}

func batchInstanceParams(req *rpc_request.BatchInstanceRequest) []paramInfo {
	n := namingRequest(req.NamingRequest)
	infos := []paramInfo{{namespaceID: n.Namespace, serviceName: n.ServiceName, group: n.GroupName}}
	for _, in := range req.Instances {
		infos = append(infos, paramInfo{
			serviceName: in.ServiceName, cluster: in.ClusterName, ip: in.Ip, port: fmt.Sprint(in.Port), metadata: in.Metadata,
		})
	}
	return infos
}

func subscribeParams(req *rpc_request.SubscribeServiceRequest) []paramInfo {
	n := namingRequest(req.NamingRequest)
	return []paramInfo{{namespaceID: n.Namespace, serviceName: n.ServiceName, group: n.GroupName, clusters: req.Clusters}}
}

func queryParams(req *rpc_request.ServiceQueryRequest) []paramInfo {
	n := namingRequest(req.NamingRequest)
	return []paramInfo{{
		namespaceID: n.Namespace, serviceName: n.ServiceName, group: n.GroupName,
		port: fmt.Sprint(req.UdpPort), clusters: req.Cluster,
	}}
}

func listParams(req *rpc_request.ServiceListRequest) []paramInfo {
	n := namingRequest(req.NamingRequest)
	return []paramInfo{{namespaceID: n.Namespace, serviceName: n.ServiceName, group: n.GroupName}}
}
