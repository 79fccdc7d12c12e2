package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want requestPath
		ok   bool
	}{
		{"/api/v1/pods", requestPath{}, true},
		{"/api/v1/namespaces/default/pods", requestPath{namespace: "default"}, true},
		{"/api/v1/namespaces/default/pods/nginx", requestPath{namespace: "default", name: "nginx"}, true},
		{"/api/v1/namespaces/default/pods/", requestPath{namespace: "default"}, true},

		{"/", requestPath{}, false},
		{"/api", requestPath{}, false},
		{"/api/v1", requestPath{}, false},
		{"/api/v2/pods", requestPath{}, false},
		{"/apis/v1/pods", requestPath{}, false},
		{"/api/v1/services", requestPath{}, false},
		{"/api/v1/pods/nginx", requestPath{}, false}, // a pod is named inside its namespace
		{"/api/v1/namespaces/default", requestPath{}, false},
		{"/api/v1/namespaces//pods", requestPath{}, false},
		{"/api/v1/namespaces/default/configmaps/x", requestPath{}, false},
		{"/api/v1/namespaces/default/pods/nginx/status", requestPath{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePath(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

const podsPath = "/api/v1/namespaces/default/pods"

func podJSON(name string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`
}

// call sends one request to h and decodes the JSON object it answers with.
// It reports with t.Errorf, never t.Fatalf, so goroutines may call it too.
func call(t *testing.T, h http.Handler, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Errorf("%s %s: the response is not a JSON object: %v\n%s", method, path, err, rec.Body)
	}
	return rec.Code, out
}

// at walks a decoded JSON value: at(obj, "metadata", "name"), at(list, "items", 0).
func at(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func TestCreateGetListDelete(t *testing.T) {
	s := &server{store: newStore()}

	code, created := call(t, s, "POST", podsPath, "application/json", `{"metadata":{"name":"nginx"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: code %d, want 201: %v", code, created)
	}
	for field, want := range map[string]any{"apiVersion": "v1", "kind": "Pod"} {
		if created[field] != want {
			t.Errorf("create fills in %s: got %v, want %v", field, created[field], want)
		}
	}
	for _, field := range []string{"uid", "creationTimestamp", "resourceVersion"} {
		if at(created, "metadata", field) == nil {
			t.Errorf("create should set metadata.%s: %v", field, created)
		}
	}
	if ns := at(created, "metadata", "namespace"); ns != "default" {
		t.Errorf("metadata.namespace = %v, want default (from the URL)", ns)
	}

	code, got := call(t, s, "GET", podsPath+"/nginx", "", "")
	if code != http.StatusOK || at(got, "metadata", "uid") != at(created, "metadata", "uid") {
		t.Errorf("get: code %d, uid %v; want 200 and the uid create returned (%v)", code, at(got, "metadata", "uid"), at(created, "metadata", "uid"))
	}

	code, list := call(t, s, "GET", "/api/v1/pods", "", "")
	if code != http.StatusOK || list["kind"] != "PodList" || at(list, "items", 0, "metadata", "name") != "nginx" {
		t.Errorf("list: code %d, %v; want 200, a PodList holding nginx", code, list)
	}

	code, _ = call(t, s, "DELETE", podsPath+"/nginx", "", "")
	if code != http.StatusOK {
		t.Errorf("delete: code %d, want 200", code)
	}
	if code, _ = call(t, s, "GET", podsPath+"/nginx", "", ""); code != http.StatusNotFound {
		t.Errorf("get after delete: code %d, want 404", code)
	}
}

func TestNotFoundIsAStatus(t *testing.T) {
	s := &server{store: newStore()}
	code, status := call(t, s, "GET", podsPath+"/missing", "", "")
	want := map[string]any{
		"kind":       "Status",
		"apiVersion": "v1",
		"status":     "Failure",
		"reason":     "NotFound",
		"code":       float64(404),
		"message":    `pods "missing" not found`,
	}
	if code != http.StatusNotFound {
		t.Errorf("code %d, want 404", code)
	}
	for field, value := range want {
		if status[field] != value {
			t.Errorf("Status %s = %v, want %v", field, status[field], value)
		}
	}
	if at(status, "details", "name") != "missing" || at(status, "details", "kind") != "pods" {
		t.Errorf("Status details = %v, want name missing, kind pods", status["details"])
	}
}

func TestCreateTwiceIsAlreadyExists(t *testing.T) {
	s := &server{store: newStore()}
	call(t, s, "POST", podsPath, "application/json", podJSON("nginx"))
	code, status := call(t, s, "POST", podsPath, "application/json", podJSON("nginx"))
	if code != http.StatusConflict || status["reason"] != "AlreadyExists" || at(status, "details", "name") != "nginx" {
		t.Errorf("second create: code %d, %v; want 409 AlreadyExists for nginx", code, status)
	}
}

func TestInvalidNamesAreUnprocessable(t *testing.T) {
	tests := []struct{ name, body, causeReason string }{
		{"no name", `{"metadata":{}}`, "FieldValueRequired"},
		{"uppercase", `{"metadata":{"name":"Nginx"}}`, "FieldValueInvalid"},
		{"underscore", `{"metadata":{"name":"my_pod"}}`, "FieldValueInvalid"},
		{"leading dash", `{"metadata":{"name":"-nginx"}}`, "FieldValueInvalid"},
		{"254 characters", `{"metadata":{"name":"` + strings.Repeat("a", 254) + `"}}`, "FieldValueInvalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status := call(t, &server{store: newStore()}, "POST", podsPath, "application/json", tt.body)
			if code != http.StatusUnprocessableEntity || status["reason"] != "Invalid" {
				t.Fatalf("code %d, %v; want 422 Invalid", code, status)
			}
			if f := at(status, "details", "causes", 0, "field"); f != "metadata.name" {
				t.Errorf("causes[0].field = %v, want metadata.name", f)
			}
			if r := at(status, "details", "causes", 0, "reason"); r != tt.causeReason {
				t.Errorf("causes[0].reason = %v, want %s", r, tt.causeReason)
			}
		})
	}
}

func TestNamesAcceptedLikeKubernetes(t *testing.T) {
	for _, name := range []string{"a", "nginx-1", "web.example.com", strings.Repeat("a", 253)} {
		if code, obj := call(t, &server{store: newStore()}, "POST", podsPath, "application/json", podJSON(name)); code != http.StatusCreated {
			t.Errorf("pod name %.20q: code %d, %v; want 201 (pod names are DNS subdomains)", name, code, obj)
		}
	}
}

func TestGenerateNameOnCreate(t *testing.T) {
	s := &server{store: newStore()}
	code, created := call(t, s, "POST", podsPath, "application/json", `{"metadata":{"generateName":"web-"}}`)
	name, _ := at(created, "metadata", "name").(string)
	if code != http.StatusCreated || !strings.HasPrefix(name, "web-") || len(name) != len("web-")+5 {
		t.Fatalf("code %d, name %q; want 201 and web- plus five characters", code, name)
	}
	if code, _ := call(t, s, "GET", podsPath+"/"+name, "", ""); code != http.StatusOK {
		t.Errorf("GET the generated name: code %d, want 200", code)
	}
}

// Every bad request gets a Status with the right code and reason, and
// leaves the store as it was: the one pod and the counter unchanged.
func TestBadRequestsChangeNothing(t *testing.T) {
	tooLarge := `{"metadata":{"name":"big"},"spec":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                string
	}{
		{"malformed JSON", "POST", podsPath, "application/json", `{"metadata":`, 400, "BadRequest"},
		{"a JSON array", "POST", podsPath, "application/json", `[]`, 400, "BadRequest"},
		{"two JSON values", "POST", podsPath, "application/json", podJSON("a") + podJSON("b"), 400, "BadRequest"},
		{"metadata not an object", "POST", podsPath, "application/json", `{"metadata":"nginx"}`, 400, "BadRequest"},
		{"kind mismatch", "POST", podsPath, "application/json", `{"kind":"Service","metadata":{"name":"a"}}`, 400, "BadRequest"},
		{"apiVersion mismatch", "POST", podsPath, "application/json", `{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"a"}}`, 400, "BadRequest"},
		{"namespace mismatch on create", "POST", podsPath, "application/json", `{"metadata":{"name":"a","namespace":"other"}}`, 400, "BadRequest"},
		{"name mismatch on PUT", "PUT", podsPath + "/web", "application/json", podJSON("other"), 400, "BadRequest"},
		{"namespace mismatch on PUT", "PUT", podsPath + "/web", "application/json", `{"metadata":{"name":"web","namespace":"other"}}`, 400, "BadRequest"},
		{"invalid namespace in the URL", "POST", "/api/v1/namespaces/Bad_NS/pods", "application/json", podJSON("a"), 400, "BadRequest"},
		{"invalid name", "POST", podsPath, "application/json", podJSON("Bad"), 422, "Invalid"},
		{"name already taken", "POST", podsPath, "application/json", podJSON("web"), 409, "AlreadyExists"},
		{"PUT of a missing pod", "PUT", podsPath + "/missing", "application/json", podJSON("missing"), 404, "NotFound"},
		{"DELETE of a missing pod", "DELETE", podsPath + "/missing", "", "", 404, "NotFound"},
		{"unknown path", "GET", "/api/v1/namespaces/default/services", "", "", 404, "NotFound"},
		{"body over 3 MiB", "POST", podsPath, "application/json", tooLarge, 413, "RequestEntityTooLarge"},
		{"text/plain body", "POST", podsPath, "text/plain", podJSON("a"), 415, "UnsupportedMediaType"},
		{"YAML body", "POST", podsPath, "application/yaml", "metadata: {name: a}", 415, "UnsupportedMediaType"},
		{"PATCH", "PATCH", podsPath + "/web", "application/merge-patch+json", `{}`, 405, "MethodNotAllowed"},
		{"create across all namespaces", "POST", "/api/v1/pods", "application/json", podJSON("a"), 405, "MethodNotAllowed"},
		{"delete a collection", "DELETE", podsPath, "", "", 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server{store: newStore()}
			call(t, s, "POST", podsPath, "application/json", podJSON("web"))
			_, before := call(t, s, "GET", "/api/v1/pods", "", "")

			code, status := call(t, s, tt.method, tt.path, tt.contentType, tt.body)
			if code != tt.code || status["kind"] != "Status" || status["reason"] != tt.reason || status["code"] != float64(tt.code) {
				t.Errorf("got %d %v; want %d %s", code, status, tt.code, tt.reason)
			}

			_, after := call(t, s, "GET", "/api/v1/pods", "", "")
			if rv := at(after, "metadata", "resourceVersion"); rv != at(before, "metadata", "resourceVersion") {
				t.Errorf("resourceVersion moved from %v to %v", at(before, "metadata", "resourceVersion"), rv)
			}
			if items, _ := after["items"].([]any); len(items) != 1 || at(items, 0, "metadata", "name") != "web" {
				t.Errorf("the store changed: items = %v, want just web", items)
			}
		})
	}
}

func TestUpdateReplacesThePod(t *testing.T) {
	s := &server{store: newStore()}
	_, created := call(t, s, "POST", podsPath, "application/json", podJSON("web"))

	forged := `{"metadata":{"name":"web","uid":"forged","creationTimestamp":"2000-01-01T00:00:00Z","resourceVersion":"99"},` +
		`"spec":{"containers":[{"name":"app","image":"nginx:2"}]}}`
	code, updated := call(t, s, "PUT", podsPath+"/web", "application/json", forged)
	if code != http.StatusOK || at(updated, "spec", "containers", 0, "image") != "nginx:2" {
		t.Fatalf("PUT: code %d, %v; want 200 and the new image", code, updated)
	}
	for _, field := range []string{"uid", "creationTimestamp"} {
		if at(updated, "metadata", field) != at(created, "metadata", field) {
			t.Errorf("metadata.%s = %v; the server owns it and keeps %v", field, at(updated, "metadata", field), at(created, "metadata", field))
		}
	}
	before, _ := strconv.Atoi(at(created, "metadata", "resourceVersion").(string))
	if rv := at(updated, "metadata", "resourceVersion"); rv != strconv.Itoa(before+1) {
		t.Errorf("resourceVersion = %v, want %d: the next write", rv, before+1)
	}
}
