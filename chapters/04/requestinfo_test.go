package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Each row is what kube-apiserver's RequestInfoFactory makes of the request.
func TestResolveRequestInfo(t *testing.T) {
	cases := []struct {
		method, url string
		want        requestInfo
	}{
		// Core group, namespaced: list vs get is decided by the name.
		{"GET", "/api/v1/namespaces/default/pods",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods/web",
			requestInfo{IsResourceRequest: true, Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "web"}},
		{"HEAD", "/api/v1/namespaces/default/pods/web",
			requestInfo{IsResourceRequest: true, Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "web"}},
		{"GET", "/api/v1/pods",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "api", APIVersion: "v1", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods/",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},

		// watch=true and watch=1 turn a list into a watch; anything else does not.
		{"GET", "/api/v1/namespaces/default/pods?watch=true",
			requestInfo{IsResourceRequest: true, Verb: "watch", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/pods?watch=1",
			requestInfo{IsResourceRequest: true, Verb: "watch", APIPrefix: "api", APIVersion: "v1", Resource: "pods"}},
		{"GET", "/api/v1/pods?watch=false",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "api", APIVersion: "v1", Resource: "pods"}},

		// Writes.
		{"POST", "/api/v1/namespaces/default/configmaps",
			requestInfo{IsResourceRequest: true, Verb: "create", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "configmaps"}},
		{"PUT", "/api/v1/namespaces/default/configmaps/settings",
			requestInfo{IsResourceRequest: true, Verb: "update", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "configmaps", Name: "settings"}},
		{"PATCH", "/api/v1/namespaces/default/configmaps/settings",
			requestInfo{IsResourceRequest: true, Verb: "patch", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "configmaps", Name: "settings"}},
		{"DELETE", "/api/v1/namespaces/default/configmaps/settings",
			requestInfo{IsResourceRequest: true, Verb: "delete", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "configmaps", Name: "settings"}},
		{"DELETE", "/api/v1/namespaces/default/configmaps",
			requestInfo{IsResourceRequest: true, Verb: "deletecollection", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "configmaps"}},

		// A namespace is itself a resource, and in itself.
		{"GET", "/api/v1/namespaces",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "api", APIVersion: "v1", Resource: "namespaces"}},
		{"GET", "/api/v1/namespaces/foo",
			requestInfo{IsResourceRequest: true, Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "foo", Resource: "namespaces", Name: "foo"}},
		{"DELETE", "/api/v1/namespaces/foo",
			requestInfo{IsResourceRequest: true, Verb: "delete", APIPrefix: "api", APIVersion: "v1", Namespace: "foo", Resource: "namespaces", Name: "foo"}},
		{"PUT", "/api/v1/namespaces/foo/status",
			requestInfo{IsResourceRequest: true, Verb: "update", APIPrefix: "api", APIVersion: "v1", Namespace: "foo", Resource: "namespaces", Name: "foo", Subresource: "status"}},
		{"PUT", "/api/v1/namespaces/foo/finalize",
			requestInfo{IsResourceRequest: true, Verb: "update", APIPrefix: "api", APIVersion: "v1", Namespace: "foo", Resource: "namespaces", Name: "foo", Subresource: "finalize"}},

		// Subresources of namespaced objects.
		{"GET", "/api/v1/namespaces/foo/pods/bar/log",
			requestInfo{IsResourceRequest: true, Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "foo", Resource: "pods", Name: "bar", Subresource: "log"}},
		{"POST", "/api/v1/namespaces/default/serviceaccounts/builder/token",
			requestInfo{IsResourceRequest: true, Verb: "create", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "serviceaccounts", Name: "builder", Subresource: "token"}},

		// Named API groups.
		{"GET", "/apis/batch/v1/jobs",
			requestInfo{IsResourceRequest: true, Verb: "list", APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Resource: "jobs"}},
		{"GET", "/apis/batch/v1/namespaces/ci/jobs/nightly",
			requestInfo{IsResourceRequest: true, Verb: "get", APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Namespace: "ci", Resource: "jobs", Name: "nightly"}},
		{"POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
			requestInfo{IsResourceRequest: true, Verb: "create", APIPrefix: "apis", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Resource: "clusterroles"}},
		{"DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader",
			requestInfo{IsResourceRequest: true, Verb: "delete", APIPrefix: "apis", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Resource: "clusterroles", Name: "reader"}},

		// Non-resource requests: the verb is the lowercase method.
		{"GET", "/healthz", requestInfo{Verb: "get"}},
		{"GET", "/version", requestInfo{Verb: "get"}},
		{"GET", "/", requestInfo{Verb: "get"}},
		{"GET", "/api", requestInfo{Verb: "get"}},
		{"GET", "/api/v1", requestInfo{Verb: "get"}},
		{"GET", "/apis", requestInfo{Verb: "get"}},
		{"GET", "/apis/batch", requestInfo{Verb: "get"}},
		{"GET", "/apis/batch/v1", requestInfo{Verb: "get"}},
		{"GET", "/openapi/v3/apis/batch/v1", requestInfo{Verb: "get"}},
		{"POST", "/healthz", requestInfo{Verb: "post"}},
		{"DELETE", "/metrics", requestInfo{Verb: "delete"}},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.url, nil)
			c.want.Path = r.URL.Path
			if got := resolveRequestInfo(r); got != c.want {
				t.Errorf("\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// The filter resolves the RequestInfo once and hands it on in the context.
func TestRequestInfoFilter(t *testing.T) {
	var got requestInfo
	h := withRequestInfoFilter(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = requestInfoFrom(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/apis/batch/v1/namespaces/ci/jobs?watch=1", nil))
	want := requestInfo{IsResourceRequest: true, Path: "/apis/batch/v1/namespaces/ci/jobs", Verb: "watch",
		APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Namespace: "ci", Resource: "jobs"}
	if got != want {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}
