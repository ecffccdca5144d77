package nacos

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
)

// What a default Nacos 2.3+ server accepts (ParamCheckRules and DefaultParamChecker in
// alibaba/nacos). The registry checks before it sends anything: the SDK keeps a request
// in its reconnect cache before the server answers, so a refused request would replace a
// good registration there. Lengths are counted as Java counts them, in UTF-16 units.
const (
	maxServiceNameLen = 512
	maxGroupLen       = 128
	maxClusterLen     = 64
	maxNamespaceLen   = 64
	maxIPLen          = 128
)

var (
	groupPattern     = regexp.MustCompile(`^[a-zA-Z0-9\-_:.]*$`)
	clusterPattern   = regexp.MustCompile(`^[0-9a-zA-Z\-_]+$`)
	namespacePattern = regexp.MustCompile(`^[\w-]+$`)
)

// isCJK reports the characters Nacos refuses in names: U+4E00 to U+9FA5.
func isCJK(r rune) bool { return r >= 0x4E00 && r <= 0x9FA5 }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func checkServiceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("nacos: service name is empty")
	case utf16Len(name) > maxServiceNameLen:
		return fmt.Errorf("nacos: service name %.40q... is longer than %d characters", name, maxServiceNameLen)
	case strings.HasPrefix(name, "@"):
		return fmt.Errorf("nacos: service name %q must not start with '@'", name)
	case strings.Contains(name, "@@"):
		return fmt.Errorf("nacos: service name %q must not contain \"@@\"", name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || isCJK(r) }) >= 0:
		return fmt.Errorf("nacos: service name %q must not contain white space or CJK characters", name)
	}
	return nil
}

func checkGroup(group string) error {
	if len(group) > maxGroupLen || !groupPattern.MatchString(group) {
		return fmt.Errorf("nacos: group %q is invalid: Nacos accepts up to %d of a-z A-Z 0-9 - _ : .", group, maxGroupLen)
	}
	return nil
}

// checkCluster accepts "" (Nacos then uses its "DEFAULT" cluster).
func checkCluster(cluster string) error {
	if cluster != "" && (len(cluster) > maxClusterLen || !clusterPattern.MatchString(cluster)) {
		return fmt.Errorf("nacos: cluster %q is invalid: Nacos accepts up to %d of a-z A-Z 0-9 - _", cluster, maxClusterLen)
	}
	return nil
}

// checkNamespace accepts "" (the "public" namespace).
func checkNamespace(ns string) error {
	if ns != "" && (len(ns) > maxNamespaceLen || !namespacePattern.MatchString(ns)) {
		return fmt.Errorf("nacos: namespace %q is invalid: Nacos accepts up to %d of a-z A-Z 0-9 _ -", ns, maxNamespaceLen)
	}
	return nil
}

func checkIP(ip string) error {
	if ip == "" || utf16Len(ip) > maxIPLen || strings.IndexFunc(ip, isCJK) >= 0 || strings.ContainsAny(ip, " \t\r\n") {
		return fmt.Errorf("nacos: host %q is not a valid instance address", ip)
	}
	return nil
}

// metadataLen is the size Nacos checks against its metadata limit: the sum of the
// lengths of every key and value.
func metadataLen(md map[string]string) int {
	n := 0
	for k, v := range md {
		n += utf16Len(k) + utf16Len(v)
	}
	return n
}
