// Exercise 02: build the discovery documents.
//
// Before kubectl sends "get jobs" anywhere, it asks the server what it
// serves: /apis lists the API groups, /api/v1 and /apis/{group}/{version}
// list the resources of one group version. This exercise builds those
// documents from a table of resources, and serves them.
//
// Edit this file. The tests in discovery_test.go are the specification;
// README.md explains the rules.
package discovery

import (
	"encoding/json"
	"net/http"
)

// Resource describes one served resource: one entry of the resource
// registry, like chapters/02/registry.go's resource.
type Resource struct {
	Group      string // "" for the core group, served under /api
	Version    string
	Name       string // the plural used in URLs: "jobs"
	Singular   string
	Kind       string
	Namespaced bool
	Verbs      []string
	ShortNames []string
}

// The documents below are trimmed copies of the types in
// k8s.io/apimachinery/pkg/apis/meta/v1/types.go: same field names, same JSON.

// APIResourceList is served at /api/{version} and /apis/{group}/{version}.
type APIResourceList struct {
	Kind         string        `json:"kind"`       // "APIResourceList"
	APIVersion   string        `json:"apiVersion"` // "v1"
	GroupVersion string        `json:"groupVersion"`
	Resources    []APIResource `json:"resources"`
}

// APIResource is one resource in an APIResourceList.
type APIResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
}

// APIGroupList is served at /apis.
type APIGroupList struct {
	Kind       string     `json:"kind"`       // "APIGroupList"
	APIVersion string     `json:"apiVersion"` // "v1"
	Groups     []APIGroup `json:"groups"`
}

// APIGroup is one named group and the versions it serves.
type APIGroup struct {
	Name             string                     `json:"name"`
	Versions         []GroupVersionForDiscovery `json:"versions"`
	PreferredVersion GroupVersionForDiscovery   `json:"preferredVersion"`
}

// GroupVersionForDiscovery names one version of a group.
type GroupVersionForDiscovery struct {
	GroupVersion string `json:"groupVersion"` // "batch/v1"
	Version      string `json:"version"`      // "v1"
}

// BuildAPIResourceList returns the APIResourceList of one group version, and
// false if no resource is served in it.
func BuildAPIResourceList(resources []Resource, group, version string) (APIResourceList, bool) {
	// TODO: keep the resources of exactly this group and version, in order.
	// TODO: fill in the document; mind what groupVersion is for the core group.
	panic("Please implement BuildAPIResourceList")
}

// BuildAPIGroupList returns the APIGroupList served at /apis.
func BuildAPIGroupList(resources []Resource) APIGroupList {
	// TODO: collect the named groups and their versions, in order of first appearance.
	// TODO: the core group ("") is not listed here: it has /api of its own.
	panic("Please implement BuildAPIGroupList")
}

// NewHandler serves the discovery documents:
//
//	GET /api/{version}            the core group's APIResourceList
//	GET /apis                     the APIGroupList
//	GET /apis/{group}/{version}   a named group's APIResourceList
//
// Group versions that serve nothing are 404 Not Found.
func NewHandler(resources []Resource) http.Handler {
	// TODO: route the three paths (net/http's ServeMux understands
	// "GET /apis/{group}/{version}"; read the parts with r.PathValue).
	panic("Please implement NewHandler")
}

// writeJSON sends v as a JSON response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeNotFound sends the 404 a Kubernetes API server sends for a path it
// does not serve: a metav1.Status.
func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{
		"kind":       "Status",
		"apiVersion": "v1",
		"metadata":   map[string]any{},
		"status":     "Failure",
		"message":    "the server could not find the requested resource",
		"reason":     "NotFound",
		"details":    map[string]any{},
		"code":       http.StatusNotFound,
	})
}
