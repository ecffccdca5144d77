package wire

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// What a default Nacos 2.3+ server accepts, checked before anything is sent: a request
// Nacos refuses is reported, never retried (see refusedError). Two places in
// alibaba/nacos decide:
//   - the parameter checker every gRPC naming request passes (ParamCheckRule and
//     DefaultParamChecker): limits and patterns of names, addresses and metadata. A
//     blank value (empty or only white space) is not checked there.
//   - NamingUtils.checkInstanceIsLegal, which the register handlers run: a registered
//     instance's cluster name allows no '_', and its heart-beat metadata must be in
//     order.
//
// Lengths are counted as Java counts them, in UTF-16 units; "white space" is Java's
// regular-expression \s, [ \t\n\x0B\f\r]. Groups and namespaces, which the config
// source shares, are checked by sdkclient (CheckGroup, CheckNamespace).
const (
	maxServiceNameLen = 512
	maxClusterLen     = 64
	maxIPLen          = 128
)

var (
	clusterPattern       = regexp.MustCompile(`^[0-9a-zA-Z\-]+$`)  // NamingUtils: registered instances
	clusterFilterPattern = regexp.MustCompile(`^[0-9a-zA-Z\-_]+$`) // parameter checker: lookups
	digitsPattern        = regexp.MustCompile(`^[0-9]+$`)
)

// isCJK reports the characters Nacos refuses in names and addresses: U+4E00 to U+9FA5.
func isCJK(r rune) bool { return r >= 0x4E00 && r <= 0x9FA5 }

// isJavaSpace is Java's regular-expression \s.
func isJavaSpace(r rune) bool { return strings.ContainsRune(" \t\n\x0B\f\r", r) }

func cjkOrSpace(r rune) bool { return isCJK(r) || isJavaSpace(r) }

// isBlank is Nacos's StringUtils.isBlank: empty or only Java white space.
func isBlank(s string) bool { return strings.TrimFunc(s, isJavaWhitespace) == "" }

// isJavaWhitespace is Java's Character.isWhitespace. ASCII, nearly every rune checked
// (every metadata key and value on every Register), is decided without Unicode's tables.
func isJavaWhitespace(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= '\x1C' && r <= '\x1F')
	case r == '\u00A0' || r == '\u2007' || r == '\u202F':
		return false
	}
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// CheckServiceName is the parameter checker's ^(?!@).((?!@@)[^\u4E00-\u9FA5\s])*$ and
// length limit; a blank name, which Nacos refuses elsewhere, is refused too.
func CheckServiceName(name string) error {
	first, size := utf8.DecodeRuneInString(name)
	switch {
	case isBlank(name):
		return fmt.Errorf("nacos: service name %q is blank", name)
	case utf16Len(name) > maxServiceNameLen:
		return fmt.Errorf("nacos: service name %.40q... is longer than %d characters", name, maxServiceNameLen)
	case first == '@':
		return fmt.Errorf("nacos: service name %q must not start with '@'", name)
	case strings.Contains(name, "@@"):
		return fmt.Errorf("nacos: service name %q must not contain \"@@\"", name)
	case strings.ContainsRune("\n\r\u0085\u2028\u2029", first) || strings.IndexFunc(name[size:], cjkOrSpace) >= 0:
		return fmt.Errorf("nacos: service name %q must not contain white space or CJK characters", name)
	}
	return nil
}

// CheckCluster checks the cluster of registered instances; it accepts "" (Nacos then
// uses its "DEFAULT" cluster).
func CheckCluster(cluster string) error {
	if cluster != "" && (len(cluster) > maxClusterLen || !clusterPattern.MatchString(cluster)) {
		return fmt.Errorf("nacos: cluster %q is invalid: Nacos registers instances in clusters of up to %d of a-z A-Z 0-9 - (no '_')", cluster, maxClusterLen)
	}
	return nil
}

// CheckClusterFilter checks a cluster name a lookup filters on.
func CheckClusterFilter(cluster string) error {
	if len(cluster) > maxClusterLen || !clusterFilterPattern.MatchString(cluster) {
		return fmt.Errorf("nacos: cluster %q in a cluster filter is invalid: Nacos accepts up to %d of a-z A-Z 0-9 - _", cluster, maxClusterLen)
	}
	return nil
}

func CheckIP(ip string) error {
	if ip == "" || utf16Len(ip) > maxIPLen || strings.IndexFunc(ip, cjkOrSpace) >= 0 {
		return fmt.Errorf("nacos: host %q is not a valid instance address", ip)
	}
	return nil
}

// MetadataLen is the size Nacos checks against its metadata limit: the sum of the
// lengths of every key and value that is not blank.
func MetadataLen(md map[string]string) int {
	n := 0
	for k, v := range md {
		if !isBlank(k) {
			n += utf16Len(k)
		}
		if !isBlank(v) {
			n += utf16Len(v)
		}
	}
	return n
}

// Nacos's heart-beat metadata keys (PreservedMetadataKeys) and their defaults in
// milliseconds. They mean nothing to a gRPC client's instances, but Nacos still checks
// them.
var heartBeatKeys = []struct {
	key      string
	fallback int64
}{
	{"preserved.heart.beat.interval", 5000},
	{"preserved.heart.beat.timeout", 15000},
	{"preserved.ip.delete.timeout", 30000},
}

// CheckInstance checks an encoded node as Nacos's register handler does
// (NamingUtils.checkInstanceIsLegal), and refuses port 0, which no client can dial.
func CheckInstance(service, id string, in model.Instance) error {
	if in.Port == 0 {
		return fmt.Errorf("nacos: node %q of service %q: port 0 cannot be dialled", id, service)
	}
	var ms [3]int64
	for i, h := range heartBeatKeys {
		ms[i] = h.fallback
		v, ok := in.Metadata[h.key]
		if !ok || !digitsPattern.MatchString(v) {
			continue // Java ignores what is not a number
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("nacos: node %q of service %q: metadata %s=%s is too large a number for Nacos", id, service, h.key, v)
		}
		ms[i] = n
	}
	if ms[1] < ms[0] || ms[2] < ms[0] {
		return fmt.Errorf("nacos: node %q of service %q: Nacos requires metadata %s (%d) to be at most %s (%d) and %s (%d)",
			id, service, heartBeatKeys[0].key, ms[0], heartBeatKeys[1].key, ms[1], heartBeatKeys[2].key, ms[2])
	}
	return CheckCluster(in.ClusterName)
}
