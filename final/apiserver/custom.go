// Custom resources come and go while the server runs, so their routes
// cannot be fixed at start-up: these match any group, version and resource,
// and ask the registry, per request, whether a CustomResourceDefinition
// serves it. The RequestInfo, resolved before routing, says what was asked.
package apiserver

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func (s *APIServer) customResourceRoutes(r *mux.Router) {
	served := r.MatcherFunc(s.servesCustomResource).Subrouter()
	verb := func(v VerbHandler) func(*registry.Resource) http.Handler {
		return func(res *registry.Resource) http.Handler { return s.handle(res, v) }
	}
	for _, scope := range []string{"/namespaces/{namespace}", ""} {
		collection := "/apis/{group}/{version}" + scope + "/{resource}"
		served.Handle(collection, s.customResource(s.handleList)).Methods(http.MethodGet)
		served.Handle(collection, s.customResource(verb(s.create))).Methods(http.MethodPost)
		served.Handle(collection, s.customResource(verb(s.deleteCollection))).Methods(http.MethodDelete)
		item := collection + "/{name}"
		for _, path := range []string{item, item + "/status"} {
			served.Handle(path, s.customResource(verb(s.get))).Methods(http.MethodGet)
			served.Handle(path, s.customResource(verb(s.update))).Methods(http.MethodPut)
			served.Handle(path, s.customResource(verb(s.patch))).Methods(http.MethodPatch)
		}
		served.Handle(item, s.customResource(verb(s.delete))).Methods(http.MethodDelete)
	}
}

// servesCustomResource says whether a CRD serves the request's resource in
// that scope: a namespaced resource inside a namespace or listed across all
// of them, a cluster-scoped one outside namespaces; status only where the
// version has it.
func (s *APIServer) servesCustomResource(r *http.Request, _ *mux.RouteMatch) bool {
	info := request.RequestInfoFrom(r.Context())
	if info.APIPrefix != "apis" {
		return false
	}
	res := s.Registry.LookupVersion(info.APIGroup, info.APIVersion, info.Resource)
	if res == nil || res.Custom == nil {
		return false
	}
	if info.Subresource != "" && (info.Subresource != "status" || !res.StatusSubresource) {
		return false
	}
	if res.Namespaced {
		return info.Namespace != "" || info.Name == ""
	}
	return info.Namespace == ""
}

// customResource looks the resource up again for the handler: the CRD may
// have changed since the matcher ran.
func (s *APIServer) customResource(handler func(*registry.Resource) http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		res := s.Registry.LookupVersion(vars["group"], vars["version"], vars["resource"])
		if res == nil || res.Custom == nil {
			apierrors.WriteError(w, apierrors.NewPathNotFound())
			return
		}
		handler(res).ServeHTTP(w, r)
	})
}
