package object

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// wantStatus fails the test unless err is a StatusError with this code and reason.
func wantStatus(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.Code != code || se.Reason != reason {
		t.Errorf("got %v, want a %d %s", err, code, reason)
	}
}

func TestDecode(t *testing.T) {
	obj, err := Decode([]byte(`{"metadata":{"name":"web","labels":{"app":"web","n":3}},"spec":{"replicas":9007199254740993}}`))
	if err != nil {
		t.Fatal(err)
	}
	if obj.MetaString("name") != "web" || !reflect.DeepEqual(obj.Labels(), map[string]string{"app": "web"}) {
		t.Errorf("name %q labels %v", obj.MetaString("name"), obj.Labels())
	}
	// An int64 beyond float64's precision survives as json.Number.
	if got := obj["spec"].(map[string]any)["replicas"]; got != json.Number("9007199254740993") {
		t.Errorf("replicas = %#v", got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, body := range []string{
		`{"metadata":`,   // not JSON
		`["a"]`,          // not an object
		`null`,           // not an object either
		`{"a":1} {}`,     // two values
		`{"a":1}}`,       // a stray brace after the value
		`{"a":1} ]`,      // or bracket
		`{"metadata":1}`, // metadata is an object
		``,
	} {
		obj, err := Decode([]byte(body))
		if obj != nil {
			t.Errorf("Decode(%q) = %v", body, obj)
		}
		wantStatus(t, err, 400, "BadRequest")
	}
}

// Reading never adds metadata; Metadata does, for writers.
func TestMetadata(t *testing.T) {
	obj := Object{"kind": "ConfigMap"}
	if obj.MetaString("name") != "" || len(obj.Labels()) != 0 || obj["metadata"] != nil {
		t.Fatalf("reading changed the object: %v", obj)
	}
	obj.Metadata()["name"] = "settings"
	if obj.MetaString("name") != "settings" {
		t.Errorf("Metadata did not keep the map: %v", obj)
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		code                    int // 0: read
		reason, mediaType       string
	}{
		{"JSON", "application/json", `{}`, 0, "", "application/json"},
		{"no Content-Type is JSON", "", `{}`, 0, "", "application/json"},
		{"parameters are ignored", "application/json; charset=utf-8", `{}`, 0, "", "application/json"},
		{"another accepted type", "application/merge-patch+json", `{}`, 0, "", "application/merge-patch+json"},
		{"text/plain", "text/plain", `{}`, 415, "UnsupportedMediaType", ""},
		{"not a media type", "json;;", `{}`, 415, "UnsupportedMediaType", ""},
		{"over 3 MiB", "application/json", strings.Repeat("x", MaxBodyBytes+1), 413, "RequestEntityTooLarge", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			mediaType, body, err := ReadBody(r, "application/json", "application/merge-patch+json")
			if tt.code != 0 {
				wantStatus(t, err, tt.code, tt.reason)
				return
			}
			if err != nil || mediaType != tt.mediaType || string(body) != tt.body {
				t.Errorf("got %q %q %v; want %q %q", mediaType, body, err, tt.mediaType, tt.body)
			}
		})
	}
}

func TestReadBodyOfExactlyTheLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", MaxBodyBytes)))
	if _, body, err := ReadBody(r, "application/json"); err != nil || len(body) != MaxBodyBytes {
		t.Errorf("got %d bytes, %v", len(body), err)
	}
}

func TestDeepCopy(t *testing.T) {
	original := Object{"metadata": map[string]any{"labels": map[string]any{"app": "web"}}, "list": []any{map[string]any{"a": "b"}}}
	copied := DeepCopy(original).(map[string]any)
	copied["metadata"].(map[string]any)["labels"].(map[string]any)["app"] = "db"
	copied["list"].([]any)[0].(map[string]any)["a"] = "c"
	if original.Labels()["app"] != "web" || original["list"].([]any)[0].(map[string]any)["a"] != "b" {
		t.Errorf("the copy shares with the original: %v", original)
	}
}

func TestJSONString(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{{nil, ""}, {"a", "a"}, {json.Number("3"), "3"}, {3.0, "3"}, {true, "true"}} {
		if got := JSONString(tt.v); got != tt.want {
			t.Errorf("JSONString(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// Kubernetes cuts a long prefix so the name fits in 63 characters, which is
// what a service or namespace name may hold.
func TestGenerateName(t *testing.T) {
	long := strings.Repeat("a", 60) + "-"
	for _, tt := range []struct{ prefix, wantPrefix string }{{"settings-", "settings-"}, {long, long[:58]}} {
		name := GenerateName(tt.prefix)
		if !regexp.MustCompile(`^` + tt.wantPrefix + `[bcdfghjklmnpqrstvwxz2456789]{5}$`).MatchString(name) {
			t.Errorf("GenerateName(%q) = %q, want %q and five characters", tt.prefix, name, tt.wantPrefix)
		}
	}
}

func TestNewUID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if a, b := NewUID(), NewUID(); !uuid.MatchString(a) || a == b {
		t.Errorf("NewUID() = %q, %q; want two different version 4 UUIDs", a, b)
	}
}

func TestNow(t *testing.T) {
	now := Now()
	if _, err := time.Parse(time.RFC3339, now); err != nil || !strings.HasSuffix(now, "Z") || len(now) != len("2006-01-02T15:04:05Z") {
		t.Errorf("Now() = %q, want RFC 3339 in seconds, UTC", now)
	}
}

func TestDuplicateFields(t *testing.T) {
	for body, want := range map[string][]string{
		`{"a":1,"b":2}`: nil,
		`{"metadata":{"name":"x","name":"y"},"spec":{"replicas":1,"replicas":2,"replicas":3}}`: {"metadata.name", "spec.replicas", "spec.replicas"},
		`{"spec":{"ports":[{"name":"a"},{"name":"b","name":"c"}]}}`:                            {"spec.ports[1].name"},
		`{"a":{"x":1},"b":{"x":1}}`: nil, // the same name in two objects
		`{"a":1,"a"`:                nil, // not JSON
	} {
		if got := DuplicateFields([]byte(body)); !reflect.DeepEqual(got, want) {
			t.Errorf("DuplicateFields(%s) = %q, want %q", body, got, want)
		}
	}
}
