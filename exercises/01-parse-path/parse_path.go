// Exercise 01: parse a resource path into a RequestInfo.
//
// Every request the API server receives is first turned into a RequestInfo:
// which API group and version it addresses, which namespace, which resource,
// which object, which subresource. Authorization, admission and storage all
// read that one record instead of looking at the URL again.
//
// Edit this file. The tests in parse_path_test.go are the specification;
// README.md explains the rules.
package parsepath

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

// ParsePath turns a URL path into a RequestInfo.
//
// A path that is not a resource path is not an error: it returns a
// RequestInfo with only Path set. A path that starts like a resource path but
// cannot be one (an empty segment, too many segments) is an error.
func ParsePath(path string) (RequestInfo, error) {
	// TODO: split the path into segments.
	// TODO: decide whether it is a resource path: /api/{version}/... or
	//       /apis/{group}/{version}/... with at least a resource after the version.
	// TODO: read the namespace, then resource, name and subresource.
	panic("Please implement ParsePath")
}
