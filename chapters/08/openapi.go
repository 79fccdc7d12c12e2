// A minimal OpenAPI v3 document. kubectl reads /openapi/v3 before create and
// apply to learn whether the server checks fields itself (the fieldValidation
// query parameter on each kind's PATCH operation). When it finds that, it
// leaves validation to the server; when it finds no document at all, it
// refuses to send the object. This server describes its paths and parameters
// but no schemas, so kubectl computes apply patches from its built-in types.
package main

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// serveOpenAPIIndex answers /openapi/v3: one entry per group version.
func (s *server) serveOpenAPIIndex(w http.ResponseWriter, _ *http.Request) {
	paths := map[string]any{}
	for _, res := range s.registry.all() {
		if res.virtual {
			continue
		}
		gv := strings.TrimPrefix(res.pathPrefix(), "/")
		paths[gv] = map[string]any{"serverRelativeURL": "/openapi/v3/" + gv}
	}
	writeJSON(w, http.StatusOK, map[string]any{"paths": paths})
}

// serveOpenAPIGroupVersion answers /openapi/v3/api/v1 and /openapi/v3/apis/{group}/{version}.
func (s *server) serveOpenAPIGroupVersion(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	paths, schemas := map[string]any{}, map[string]any{}
	for _, res := range s.registry.inGroupVersion(vars["group"], vars["version"]) {
		if res.virtual {
			continue
		}
		if res.custom != nil {
			schemas[schemaName(res)] = customSchema(res)
		}
		item := res.pathPrefix() + "/" + res.name + "/{name}"
		if res.namespaced {
			item = res.pathPrefix() + "/namespaces/{namespace}/" + res.name + "/{name}"
		}
		paths[item] = map[string]any{"patch": map[string]any{
			"x-kubernetes-group-version-kind": map[string]any{"group": res.group, "version": res.version, "kind": res.kind},
			"parameters": []map[string]any{
				{"name": "fieldValidation", "in": "query", "schema": map[string]any{"type": "string"}},
			},
		}}
	}
	if len(paths) == 0 {
		writeError(w, errPathNotFound())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]any{"title": "Kubernetes", "version": "v1.37.0"},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	})
}

// schemaName is the name Kubernetes gives a kind's schema: the group
// reversed, the version, the kind ("com.example.v1.Widget").
func schemaName(res *resource) string {
	parts := strings.Split(res.group, ".")
	slices.Reverse(parts)
	return strings.Join(parts, ".") + "." + res.version + "." + res.kind
}

// customSchema is a CRD version's schema as kubectl explain reads it: the
// CRD's openAPIV3Schema, with apiVersion, kind and metadata described and
// the kind it belongs to named.
func customSchema(res *resource) map[string]any {
	schema, _ := deepCopy(res.custom.rawSchema).(map[string]any)
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
	schema["x-kubernetes-group-version-kind"] = []any{map[string]any{"group": res.group, "version": res.version, "kind": res.kind}}
	return schema
}
