package request

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzResolve reads RequestInfos out of arbitrary methods and request
// targets. Authorization decides on what Resolve returns, so besides not
// panicking it must never name a namespace, resource, name or subresource
// holding a "/" (a path segment that spans two would let a request be
// authorized for one object and served another), and a resource request
// must carry one of the verbs authorizers know.
func FuzzResolve(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET", "/api/v1/namespaces/default/pods"},
		{"GET", "/api/v1/namespaces/default/pods?watch=true"},
		{"GET", "/api/v1/namespaces/default/pods?watch=1&labelSelector=a%3Db"},
		{"POST", "/api/v1/namespaces/default/serviceaccounts/builder/token"},
		{"PUT", "/api/v1/namespaces/gone/finalize"},
		{"DELETE", "/apis/example.com/v1/namespaces/ns/widgets"},
		{"PATCH", "/apis/example.com/v1/namespaces/ns/widgets/w/status"},
		{"GET", "/api/v1/namespaces/a%2Fb/pods/c%2Fd"},
		{"GET", "/api/v1/namespaces//pods"},
		{"GET", "//api//v1//namespaces"},
		{"GET", "/api/v1/namespaces/./pods/.."},
		{"PROPFIND", "/apis/apps/v1/deployments"},
		{"HEAD", "/api/v1/namespaces/x/configmaps/y/z/w"},
		{"GET", "/healthz"},
		{"GET", "/api/v1/namespaces/x%00/pods"},
	} {
		f.Add(seed[0], seed[1])
	}
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		info := Resolve(r)
		for _, part := range []string{info.Namespace, info.Resource, info.Name, info.Subresource, info.APIGroup, info.APIVersion} {
			if strings.Contains(part, "/") {
				t.Fatalf("%s %q: a part of %+v holds a slash", method, target, info)
			}
		}
		if info.Path != u.Path {
			t.Fatalf("%s %q: Path %q, want %q", method, target, info.Path, u.Path)
		}
		if !info.IsResourceRequest {
			if info.Resource != "" || info.Namespace != "" || info.Name != "" {
				t.Fatalf("%s %q: a non-resource request names a resource: %+v", method, target, info)
			}
			return
		}
		if info.APIPrefix != "api" && info.APIPrefix != "apis" {
			t.Fatalf("%s %q: APIPrefix %q", method, target, info.APIPrefix)
		}
		known := slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, method)
		if known && !slices.Contains(verbs, info.Verb) {
			t.Fatalf("%s %q: verb %q", method, target, info.Verb)
		}
		if !known && info.Verb != "" {
			t.Fatalf("%s %q: verb %q for a method that has none", method, target, info.Verb)
		}
	})
}
