package nacosconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// The formats a dataId's content can have.
const (
	FormatJSON       = "json"
	FormatYAML       = "yaml"
	FormatTOML       = "toml"
	FormatProperties = "properties"
)

// formatOf returns the format of a dataId from its extension (yml is YAML).
func formatOf(dataID string) (string, bool) {
	switch ext := strings.ToLower(strings.TrimPrefix(path.Ext(dataID), ".")); ext {
	case FormatJSON, FormatYAML, FormatTOML, FormatProperties:
		return ext, true
	case "yml":
		return FormatYAML, true
	}
	return "", false
}

// knownFormat normalises a format name given by the user or a ChangeSet.
func knownFormat(name string) (string, bool) {
	return formatOf("." + name)
}

// decode parses content of the format into a JSON object. Errors say the line.
func decode(format string, content []byte) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	if len(bytes.TrimSpace(content)) == 0 {
		return out, nil
	}
	switch format {
	case FormatJSON:
		if err := json.Unmarshal(content, &out); err != nil {
			return nil, jsonError(content, err)
		}
	case FormatYAML:
		var v interface{}
		if err := yaml.Unmarshal(content, &v); err != nil {
			return nil, err // yaml.v3 says "yaml: line N: ..."
		}
		object, ok := jsonValue(v).(map[string]interface{})
		if v != nil && !ok {
			return nil, fmt.Errorf("line 1: the document is not a mapping")
		}
		if ok {
			out = object
		}
	case FormatTOML:
		if _, err := toml.Decode(string(content), &out); err != nil {
			var perr toml.ParseError
			if errors.As(err, &perr) {
				return nil, fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)
			}
			return nil, err
		}
		out = jsonValue(out).(map[string]interface{})
	case FormatProperties:
		return decodeProperties(content)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	return out, nil
}

// jsonError adds the line to an error of encoding/json, which only gives the offset.
func jsonError(content []byte, err error) error {
	var offset int64 = -1
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 {
		return err
	}
	line := 1 + bytes.Count(content[:min(int(offset), len(content))], []byte("\n"))
	return fmt.Errorf("line %d: %v", line, err)
}

// jsonValue turns what the YAML and TOML decoders return into what encoding/json
// returns: maps with string keys, []interface{} for lists.
func jsonValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			t[k] = jsonValue(e)
		}
		return t
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []interface{}:
		for i, e := range t {
			t[i] = jsonValue(e)
		}
		return t
	case []map[string]interface{}: // TOML arrays of tables
		l := make([]interface{}, len(t))
		for i, e := range t {
			l[i] = jsonValue(e)
		}
		return l
	}
	return v
}

// encode writes a JSON object in the format.
func encode(format string, v map[string]interface{}) ([]byte, error) {
	switch format {
	case FormatJSON:
		return json.MarshalIndent(v, "", "  ")
	case FormatYAML:
		return yaml.Marshal(v)
	case FormatTOML:
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(v); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case FormatProperties:
		return encodeProperties(v)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// merge copies src into dst, key by key: objects are merged, anything else in src
// replaces what dst has.
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sv, ok := v.(map[string]interface{}); ok {
			if dv, ok := dst[k].(map[string]interface{}); ok {
				merge(dv, sv)
				continue
			}
			copied := map[string]interface{}{}
			merge(copied, sv)
			dst[k] = copied
			continue
		}
		dst[k] = v
	}
}
