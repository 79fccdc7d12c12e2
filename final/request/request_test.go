package request

import (
	"context"
	"net/http/httptest"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		method, target string
		want           RequestInfo
	}{
		{"GET", "/healthz", RequestInfo{Path: "/healthz", Verb: "get"}},
		{"GET", "/apis/batch/v1", RequestInfo{Path: "/apis/batch/v1", Verb: "get"}},
		{"GET", "/api/v1/pods", RequestInfo{IsResourceRequest: true, Path: "/api/v1/pods", Verb: "list", APIPrefix: "api", APIVersion: "v1", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", RequestInfo{IsResourceRequest: true, Path: "/api/v1/namespaces/default/pods", Verb: "watch", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"POST", "/api/v1/namespaces/default/serviceaccounts/builder/token", RequestInfo{IsResourceRequest: true, Path: "/api/v1/namespaces/default/serviceaccounts/builder/token", Verb: "create", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "serviceaccounts", Name: "builder", Subresource: "token"}},
		{"GET", "/api/v1/namespaces/kube-system", RequestInfo{IsResourceRequest: true, Path: "/api/v1/namespaces/kube-system", Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system"}},
		{"PUT", "/api/v1/namespaces/gone/finalize", RequestInfo{IsResourceRequest: true, Path: "/api/v1/namespaces/gone/finalize", Verb: "update", APIPrefix: "api", APIVersion: "v1", Namespace: "gone", Resource: "namespaces", Name: "gone", Subresource: "finalize"}},
		{"DELETE", "/apis/example.com/v1/namespaces/ns/widgets", RequestInfo{IsResourceRequest: true, Path: "/apis/example.com/v1/namespaces/ns/widgets", Verb: "deletecollection", APIPrefix: "apis", APIGroup: "example.com", APIVersion: "v1", Namespace: "ns", Resource: "widgets"}},
		{"PROPFIND", "/api/v1/namespaces/default/pods", RequestInfo{IsResourceRequest: true, Path: "/api/v1/namespaces/default/pods", APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"PATCH", "/apis/example.com/v1/namespaces/ns/widgets/w/status", RequestInfo{IsResourceRequest: true, Path: "/apis/example.com/v1/namespaces/ns/widgets/w/status", Verb: "patch", APIPrefix: "apis", APIGroup: "example.com", APIVersion: "v1", Namespace: "ns", Resource: "widgets", Name: "w", Subresource: "status"}},
	}
	for _, tt := range tests {
		got := Resolve(httptest.NewRequest(tt.method, tt.target, nil))
		if got != tt.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", tt.method, tt.target, got, tt.want)
		}
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if UserFrom(ctx) != nil || RequestInfoFrom(ctx) != (RequestInfo{}) {
		t.Fatal("an empty context carries something")
	}
	u := &User{Name: "alice", Groups: []string{GroupAuthenticated}}
	ctx = WithRequestInfo(WithUser(ctx, u), RequestInfo{Verb: "get", Path: "/version"})
	if UserFrom(ctx) != u || RequestInfoFrom(ctx).Path != "/version" {
		t.Errorf("got %+v %+v", UserFrom(ctx), RequestInfoFrom(ctx))
	}
}
