package wire

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
)

// serviceFields are the service-level fields Nacos has no place for, with the names of
// go-micro's JSON.
type serviceFields struct {
	Metadata  map[string]string `json:"metadata,omitempty"`
	Endpoints []*Endpoint       `json:"endpoints,omitempty"`
}

// The packed service fields (the value of micro.service) start with a format tag:
//
//	gz:  the current form: base64 (standard alphabet, padded) of the gzip of the JSON
//	     {"metadata":{...},"endpoints":[...]}, go-micro's own JSON of those Service
//	     fields. It decodes with standard tools: cut -c4- | base64 -d | gunzip
//	z    the first release's form, only read: flate-compressed JSON {"m":...,"e":[...]}
//	     with the preset dictionary legacyDict, written 15 bits to a character as code
//	     points from U+4E00
//
// gzip's own header and trailer cost 24 characters over bare deflate, and a preset
// dictionary would save about as many again on small services, but neither bare deflate
// nor a dictionary can be read with base64 and gunzip alone.
const (
	packTag       = "gz:"
	legacyPackTag = "z"
)

// maxUnpacked bounds what a packed value may inflate to: a few characters of deflate
// can stand for megabytes.
const maxUnpacked = 1 << 20

// Compressors are large and slow to build, and go-micro re-registers the same service
// every interval: compressors are pooled, and recent results are remembered, found by a
// few telling parts of the fields and checked field by field, so that unchanged fields
// are neither marshalled nor compressed again.
var (
	compressors = sync.Pool{New: func() interface{} {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
		return w
	}}
	packedMu     sync.Mutex                       // guards packedRecent
	packedRecent = map[fieldsKey][]packedFields{} // the latest first
)

const (
	packedRecentMax = 256 // keys
	packedPerKey    = 4
)

// fieldsKey finds remembered fields cheaply; fields that differ may share one.
type fieldsKey struct {
	metadata, endpoints int
	first, last         string // endpoint names
}

func keyOf(f serviceFields) fieldsKey {
	k := fieldsKey{metadata: len(f.Metadata), endpoints: len(f.Endpoints)}
	if n := len(f.Endpoints); n > 0 && f.Endpoints[0] != nil && f.Endpoints[n-1] != nil {
		k.first, k.last = f.Endpoints[0].Name, f.Endpoints[n-1].Name
	}
	return k
}

// packedFields is a copy of fields, which their caller cannot change, and their packed
// form.
type packedFields struct {
	fields serviceFields
	packed string
}

func pack(f serviceFields) string {
	key := keyOf(f)
	packedMu.Lock()
	known := packedRecent[key]
	packedMu.Unlock()
	for _, k := range known { // never modified: replaced whole
		if sameFields(k.fields, f) {
			return k.packed
		}
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return "" // registry types always marshal
	}
	var buf strings.Builder
	buf.WriteString(packTag)
	b64 := base64.NewEncoder(base64.StdEncoding, &buf)
	w := compressors.Get().(*gzip.Writer)
	w.Reset(b64) // no name, no time: equal fields pack to equal strings
	w.Write(raw)
	w.Close()
	compressors.Put(w)
	b64.Close()
	p := buf.String()
	entry := packedFields{serviceFields{maps.Clone(f.Metadata), copyEndpoints(f.Endpoints)}, p}
	packedMu.Lock()
	if len(packedRecent) >= packedRecentMax {
		packedRecent = map[fieldsKey][]packedFields{}
	}
	known = packedRecent[key]
	packedRecent[key] = append([]packedFields{entry}, known[:min(len(known), packedPerKey-1)]...)
	packedMu.Unlock()
	return p
}

// sameFields reports whether a and b marshal alike, or would if nil and empty were told
// apart everywhere.
func sameFields(a, b serviceFields) bool {
	return sameMap(a.Metadata, b.Metadata) && slices.EqualFunc(a.Endpoints, b.Endpoints, sameEndpoint)
}

func sameEndpoint(a, b *Endpoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name && sameValue(a.Request, b.Request) && sameValue(a.Response, b.Response) && sameMap(a.Metadata, b.Metadata)
}

func sameValue(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name && a.Type == b.Type && (a.Values == nil) == (b.Values == nil) && slices.EqualFunc(a.Values, b.Values, sameValue)
}

func sameMap(a, b map[string]string) bool { return (a == nil) == (b == nil) && maps.Equal(a, b) }

// Decoded fields are shared by every decoded version that has them (and never modified:
// readers get copies), so each packed value is decoded once while it is in use: every
// registry of the process that watches the service, and every push of it, gets the
// fields decoded first.
var (
	unpackedMu     sync.Mutex // guards unpackedRecent
	unpackedRecent = map[string]serviceFields{}
)

const unpackedRecentMax = 1024

// unpack decodes packed service fields of any known format.
func unpack(s string) (serviceFields, error) {
	unpackedMu.Lock()
	f, ok := unpackedRecent[s]
	unpackedMu.Unlock()
	if ok {
		return f, nil
	}
	f, err := unpackAfresh(s)
	if err == nil {
		unpackedMu.Lock()
		if len(unpackedRecent) >= unpackedRecentMax {
			unpackedRecent = map[string]serviceFields{}
		}
		unpackedRecent[s] = f
		unpackedMu.Unlock()
	}
	return f, err
}

func unpackAfresh(s string) (serviceFields, error) {
	var f serviceFields
	var raw []byte
	var err error
	switch {
	case strings.HasPrefix(s, packTag):
		raw, err = gunzip(base64.NewDecoder(base64.StdEncoding, strings.NewReader(s[len(packTag):])))
	case strings.HasPrefix(s, legacyPackTag):
		var legacy legacyFields
		if legacy, err = unpackLegacy(s[len(legacyPackTag):]); err == nil {
			f = serviceFields(legacy)
		}
		return f, err
	default:
		return f, errors.New("unknown packed format")
	}
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(raw, &f)
}

func gunzip(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readAtMost(zr)
}

func readAtMost(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxUnpacked+1))
	if err == nil && len(raw) > maxUnpacked {
		err = fmt.Errorf("packed fields inflate to over %d bytes", maxUnpacked)
	}
	return raw, err
}

// legacyFields are the service fields in the first release's JSON.
type legacyFields struct {
	Metadata  map[string]string `json:"m,omitempty"`
	Endpoints []*Endpoint       `json:"e,omitempty"`
}

// legacyDict is the preset dictionary of the first release's form.
var legacyDict = []byte(`"values":null},{"name":"","type":"int32""int64""uint64""bool""float64""[]string""map[string]string""[]byte""time.Time"` +
	`"metadata":{"stream":"true"}"subscriber":"true","topic":"` +
	`{"m":{},"e":[{"name":"","request":{"name":"","type":"","values":[{"name":"","type":"string","values":null}]},"response":{"name":"","type":"","values":[{"name":"","type":"string","values":null}]},"metadata":{}}]}`)

// Characters of the first release's form each carry 15 bits, as code points from
// legacyBase.
const (
	legacyBase = 0x4E00
	legacyBits = 15
)

func unpackLegacy(s string) (legacyFields, error) {
	var f legacyFields
	var bits []byte
	var acc uint32
	n := 0
	for _, r := range s {
		v := uint32(r) - legacyBase
		if v >= 1<<legacyBits {
			return f, fmt.Errorf("character %q is not of the packed form", r)
		}
		acc = acc<<legacyBits | v
		n += legacyBits
		for n >= 8 {
			n -= 8
			bits = append(bits, byte(acc>>n))
		}
	}
	// The last character may carry a padding byte, which the flate reader never
	// reaches: a flate stream knows where it ends.
	r := flate.NewReaderDict(bytes.NewReader(bits), legacyDict)
	defer r.Close()
	raw, err := readAtMost(r)
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(raw, &f)
}

// copyEndpoints copies endpoints deeply, for the memory of packed fields.
func copyEndpoints(eps []*Endpoint) []*Endpoint {
	if eps == nil {
		return nil
	}
	out := make([]*Endpoint, len(eps))
	for i, e := range eps {
		if e != nil {
			out[i] = &Endpoint{Name: e.Name, Request: copyValue(e.Request), Response: copyValue(e.Response), Metadata: maps.Clone(e.Metadata)}
		}
	}
	return out
}

func copyValue(v *Value) *Value {
	if v == nil {
		return nil
	}
	c := &Value{Name: v.Name, Type: v.Type}
	if v.Values != nil {
		c.Values = make([]*Value, len(v.Values))
		for i, sub := range v.Values {
			c.Values[i] = copyValue(sub)
		}
	}
	return c
}
