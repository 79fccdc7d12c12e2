package parsepath

import "testing"

func TestResourcePaths(t *testing.T) {
	tests := []struct {
		path string
		want RequestInfo
	}{
		// The core group lives under /api, without a group segment.
		{"/api/v1/pods", RequestInfo{APIPrefix: "api", APIVersion: "v1", Resource: "pods"}},
		{"/api/v1/namespaces/default/pods", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"/api/v1/namespaces/default/pods/nginx", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "nginx"}},
		{"/api/v1/namespaces/default/pods/nginx/status", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "nginx", Subresource: "status"}},
		// The parser does not know which resources are namespaced: that is
		// the router's business. A name without a namespace is still parsed.
		{"/api/v1/pods/nginx", RequestInfo{APIPrefix: "api", APIVersion: "v1", Resource: "pods", Name: "nginx"}},
		{"/api/v1/nodes/node-1/status", RequestInfo{APIPrefix: "api", APIVersion: "v1", Resource: "nodes", Name: "node-1", Subresource: "status"}},
		// Slashes at either end do not matter, as in Kubernetes.
		{"/api/v1/namespaces/default/pods/", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "default", Resource: "pods"}},

		// Named groups live under /apis/{group}/{version}.
		{"/apis/batch/v1/jobs", RequestInfo{APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Resource: "jobs"}},
		{"/apis/batch/v1/namespaces/ns/jobs", RequestInfo{APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Namespace: "ns", Resource: "jobs"}},
		{"/apis/batch/v1/namespaces/ns/jobs/pi", RequestInfo{APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Namespace: "ns", Resource: "jobs", Name: "pi"}},
		{"/apis/batch/v1/namespaces/ns/jobs/pi/status", RequestInfo{APIPrefix: "apis", APIGroup: "batch", APIVersion: "v1", Namespace: "ns", Resource: "jobs", Name: "pi", Subresource: "status"}},
		{"/apis/apps/v1/namespaces/default/deployments/web/scale", RequestInfo{APIPrefix: "apis", APIGroup: "apps", APIVersion: "v1", Namespace: "default", Resource: "deployments", Name: "web", Subresource: "scale"}},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", RequestInfo{APIPrefix: "apis", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Resource: "clusterroles", Name: "admin"}},

		// The namespaces resource itself. A Namespace object's own name is
		// also its namespace, so that a Role in kube-system can grant access
		// to the kube-system Namespace object.
		{"/api/v1/namespaces", RequestInfo{APIPrefix: "api", APIVersion: "v1", Resource: "namespaces"}},
		{"/api/v1/namespaces/kube-system", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system"}},
		{"/api/v1/namespaces/kube-system/status", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system", Subresource: "status"}},
		{"/api/v1/namespaces/kube-system/finalize", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system", Subresource: "finalize"}},
		// ... but any other word after a namespace's name is a resource in it.
		{"/api/v1/namespaces/kube-system/configmaps", RequestInfo{APIPrefix: "api", APIVersion: "v1", Namespace: "kube-system", Resource: "configmaps"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			tt.want.Path = tt.path
			tt.want.IsResourceRequest = true
			got, err := ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath(%q) returned error %v, want %+v", tt.path, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParsePath(%q)\n got: %+v\nwant: %+v", tt.path, got, tt.want)
			}
		})
	}
}

// Paths that do not name a resource are not errors: discovery, health,
// version and OpenAPI are served too. Only Path is set.
func TestNonResourcePaths(t *testing.T) {
	paths := []string{
		"",
		"/",
		"/healthz",
		"/livez/ping",
		"/version",
		"/metrics",
		"/api",
		"/api/v1",
		"/api/v1/",
		"/apis",
		"/apis/batch",
		"/apis/batch/v1",
		"/apis/batch/v1/",
		"/openapi/v3",
		"/openapi/v3/apis/batch/v1",
		"/foo/v1/pods",
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			got, err := ParsePath(path)
			if err != nil {
				t.Fatalf("ParsePath(%q) returned error %v, want a non-resource RequestInfo", path, err)
			}
			if want := (RequestInfo{Path: path}); got != want {
				t.Errorf("ParsePath(%q)\n got: %+v\nwant: %+v", path, got, want)
			}
		})
	}
}

// Paths under /api or /apis that cannot name a resource are errors: the
// server answers them with 404 before any handler runs.
func TestInvalidResourcePaths(t *testing.T) {
	paths := []string{
		"/api/v1/namespaces//pods",                // empty namespace
		"/api/v1/namespaces/default//nginx",       // empty resource
		"/api/v1/namespaces/default/pods//status", // empty name
		"/api//pods",        // empty version
		"/apis//v1/jobs",    // empty group
		"/apis/batch//jobs", // empty version
		"/api/v1/namespaces/default/pods/nginx/status/extra",
		"/api/v1/pods/nginx/status/extra",
		"/apis/batch/v1/namespaces/ns/jobs/pi/status/a/b",
		"/api/v1/namespaces/kube-system/status/extra",
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			got, err := ParsePath(path)
			if err == nil {
				t.Errorf("ParsePath(%q) = %+v, want an error", path, got)
			}
		})
	}
}
