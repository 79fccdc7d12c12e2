// Package request holds what the server learns about a request before it
// serves it, and carries it in the request's context: the RequestInfo (what
// is asked: a verb on a resource, or on a non-resource path) and the User
// (who asks). k8s.io/apiserver keeps the same two in
// pkg/endpoints/request (requestinfo.go, context.go) and pkg/authentication/user.
package request

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// RequestInfo mirrors k8s.io/apiserver's request.RequestInfo.
type RequestInfo struct {
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

// Resolve reads a request's RequestInfo, as kube-apiserver's RequestInfoFactory does.
func Resolve(r *http.Request) RequestInfo {
	info := RequestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
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
	default:
		// No verb for other methods (PROPFIND, "DeLETE"): as in Kubernetes,
		// only a rule for every verb ("*") allows them, and no route serves them.
		info.Verb = ""
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

type requestInfoKey struct{}

// WithRequestInfo returns a context carrying the RequestInfo.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo of the context (zero if none).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// User is the authenticated user, as k8s.io/apiserver's user.Info.
type User struct {
	Name   string              `json:"username"`
	UID    string              `json:"uid,omitempty"`
	Groups []string            `json:"groups,omitempty"`
	Extra  map[string][]string `json:"extra,omitempty"`
}

// Every authenticated user is also in system:authenticated; anonymous
// requests are system:anonymous in system:unauthenticated.
const (
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupMasters         = "system:masters"
	UserAnonymous        = "system:anonymous"
)

type userKey struct{}

// WithUser returns a context carrying the user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user of the context, nil if none.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
