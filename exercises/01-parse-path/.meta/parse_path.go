// Exercise 01, reference solution. Do not read this before you have tried:
// the exercise is the thinking, not the typing.
package parsepath

import (
	"fmt"
	"slices"
	"strings"
)

// RequestInfo is what a URL path says about the request. It mirrors the
// RequestInfo struct of k8s.io/apiserver/pkg/endpoints/request, without the
// verb (chapter 04 adds it).
type RequestInfo struct {
	// Path is the path the RequestInfo was parsed from, unchanged.
	Path string
	// IsResourceRequest is true for paths that name a resource, like
	// /api/v1/pods, and false for everything else: /healthz, /version,
	// /api, /apis, /apis/batch/v1, ...
	IsResourceRequest bool

	APIPrefix  string // "api" for the core group, "apis" for named groups
	APIGroup   string // "" for the core group, "batch" for /apis/batch/v1/...
	APIVersion string // "v1"

	Namespace   string // "" for cluster-wide paths
	Resource    string // the plural in the URL: "pods", never the kind
	Name        string // "" for a collection
	Subresource string // "status" in /api/v1/namespaces/default/pods/nginx/status
}

// namespaceSubresources are the subresources of a Namespace object. They let
// /namespaces/{name}/status mean "the status of that namespace" rather than
// "the resources called status in that namespace".
var namespaceSubresources = []string{"status", "finalize"}

// ParsePath turns a URL path into a RequestInfo.
//
// A path that is not a resource path is not an error: it returns a
// RequestInfo with only Path set. A path that starts like a resource path but
// cannot be one (an empty segment, too many segments) is an error.
func ParsePath(path string) (RequestInfo, error) {
	info := RequestInfo{Path: path}
	segments := strings.Split(strings.Trim(path, "/"), "/")
	parts := segments

	// The shortest resource paths are /api/v1/pods and /apis/batch/v1/jobs;
	// anything shorter is discovery, health or version.
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.APIPrefix, info.APIVersion = "api", parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.APIPrefix, info.APIGroup, info.APIVersion = "apis", parts[1], parts[2]
		parts = parts[3:]
	default:
		return RequestInfo{Path: path}, nil
	}
	if slices.Contains(segments, "") {
		return RequestInfo{}, fmt.Errorf("invalid resource path %q: empty segment", path)
	}

	// /namespaces/{namespace}/{resource}/... is a namespaced path, but
	// /namespaces, /namespaces/{name} and /namespaces/{name}/status address
	// the Namespace objects themselves. Then the namespace is the object's
	// own name, as in Kubernetes.
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !slices.Contains(namespaceSubresources, parts[2]) {
			parts = parts[2:]
		}
	}

	// What is left is {resource}[/{name}[/{subresource}]].
	if len(parts) > 3 {
		return RequestInfo{}, fmt.Errorf("invalid resource path %q: too many segments after %q", path, parts[0])
	}
	info.IsResourceRequest = true
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	return info, nil
}
