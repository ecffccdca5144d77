// Package configformat is what the config source knows of the formats of a config's
// content: JSON, YAML, TOML and Java properties, decoded into and encoded from one JSON
// object, and the merge of several such objects. It knows nothing of Nacos or go-micro.
package configformat

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

// The formats a config's content can have.
const (
	JSON       = "json"
	YAML       = "yaml"
	TOML       = "toml"
	Properties = "properties"
)

// Names lists the names Known accepts, for errors.
const Names = "json, yaml, yml, toml, properties"

// Of returns the format of a config from its name's extension (yml is YAML).
func Of(name string) (string, bool) {
	switch ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), ".")); ext {
	case JSON, YAML, TOML, Properties:
		return ext, true
	case "yml":
		return YAML, true
	}
	return "", false
}

// Known normalises a format name given by the user or a ChangeSet ("yml" is YAML, case
// does not matter), and says whether it is one of the formats.
func Known(name string) (string, bool) {
	return Of("." + name)
}

// Decode parses content of the format into a JSON object, as encoding/json decodes one:
// empty content is an empty object. Errors say the line.
func Decode(format string, content []byte) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	if len(bytes.TrimSpace(content)) == 0 {
		return out, nil
	}
	switch format {
	case JSON:
		if err := json.Unmarshal(content, &out); err != nil {
			return nil, jsonError(content, err)
		}
	case YAML:
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
	case TOML:
		if _, err := toml.Decode(string(content), &out); err != nil {
			var perr toml.ParseError
			if errors.As(err, &perr) {
				return nil, fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)
			}
			return nil, err
		}
		out = jsonValue(out).(map[string]interface{})
	case Properties:
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

// Encode writes a JSON object in the format.
func Encode(format string, v map[string]interface{}) ([]byte, error) {
	switch format {
	case JSON:
		return json.MarshalIndent(v, "", "  ")
	case YAML:
		return yaml.Marshal(v)
	case TOML:
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(v); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case Properties:
		return encodeProperties(v)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// Merge copies src into dst, key by key: objects are merged, anything else in src
// replaces what dst has. dst shares no object with src afterwards (lists and other
// values are shared).
func Merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sv, ok := v.(map[string]interface{}); ok {
			if dv, ok := dst[k].(map[string]interface{}); ok {
				Merge(dv, sv)
				continue
			}
			copied := map[string]interface{}{}
			Merge(copied, sv)
			dst[k] = copied
			continue
		}
		dst[k] = v
	}
}
