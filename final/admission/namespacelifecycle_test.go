package admission

import (
	"context"
	"net/http"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func TestNamespaceLifecycle(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	storeObjects(t, deps, "", "namespaces",
		`{"metadata":{"name":"leaving","deletionTimestamp":"2025-01-01T00:00:00Z"},"status":{"phase":"Terminating"}}`,
		`{"metadata":{"name":"team"},"status":{"phase":"Active"}}`)
	customNamespaces := &registry.Resource{Group: "example.com", Version: "v1", Name: "namespaces", Kind: "Namespace", Custom: struct{}{}}
	tests := []struct {
		name, operation, group, resource, namespace, object string
		res                                                 *registry.Resource // instead of group and resource
		wantCode                                            int                // 0: allowed
		wantMessage                                         string
	}{
		{name: "create in an existing namespace", operation: Create, resource: "configmaps", namespace: "team", object: "settings"},
		{name: "create in a missing namespace", operation: Create, resource: "configmaps", namespace: "nowhere", object: "settings",
			wantCode: http.StatusNotFound, wantMessage: `namespaces "nowhere" not found`},
		{name: "update in a missing namespace", operation: Update, resource: "configmaps", namespace: "nowhere", object: "settings",
			wantCode: http.StatusNotFound, wantMessage: `namespaces "nowhere" not found`},
		{name: "delete in a missing namespace", operation: Delete, resource: "configmaps", namespace: "nowhere", object: "settings"},
		{name: "create in a terminating namespace", operation: Create, resource: "configmaps", namespace: "leaving", object: "settings",
			wantCode: http.StatusForbidden, wantMessage: `configmaps "settings" is forbidden: unable to create new content in namespace leaving because it is being terminated`},
		{name: "update in a terminating namespace", operation: Update, resource: "configmaps", namespace: "leaving", object: "settings"},
		{name: "a cluster-scoped object", operation: Create, group: "rbac.authorization.k8s.io", resource: "clusterroles", object: "reader"},
		{name: "a review in a missing namespace answers", operation: Create, group: "authorization.k8s.io", resource: "localsubjectaccessreviews", namespace: "nowhere"},
		{name: "create a namespace", operation: Create, resource: "namespaces", object: "new"},
		{name: "delete a namespace", operation: Delete, resource: "namespaces", object: "team"},
		{name: "delete a terminating namespace again", operation: Delete, resource: "namespaces", object: "leaving"},
		{name: "delete default", operation: Delete, resource: "namespaces", object: "default",
			wantCode: http.StatusForbidden, wantMessage: `namespaces "default" is forbidden: this namespace may not be deleted`},
		{name: "delete kube-system", operation: Delete, resource: "namespaces", object: "kube-system", wantCode: http.StatusForbidden},
		{name: "delete kube-public", operation: Delete, resource: "namespaces", object: "kube-public", wantCode: http.StatusForbidden},
		{name: "update default", operation: Update, resource: "namespaces", object: "default"},
		{name: "a custom kind called Namespace is no namespace", operation: Delete, res: customNamespaces, object: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.res
			if res == nil {
				res = deps.Registry.Lookup(tt.group, tt.resource)
			}
			a := &Attributes{Operation: tt.operation, Resource: res, Namespace: tt.namespace, Name: tt.object}
			if tt.operation != Delete {
				a.Object = mustDecode(t, `{"metadata":{"name":"`+tt.object+`"}}`)
			}
			err := chain.Admit(context.Background(), a)
			if tt.wantCode == 0 {
				if err != nil {
					t.Errorf("Admit: %v, want nil", err)
				}
				return
			}
			se := statusOf(t, err)
			if se.Code != tt.wantCode || tt.wantMessage != "" && se.Message != tt.wantMessage {
				t.Errorf("Admit: %d %s\nwant %d %s", se.Code, se.Message, tt.wantCode, tt.wantMessage)
			}
		})
	}
}

// A create in a terminating namespace carries Kubernetes' cause, which
// clients (the namespace controller's users) look for.
func TestNamespaceTerminatingCause(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	storeObjects(t, deps, "", "namespaces", `{"metadata":{"name":"leaving","deletionTimestamp":"2025-01-01T00:00:00Z"}}`)
	a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"), Namespace: "leaving", Name: "web", Object: mustDecode(t, `{}`)}
	se := statusOf(t, chain.Admit(context.Background(), a))
	causes, _ := se.Details["causes"].([]apierrors.Cause)
	want := apierrors.Cause{Reason: "NamespaceTerminating", Message: "namespace leaving is being terminated", Field: "metadata.namespace"}
	if se.Reason != "Forbidden" || len(causes) != 1 || causes[0] != want || se.Details["name"] != "web" || se.Details["kind"] != "pods" {
		t.Errorf("refusal: %s %+v", se.Reason, se.Details)
	}
}

// A namespace that starts terminating after a create was admitted into it
// refuses the next: what the plugin remembers of a namespace is of one
// revision of it.
func TestNamespaceStartsTerminating(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	storeObjects(t, deps, "", "namespaces", `{"metadata":{"name":"team"},"status":{"phase":"Active"}}`)
	create := func() error {
		a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "team", Name: "settings", Object: mustDecode(t, `{}`)}
		return chain.Admit(context.Background(), a)
	}
	if err := create(); err != nil {
		t.Fatalf("create in an active namespace: %v", err)
	}
	_, err := deps.Store.Update(context.Background(), deps.Registry.Lookup("", "namespaces"), "", "team", func(ns object.Object) (object.Object, error) {
		ns["status"] = map[string]any{"phase": "Terminating"}
		return ns, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if se := statusOf(t, create()); se.Code != http.StatusForbidden {
		t.Fatalf("create once the namespace terminates: %d %s, want 403", se.Code, se.Message)
	}
}

func TestNamespaceLifecycleCanBeDisabled(t *testing.T) {
	chain, deps := newTestChain(t, "", "NamespaceLifecycle")
	for _, a := range []*Attributes{
		{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "nowhere", Name: "settings", Object: mustDecode(t, `{}`)},
		{Operation: Delete, Resource: deps.Registry.Lookup("", "namespaces"), Name: "kube-public"},
	} {
		if err := admit(context.Background(), chain, a); err != nil {
			t.Errorf("%s %s/%s without NamespaceLifecycle: %v", a.Operation, a.Resource.Name, a.Name, err)
		}
	}
}
