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
package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
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

func (s *APIServer) discoveryRoutes(r *mux.Router) {
	r.HandleFunc("/api", s.serveAPI).Methods(http.MethodGet)
	r.HandleFunc("/api/{version}", func(w http.ResponseWriter, r *http.Request) {
		s.serveResourceList(w, "", mux.Vars(r)["version"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/apis", s.serveAPIs).Methods(http.MethodGet)
	r.HandleFunc("/apis/{group}", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPIGroup(w, r, mux.Vars(r)["group"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/apis/{group}/{version}", func(w http.ResponseWriter, r *http.Request) {
		s.serveResourceList(w, mux.Vars(r)["group"], mux.Vars(r)["version"])
	}).Methods(http.MethodGet)
}

// extraDiscovery lists groups served by others (the aggregator's extension servers).
func (s *APIServer) extraDiscovery(aggregated bool) []map[string]any {
	if s.ExtraDiscovery == nil {
		return nil
	}
	return s.ExtraDiscovery(aggregated)
}

// serveAPI answers /api: the versions of the core group.
func (s *APIServer) serveAPI(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		writeAggregated(w, []map[string]any{s.groupDiscovery("")})
		return
	}
	apierrors.WriteJSON(w, http.StatusOK, map[string]any{
		"kind":     "APIVersions",
		"versions": s.Registry.Versions(""),
		"serverAddressByClientCIDRs": []map[string]any{
			{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host},
		},
	})
}

// serveAPIs answers /apis: every named group.
func (s *APIServer) serveAPIs(w http.ResponseWriter, r *http.Request) {
	if wantsAggregated(r) {
		groups := []map[string]any{}
		for _, g := range s.Registry.Groups() {
			groups = append(groups, s.groupDiscovery(g))
		}
		writeAggregated(w, s.byGroupPriority(append(groups, s.extraDiscovery(true)...)))
		return
	}
	groups := []map[string]any{}
	for _, g := range s.Registry.Groups() {
		groups = append(groups, s.apiGroup(g))
	}
	groups = s.byGroupPriority(append(groups, s.extraDiscovery(false)...))
	apierrors.WriteJSON(w, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

// byGroupPriority sorts the groups of /apis, classic APIGroups or
// aggregated APIGroupDiscovery entries, by GroupPriority.
func (s *APIServer) byGroupPriority(groups []map[string]any) []map[string]any {
	if s.GroupPriority == nil {
		return groups
	}
	name := func(g map[string]any) string {
		if n, ok := g["name"].(string); ok {
			return n
		}
		meta, _ := g["metadata"].(map[string]any)
		n, _ := meta["name"].(string)
		return n
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := name(groups[i]), name(groups[j])
		if pa, pb := s.GroupPriority(a), s.GroupPriority(b); pa != pb {
			return pa > pb
		}
		return a < b
	})
	return groups
}

// serveAPIGroup answers /apis/{group}.
func (s *APIServer) serveAPIGroup(w http.ResponseWriter, r *http.Request, group string) {
	if len(s.Registry.Versions(group)) == 0 {
		apierrors.WriteError(w, apierrors.NewPathNotFound())
		return
	}
	apierrors.WriteJSON(w, http.StatusOK, s.apiGroup(group))
}

// serveResourceList answers /api/v1 and /apis/{group}/{version}.
func (s *APIServer) serveResourceList(w http.ResponseWriter, group, version string) {
	served := s.Registry.InGroupVersion(group, version)
	if len(served) == 0 {
		apierrors.WriteError(w, apierrors.NewPathNotFound())
		return
	}
	resources := []map[string]any{}
	for _, res := range served {
		resources = append(resources, withNames(res, map[string]any{
			"name":         res.Name,
			"singularName": res.Singular,
			"namespaced":   res.Namespaced,
			"kind":         res.Kind,
			"verbs":        res.Verbs,
		}))
		for _, sub := range subresources(res) {
			entry := map[string]any{"name": res.Name + "/" + sub.Name, "singularName": "",
				"namespaced": res.Namespaced, "kind": sub.Kind, "verbs": sub.Verbs}
			if sub.Group != res.Group || sub.Version != res.Version {
				entry["group"], entry["version"] = sub.Group, sub.Version
			}
			resources = append(resources, entry)
		}
	}
	apierrors.WriteJSON(w, http.StatusOK, map[string]any{
		"kind":         "APIResourceList",
		"apiVersion":   "v1",
		"groupVersion": served[0].GroupVersion(),
		"resources":    resources,
	})
}

// apiGroup is the classic APIGroup object; the first version is preferred.
func (s *APIServer) apiGroup(group string) map[string]any {
	versions := []map[string]any{}
	for _, v := range s.Registry.Versions(group) {
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
func (s *APIServer) groupDiscovery(group string) map[string]any {
	versions := []map[string]any{}
	for _, v := range s.Registry.Versions(group) {
		resources := []map[string]any{}
		for _, res := range s.Registry.InGroupVersion(group, v) {
			scope := "Cluster"
			if res.Namespaced {
				scope = "Namespaced"
			}
			responseKind := map[string]any{"group": res.Group, "version": res.Version, "kind": res.Kind}
			entry := withNames(res, map[string]any{
				"resource":         res.Name,
				"responseKind":     responseKind,
				"scope":            scope,
				"singularResource": res.Singular,
				"verbs":            res.Verbs,
			})
			var subs []map[string]any
			for _, sub := range subresources(res) {
				subs = append(subs, map[string]any{"subresource": sub.Name, "verbs": sub.Verbs,
					"responseKind": map[string]any{"group": sub.Group, "version": sub.Version, "kind": sub.Kind}})
			}
			if len(subs) > 0 {
				entry["subresources"] = subs
			}
			resources = append(resources, entry)
		}
		versions = append(versions, map[string]any{"version": v, "resources": resources, "freshness": "Current"})
	}
	return map[string]any{"metadata": map[string]any{"name": group}, "versions": versions}
}

// subresources lists what a resource serves below its objects: status and
// scale where the resource has them, and the ones its table names.
func subresources(res *registry.Resource) []registry.Subresource {
	var out []registry.Subresource
	verbs := []string{"get", "patch", "update"}
	if res.StatusSubresource {
		out = append(out, registry.Subresource{Name: "status", Group: res.Group, Version: res.Version, Kind: res.Kind, Verbs: verbs})
	}
	if res.ScaleSubresource {
		out = append(out, registry.Subresource{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: verbs})
	}
	return append(out, res.Subresources...)
}

// withNames adds shortNames and categories, which discovery leaves out when empty.
func withNames(res *registry.Resource, entry map[string]any) map[string]any {
	if len(res.ShortNames) > 0 {
		entry["shortNames"] = res.ShortNames
	}
	if len(res.Categories) > 0 {
		entry["categories"] = res.Categories
	}
	return entry
}

func writeAggregated(w http.ResponseWriter, groups []map[string]any) {
	w.Header().Set("Content-Type", aggregatedDiscoveryType)
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind":       "APIGroupDiscoveryList",
		"apiVersion": "apidiscovery.k8s.io/v2",
		"metadata":   map[string]any{},
		"items":      groups,
	})
}
