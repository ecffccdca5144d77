package configsource

import (
	"context"
	"testing"
)

// An encoder other than JSON names the format of every dataId, as the community source
// chose it, unless FormatKey does; without either, the extensions say.
func TestEncoderNamesTheFormatUnlessFormatKeyDoes(t *testing.T) {
	ctx := context.WithValue(context.Background(), DataIDKey{}, []string{"app", "b.json"})
	for _, c := range []struct {
		encoder, format, want string
	}{
		{"yaml", "", "yaml"},
		{"yaml", "toml", "toml"},
		{"yml", "", "yaml"},
	} {
		o := Options{Context: ctx, Encoder: c.encoder}
		if c.format != "" {
			o.Context = context.WithValue(ctx, FormatKey{}, c.format)
		}
		s, err := newSettings(o)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if s.formats["app"] != c.want || s.formats["b.json"] != c.want {
			t.Errorf("encoder %q, format %q: formats %v, want %s", c.encoder, c.format, s.formats, c.want)
		}
	}
	o := Options{Context: context.WithValue(context.Background(), DataIDKey{}, []string{"a.yaml", "b.json"}), Encoder: "json"}
	s, err := newSettings(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.formats["a.yaml"] != "yaml" || s.formats["b.json"] != "json" {
		t.Errorf("the JSON encoder overrode the extensions: %v", s.formats)
	}
	if _, err := newSettings(Options{Context: ctx, Encoder: "xml"}); err == nil {
		t.Error("an unknown encoder's name was taken as a format")
	}
}
