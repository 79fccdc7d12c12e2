package apiserver

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// TestPlainRoutesAgreeWithPatterns: whenever resourceRouter.plain takes a
// request, the patterns would have taken it too, with the same handler and
// the same route variables; and it takes the usual requests.
func TestPlainRoutesAgreeWithPatterns(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })
	}
	served := func(h http.Handler) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Body.String()
	}
	s := &APIServer{}
	taken := map[string]string{} // method and path -> handler, for what plain took
	for _, res := range []*registry.Resource{
		{Version: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true},
		{Group: "apps", Version: "v1", Name: "deployments", Kind: "Deployment", Namespaced: true, StatusSubresource: true, ScaleSubresource: true},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "clusterroles", Kind: "ClusterRole"},
		{Version: "v1", Name: "namespaces", Kind: "Namespace", StatusSubresource: true},
	} {
		collection := map[string]http.Handler{http.MethodGet: named("list"), http.MethodPost: named("create"),
			http.MethodDelete: named("deletecollection")}
		item := map[string]http.Handler{http.MethodGet: named("get"), http.MethodPut: named("update"),
			http.MethodPatch: named("patch"), http.MethodDelete: named("delete")}
		rr := &resourceRouter{Router: mux.NewRouter().SkipClean(true), res: res, collection: collection, item: item}
		collectionPath := res.PathPrefix() + "/" + res.Name
		if res.Namespaced { // as Routes registers them
			rr.Handle(collectionPath, collection[http.MethodGet]).Methods(http.MethodGet)
			collectionPath = res.PathPrefix() + "/namespaces/{namespace}/" + res.Name
		}
		s.resourceRoutes(rr.Router, res, collectionPath, collection, item)

		base := res.PathPrefix()
		paths := []string{
			base + "/" + res.Name, base + "/" + res.Name + "/a", base + "/" + res.Name + "/a/status",
			base + "/" + res.Name + "/", base + "/" + res.Name + "//a", base + "/" + res.Name + "/..",
			base + "/namespaces/ns/" + res.Name, base + "/namespaces/ns/" + res.Name + "/a",
			base + "/namespaces/ns/" + res.Name + "/a/scale", base + "/namespaces/ns/" + res.Name + "/a/b",
			base + "/namespaces//" + res.Name + "/a", base + "/namespaces/ns/" + res.Name + "/a/",
			base + "/namespaces/ns", base + "/namespaces/ns/status",
		}
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "PROPFIND"} {
			for _, path := range paths {
				req := httptest.NewRequest(method, "/", nil)
				req.URL.Path = path
				h, vars := rr.plain(req, request.Resolve(req))
				if h == nil {
					continue // left to the patterns
				}
				var m mux.RouteMatch
				if !rr.Match(req, &m) || m.MatchErr != nil {
					t.Errorf("%s %s: plain took it, the patterns do not (%v)", method, path, m.MatchErr)
					continue
				}
				if got, want := served(h), served(m.Handler); got != want || !maps.Equal(vars, m.Vars) {
					t.Errorf("%s %s: plain gives %s %v, the patterns %s %v", method, path, got, vars, want, m.Vars)
				}
				taken[method+" "+path] = served(h)
			}
		}
	}
	for request, want := range map[string]string{
		"GET /api/v1/namespaces/ns/configmaps/a":                   "get",
		"GET /api/v1/configmaps":                                   "list",
		"POST /api/v1/namespaces/ns/configmaps":                    "create",
		"PUT /apis/apps/v1/namespaces/ns/deployments/a":            "update",
		"DELETE /apis/rbac.authorization.k8s.io/v1/clusterroles/a": "delete",
		"PATCH /api/v1/namespaces/ns":                              "patch",
	} {
		if taken[request] != want {
			t.Errorf("%s: plain took it as %q, want %q", request, taken[request], want)
		}
	}
	for _, left := range []string{"POST /api/v1/configmaps", "GET /api/v1/configmaps/a", "GET /apis/apps/v1/namespaces/ns/deployments/a/scale",
		"HEAD /api/v1/namespaces/ns/configmaps/a", "GET /api/v1/namespaces/ns/configmaps/a/"} {
		if got, ok := taken[left]; ok {
			t.Errorf("%s: plain took it as %q; it is the patterns' to decide", left, got)
		}
	}
}
