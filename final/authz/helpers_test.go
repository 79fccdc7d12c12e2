package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// The four RBAC resources, as the registry serves them.
var (
	roles               = &registry.Resource{Group: Group, Version: "v1", Name: "roles", Kind: "Role", Namespaced: true}
	clusterRoles        = &registry.Resource{Group: Group, Version: "v1", Name: "clusterroles", Kind: "ClusterRole"}
	roleBindings        = &registry.Resource{Group: Group, Version: "v1", Name: "rolebindings", Kind: "RoleBinding", Namespaced: true}
	clusterRoleBindings = &registry.Resource{Group: Group, Version: "v1", Name: "clusterrolebindings", Kind: "ClusterRoleBinding"}
	configmaps          = &registry.Resource{Version: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}
)

// Users as authn hands them over: everyone authenticated is in
// system:authenticated; admin is also in system:masters.
var (
	admin = &request.User{Name: "admin", Groups: []string{request.GroupMasters, request.GroupAuthenticated}}
	alice = &request.User{Name: "alice", Groups: []string{request.GroupAuthenticated}}
	bob   = &request.User{Name: "bob", Groups: []string{request.GroupAuthenticated}}
	anon  = &request.User{Name: request.UserAnonymous, Groups: []string{request.GroupUnauthenticated}}
)

// newRBAC returns an RBAC authorizer over a fresh SQLite store holding the
// bootstrap policy.
func newRBAC(t *testing.T) *RBAC {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	r := &RBAC{Store: store.New(backend), Roles: roles, ClusterRoles: clusterRoles, RoleBindings: roleBindings, ClusterRoleBindings: clusterRoleBindings}
	if err := r.CreateBootstrapPolicy(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// newChain is --authorization-mode=RBAC over newRBAC.
func newChain(t *testing.T) (*RBAC, Authorizer) {
	t.Helper()
	r := newRBAC(t)
	a, err := New("RBAC", r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, a
}

func roleObject(kind, namespace, name string, rules ...PolicyRule) object.Object {
	meta := map[string]any{"name": name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	return toJSON(map[string]any{"apiVersion": Group + "/v1", "kind": kind, "metadata": meta, "rules": rules})
}

func bindingObject(kind, namespace, name string, ref RoleRef, subjects ...Subject) object.Object {
	meta := map[string]any{"name": name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	if ref.APIGroup == "" {
		ref.APIGroup = Group
	}
	return toJSON(map[string]any{"apiVersion": Group + "/v1", "kind": kind, "metadata": meta, "roleRef": ref, "subjects": subjects})
}

func user(name string) Subject  { return Subject{Kind: "User", APIGroup: Group, Name: name} }
func group(name string) Subject { return Subject{Kind: "Group", APIGroup: Group, Name: name} }

// The objects kubectl create role / clusterrole / rolebinding / clusterrolebinding would send.

func createRole(t *testing.T, r *RBAC, namespace, name string, rules ...PolicyRule) {
	t.Helper()
	mustCreate(t, r, roles, roleObject("Role", namespace, name, rules...))
}

func createClusterRole(t *testing.T, r *RBAC, name string, rules ...PolicyRule) {
	t.Helper()
	mustCreate(t, r, clusterRoles, roleObject("ClusterRole", "", name, rules...))
}

func createRoleBinding(t *testing.T, r *RBAC, namespace, name string, ref RoleRef, subjects ...Subject) {
	t.Helper()
	mustCreate(t, r, roleBindings, bindingObject("RoleBinding", namespace, name, ref, subjects...))
}

func createClusterRoleBinding(t *testing.T, r *RBAC, name, role string, subjects ...Subject) {
	t.Helper()
	mustCreate(t, r, clusterRoleBindings, bindingObject("ClusterRoleBinding", "", name, RoleRef{Kind: "ClusterRole", Name: role}, subjects...))
}

func mustCreate(t *testing.T, r *RBAC, res *registry.Resource, obj object.Object) {
	t.Helper()
	if _, err := r.Store.Create(context.Background(), res, obj); err != nil {
		t.Fatalf("creating %s %s: %v", res.Kind, obj.MetaString("name"), err)
	}
}

func clusterRole(name string) RoleRef { return RoleRef{Kind: "ClusterRole", Name: name} }
func role(name string) RoleRef        { return RoleRef{Kind: "Role", Name: name} }

// resourceAttrs is a resource request: verb on resource in group, namespace ("" cluster-wide), name.
func resourceAttrs(u *request.User, verb, group, resource, namespace, name string) Attributes {
	resource, sub, _ := strings.Cut(resource, "/")
	return Attributes{User: u, ResourceRequest: true, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: namespace, Name: name}
}

func decide(t *testing.T, a Authorizer, attrs Attributes) (Decision, string) {
	t.Helper()
	d, reason, err := a.Authorize(context.Background(), attrs)
	if err != nil {
		t.Fatalf("Authorize(%+v): %v", attrs, err)
	}
	return d, reason
}

// authorizerFunc is an Authorizer made of a function, for tests.
type authorizerFunc func(ctx context.Context, a Attributes) (Decision, string, error)

func (f authorizerFunc) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	return f(ctx, a)
}

// serve sends a request through h as u, with its RequestInfo resolved first,
// as the server's filters do, and returns the code and the decoded body.
func serve(t *testing.T, h http.Handler, u *request.User, method, target string, header http.Header) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	ctx := request.WithRequestInfo(r.Context(), request.Resolve(r))
	if u != nil {
		ctx = request.WithUser(ctx, u)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r.WithContext(ctx))
	var body map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, target, w.Body.String(), err)
		}
	}
	return w.Code, body
}

// status is the Status error err becomes: code, reason, message.
func status(err error) (int, string, string) {
	s := apierrors.ToStatus(err)
	code, _ := s["code"].(int)
	reason, _ := s["reason"].(string)
	message, _ := s["message"].(string)
	return code, reason, message
}
