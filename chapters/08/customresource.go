// Custom resources: the objects of a CustomResourceDefinition. They go
// through the same generic handler as pods; what differs is here: routes
// that ask the registry on every request (CRDs come and go while the server
// runs), the move between a served version and the storage version, and the
// CRD's schema: unknown fields dropped (or refused, with
// fieldValidation=Strict), defaults filled in, values validated.
package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// customResource is what a registry entry of a CRD version carries.
type customResource struct {
	schema         *jsonSchemaProps // the version's openAPIV3Schema
	rawSchema      any              // the same, as the CRD holds it (for /openapi/v3)
	storageVersion string           // the version objects are stored in
	storageSchema  *jsonSchemaProps // and its schema
	listKind       string
}

// customResourceRoutes serves every custom resource with the generic
// handler. The paths match any group, version and resource; the matcher asks
// the registry, per request, whether a CRD serves that one.
func (s *server) customResourceRoutes(r *mux.Router) {
	served := r.MatcherFunc(s.servesCustomResource).Subrouter()
	verb := func(v verbHandler) func(*resource) http.Handler {
		return func(res *resource) http.Handler { return s.handle(res, v) }
	}
	for _, scope := range []string{"/namespaces/{namespace}", ""} {
		collection := "/apis/{group}/{version}" + scope + "/{resource}"
		served.Handle(collection, s.customResource(s.handleList)).Methods(http.MethodGet)
		served.Handle(collection, s.customResource(verb(s.create))).Methods(http.MethodPost)
		item := collection + "/{name}"
		for _, path := range []string{item, item + "/status"} {
			served.Handle(path, s.customResource(verb(s.get))).Methods(http.MethodGet)
			served.Handle(path, s.customResource(verb(s.update))).Methods(http.MethodPut)
			served.Handle(path, s.customResource(verb(s.patch))).Methods(http.MethodPatch)
		}
		served.Handle(item, s.customResource(verb(s.delete))).Methods(http.MethodDelete)
	}
}

// servesCustomResource reads the RequestInfo (resolved before routing) and
// says whether a CRD serves its resource, in that scope: a namespaced
// resource inside a namespace or listed across all of them, a cluster-scoped
// one outside namespaces; status only where the version has it.
func (s *server) servesCustomResource(r *http.Request, _ *mux.RouteMatch) bool {
	info := requestInfoFrom(r.Context())
	res := s.registry.lookupVersion(info.APIGroup, info.APIVersion, info.Resource)
	if res == nil || res.custom == nil || info.APIPrefix != "apis" {
		return false
	}
	if info.Subresource != "" && (info.Subresource != "status" || !res.statusSubresource) {
		return false
	}
	if res.namespaced {
		return info.Namespace != "" || info.Name == ""
	}
	return info.Namespace == ""
}

// customResource looks the resource up again for the handler: the CRD may
// have changed since the matcher ran.
func (s *server) customResource(handler func(*resource) http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		res := s.registry.lookupVersion(vars["group"], vars["version"], vars["resource"])
		if res == nil || res.custom == nil {
			writeError(w, errPathNotFound())
			return
		}
		handler(res).ServeHTTP(w, r)
	})
}

// present turns a stored object into what a client of this version reads:
// the version's apiVersion (conversion strategy None changes nothing else),
// fields its schema does not know dropped, its defaults filled in. Kubernetes
// prunes and defaults on every read, so a schema change shows at once. The
// result is a copy: the stored object may also be in a watch event, which
// every watcher reads at the same time.
func present(res *resource, obj object) object {
	if res.custom == nil || obj == nil {
		return obj
	}
	obj = deepCopy(map[string]any(obj)).(map[string]any)
	obj["apiVersion"] = res.groupVersion()
	res.custom.schema.prune(map[string]any(obj), "", true)
	res.custom.schema.applyDefaults(map[string]any(obj))
	return obj
}

// toStorage puts an object in the storage version, as it is written: what
// that version's schema does not know is not stored.
func toStorage(res *resource, obj object) object {
	if res.custom != nil {
		obj["apiVersion"] = res.group + "/" + res.custom.storageVersion
		if res.custom.storageSchema != nil {
			res.custom.storageSchema.prune(map[string]any(obj), "", true)
		}
	}
	return obj
}

// checkFieldValidation applies the fieldValidation parameter to the fields of
// obj its schema does not know: Strict refuses them (400), Warn (the
// default) drops them with a warning each, Ignore drops them silently.
// Built-in resources are stored as sent, so for them only the parameter
// itself is checked.
func checkFieldValidation(r *http.Request, res *resource, obj object) error {
	directive := r.URL.Query().Get("fieldValidation")
	switch directive {
	case "", "Ignore", "Warn", "Strict":
	default:
		options := map[string]string{http.MethodPost: "CreateOptions", http.MethodPut: "UpdateOptions", http.MethodPatch: "PatchOptions"}[r.Method]
		return &statusError{http.StatusUnprocessableEntity, "Invalid",
			fmt.Sprintf(`%s.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: %q: supported values: "", "Ignore", "Strict", "Warn"`, options, directive), nil}
	}
	if res.custom == nil || directive == "Ignore" {
		return nil
	}
	unknown := res.custom.schema.prune(deepCopy(map[string]any(obj)), "", true)
	if len(unknown) == 0 {
		return nil
	}
	if directive == "Strict" {
		quoted := make([]string, len(unknown))
		for i, f := range unknown {
			quoted[i] = fmt.Sprintf("unknown field %q", f)
		}
		return errBadRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s",
			res.kind, res.version, res.kind, strings.Join(quoted, ", "))
	}
	for _, f := range unknown {
		addWarning(r.Context(), fmt.Sprintf("unknown field %q", f))
	}
	return nil
}

// Warnings travel in the request's context to the response's Warning
// headers, which kubectl prints as "Warning: ...".
type warningsKey struct{}

func withWarnings(ctx context.Context) (context.Context, *[]string) {
	list := &[]string{}
	return context.WithValue(ctx, warningsKey{}, list), list
}

func addWarning(ctx context.Context, message string) {
	if list, ok := ctx.Value(warningsKey{}).(*[]string); ok {
		*list = append(*list, message)
	}
}

func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}
