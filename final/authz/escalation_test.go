package authz

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func TestCheckEscalation(t *testing.T) {
	r, a := newChain(t)
	ctx := context.Background()
	// alice administers the namespace esc.
	createRoleBinding(t, r, "esc", "alice-admin", clusterRole("admin"), user("alice"))
	podRule := func(verbs ...string) PolicyRule {
		return PolicyRule{Verbs: verbs, APIGroups: []string{""}, Resources: []string{"pods"}}
	}
	const notHeld = `user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:` + "\n"
	check := func(res *registry.Resource, obj object.Object) error {
		return r.CheckEscalation(ctx, a, alice, res, obj)
	}
	tests := []struct {
		name    string
		res     *registry.Resource
		obj     object.Object
		code    int
		message string
	}{
		{"a role within alice's rights", roles, roleObject("Role", "esc", "narrow", podRule("get", "list")), 0, ""},
		{"a role beyond them", roles, roleObject("Role", "esc", "wide", podRule("*")), http.StatusForbidden,
			`roles.rbac.authorization.k8s.io "wide" is forbidden: ` + notHeld + `{APIGroups:[""], Resources:["pods"], Verbs:["*"]}`},
		// What is missing is broken down, merged by resource, and sorted.
		{"several missing rules", roles, roleObject("Role", "esc", "nodes",
			PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"nodes", "pods"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"b", "a"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"deployments/status"}}),
			http.StatusForbidden, `roles.rbac.authorization.k8s.io "nodes" is forbidden: ` + notHeld +
				`{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}` + "\n" +
				`{APIGroups:["apps"], Resources:["deployments/status"], Verbs:["get"]}`},
		{"a cluster role: alice holds nothing cluster-wide", clusterRoles, roleObject("ClusterRole", "", "pod-reader", podRule("get")), http.StatusForbidden,
			`clusterroles.rbac.authorization.k8s.io "pod-reader" is forbidden: ` + notHeld + `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`},
		{"a cluster role within the bootstrap rights", clusterRoles, roleObject("ClusterRole", "", "whoami",
			PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}}), 0, ""},
		{"binding a role alice holds", roleBindings, bindingObject("RoleBinding", "esc", "bob-admin", clusterRole("admin"), user("bob")), 0, ""},
		{"binding a role alice does not hold", roleBindings, bindingObject("RoleBinding", "esc", "bob-root", clusterRole("cluster-admin"), user("bob")),
			http.StatusForbidden, `rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: ` + notHeld +
				`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}` + "\n" + `{NonResourceURLs:["*"], Verbs:["*"]}`},
		{"binding it cluster-wide", clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "bob-view", clusterRole("view"), user("bob")),
			http.StatusForbidden, ""},
		// Without bind, the role must exist: 404, as in Kubernetes.
		{"binding a missing cluster role", roleBindings, bindingObject("RoleBinding", "esc", "x", clusterRole("missing"), user("bob")),
			http.StatusNotFound, `clusterroles.rbac.authorization.k8s.io "missing" not found`},
		{"binding a missing role", roleBindings, bindingObject("RoleBinding", "esc", "x", role("missing"), user("bob")),
			http.StatusNotFound, `roles.rbac.authorization.k8s.io "missing" not found`},
		{"other resources pass", configmaps, object.Object{"metadata": map[string]any{"name": "x", "namespace": "esc"}}, 0, ""},
	}
	for _, tt := range tests {
		err := check(tt.res, tt.obj)
		if tt.code == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		code, _, message := status(err)
		if code != tt.code || tt.message != "" && message != tt.message {
			t.Errorf("%s: %d %s\nwant %d %s", tt.name, code, message, tt.code, tt.message)
		}
	}

	// The escalate and bind verbs lift the checks, in the namespace they are granted in.
	createRole(t, r, "esc", "escalator", PolicyRule{Verbs: []string{"escalate", "bind"}, APIGroups: []string{Group}, Resources: []string{"roles", "clusterroles"}})
	createRoleBinding(t, r, "esc", "alice-escalates", role("escalator"), user("alice"))
	for _, tt := range []struct {
		name string
		res  *registry.Resource
		obj  object.Object
	}{
		{"escalate", roles, roleObject("Role", "esc", "wide", podRule("*"))},
		{"bind", roleBindings, bindingObject("RoleBinding", "esc", "bob-root", clusterRole("cluster-admin"), user("bob"))},
		{"bind needs no role yet", roleBindings, bindingObject("RoleBinding", "esc", "later", clusterRole("not-yet"), user("bob"))},
	} {
		if err := check(tt.res, tt.obj); err != nil {
			t.Errorf("with %s: %v", tt.name, err)
		}
	}
	if err := check(roles, roleObject("Role", "other", "wide", podRule("*"))); apierrors.ReasonForError(err) != "Forbidden" {
		t.Errorf("escalate in esc reached namespace other: %v", err)
	}
	if err := check(clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "bob-root", clusterRole("cluster-admin"), user("bob"))); apierrors.ReasonForError(err) != "Forbidden" {
		t.Errorf("bind in esc reached a ClusterRoleBinding: %v", err)
	}
}

func TestCheckEscalationResourceNames(t *testing.T) {
	r, a := newChain(t)
	ctx := context.Background()
	// Not "*": that would include escalate.
	createRole(t, r, "ns", "manager", PolicyRule{Verbs: []string{"create", "update"}, APIGroups: []string{Group}, Resources: []string{"roles"}})
	createRole(t, r, "ns", "cm-a", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}})
	createRoleBinding(t, r, "ns", "alice-manager", role("manager"), user("alice"))
	createRoleBinding(t, r, "ns", "alice-cm-a", role("cm-a"), user("alice"))
	rule := func(names ...string) object.Object {
		return roleObject("Role", "ns", "r", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: names})
	}
	if err := r.CheckEscalation(ctx, a, alice, roles, rule("cm-a")); err != nil {
		t.Errorf("granting the name alice holds: %v", err)
	}
	for _, names := range [][]string{nil, {"cm-a", "cm-b"}} {
		if err := r.CheckEscalation(ctx, a, alice, roles, rule(names...)); apierrors.ReasonForError(err) != "Forbidden" {
			t.Errorf("granting %v: %v", names, err)
		}
	}
}

func TestCheckEscalationMasters(t *testing.T) {
	r := newRBAC(t)
	// system:masters may grant anything, and bind roles that do not exist,
	// even with no authorizer to ask.
	for _, c := range []struct {
		res *registry.Resource
		obj object.Object
	}{
		{clusterRoles, roleObject("ClusterRole", "", "all", PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}})},
		{clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "x", clusterRole("missing"), user("bob"))},
	} {
		if err := r.CheckEscalation(context.Background(), nil, admin, c.res, c.obj); err != nil {
			t.Errorf("%s: %v", c.res.Kind, err)
		}
	}
	if err := r.CheckEscalation(context.Background(), nil, nil, roles, roleObject("Role", "ns", "x")); err == nil {
		t.Error("no user")
	}
}

func TestCheckEscalationValidates(t *testing.T) {
	r := newRBAC(t)
	cause := func(reason, field, message string) apierrors.Cause {
		return apierrors.Cause{Reason: reason, Field: field, Message: message}
	}
	tests := []struct {
		name    string
		res     *registry.Resource
		obj     object.Object
		message string
		causes  []apierrors.Cause
	}{
		{"no verbs", roles, roleObject("Role", "ns", "x", PolicyRule{Verbs: []string{}, APIGroups: []string{""}, Resources: []string{"pods"}}),
			`Role.rbac.authorization.k8s.io "x" is invalid: rules[0].verbs: Required value: verbs must contain at least one value`,
			[]apierrors.Cause{cause("FieldValueRequired", "rules[0].verbs", "Required value: verbs must contain at least one value")}},
		{"no resources", roles, roleObject("Role", "ns", "x", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}}), "",
			[]apierrors.Cause{cause("FieldValueRequired", "rules[0].resources", "Required value: resource rules must supply at least one resource")}},
		{"no groups", clusterRoles, roleObject("ClusterRole", "", "x", PolicyRule{Verbs: []string{"get"}, Resources: []string{"pods"}}), "",
			[]apierrors.Cause{cause("FieldValueRequired", "rules[0].apiGroups", "Required value: resource rules must supply at least one api group")}},
		{"a non-resource URL in a Role", roles, roleObject("Role", "ns", "x", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}), "",
			[]apierrors.Cause{cause("FieldValueInvalid", "rules[0].nonResourceURLs", `Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`)}},
		{"resources and URLs", clusterRoles, roleObject("ClusterRole", "", "x", PolicyRule{Verbs: []string{"get"}, Resources: []string{"pods"}, NonResourceURLs: []string{"/x"}}), "",
			[]apierrors.Cause{cause("FieldValueInvalid", "rules[0].nonResourceURLs", `Invalid value: ["/x"]: rules cannot apply to both regular resources and non-resource URLs`)}},
		{"a ClusterRoleBinding to a Role", clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "x", role("r")),
			`ClusterRoleBinding.rbac.authorization.k8s.io "x" is invalid: roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`, nil},
		{"a robot", clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "x", clusterRole("view"), Subject{Kind: "Robot", Name: "r2"}), "",
			[]apierrors.Cause{cause("FieldValueNotSupported", "subjects[0].kind", `Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`)}},
		{"a service account without a namespace", clusterRoleBindings, bindingObject("ClusterRoleBinding", "", "x", clusterRole("view"), Subject{Kind: "ServiceAccount", Name: "sa"}), "",
			[]apierrors.Cause{cause("FieldValueRequired", "subjects[0].namespace", "Required value")}},
		{"a nameless subject, another group", roleBindings, bindingObject("RoleBinding", "ns", "x", RoleRef{APIGroup: "example.com", Kind: "Role", Name: "a/b"}, Subject{Kind: "User"}),
			`RoleBinding.rbac.authorization.k8s.io "x" is invalid: [roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io", roleRef.name: Invalid value: "a/b": may not contain '/' or '%', subjects[0].name: Required value]`, nil},
	}
	for _, tt := range tests {
		err := r.CheckEscalation(context.Background(), nil, admin, tt.res, tt.obj)
		code, reason, message := status(err)
		if code != http.StatusUnprocessableEntity || reason != "Invalid" || tt.message != "" && message != tt.message {
			t.Errorf("%s: %d %s %s", tt.name, code, reason, message)
			continue
		}
		var se *apierrors.StatusError
		if tt.causes == nil || !errors.As(err, &se) {
			continue
		}
		got, _ := se.Details["causes"].([]apierrors.Cause)
		if len(got) != len(tt.causes) {
			t.Errorf("%s: causes %v, want %v", tt.name, got, tt.causes)
			continue
		}
		for i, want := range tt.causes {
			if got[i].Reason != want.Reason || got[i].Field != want.Field || want.Message != "" && got[i].Message != want.Message {
				t.Errorf("%s: cause %+v, want %+v", tt.name, got[i], want)
			}
		}
	}

	// Rules of the wrong shape cannot be read at all: 400.
	bad := object.Object{"metadata": map[string]any{"name": "x", "namespace": "ns"}, "rules": "all of them"}
	if code, _, message := status(r.CheckEscalation(context.Background(), nil, admin, roles, bad)); code != http.StatusBadRequest ||
		!strings.HasPrefix(message, `Role in version "v1" cannot be handled as a Role: json: cannot unmarshal string`) {
		t.Errorf("rules as a string: %d %s", code, message)
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name        string
		held, given PolicyRule
		want        bool
	}{
		{"same", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, true},
		{"* covers any verb", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			PolicyRule{Verbs: []string{"escalate"}, APIGroups: []string{""}, Resources: []string{"pods"}}, true},
		{"only * covers *", PolicyRule{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods"}}, false},
		{"*/status covers a status", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"deployments/status"}}, true},
		{"*/status is not the resource", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}}, false},
		{"the resource is not its subresources", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, false},
		{"no names covers a name", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"a"}}, true},
		{"a name does not cover all", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{"a"}},
			PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, false},
		{"URL prefix", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}},
			PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/batch"}}, true},
		{"only * covers *, URLs too", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/livez"}},
			PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}}, false},
	}
	for _, tt := range tests {
		got := len(uncovered([]PolicyRule{tt.held}, []PolicyRule{tt.given})) == 0
		if got != tt.want {
			t.Errorf("%s: covered = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCompactRules(t *testing.T) {
	missing := breakdown(PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{"", "apps"}, Resources: []string{"pods"}, ResourceNames: []string{"a"}})
	var got []string
	for _, r := range compactRules(missing) {
		got = append(got, compactString(r))
	}
	want := []string{
		`{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}`,
		`{APIGroups:["apps"], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
