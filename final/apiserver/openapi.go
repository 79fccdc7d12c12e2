// A minimal OpenAPI v3 document. kubectl reads /openapi/v3 before create and
// apply to learn whether the server checks fields itself (the fieldValidation
// query parameter on each kind's PATCH operation). When it finds that, it
// leaves validation to the server; when it finds no document at all, it
// refuses to send the object. This server describes its paths and
// parameters, and the schemas of custom resources (kubectl explain reads
// them); kubectl computes apply patches for built-in kinds from its own types.
package apiserver

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func (s *APIServer) openAPIRoutes(r *mux.Router) {
	r.HandleFunc("/openapi/v3", s.serveOpenAPIIndex).Methods(http.MethodGet)
	r.HandleFunc("/openapi/v3/api/{version}", s.serveOpenAPIGroupVersion).Methods(http.MethodGet)
	r.HandleFunc("/openapi/v3/apis/{group}/{version}", s.serveOpenAPIGroupVersion).Methods(http.MethodGet)
}

// extraOpenAPIPaths are the index entries of documents others serve.
func (s *APIServer) extraOpenAPIPaths() map[string]any {
	if s.ExtraOpenAPIPaths == nil {
		return map[string]any{}
	}
	return s.ExtraOpenAPIPaths()
}

// serveOpenAPIIndex answers /openapi/v3: one entry per group version.
func (s *APIServer) serveOpenAPIIndex(w http.ResponseWriter, _ *http.Request) {
	paths := s.extraOpenAPIPaths()
	for _, res := range s.Registry.All() {
		if res.Virtual {
			continue
		}
		gv := strings.TrimPrefix(res.PathPrefix(), "/")
		paths[gv] = map[string]any{"serverRelativeURL": "/openapi/v3/" + gv}
	}
	apierrors.WriteJSON(w, http.StatusOK, map[string]any{"paths": paths})
}

// serveOpenAPIGroupVersion answers /openapi/v3/api/v1 and /openapi/v3/apis/{group}/{version}.
func (s *APIServer) serveOpenAPIGroupVersion(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	paths, schemas := map[string]any{}, map[string]any{}
	for _, res := range s.Registry.InGroupVersion(vars["group"], vars["version"]) {
		if res.Virtual {
			continue
		}
		if custom, ok := res.Custom.(CustomResource); ok {
			schemas[schemaName(res)] = customSchema(res, custom)
		}
		item := res.PathPrefix() + "/" + res.Name + "/{name}"
		if res.Namespaced {
			item = res.PathPrefix() + "/namespaces/{namespace}/" + res.Name + "/{name}"
		}
		paths[item] = map[string]any{"patch": map[string]any{
			"x-kubernetes-group-version-kind": map[string]any{"group": res.Group, "version": res.Version, "kind": res.Kind},
			"parameters": []map[string]any{
				{"name": "fieldValidation", "in": "query", "schema": map[string]any{"type": "string"}},
			},
		}}
	}
	if len(paths) == 0 {
		apierrors.WriteError(w, apierrors.NewPathNotFound())
		return
	}
	apierrors.WriteJSON(w, http.StatusOK, map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]any{"title": "Kubernetes", "version": "v1.37.0"},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	})
}

// schemaName is the name Kubernetes gives a kind's schema: the group
// reversed, the version, the kind ("com.example.v1.Widget").
func schemaName(res *registry.Resource) string {
	parts := strings.Split(res.Group, ".")
	slices.Reverse(parts)
	return strings.Join(parts, ".") + "." + res.Version + "." + res.Kind
}

// customSchema is a CRD version's schema as kubectl explain reads it: the
// CRD's openAPIV3Schema, with apiVersion, kind and metadata described and
// the kind it belongs to named.
func customSchema(res *registry.Resource, custom CustomResource) map[string]any {
	schema := custom.OpenAPISchema()
	if schema == nil {
		schema = map[string]any{"type": "object"}
	}
	properties, _ := schema["properties"].(map[string]any)
	if properties == nil {
		properties = map[string]any{}
		schema["properties"] = properties
	}
	properties["apiVersion"] = map[string]any{"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}
	properties["kind"] = map[string]any{"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}
	properties["metadata"] = map[string]any{"type": "object", "description": "Standard object's metadata."}
	schema["x-kubernetes-group-version-kind"] = []any{map[string]any{"group": res.Group, "version": res.Version, "kind": res.Kind}}
	return schema
}
