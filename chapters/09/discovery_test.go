package main

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"testing"
)

// find returns the element of a JSON list whose field at path equals value.
func find(list any, value string, path ...any) map[string]any {
	items, _ := list.([]any)
	for _, item := range items {
		if at(item, path...) == value {
			m, _ := item.(map[string]any)
			return m
		}
	}
	return nil
}

func TestDiscovery(t *testing.T) {
	h := newTestServer()
	get := func(path string) map[string]any {
		t.Helper()
		code, doc := call(t, h, "GET", path, "", "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, code, doc)
		}
		return doc
	}

	t.Run("/api lists the core versions", func(t *testing.T) {
		doc := get("/api")
		if doc["kind"] != "APIVersions" || encode(doc["versions"]) != `["v1"]` {
			t.Errorf("got %v; want kind APIVersions, versions [v1]", doc)
		}
	})
	t.Run("/apis lists the named groups", func(t *testing.T) {
		doc := get("/apis")
		batch := find(doc["groups"], "batch", "name")
		if doc["kind"] != "APIGroupList" || batch == nil || at(batch, "preferredVersion", "groupVersion") != "batch/v1" {
			t.Errorf("got %v; want an APIGroupList with batch preferring batch/v1", doc)
		}
	})
	t.Run("/apis/batch is one group", func(t *testing.T) {
		doc := get("/apis/batch")
		if doc["kind"] != "APIGroup" || doc["name"] != "batch" || at(doc, "versions", 0, "groupVersion") != "batch/v1" {
			t.Errorf("got %v; want APIGroup batch with version batch/v1", doc)
		}
	})
	t.Run("/apis/batch/v1 lists jobs", func(t *testing.T) {
		doc := get("/apis/batch/v1")
		jobs := find(doc["resources"], "jobs", "name")
		if doc["kind"] != "APIResourceList" || doc["groupVersion"] != "batch/v1" ||
			jobs["kind"] != "Job" || jobs["namespaced"] != true {
			t.Errorf("got %v; want an APIResourceList for batch/v1 with namespaced jobs of kind Job", doc)
		}
	})
	t.Run("/api/v1 lists the core resources", func(t *testing.T) {
		doc := get("/api/v1")
		if doc["kind"] != "APIResourceList" || doc["groupVersion"] != "v1" {
			t.Errorf("got kind %v, groupVersion %v; want APIResourceList, v1", doc["kind"], doc["groupVersion"])
		}
		if ns := find(doc["resources"], "namespaces", "name"); ns["namespaced"] != false || ns["kind"] != "Namespace" {
			t.Errorf("namespaces = %v, want a cluster-scoped Namespace", ns)
		}
		pods := find(doc["resources"], "pods", "name")
		if encode(pods["shortNames"]) != `["po"]` || pods["singularName"] != "pod" || pods["namespaced"] != true {
			t.Errorf("pods = %v, want shortName po, singular pod, namespaced", pods)
		}
		verbs, _ := pods["verbs"].([]any)
		for _, verb := range []string{"create", "delete", "get", "list", "patch", "update"} {
			if !slices.Contains(verbs, any(verb)) {
				t.Errorf("pods verbs = %v, want %s among them", verbs, verb)
			}
		}
	})
}

const aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

func TestAggregatedDiscovery(t *testing.T) {
	h := newTestServer()
	tests := []struct {
		path, accept string
		group        string // metadata.name of the group to look into
		resource     string
		scope        string
	}{
		{"/apis", aggregatedAccept, "batch", "jobs", "Namespaced"},
		{"/api", aggregatedAccept, "", "namespaces", "Cluster"},
		{"/api", aggregatedAccept, "", "pods", "Namespaced"},
		// What kubectl sends: v2, then v2beta1, then plain JSON.
		{"/apis", aggregatedAccept + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", "batch", "jobs", "Namespaced"},
	}
	for _, tt := range tests {
		rec := request(h, "GET", tt.path, map[string]string{"Accept": tt.accept}, "")
		mediaType, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		if err != nil || mediaType != "application/json" || params["g"] != "apidiscovery.k8s.io" || params["v"] != "v2" || params["as"] != "APIGroupDiscoveryList" {
			t.Errorf("GET %s: Content-Type %q, want %s", tt.path, rec.Header().Get("Content-Type"), aggregatedAccept)
		}
		var doc map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &doc)
		group := find(doc["items"], tt.group, "metadata", "name")
		version := find(group["versions"], "v1", "version")
		res := find(version["resources"], tt.resource, "resource")
		if doc["kind"] != "APIGroupDiscoveryList" || doc["apiVersion"] != "apidiscovery.k8s.io/v2" || res["scope"] != tt.scope {
			t.Errorf("GET %s: kind %v, %s in group %q = %v; want an APIGroupDiscoveryList where it is %s",
				tt.path, doc["kind"], tt.resource, tt.group, res, tt.scope)
		}
	}

	// Without the Accept header, the classic document in plain JSON: kubectl
	// reads the Content-Type to know which one it got.
	rec := request(h, "GET", "/apis", nil, "")
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /apis without Accept: Content-Type %q, want application/json", ct)
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	h := newTestServer()
	for _, path := range []string{
		"/foo",
		"/api/v2",
		"/apis/apps",
		"/apis/batch/v2",
		"/api/v1/widgets",
		"/apis/batch/v1/namespaces/default/cronjobs",
		"/api/v1/namespaces/default/jobs", // jobs live in batch, not in the core group
	} {
		code, status := call(t, h, "GET", path, "", "")
		if code != http.StatusNotFound || status["kind"] != "Status" || status["reason"] != "NotFound" {
			t.Errorf("GET %s: %d %v; want a 404 NotFound Status", path, code, status)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newTestServer()
	for _, r := range []struct{ method, path string }{
		{"POST", "/api"},
		{"PATCH", configMapsPath},
		{"POST", configMapsPath + "/settings"},
	} {
		code, status := call(t, h, r.method, r.path, "application/json", "{}")
		if code != http.StatusMethodNotAllowed || status["reason"] != "MethodNotAllowed" {
			t.Errorf("%s %s: %d %v; want a 405 MethodNotAllowed Status", r.method, r.path, code, status)
		}
	}
}

func TestOpenAPI(t *testing.T) {
	h := newTestServer()
	_, index := call(t, h, "GET", "/openapi/v3", "", "")
	for gv, url := range map[string]string{"api/v1": "/openapi/v3/api/v1", "apis/batch/v1": "/openapi/v3/apis/batch/v1"} {
		if got := at(index, "paths", gv, "serverRelativeURL"); got != url {
			t.Errorf("/openapi/v3 paths[%s].serverRelativeURL = %v, want %s", gv, got, url)
		}
	}

	code, doc := call(t, h, "GET", "/openapi/v3/apis/batch/v1", "", "")
	gvk := at(doc, "paths", "/apis/batch/v1/namespaces/{namespace}/jobs/{name}", "patch", "x-kubernetes-group-version-kind")
	if code != http.StatusOK || encode(gvk) != `{"group":"batch","kind":"Job","version":"v1"}` {
		t.Errorf("/openapi/v3/apis/batch/v1: %d, jobs PATCH gvk %v; want batch/v1 Job", code, gvk)
	}
}
