package object

import (
	"reflect"
	"strings"
	"testing"
)

// Documents the fast path reads, and documents it leaves to encoding/json.
var parseRead = []string{
	`{}`,
	` {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"y"}},"data":{"k":"v"}} `,
	`{"a":[1,-2,3.5,-0.25e+3,1E9,0,null,true,false,"s",{},[]],"b":{"c":{"d":[[]]}}}`,
	`{"esc":"\"\\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00","utf8":"héllo €"}`,
	`{"a":1,"a":2}`,
	`{"spec":{"ports":[{"name":"x","name":"y"}]}}`,
	`{"n":12345678901234567890123,"f":1.0e-400}`,
	`{"metadata":"x"}`,
	`{"metadata":null}`,
}

var parseLeft = []string{
	`null`, `[]`, `"x"`, ``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`,
	`{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"` + "\x01" + `"}`,
	"{\"a\":\"\xff\"}", `{"a":1} {}`, `{"a":1}}`, `{"a":[1 2]}`, `{,}`, `{"a":1}x`,
	`{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`,
}

// The fast path gives what encoding/json gives, or leaves the body to it.
func TestParseAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range parseRead {
		if !checkParse(t, []byte(doc)) {
			t.Errorf("%q was left to encoding/json", doc)
		}
	}
	for _, doc := range parseLeft {
		if checkParse(t, []byte(doc)) {
			t.Errorf("%q was read by the fast path", doc)
		}
	}
	if _, dup, ok := parse([]byte(`{"a":{"b":1,"b":2}}`)); !ok || !dup {
		t.Errorf("a field named twice: ok %v, dup %v", ok, dup)
	}
	if _, dup, ok := parse([]byte(`{"a":{"b":1},"c":{"b":2}}`)); !ok || dup {
		t.Errorf("one name in two objects: ok %v, dup %v", ok, dup)
	}
}

func FuzzParse(f *testing.F) {
	for _, doc := range append(parseRead, parseLeft...) {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

// checkParse compares the fast path with encoding/json on data, and tells
// whether the fast path read it.
func checkParse(t *testing.T, data []byte) bool {
	t.Helper()
	fast, dup, ok := parse(data)
	if !ok {
		return false
	}
	slow, err := decodeJSON(data)
	fastErr := checkMetadata(fast)
	if (err == nil) != (fastErr == nil) {
		t.Fatalf("%q: encoding/json says %v, the fast path %v", data, err, fastErr)
	}
	if err == nil && !reflect.DeepEqual(map[string]any(fast), map[string]any(slow)) {
		t.Fatalf("%q:\nfast path      %#v\nencoding/json  %#v", data, fast, slow)
	}
	if dups := DuplicateFields(data); dup != (len(dups) > 0) {
		t.Fatalf("%q: the fast path sees a duplicate: %v; DuplicateFields: %v", data, dup, dups)
	}
	return true
}

// go test -bench Decode ./final/object: the fast path against encoding/json.
func BenchmarkDecode(b *testing.B) {
	doc := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","labels":{"app":"web","tier":"front"},"annotations":{"note":"a \"quoted\" value"}},` +
		`"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80,"protocol":"TCP"}],` +
		`"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"500m","memory":"128Mi"}}}]}}}}`)
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, _, ok := parse(doc); !ok {
				b.Fatal("left to encoding/json")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeJSON(doc); err != nil {
				b.Fatal(err)
			}
			DuplicateFields(doc)
		}
	})
}
