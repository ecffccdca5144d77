package configformat

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestOfAndKnown(t *testing.T) {
	for name, want := range map[string]string{"app.json": JSON, "app.YAML": YAML, "app.yml": YAML, "a.b.toml": TOML, "x.properties": Properties, "app.ini": "", "app": ""} {
		if got, ok := Of(name); got != want || ok != (want != "") {
			t.Errorf("Of(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if got, ok := Known("YML"); got != YAML || !ok {
		t.Errorf("Known(YML) = %q, %v", got, ok)
	}
	if _, ok := Known("xml"); ok {
		t.Error("Known(xml)")
	}
}

// Every format decodes to the same JSON object; properties keep strings.
func TestDecodeEveryFormat(t *testing.T) {
	want := map[string]interface{}{"server": map[string]interface{}{"port": 8080.0, "name": "greeter"}, "tags": []interface{}{"a", "b"}}
	for format, content := range map[string]string{
		JSON: `{"server":{"port":8080,"name":"greeter"},"tags":["a","b"]}`,
		YAML: "server:\n  port: 8080\n  name: greeter\ntags: [a, b]\n",
		TOML: "tags = [\"a\", \"b\"]\n[server]\nport = 8080\nname = \"greeter\"\n",
	} {
		got, err := Decode(format, []byte(content))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !reflect.DeepEqual(normalise(got), want) {
			t.Errorf("%s: got %#v", format, got)
		}
	}
	got, err := Decode(Properties, []byte("# comment\nserver.port = 8080\nserver.name:greeter\n! other\nmotd=hello \\\n  world\nunicode=caf\\u00e9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]interface{}{"server": map[string]interface{}{"port": "8080", "name": "greeter"}, "motd": "hello world", "unicode": "café"}; !reflect.DeepEqual(got, want) {
		t.Errorf("properties: got %#v", got)
	}
	for _, format := range []string{JSON, YAML, TOML, Properties} {
		if got, err := Decode(format, []byte(" \n")); err != nil || len(got) != 0 {
			t.Errorf("%s: blank content is %v, %v; want an empty object", format, got, err)
		}
	}
}

// normalise passes v through encoding/json, as the source does before anyone reads it:
// the integers of YAML and TOML become float64.
func normalise(v map[string]interface{}) map[string]interface{} {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return out
}

func TestDecodeErrorsSayTheLine(t *testing.T) {
	for format, content := range map[string]string{
		YAML:       "a: 1\nb: 2\nc: d: e\n",
		JSON:       "{\n  \"a\": 1,\n  \"b\": ,\n}",
		TOML:       "a = 1\nb = 2\nc = = 3\n",
		Properties: "x=1\na=1\na.b=2\n",
	} {
		_, err := Decode(format, []byte(content))
		if err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: want an error at line 3, got %v", format, err)
		}
	}
	if _, err := Decode(YAML, []byte("- a\n- b\n")); err == nil {
		t.Error("a YAML list decoded as an object")
	}
}

func TestEncodeRoundTripsAndRefusesWhatAFormatCannotHold(t *testing.T) {
	v := map[string]interface{}{"server": map[string]interface{}{"port": "8080", "name": "a=b c"}, "motd": " hi\n"}
	for _, format := range []string{JSON, YAML, TOML, Properties} {
		out, err := Encode(format, v)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		back, err := Decode(format, out)
		if err != nil || !reflect.DeepEqual(back, v) {
			t.Errorf("%s: %q decodes to %v, %v", format, out, back, err)
		}
	}
	if _, err := Encode(Properties, map[string]interface{}{"hosts": []interface{}{"a"}}); err == nil || !strings.Contains(err.Error(), "list") {
		t.Errorf("a list into properties: %v", err)
	}
	if _, err := Encode(Properties, map[string]interface{}{"a.b": "1"}); err == nil {
		t.Error("a key with a dot into properties")
	}
}

func TestMergeLaterWinsAndSharesNoObject(t *testing.T) {
	dst := map[string]interface{}{}
	base := map[string]interface{}{"a": 1.0, "nested": map[string]interface{}{"x": "base", "y": "base"}}
	local := map[string]interface{}{"b": 2.0, "nested": map[string]interface{}{"y": "local"}}
	Merge(dst, base)
	Merge(dst, local)
	want := map[string]interface{}{"a": 1.0, "b": 2.0, "nested": map[string]interface{}{"x": "base", "y": "local"}}
	if !reflect.DeepEqual(dst, want) {
		t.Fatalf("got %v", dst)
	}
	if base["nested"].(map[string]interface{})["y"] != "base" {
		t.Fatal("Merge wrote into its source")
	}
}
