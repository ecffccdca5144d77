package configformat

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Java .properties content: "key=value", "key: value" or "key value" lines, # and !
// comments, a trailing backslash continuing a line, and the escapes \t \n \r \f \uXXXX.
// Dots in keys nest ("server.port=8080" is {"server": {"port": "8080"}}), so that
// go-micro's config.Get("server", "port") finds the value; values stay strings.

func decodeProperties(content []byte) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	lines := strings.Split(strings.ReplaceAll(string(content), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		first := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for endsInBackslash(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		key, value := splitProperty(line)
		k, err := unescape(key)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", first, err)
		}
		v, err := unescape(value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", first, err)
		}
		if err := setPath(out, k, v); err != nil {
			return nil, fmt.Errorf("line %d: %v", first, err)
		}
	}
	return out, nil
}

// endsInBackslash reports an odd number of trailing backslashes: a continued line.
func endsInBackslash(line string) bool {
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}

// splitProperty splits at the first unescaped '=', ':' or white space.
func splitProperty(line string) (key, value string) {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '=', ':':
			return line[:i], strings.TrimLeft(line[i+1:], " \t\f")
		case ' ', '\t', '\f':
			rest := strings.TrimLeft(line[i:], " \t\f")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') {
				rest = strings.TrimLeft(rest[1:], " \t\f")
			}
			return line[:i], rest
		}
	}
	return line, ""
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf(`malformed \uxxxx escape in %q`, s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf(`malformed \uxxxx escape in %q`, s)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// setPath stores value under the dotted key, refusing a key that is both a value and
// a parent ("a=1" and "a.b=2").
func setPath(out map[string]interface{}, key, value string) error {
	parts := strings.Split(key, ".")
	m := out
	for i, p := range parts[:len(parts)-1] {
		switch next := m[p].(type) {
		case nil:
			child := map[string]interface{}{}
			m[p] = child
			m = child
		case map[string]interface{}:
			m = next
		default:
			return fmt.Errorf("key %q: %q already has a value", key, strings.Join(parts[:i+1], "."))
		}
	}
	last := parts[len(parts)-1]
	if _, isParent := m[last].(map[string]interface{}); isParent {
		return fmt.Errorf("key %q already has keys below it", key)
	}
	m[last] = value
	return nil
}

// encodeProperties flattens objects into dotted keys, sorted. Lists have no
// properties form and are refused.
func encodeProperties(v map[string]interface{}) ([]byte, error) {
	flat := map[string]string{}
	if err := flatten("", v, flat); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(escape(k, true) + "=" + escape(flat[k], false) + "\n")
	}
	return b.Bytes(), nil
}

func flatten(prefix string, v interface{}, flat map[string]string) error {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			if strings.Contains(k, ".") {
				return fmt.Errorf("key %q has a dot, which properties read as nesting", prefix+k)
			}
			if err := flatten(prefix+k+".", e, flat); err != nil {
				return err
			}
		}
		return nil
	case []interface{}:
		return fmt.Errorf("%q is a list, which properties cannot hold", strings.TrimSuffix(prefix, "."))
	case nil:
		flat[strings.TrimSuffix(prefix, ".")] = ""
	case string:
		flat[strings.TrimSuffix(prefix, ".")] = t
	default:
		flat[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(t)
	}
	return nil
}

func escape(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case key && strings.ContainsRune("=: #!", r), !key && i == 0 && r == ' ':
			b.WriteString(`\` + string(r))
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
