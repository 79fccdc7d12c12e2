package object

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// checkMarshal compares Marshal with json.Marshal on v: the same bytes, or
// both an error.
func checkMarshal(t *testing.T, v any) {
	t.Helper()
	got, gotErr := Marshal(v)
	want, wantErr := json.Marshal(v)
	if (gotErr != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Errorf("Marshal(%#v) = %s, %v; encoding/json gives %s, %v", v, got, gotErr, want, wantErr)
	}
}

func TestMarshalAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range parseRead {
		obj, _, ok := parse([]byte(doc))
		if !ok {
			t.Fatalf("%s was left to encoding/json", doc)
		}
		checkMarshal(t, obj)
	}
	type port struct {
		Name string `json:"name"`
		Port int    `json:"port"`
	}
	for _, v := range []any{
		Object(nil), map[string]any(nil), []any(nil), map[string]any{}, []any{},
		map[string]any{"z": 1, "a": "x", "m": []any{true, false, nil}},
		"<script>&amp;</script>", "tab\there\nnew\x00\x1f\x7f", "line\u2028para\u2029", "bad \xff\xfe utf8", "é€😀",
		json.Number(""), json.Number("12.5e-3"), json.Number("-0"), json.Number("01"), json.Number("1."), json.Number("abc"),
		map[string]any{"n": json.Number("1e")},
		1.5, 1e21, 1e-7, -0.0, int64(math.MaxInt64), 42, uint8(7), math.NaN(), math.Inf(1),
		map[string]any{"typed": map[string]string{"b": "2", "a": "1"}, "ports": []port{{"http", 80}}, "s": []string{"x"}},
		map[string]any{"raw": json.RawMessage(`{"b": 1, "a" : 2}`)},
		map[string]any{"<k>": "v", "\u2028": 1, "\xff": 2},
	} {
		checkMarshal(t, v)
	}
}

// FuzzMarshal: on any document encoding/json decodes, and on any string as
// a key, a value and a number, Marshal writes what encoding/json writes.
func FuzzMarshal(f *testing.F) {
	for _, doc := range parseRead {
		f.Add([]byte(doc), "<&>\u2028")
	}
	f.Add([]byte(`{"a":"\u0000"}`), "\xff")
	f.Fuzz(func(t *testing.T, doc []byte, s string) {
		var v any
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			checkMarshal(t, v)
		}
		checkMarshal(t, map[string]any{s: s, "list": []any{s, json.Number(s)}, "doc": v})
	})
}
