package sdkclient

import (
	"fmt"
	"regexp"
)

// What a default Nacos 2.3+ server accepts (ParamCheckRules and DefaultParamChecker in
// alibaba/nacos), for namespaces and groups, which naming and config share.
const (
	maxGroupLen     = 128
	maxNamespaceLen = 64
)

var (
	groupPattern     = regexp.MustCompile(`^[a-zA-Z0-9\-_:.]*$`)
	namespacePattern = regexp.MustCompile(`^[\w-]+$`)
)

// Group is the group a client uses: given (by the caller's options) when set, else the
// environment's (env's GROUP variable), else def; refused if Nacos would refuse it.
func Group(given string, env Env, def string) (string, error) {
	group := def
	if given != "" {
		group = given
	} else if v, _, ok := env.OwnVar("GROUP"); ok {
		group = v
	}
	return group, CheckGroup(group)
}

// CheckGroup refuses a group Nacos would refuse.
func CheckGroup(group string) error {
	if len(group) > maxGroupLen || !groupPattern.MatchString(group) {
		return fmt.Errorf("nacos: group %q is invalid: Nacos accepts up to %d characters of a-z A-Z 0-9 . : _ -", group, maxGroupLen)
	}
	return nil
}

// CheckNamespace refuses a namespace id Nacos would refuse; it accepts "" (the "public"
// namespace).
func CheckNamespace(ns string) error {
	if ns != "" && (len(ns) > maxNamespaceLen || !namespacePattern.MatchString(ns)) {
		return fmt.Errorf("nacos: namespace %q is invalid: Nacos accepts up to %d of a-z A-Z 0-9 _ -", ns, maxNamespaceLen)
	}
	return nil
}
