// RequestInfo: what a request asks to do, read once from its method and URL
// and then used by authorization (and, later, admission and audit). For
// resource requests that is a verb on a resource in an API group, maybe in a
// namespace, maybe on one named object or a subresource; anything else is a
// non-resource request: a verb on a path.
package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// requestInfo mirrors k8s.io/apiserver's request.RequestInfo.
type requestInfo struct {
	IsResourceRequest bool
	Path              string
	Verb              string // get, list, watch, create, update, patch, delete, deletecollection; or the lowercase method
	APIPrefix         string // "api" or "apis"
	APIGroup          string
	APIVersion        string
	Namespace         string
	Resource          string
	Subresource       string
	Name              string
}

// Subresources of a namespace that are not resources inside it.
var namespaceSubresources = []string{"status", "finalize"}

// resolveRequestInfo follows kube-apiserver's RequestInfoFactory.
func resolveRequestInfo(r *http.Request) requestInfo {
	info := requestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.APIPrefix, info.APIVersion, parts = "api", parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.APIPrefix, info.APIGroup, info.APIVersion, parts = "apis", parts[1], parts[2], parts[3:]
	default:
		return info // /healthz, /version, /api, /apis/batch/v1 (discovery), ...
	}
	info.IsResourceRequest = true
	switch r.Method {
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodGet, http.MethodHead:
		info.Verb = "get"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
	}

	// /namespaces/{ns}/{resource}/... names a namespace and then a resource
	// in it; /namespaces/{ns} and /namespaces/{ns}/status are the namespace itself.
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !slices.Contains(namespaceSubresources, parts[2]) {
			parts = parts[2:]
		}
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}

	// A GET or DELETE without a name acts on the collection.
	if info.Name == "" {
		switch info.Verb {
		case "get":
			info.Verb = "list"
			if w := r.URL.Query().Get("watch"); w == "true" || w == "1" {
				info.Verb = "watch"
			}
		case "delete":
			info.Verb = "deletecollection"
		}
	}
	return info
}

// The RequestInfo travels in the request's context, next to the user.
type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, info requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

func requestInfoFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return info
}
