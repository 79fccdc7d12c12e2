package discovery

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var crud = []string{"create", "delete", "get", "list", "patch", "update"}

// testResources is the registry the tests serve. Its order matters: the
// groups appear as batch, then apps, then example.com, and example.com lists
// v1 before v1beta1.
var testResources = []Resource{
	{Version: "v1", Name: "namespaces", Singular: "namespace", Kind: "Namespace", Verbs: crud, ShortNames: []string{"ns"}},
	{Version: "v1", Name: "pods", Singular: "pod", Kind: "Pod", Namespaced: true, Verbs: crud, ShortNames: []string{"po"}},
	{Group: "batch", Version: "v1", Name: "jobs", Singular: "job", Kind: "Job", Namespaced: true, Verbs: crud},
	{Group: "apps", Version: "v1", Name: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true, Verbs: crud, ShortNames: []string{"deploy"}},
	{Version: "v1", Name: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true, Verbs: crud},
	{Group: "batch", Version: "v1", Name: "cronjobs", Singular: "cronjob", Kind: "CronJob", Namespaced: true, Verbs: crud, ShortNames: []string{"cj"}},
	{Group: "example.com", Version: "v1", Name: "widgets", Singular: "widget", Kind: "Widget", Verbs: crud},
	{Group: "apps", Version: "v1", Name: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true, Verbs: crud, ShortNames: []string{"rs"}},
	{Group: "example.com", Version: "v1beta1", Name: "widgets", Singular: "widget", Kind: "Widget", Verbs: crud},
	{Group: "example.com", Version: "v1", Name: "gadgets", Singular: "gadget", Kind: "Gadget", Namespaced: true}, // serves no verbs yet
	{Version: "v1", Name: "componentstatuses", Singular: "componentstatus", Kind: "ComponentStatus", Verbs: []string{"get", "list"}, ShortNames: []string{"cs"}},
}

const crudJSON = `["create","delete","get","list","patch","update"]`

// The documents a real Kubernetes API server would send for testResources.
var (
	coreV1JSON = `{
		"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
		"resources": [
			{"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ` + crudJSON + `, "shortNames": ["ns"]},
			{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ` + crudJSON + `, "shortNames": ["po"]},
			{"name": "secrets", "singularName": "secret", "namespaced": true, "kind": "Secret", "verbs": ` + crudJSON + `},
			{"name": "componentstatuses", "singularName": "componentstatus", "namespaced": false, "kind": "ComponentStatus", "verbs": ["get","list"], "shortNames": ["cs"]}
		]}`
	batchV1JSON = `{
		"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1",
		"resources": [
			{"name": "jobs", "singularName": "job", "namespaced": true, "kind": "Job", "verbs": ` + crudJSON + `},
			{"name": "cronjobs", "singularName": "cronjob", "namespaced": true, "kind": "CronJob", "verbs": ` + crudJSON + `, "shortNames": ["cj"]}
		]}`
	exampleV1JSON = `{
		"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "example.com/v1",
		"resources": [
			{"name": "widgets", "singularName": "widget", "namespaced": false, "kind": "Widget", "verbs": ` + crudJSON + `},
			{"name": "gadgets", "singularName": "gadget", "namespaced": true, "kind": "Gadget", "verbs": []}
		]}`
	exampleV1beta1JSON = `{
		"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "example.com/v1beta1",
		"resources": [
			{"name": "widgets", "singularName": "widget", "namespaced": false, "kind": "Widget", "verbs": ` + crudJSON + `}
		]}`
	groupListJSON = `{
		"kind": "APIGroupList", "apiVersion": "v1",
		"groups": [
			{"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
			 "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}},
			{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
			 "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
			{"name": "example.com", "versions": [
				{"groupVersion": "example.com/v1", "version": "v1"},
				{"groupVersion": "example.com/v1beta1", "version": "v1beta1"}],
			 "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"}}
		]}`
)

func TestBuildAPIResourceList(t *testing.T) {
	tests := []struct {
		group, version string
		want           string
	}{
		// The core group: apps/v1 and batch/v1 have version "v1" too, but
		// they are other groups.
		{"", "v1", coreV1JSON},
		{"batch", "v1", batchV1JSON},
		{"example.com", "v1", exampleV1JSON},
		{"example.com", "v1beta1", exampleV1beta1JSON},
	}
	for _, tt := range tests {
		t.Run(groupVersionName(tt.group, tt.version), func(t *testing.T) {
			got, ok := BuildAPIResourceList(testResources, tt.group, tt.version)
			if !ok {
				t.Fatalf("BuildAPIResourceList(%q, %q) reported nothing served", tt.group, tt.version)
			}
			assertJSON(t, got, tt.want)
		})
	}
}

func TestBuildAPIResourceListNotServed(t *testing.T) {
	tests := []struct {
		resources      []Resource
		group, version string
	}{
		{testResources, "", "v2"},
		{testResources, "batch", "v2"},
		{testResources, "apps", "v1beta1"},
		{testResources, "nope", "v1"},
		{testResources, "v1", ""},
		{nil, "", "v1"},
	}
	for _, tt := range tests {
		t.Run(groupVersionName(tt.group, tt.version), func(t *testing.T) {
			if got, ok := BuildAPIResourceList(tt.resources, tt.group, tt.version); ok {
				t.Errorf("BuildAPIResourceList(%q, %q) = true with resources %s; want false", tt.group, tt.version, names(got.Resources))
			}
		})
	}
}

func TestBuildAPIGroupList(t *testing.T) {
	tests := []struct {
		name      string
		resources []Resource
		want      string
	}{
		{"all", testResources, groupListJSON},
		// No named group: the list is empty, and an empty list is [], not null.
		{"core only", testResources[:2], `{"kind": "APIGroupList", "apiVersion": "v1", "groups": []}`},
		{"nothing", nil, `{"kind": "APIGroupList", "apiVersion": "v1", "groups": []}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertJSON(t, BuildAPIGroupList(tt.resources), tt.want)
		})
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		path     string
		wantCode int
		wantBody string // only checked for 200
	}{
		{"/apis/batch/v1", http.StatusOK, batchV1JSON},
		{"/apis/example.com/v1beta1", http.StatusOK, exampleV1beta1JSON},
		{"/api/v1", http.StatusOK, coreV1JSON},
		{"/apis", http.StatusOK, groupListJSON},
		{"/apis/batch/v2", http.StatusNotFound, ""},
		{"/apis/nope/v1", http.StatusNotFound, ""},
		{"/apis/apps/v1beta1", http.StatusNotFound, ""},
		{"/api/v2", http.StatusNotFound, ""},
		{"/apis/batch/v1/jobs", http.StatusNotFound, ""}, // a resource, not a discovery document
	}
	handler := NewHandler(testResources)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("GET %s: status %d, want %d; body: %s", tt.path, rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				return
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("GET %s: Content-Type %q, want application/json", tt.path, ct)
			}
			assertJSON(t, json.RawMessage(rec.Body.Bytes()), tt.wantBody)
		})
	}
}

func groupVersionName(group, version string) string {
	if group == "" {
		return "core/" + version
	}
	return group + "/" + version
}

// assertJSON marshals got and compares it with the JSON text want, field by
// field, so that a wrong shape (a missing key, null for [], a number for a
// string) is reported where it is.
func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	gotBytes, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("cannot marshal %+v: %v", got, err)
	}
	var gotValue, wantValue any
	if err := json.Unmarshal(gotBytes, &gotValue); err != nil {
		t.Fatalf("got invalid JSON %s: %v", gotBytes, err)
	}
	if err := json.Unmarshal([]byte(want), &wantValue); err != nil {
		t.Fatalf("test bug: invalid JSON %s: %v", want, err)
	}
	for _, d := range diffJSON("$", gotValue, wantValue) {
		t.Error(d)
	}
}

func diffJSON(at string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", at, show(got))}
		}
		var diffs []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if _, ok := g[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing, want %s", at, k, show(w[k])))
				continue
			}
			diffs = append(diffs, diffJSON(at+"."+k, g[k], w[k])...)
		}
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected field with value %s", at, k, show(g[k])))
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want %s", at, show(got), show(want))}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %d items %s, want %d items %s", at, len(g), summary(g), len(w), summary(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, diffJSON(fmt.Sprintf("%s[%d]", at, i), g[i], w[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(got, want) {
			return []string{fmt.Sprintf("%s: got %s, want %s", at, show(got), show(want))}
		}
		return nil
	}
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// summary shows a list of named objects by their names, anything else as JSON.
func summary(items []any) string {
	var names []string
	for _, item := range items {
		obj, ok := item.(map[string]any)
		if !ok {
			return show(items)
		}
		name, ok := obj["name"].(string)
		if !ok {
			return show(items)
		}
		names = append(names, fmt.Sprintf("%q", name))
	}
	return "with names [" + strings.Join(names, ", ") + "]"
}

func names(resources []APIResource) string {
	var out []string
	for _, r := range resources {
		out = append(out, r.Name)
	}
	return fmt.Sprint(out)
}
