// Exercise 02, reference solution. Do not read this before you have tried:
// the exercise is the thinking, not the typing.
package discovery

import (
	"encoding/json"
	"net/http"
	"slices"
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
	list := APIResourceList{
		Kind:         "APIResourceList",
		APIVersion:   "v1",
		GroupVersion: groupVersion(group, version),
		Resources:    []APIResource{},
	}
	for _, r := range resources {
		if r.Group != group || r.Version != version {
			continue
		}
		list.Resources = append(list.Resources, APIResource{
			Name:         r.Name,
			SingularName: r.Singular,
			Namespaced:   r.Namespaced,
			Kind:         r.Kind,
			Verbs:        append([]string{}, r.Verbs...), // [] rather than null, as Kubernetes sends
			ShortNames:   r.ShortNames,
		})
	}
	return list, len(list.Resources) > 0
}

// BuildAPIGroupList returns the APIGroupList served at /apis.
func BuildAPIGroupList(resources []Resource) APIGroupList {
	list := APIGroupList{Kind: "APIGroupList", APIVersion: "v1", Groups: []APIGroup{}}
	index := map[string]int{} // group name -> position in list.Groups
	for _, r := range resources {
		if r.Group == "" {
			continue // the core group is discovered at /api, not /apis
		}
		i, seen := index[r.Group]
		if !seen {
			i = len(list.Groups)
			index[r.Group] = i
			list.Groups = append(list.Groups, APIGroup{Name: r.Group, Versions: []GroupVersionForDiscovery{}})
		}
		g := &list.Groups[i]
		v := GroupVersionForDiscovery{GroupVersion: groupVersion(r.Group, r.Version), Version: r.Version}
		if !slices.Contains(g.Versions, v) {
			g.Versions = append(g.Versions, v)
		}
	}
	for i := range list.Groups {
		list.Groups[i].PreferredVersion = list.Groups[i].Versions[0]
	}
	return list
}

// groupVersion is how discovery names a group version: "v1" for the core
// group, "batch/v1" for the others.
func groupVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// NewHandler serves the discovery documents:
//
//	GET /api/{version}            the core group's APIResourceList
//	GET /apis                     the APIGroupList
//	GET /apis/{group}/{version}   a named group's APIResourceList
//
// Group versions that serve nothing are 404 Not Found.
func NewHandler(resources []Resource) http.Handler {
	serveResourceList := func(w http.ResponseWriter, group, version string) {
		list, ok := BuildAPIResourceList(resources, group, version)
		if !ok {
			writeNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, list)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/{version}", func(w http.ResponseWriter, r *http.Request) {
		serveResourceList(w, "", r.PathValue("version"))
	})
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, BuildAPIGroupList(resources))
	})
	mux.HandleFunc("GET /apis/{group}/{version}", func(w http.ResponseWriter, r *http.Request) {
		serveResourceList(w, r.PathValue("group"), r.PathValue("version"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeNotFound(w) })
	return mux
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
