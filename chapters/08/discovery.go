// Discovery: how clients learn what the server serves. kubectl reads these
// documents before anything else to map "kubectl get jobs" to
// GET /apis/batch/v1/namespaces/default/jobs. Two shapes exist:
//
//   - the classic one, one request per level: /api and /apis list groups and
//     versions; /api/v1 and /apis/{group}/{version} list resources;
//   - aggregated discovery (apidiscovery.k8s.io/v2): /api and /apis answer
//     with every group, version and resource at once, when the client's Accept
//     header asks for it. kubectl asks first, and falls back to the classic
//     shape when the response's Content-Type says that is what it got.
package main

import (
	"mime"
	"net/http"
	"strings"
)

const aggregatedDiscoveryType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether the Accept header asks for aggregated discovery v2.
func wantsAggregated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mediaType == "application/json" &&
			params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

// serveAPI answers /api: the versions of the core group.
func (s *server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		writeAggregated(w, []map[string]any{s.groupDiscovery("")})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":     "APIVersions",
		"versions": s.registry.versions(""),
		"serverAddressByClientCIDRs": []map[string]any{
			{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host},
		},
	})
}

// serveAPIs answers /apis: every named group.
func (s *server) serveAPIs(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		groups := []map[string]any{}
		for _, g := range s.registry.groups() {
			groups = append(groups, s.groupDiscovery(g))
		}
		writeAggregated(w, groups)
		return
	}
	groups := []map[string]any{}
	for _, g := range s.registry.groups() {
		groups = append(groups, s.apiGroup(g))
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

// serveAPIGroup answers /apis/{group}.
func (s *server) serveAPIGroup(w http.ResponseWriter, r *http.Request, group string) {
	if len(s.registry.versions(group)) == 0 {
		writeError(w, errPathNotFound())
		return
	}
	writeJSON(w, http.StatusOK, s.apiGroup(group))
}

// serveResourceList answers /api/v1 and /apis/{group}/{version}.
func (s *server) serveResourceList(w http.ResponseWriter, group, version string) {
	served := s.registry.inGroupVersion(group, version)
	if len(served) == 0 {
		writeError(w, errPathNotFound())
		return
	}
	resources := []map[string]any{}
	for _, res := range served {
		resources = append(resources, withNames(res, map[string]any{
			"name":         res.name,
			"singularName": res.singular,
			"namespaced":   res.namespaced,
			"kind":         res.kind,
			"verbs":        res.verbs,
		}))
		if res.statusSubresource {
			resources = append(resources, map[string]any{"name": res.name + "/status", "singularName": "",
				"namespaced": res.namespaced, "kind": res.kind, "verbs": statusVerbs})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":         "APIResourceList",
		"apiVersion":   "v1",
		"groupVersion": served[0].groupVersion(),
		"resources":    resources,
	})
}

// apiGroup is the classic APIGroup object; the first version is preferred.
func (s *server) apiGroup(group string) map[string]any {
	versions := []map[string]any{}
	for _, v := range s.registry.versions(group) {
		versions = append(versions, map[string]any{"groupVersion": group + "/" + v, "version": v})
	}
	return map[string]any{
		"kind":             "APIGroup",
		"apiVersion":       "v1",
		"name":             group,
		"versions":         versions,
		"preferredVersion": versions[0],
	}
}

// groupDiscovery is one APIGroupDiscovery: a group with all its versions and
// resources, in aggregated form.
func (s *server) groupDiscovery(group string) map[string]any {
	versions := []map[string]any{}
	for _, v := range s.registry.versions(group) {
		resources := []map[string]any{}
		for _, res := range s.registry.inGroupVersion(group, v) {
			scope := "Cluster"
			if res.namespaced {
				scope = "Namespaced"
			}
			responseKind := map[string]any{"group": res.group, "version": res.version, "kind": res.kind}
			entry := withNames(res, map[string]any{
				"resource":         res.name,
				"responseKind":     responseKind,
				"scope":            scope,
				"singularResource": res.singular,
				"verbs":            res.verbs,
			})
			if res.statusSubresource {
				entry["subresources"] = []map[string]any{{"subresource": "status", "responseKind": responseKind, "verbs": statusVerbs}}
			}
			resources = append(resources, entry)
		}
		versions = append(versions, map[string]any{"version": v, "resources": resources, "freshness": "Current"})
	}
	return map[string]any{"metadata": map[string]any{"name": group}, "versions": versions}
}

// statusVerbs are what {name}/status serves.
var statusVerbs = []string{"get", "patch", "update"}

// withNames adds shortNames and categories, which discovery leaves out when empty.
func withNames(res *resource, entry map[string]any) map[string]any {
	if len(res.shortNames) > 0 {
		entry["shortNames"] = res.shortNames
	}
	if len(res.categories) > 0 {
		entry["categories"] = res.categories
	}
	return entry
}

func writeAggregated(w http.ResponseWriter, groups []map[string]any) {
	w.Header().Set("Content-Type", aggregatedDiscoveryType)
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	writeBody(w, map[string]any{
		"kind":       "APIGroupDiscoveryList",
		"apiVersion": "apidiscovery.k8s.io/v2",
		"metadata":   map[string]any{},
		"items":      groups,
	})
}
