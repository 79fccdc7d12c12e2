// The bootstrap policy: the ClusterRoles and ClusterRoleBindings a cluster
// starts with, as kube-apiserver's (plugin/pkg/auth/authorizer/rbac/
// bootstrappolicy), trimmed to the resources this server serves.

package authz

import (
	"context"
	"fmt"
	"slices"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// bootstrapRoles are the default ClusterRoles and their rules:
// cluster-admin, the user-facing admin, edit and view (meant for
// RoleBindings), and what every user needs for discovery and to ask about
// itself.
func bootstrapRoles() map[string][]PolicyRule {
	readOnly := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete", "deletecollection"}
	workloads := []string{"pods", "configmaps", "services", "serviceaccounts", "events"}
	view := []PolicyRule{
		{Verbs: readOnly, APIGroups: []string{""}, Resources: append(slices.Clone(workloads), "namespaces")},
		{Verbs: readOnly, APIGroups: []string{"batch"}, Resources: []string{"jobs"}},
	}
	edit := append(slices.Clone(view),
		PolicyRule{Verbs: write, APIGroups: []string{""}, Resources: workloads},
		PolicyRule{Verbs: append(slices.Clone(readOnly), write...), APIGroups: []string{""}, Resources: []string{"secrets"}},
		PolicyRule{Verbs: write, APIGroups: []string{"batch"}, Resources: []string{"jobs"}},
		PolicyRule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}},
	)
	admin := append(slices.Clone(edit),
		PolicyRule{Verbs: append(slices.Clone(readOnly), write...), APIGroups: []string{Group}, Resources: []string{"roles", "rolebindings"}},
	)
	return map[string][]PolicyRule{
		"cluster-admin": {
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
		},
		"admin": admin,
		"edit":  edit,
		"view":  view,
		"system:discovery": {{Verbs: []string{"get"}, NonResourceURLs: []string{
			"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"}}},
		"system:public-info-viewer": {{Verbs: []string{"get"}, NonResourceURLs: []string{
			"/healthz", "/livez", "/readyz", "/version", "/version/"}}},
		"system:basic-user": {
			{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
			{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
		},
	}
}

// bootstrapBindings grant cluster roles to groups: system:masters is
// cluster-admin, every user may discover the API and ask about itself,
// and even anonymous users may read health and version.
var bootstrapBindings = []struct{ name, role, group string }{
	{"cluster-admin", "cluster-admin", request.GroupMasters},
	{"system:basic-user", "system:basic-user", request.GroupAuthenticated},
	{"system:discovery", "system:discovery", request.GroupAuthenticated},
	{"system:public-info-viewer", "system:public-info-viewer", request.GroupAuthenticated},
	{"system:public-info-viewer:anonymous", "system:public-info-viewer", request.GroupUnauthenticated},
}

// bootstrapMeta marks an object as the bootstrap policy's, with the label
// and annotation kube-apiserver puts on its own, so that `kubectl get
// clusterroles -l kubernetes.io/bootstrapping=rbac-defaults` finds them.
func bootstrapMeta(name string) map[string]any {
	return map[string]any{"name": name, "uid": object.NewUID(), "creationTimestamp": object.Now(),
		"labels":      map[string]any{"kubernetes.io/bootstrapping": "rbac-defaults"},
		"annotations": map[string]any{"rbac.authorization.kubernetes.io/autoupdate": "true"}}
}

// BootstrapPolicy returns the default ClusterRoles and ClusterRoleBindings,
// sorted by name, as objects ready to store (with uid and creationTimestamp).
func BootstrapPolicy() (clusterRoles, clusterRoleBindings []object.Object) {
	roles := bootstrapRoles()
	names := make([]string, 0, len(roles))
	for name := range roles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		clusterRoles = append(clusterRoles, toJSON(map[string]any{
			"apiVersion": Group + "/v1", "kind": "ClusterRole", "metadata": bootstrapMeta(name), "rules": roles[name]}))
	}
	for _, b := range bootstrapBindings {
		clusterRoleBindings = append(clusterRoleBindings, toJSON(map[string]any{
			"apiVersion": Group + "/v1", "kind": "ClusterRoleBinding", "metadata": bootstrapMeta(b.name),
			"roleRef":  RoleRef{APIGroup: Group, Kind: "ClusterRole", Name: b.role},
			"subjects": []Subject{{Kind: "Group", APIGroup: Group, Name: b.group}}}))
	}
	return clusterRoles, clusterRoleBindings
}

// CreateBootstrapPolicy stores the bootstrap policy's objects that are not
// stored yet. After a restart they all are, and whatever an administrator
// changed in them stays changed.
func (r *RBAC) CreateBootstrapPolicy(ctx context.Context) error {
	roles, bindings := BootstrapPolicy()
	for _, role := range roles {
		if _, err := r.Store.Create(ctx, r.ClusterRoles, role); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRole %s: %w", role.MetaString("name"), err)
		}
	}
	for _, b := range bindings {
		if _, err := r.Store.Create(ctx, r.ClusterRoleBindings, b); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRoleBinding %s: %w", b.MetaString("name"), err)
		}
	}
	return nil
}
