package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestServer builds the server as main does, with the bootstrap namespaces.
func newTestServer() http.Handler {
	reg := newRegistry(builtinResources())
	s := &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces")}
	s.crds = &crdController{s: s, resource: reg.lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	s.createBootstrapNamespaces()
	s.rbac = &rbacAuthorizer{store: s.store, roles: reg.lookup(rbacGroup, "roles"), clusterRoles: reg.lookup(rbacGroup, "clusterroles"),
		roleBindings: reg.lookup(rbacGroup, "rolebindings"), clusterRoleBindings: reg.lookup(rbacGroup, "clusterrolebindings")}
	s.authorizer = authorizers{alwaysAllow{}}
	chain, err := s.newAdmissionChain("", "")
	if err != nil {
		panic(err)
	}
	s.admission = chain
	return s.routes()
}

// request sends one request to h and returns the recorded response.
func request(h http.Handler, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// call sends a JSON request (or one of contentType) and decodes the JSON
// object in the answer. It reports with t.Errorf, so goroutines may call it.
func call(t *testing.T, h http.Handler, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	header := map[string]string{}
	if contentType != "" {
		header["Content-Type"] = contentType
	}
	rec := request(h, method, path, header, body)
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

// names lists metadata.name of each item of a list response.
func names(list map[string]any) []string {
	out := []string{}
	items, _ := list["items"].([]any)
	for _, item := range items {
		name, _ := at(item, "metadata", "name").(string)
		out = append(out, name)
	}
	return out
}

func configMap(name string, labels string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"labels":{%s}},"data":{"k":"v"}}`, name, labels)
}

// mustCreate POSTs body to path and fails the test unless it is created.
func mustCreate(t *testing.T, h http.Handler, path, body string) map[string]any {
	t.Helper()
	code, obj := call(t, h, "POST", path, "application/json", body)
	if code != http.StatusCreated {
		t.Fatalf("POST %s: code %d, %v", path, code, obj)
	}
	return obj
}

const (
	configMapsPath = "/api/v1/namespaces/default/configmaps"
	namespacesPath = "/api/v1/namespaces"
)

func TestCreateInAMissingNamespace(t *testing.T) {
	h := newTestServer()
	code, status := call(t, h, "POST", "/api/v1/namespaces/x/configmaps", "application/json", configMap("settings", ""))
	if code != http.StatusNotFound || status["reason"] != "NotFound" || status["message"] != `namespaces "x" not found` {
		t.Errorf("got %d %v; want 404 namespaces \"x\" not found", code, status)
	}
	if at(status, "details", "kind") != "namespaces" || at(status, "details", "name") != "x" {
		t.Errorf("details = %v, want kind namespaces, name x", status["details"])
	}
	if _, list := call(t, h, "GET", "/api/v1/configmaps", "", ""); len(names(list)) != 0 {
		t.Errorf("the configmap was stored anyway: %v", names(list))
	}
}

func TestBootstrapNamespacesMayNotBeDeleted(t *testing.T) {
	h := newTestServer()
	for _, ns := range []string{"default", "kube-system", "kube-public"} {
		code, status := call(t, h, "DELETE", namespacesPath+"/"+ns, "", "")
		if code != http.StatusForbidden || status["reason"] != "Forbidden" {
			t.Errorf("DELETE namespace %s: %d %v; want 403 Forbidden", ns, code, status)
		}
		if code, _ := call(t, h, "GET", namespacesPath+"/"+ns, "", ""); code != http.StatusOK {
			t.Errorf("GET namespace %s after the refused delete: %d, want 200", ns, code)
		}
	}
}

// Deleting a namespace removes it at once and its objects shortly after, as
// Kubernetes' namespace controller does. Meanwhile they can still be deleted
// one by one (kubectl delete -f often deletes the namespace first), and a
// namespace created again under the same name keeps its new objects.
func TestDeletingANamespaceDeletesItsObjects(t *testing.T) {
	t.Parallel() // it waits for the cleanup
	h := newTestServer()
	mustCreate(t, h, namespacesPath, `{"metadata":{"name":"team"}}`)
	mustCreate(t, h, "/api/v1/namespaces/team/configmaps", configMap("settings", ""))
	mustCreate(t, h, "/apis/batch/v1/namespaces/team/jobs", `{"metadata":{"name":"backup"}}`)
	mustCreate(t, h, configMapsPath, configMap("settings", ""))

	if code, _ := call(t, h, "DELETE", namespacesPath+"/team", "", ""); code != http.StatusOK {
		t.Fatalf("DELETE namespace team: %d, want 200", code)
	}
	if code, _ := call(t, h, "GET", namespacesPath+"/team", "", ""); code != http.StatusNotFound {
		t.Errorf("GET namespace team after its delete: %d, want 404", code)
	}
	if code, _ := call(t, h, "DELETE", "/api/v1/namespaces/team/configmaps/settings", "", ""); code != http.StatusOK {
		t.Errorf("DELETE a configmap of the deleted namespace: %d, want 200", code)
	}
	mustCreate(t, h, namespacesPath, `{"metadata":{"name":"team"}}`)
	recreated := mustCreate(t, h, "/api/v1/namespaces/team/configmaps", configMap("settings", ""))

	deadline := time.Now().Add(namespaceCleanupDelay + 5*time.Second)
	for {
		_, configMaps := call(t, h, "GET", "/api/v1/configmaps", "", "")
		_, jobs := call(t, h, "GET", "/apis/batch/v1/jobs", "", "")
		got := fmt.Sprint(names(configMaps), names(jobs))
		if got == "[settings settings] []" { // default/settings and the new team/settings
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("configmaps and jobs = %s, want [settings settings] []", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, stored := call(t, h, "GET", "/api/v1/namespaces/team/configmaps/settings", "", "")
	if at(stored, "metadata", "uid") != at(recreated, "metadata", "uid") {
		t.Errorf("team/settings = %v, want the one created after the namespace came back", stored)
	}
}

func TestClusterScopedCreateIgnoresMetadataNamespace(t *testing.T) {
	h := newTestServer()
	created := mustCreate(t, h, namespacesPath, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team","namespace":"default"}}`)
	if ns, ok := at(created, "metadata").(map[string]any)["namespace"]; ok {
		t.Errorf("a Namespace was stored with metadata.namespace %v", ns)
	}
	if at(created, "status", "phase") != "Active" {
		t.Errorf("a new namespace is Active, got status %v", created["status"])
	}
}

func TestGenerateName(t *testing.T) {
	long := strings.Repeat("a", 60) + "-"
	tests := []struct{ path, generateName, wantPrefix string }{
		{configMapsPath, "settings-", "settings-"},
		// Kubernetes cuts a long prefix so the name fits in 63 characters,
		// which is what a service or namespace name may hold.
		{"/api/v1/namespaces/default/services", long, long[:58]},
		{namespacesPath, long, long[:58]},
	}
	for _, tt := range tests {
		h := newTestServer()
		created := mustCreate(t, h, tt.path, `{"metadata":{"generateName":"`+tt.generateName+`"}}`)
		name, _ := at(created, "metadata", "name").(string)
		if !strings.HasPrefix(name, tt.wantPrefix) || len(name) != len(tt.wantPrefix)+5 {
			t.Errorf("POST %s generateName %q: name %q, want %q and five characters", tt.path, tt.generateName, name, tt.wantPrefix)
		}
		if code, _ := call(t, h, "GET", tt.path+"/"+name, "", ""); code != http.StatusOK {
			t.Errorf("GET %s/%s: %d, want 200", tt.path, name, code)
		}
	}
}

// Most names are DNS subdomains; namespaces and services are DNS labels.
func TestNameValidation(t *testing.T) {
	tests := []struct {
		path, name string
		code       int
	}{
		{configMapsPath, "app.config", http.StatusCreated},
		{namespacesPath, "team-a", http.StatusCreated},
		{namespacesPath, "team.a", http.StatusUnprocessableEntity},
		{"/api/v1/namespaces/default/services", "web.v1", http.StatusUnprocessableEntity},
		{configMapsPath, "App", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		code, obj := call(t, newTestServer(), "POST", tt.path, "application/json", `{"metadata":{"name":"`+tt.name+`"}}`)
		if code != tt.code {
			t.Errorf("POST %s name %q: %d %v; want %d", tt.path, tt.name, code, obj, tt.code)
		}
		if code == http.StatusUnprocessableEntity && at(obj, "details", "causes", 0, "field") != "metadata.name" {
			t.Errorf("POST %s name %q: causes = %v, want a metadata.name cause", tt.path, tt.name, at(obj, "details", "causes"))
		}
	}
}

// PUT and PATCH replace the object; the server keeps its uid and
// creationTimestamp and gives it a new resourceVersion.
func TestUpdateAndPatch(t *testing.T) {
	tests := []struct{ name, method, contentType, body, wantData string }{
		{"PUT", "PUT", "application/json", `{"metadata":{"name":"settings","uid":"forged"},"data":{"color":"blue"}}`, `{"color":"blue"}`},
		{"merge patch", "PATCH", mergePatchType, `{"data":{"k":null,"color":"blue"}}`, `{"color":"blue"}`},
		{"strategic merge patch", "PATCH", strategicPatch, `{"data":{"color":"blue"}}`, `{"color":"blue","k":"v"}`},
		{"JSON patch", "PATCH", jsonPatch, `[{"op":"replace","path":"/data/k","value":"w"}]`, `{"k":"w"}`},
	}
	for _, tt := range tests {
		h := newTestServer()
		created := mustCreate(t, h, configMapsPath, configMap("settings", ""))
		code, updated := call(t, h, tt.method, configMapsPath+"/settings", tt.contentType, tt.body)
		if code != http.StatusOK || encode(updated["data"]) != tt.wantData {
			t.Errorf("%s: %d, data %v; want 200 and data %s", tt.name, code, updated["data"], tt.wantData)
		}
		if at(updated, "metadata", "uid") != at(created, "metadata", "uid") ||
			at(updated, "metadata", "creationTimestamp") != at(created, "metadata", "creationTimestamp") ||
			at(updated, "metadata", "resourceVersion") == at(created, "metadata", "resourceVersion") {
			t.Errorf("%s: metadata before %v, after %v; want the same uid and creationTimestamp, a new resourceVersion",
				tt.name, created["metadata"], updated["metadata"])
		}
	}
}

// Concurrent patches are each applied to the object they replace, so none is lost.
func TestConcurrentPatchesAreNotLost(t *testing.T) {
	const n = 20
	h := newTestServer()
	mustCreate(t, h, configMapsPath, configMap("settings", ""))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			patch := fmt.Sprintf(`{"data":{"key-%d":"v"}}`, i)
			if code, status := call(t, h, "PATCH", configMapsPath+"/settings", mergePatchType, patch); code != http.StatusOK {
				t.Errorf("patch %d: %d %v", i, code, status)
			}
		})
	}
	wg.Wait()
	_, stored := call(t, h, "GET", configMapsPath+"/settings", "", "")
	if data, _ := stored["data"].(map[string]any); len(data) != n+1 {
		t.Errorf("data has %d keys, want %d: %v", len(data), n+1, data)
	}
}

func TestPatchOfAMissingObjectIsNotFound(t *testing.T) {
	code, status := call(t, newTestServer(), "PATCH", configMapsPath+"/missing", mergePatchType, `{}`)
	if code != http.StatusNotFound || status["message"] != `configmaps "missing" not found` {
		t.Errorf("got %d %v; want 404 configmaps \"missing\" not found", code, status)
	}
}

// Every bad write gets a Status with the right code and reason, and leaves
// the stored object as it was.
func TestBadWritesChangeNothing(t *testing.T) {
	item := configMapsPath + "/settings"
	tests := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                string
	}{
		{"server-side apply is not served", "PATCH", item, "application/apply-patch+yaml", "data: {k: w}", 415, "UnsupportedMediaType"},
		{"text/plain patch", "PATCH", item, "text/plain", `{"data":{"k":"w"}}`, 415, "UnsupportedMediaType"},
		{"text/plain create", "POST", configMapsPath, "text/plain", configMap("other", ""), 415, "UnsupportedMediaType"},
		{"body over 3 MiB", "PUT", item, "application/json", `{"metadata":{"name":"settings"},"data":{"k":"` + strings.Repeat("x", maxBodyBytes) + `"}}`, 413, "RequestEntityTooLarge"},
		{"malformed JSON", "PUT", item, "application/json", `{"metadata":`, 400, "BadRequest"},
		{"kind mismatch", "PUT", item, "application/json", `{"kind":"Secret","metadata":{"name":"settings"}}`, 400, "BadRequest"},
		{"apiVersion mismatch", "PUT", item, "application/json", `{"apiVersion":"batch/v1","metadata":{"name":"settings"}}`, 400, "BadRequest"},
		{"name mismatch on PUT", "PUT", item, "application/json", configMap("other", ""), 400, "BadRequest"},
		{"namespace mismatch on PUT", "PUT", item, "application/json", `{"metadata":{"name":"settings","namespace":"kube-system"}}`, 400, "BadRequest"},
		{"a patch that renames", "PATCH", item, mergePatchType, `{"metadata":{"name":"other"}}`, 400, "BadRequest"},
		{"a JSON patch whose test fails", "PATCH", item, jsonPatch, `[{"op":"test","path":"/data/k","value":"w"},{"op":"replace","path":"/data/k","value":"w"}]`, 422, "Invalid"},
		{"an unknown strategic directive", "PATCH", item, strategicPatch, `{"data":{"$patch":"frobnicate"}}`, 400, "BadRequest"},
		{"name already taken", "POST", configMapsPath, "application/json", configMap("settings", ""), 409, "AlreadyExists"},
		{"DELETE a collection", "DELETE", configMapsPath, "", "", 405, "MethodNotAllowed"},
		{"dryRun", "POST", configMapsPath + "?dryRun=All", "application/json", configMap("other", ""), 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestServer()
			created := mustCreate(t, h, configMapsPath, configMap("settings", ""))

			code, status := call(t, h, tt.method, tt.path, tt.contentType, tt.body)
			if code != tt.code || status["kind"] != "Status" || status["reason"] != tt.reason {
				t.Errorf("got %d %v; want %d %s", code, status, tt.code, tt.reason)
			}

			_, stored := call(t, h, "GET", item, "", "")
			if encode(stored) != encode(created) {
				t.Errorf("the object changed:\nbefore %s\nafter  %s", encode(created), encode(stored))
			}
			if _, list := call(t, h, "GET", "/api/v1/configmaps", "", ""); len(names(list)) != 1 {
				t.Errorf("configmaps = %v, want just settings", names(list))
			}
		})
	}
}

func TestListWithSelectors(t *testing.T) {
	h := newTestServer()
	mustCreate(t, h, configMapsPath, configMap("web", `"app":"web","tier":"frontend"`))
	mustCreate(t, h, configMapsPath, configMap("db", `"app":"db","tier":"backend"`))
	mustCreate(t, h, configMapsPath, configMap("cache", `"app":"cache"`))
	mustCreate(t, h, "/api/v1/namespaces/kube-system/configmaps", configMap("web", `"app":"web"`))

	tests := []struct {
		path, labelSelector, fieldSelector string
		want                               []string
	}{
		{configMapsPath, "", "", []string{"cache", "db", "web"}}, // in name order
		{configMapsPath, "app=web", "", []string{"web"}},
		{configMapsPath, "app!=web", "", []string{"cache", "db"}},
		{configMapsPath, "app in (web,db)", "", []string{"db", "web"}},
		{configMapsPath, "app notin (web)", "", []string{"cache", "db"}},
		{configMapsPath, "tier", "", []string{"db", "web"}},
		{configMapsPath, "!tier", "", []string{"cache"}},
		{configMapsPath, "app, tier!=frontend", "", []string{"cache", "db"}}, // cache has no tier at all
		{configMapsPath, "app=nothing", "", []string{}},
		{configMapsPath, "", "metadata.name=db", []string{"db"}},
		{configMapsPath, "", "metadata.name!=db", []string{"cache", "web"}},
		{configMapsPath, "tier", "metadata.name!=db", []string{"web"}},
		{"/api/v1/configmaps", "app=web", "", []string{"web", "web"}}, // default, then kube-system
		{"/api/v1/configmaps", "app=web", "metadata.namespace=kube-system", []string{"web"}},
	}
	for _, tt := range tests {
		query := url.Values{}
		if tt.labelSelector != "" {
			query.Set("labelSelector", tt.labelSelector)
		}
		if tt.fieldSelector != "" {
			query.Set("fieldSelector", tt.fieldSelector)
		}
		code, list := call(t, h, "GET", tt.path+"?"+query.Encode(), "", "")
		if code != http.StatusOK || list["kind"] != "ConfigMapList" || list["items"] == nil || fmt.Sprint(names(list)) != fmt.Sprint(tt.want) {
			t.Errorf("GET %s?%s: %d %v %v; want a ConfigMapList of %v", tt.path, query.Encode(), code, list["kind"], names(list), tt.want)
		}
	}

	for _, query := range []string{"labelSelector=-app", "fieldSelector=spec.nodeName%3Dn1"} {
		if code, status := call(t, h, "GET", configMapsPath+"?"+query, "", ""); code != http.StatusBadRequest {
			t.Errorf("GET ?%s: %d %v; want 400", query, code, status)
		}
	}
}
