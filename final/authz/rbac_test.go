package authz

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func TestRuleAllows(t *testing.T) {
	pods := PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	tests := []struct {
		name  string
		rule  PolicyRule
		attrs Attributes
		want  bool
	}{
		{"verb and resource", pods, resourceAttrs(alice, "get", "", "pods", "ns", "web"), true},
		{"another verb", pods, resourceAttrs(alice, "delete", "", "pods", "ns", "web"), false},
		{"another group", pods, resourceAttrs(alice, "get", "apps", "pods", "ns", "web"), false},
		{"another resource", pods, resourceAttrs(alice, "get", "", "secrets", "ns", "web"), false},
		{"a subresource is not the resource", pods, resourceAttrs(alice, "get", "", "pods/log", "ns", "web"), false},
		{"resource/subresource", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}},
			resourceAttrs(alice, "get", "", "pods/log", "ns", "web"), true},
		{"resource/subresource is not the resource", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}},
			resourceAttrs(alice, "get", "", "pods", "ns", "web"), false},
		{"*/subresource", PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}},
			resourceAttrs(alice, "update", "apps", "deployments/status", "ns", "web"), true},
		{"*/subresource is not another subresource", PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}},
			resourceAttrs(alice, "update", "apps", "deployments/scale", "ns", "web"), false},
		{"*/subresource is not the resource", PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"*"}, Resources: []string{"*/status"}},
			resourceAttrs(alice, "update", "apps", "deployments", "ns", "web"), false},
		{"* everything", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			resourceAttrs(alice, "escalate", Group, "clusterroles/status", "", "x"), true},
		{"resourceNames: that name", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "get", "", "configmaps", "ns", "cm-a"), true},
		{"resourceNames: another name", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "get", "", "configmaps", "ns", "cm-b"), false},
		{"resourceNames never grant list", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "list", "", "configmaps", "ns", ""), false},
		{"resourceNames never grant watch", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "watch", "", "configmaps", "ns", ""), false},
		{"resourceNames never grant create", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "create", "", "configmaps", "ns", ""), false},
		{"resourceNames never grant deletecollection", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}},
			resourceAttrs(alice, "deletecollection", "", "configmaps", "ns", ""), false},
		{"non-resource URL", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
			Attributes{User: alice, Verb: "get", Path: "/healthz"}, true},
		{"non-resource URL, another path", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
			Attributes{User: alice, Verb: "get", Path: "/healthz/etcd"}, false},
		{"non-resource URL with * suffix", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}},
			Attributes{User: alice, Verb: "get", Path: "/apis/batch/v1"}, true},
		{"non-resource URL with * suffix is not its parent", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}},
			Attributes{User: alice, Verb: "get", Path: "/apis"}, false},
		{"non-resource *", PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
			Attributes{User: alice, Verb: "post", Path: "/anything"}, true},
		{"non-resource URL, another verb", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"*"}},
			Attributes{User: alice, Verb: "post", Path: "/healthz"}, false},
		{"a resource rule grants no path", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			Attributes{User: alice, Verb: "get", Path: "/healthz"}, false},
		{"a path rule grants no resource", PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
			resourceAttrs(alice, "get", "", "pods", "ns", "web"), false},
	}
	for _, tt := range tests {
		if got := ruleAllows(tt.attrs, tt.rule); got != tt.want {
			t.Errorf("%s: ruleAllows = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRBACAuthorize(t *testing.T) {
	r := newRBAC(t)
	createRoleBinding(t, r, "alice-ns", "alice-edit", clusterRole("edit"), user("alice"))
	createRole(t, r, "rules", "one-cm", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}})
	createRoleBinding(t, r, "rules", "alice-one-cm", role("one-cm"), user("alice"))
	// A service account subject without a namespace is in the binding's.
	createRoleBinding(t, r, "rules", "reader-view", clusterRole("view"), Subject{Kind: "ServiceAccount", Name: "reader"})
	createRoleBinding(t, r, "rules", "qa-view", clusterRole("view"), group("qa"))
	reader := &request.User{Name: "system:serviceaccount:rules:reader", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:rules", request.GroupAuthenticated}}
	otherReader := &request.User{Name: "system:serviceaccount:elsewhere:reader", Groups: []string{request.GroupAuthenticated}}
	carol := &request.User{Name: "carol", Groups: []string{"qa", request.GroupAuthenticated}}

	tests := []struct {
		name   string
		attrs  Attributes
		want   Decision
		reason string
	}{
		{"no binding", resourceAttrs(alice, "list", "", "configmaps", "kube-public", ""), NoOpinion, ""},
		{"a RoleBinding to a ClusterRole", resourceAttrs(alice, "create", "", "configmaps", "alice-ns", ""), Allow,
			`RBAC: allowed by RoleBinding "alice-edit/alice-ns" of ClusterRole "edit" to User "alice"`},
		{"the ClusterRole's other rules", resourceAttrs(alice, "list", "batch", "jobs", "alice-ns", ""), Allow,
			`RBAC: allowed by RoleBinding "alice-edit/alice-ns" of ClusterRole "edit" to User "alice"`},
		{"the RoleBinding is namespaced", resourceAttrs(alice, "list", "", "configmaps", "", ""), NoOpinion, ""},
		{"edit does not grant RBAC", resourceAttrs(alice, "create", Group, "roles", "alice-ns", ""), NoOpinion, ""},
		{"a Role, by name", resourceAttrs(alice, "get", "", "configmaps", "rules", "cm-a"), Allow,
			`RBAC: allowed by RoleBinding "alice-one-cm/rules" of Role "one-cm" to User "alice"`},
		{"a Role, another name", resourceAttrs(alice, "get", "", "configmaps", "rules", "cm-b"), NoOpinion, ""},
		{"a Role, listing", resourceAttrs(alice, "list", "", "configmaps", "rules", ""), NoOpinion, ""},
		{"a service account", resourceAttrs(reader, "list", "", "configmaps", "rules", ""), Allow,
			`RBAC: allowed by RoleBinding "reader-view/rules" of ClusterRole "view" to ServiceAccount "reader/rules"`},
		{"view does not write", resourceAttrs(reader, "create", "", "configmaps", "rules", ""), NoOpinion, ""},
		{"view has no token subresource", resourceAttrs(reader, "create", "", "serviceaccounts/token", "rules", "reader"), NoOpinion, ""},
		{"a service account of the same name elsewhere", resourceAttrs(otherReader, "list", "", "configmaps", "rules", ""), NoOpinion, ""},
		{"a group", resourceAttrs(carol, "watch", "", "pods", "rules", ""), Allow,
			`RBAC: allowed by RoleBinding "qa-view/rules" of ClusterRole "view" to Group "qa"`},
		{"system:masters through its binding", resourceAttrs(admin, "delete", "", "secrets", "kube-system", "x"), Allow,
			`RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`},
		{"discovery for every user", Attributes{User: alice, Verb: "get", Path: "/apis/batch/v1"}, Allow,
			`RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"`},
		{"every user may ask about itself", resourceAttrs(alice, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), Allow,
			`RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"`},
		{"anonymous may read the version", Attributes{User: anon, Verb: "get", Path: "/version"}, Allow,
			`RBAC: allowed by ClusterRoleBinding "system:public-info-viewer:anonymous" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`},
		{"anonymous may not discover", Attributes{User: anon, Verb: "get", Path: "/api"}, NoOpinion, ""},
		{"nobody may read /metrics", Attributes{User: alice, Verb: "get", Path: "/metrics"}, NoOpinion, ""},
		{"no user", resourceAttrs(nil, "get", "", "pods", "ns", "x"), NoOpinion, ""},
	}
	for _, tt := range tests {
		got, reason := decide(t, r, tt.attrs)
		if got != tt.want || reason != tt.reason {
			t.Errorf("%s: got %v %q, want %v %q", tt.name, got, reason, tt.want, tt.reason)
		}
	}
}

func TestRBACMissingRole(t *testing.T) {
	r := newRBAC(t)
	ctx := context.Background()
	// A binding to a role that does not exist (yet, or any more) grants
	// nothing; RBAC says so in its reason, and other bindings still count.
	createRoleBinding(t, r, "ns", "gone", role("gone"), user("alice"))
	createRoleBinding(t, r, "ns", "view", clusterRole("view"), user("alice"))
	d, reason, err := r.Authorize(ctx, resourceAttrs(alice, "delete", "", "pods", "ns", "web"))
	if d != NoOpinion || err != nil || reason != `RBAC: roles.rbac.authorization.k8s.io "gone" not found` {
		t.Errorf("delete: %v %q %v", d, reason, err)
	}
	if d, _, err := r.Authorize(ctx, resourceAttrs(alice, "get", "", "pods", "ns", "web")); d != Allow || err != nil {
		t.Errorf("get through the other binding: %v %v", d, err)
	}
	rules, err := r.RulesFor(ctx, alice, "ns")
	if err == nil || len(rules) == 0 {
		t.Errorf("RulesFor: %d rules, %v; want view's rules and the missing role", len(rules), err)
	}

	// Once the role exists, the binding grants it.
	createRole(t, r, "ns", "gone", PolicyRule{Verbs: []string{"delete"}, APIGroups: []string{""}, Resources: []string{"pods"}})
	if d, reason := decide(t, r, resourceAttrs(alice, "delete", "", "pods", "ns", "web")); d != Allow || reason != `RBAC: allowed by RoleBinding "gone/ns" of Role "gone" to User "alice"` {
		t.Errorf("after the role: %v %q", d, reason)
	}
}

func TestRulesFor(t *testing.T) {
	r := newRBAC(t)
	createRoleBinding(t, r, "ns", "bob-view", clusterRole("view"), user("bob"))
	rules, err := r.RulesFor(context.Background(), bob, "ns")
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := BootstrapPolicy()
	var want []PolicyRule
	// The ClusterRoleBindings to system:authenticated, in the order the
	// store lists them, then the namespace's RoleBindings.
	for _, name := range []string{"system:basic-user", "system:discovery", "system:public-info-viewer", "view"} {
		i := slices.IndexFunc(roles, func(o object.Object) bool { return o.MetaString("name") == name })
		var body struct{ Rules []PolicyRule }
		if err := remarshal(roles[i], &body); err != nil {
			t.Fatal(err)
		}
		want = append(want, body.Rules...)
	}
	if !slices.EqualFunc(rules, want, equalRules) {
		t.Errorf("RulesFor(bob, ns):\n got %+v\nwant %+v", rules, want)
	}
	// Cluster-wide only: no RoleBindings.
	if rules, _ := r.RulesFor(context.Background(), bob, ""); len(rules) != len(want)-2 {
		t.Errorf("RulesFor(bob, \"\") = %d rules, want %d", len(rules), len(want)-2)
	}
}

func equalRules(a, b PolicyRule) bool {
	return slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.ResourceNames, b.ResourceNames) && slices.Equal(a.NonResourceURLs, b.NonResourceURLs)
}

func TestBootstrapPolicy(t *testing.T) {
	roles, bindings := BootstrapPolicy()
	var names []string
	for _, role := range roles {
		if role["kind"] != "ClusterRole" || role["apiVersion"] != "rbac.authorization.k8s.io/v1" || role.MetaString("uid") == "" ||
			role.Labels()["kubernetes.io/bootstrapping"] != "rbac-defaults" {
			t.Errorf("role %v", role)
		}
		names = append(names, role.MetaString("name"))
	}
	want := []string{"admin", "cluster-admin", "edit", "system:basic-user", "system:discovery", "system:public-info-viewer", "view"}
	if !slices.Equal(names, want) {
		t.Errorf("roles %v, want %v", names, want)
	}
	if len(bindings) != 5 || bindings[0].MetaString("name") != "cluster-admin" || bindings[0]["kind"] != "ClusterRoleBinding" {
		t.Errorf("bindings %v", bindings)
	}
	// Ready to store: decoded JSON, not Go types.
	if _, ok := roles[0]["rules"].([]any); !ok {
		t.Errorf("rules are %T", roles[0]["rules"])
	}

	// The admin role may grant roles within a namespace; edit may not.
	r := newRBAC(t)
	createRoleBinding(t, r, "ns", "a", clusterRole("admin"), user("alice"))
	createRoleBinding(t, r, "ns", "e", clusterRole("edit"), user("bob"))
	if d, _ := decide(t, r, resourceAttrs(alice, "create", Group, "rolebindings", "ns", "")); d != Allow {
		t.Error("admin may not create rolebindings")
	}
	if d, _ := decide(t, r, resourceAttrs(bob, "create", Group, "rolebindings", "ns", "")); d != NoOpinion {
		t.Error("edit may create rolebindings")
	}
	if d, _ := decide(t, r, resourceAttrs(bob, "create", "", "serviceaccounts/token", "ns", "default")); d != Allow {
		t.Error("edit may not create tokens")
	}

	// Again, as after a restart: what is stored stays, nothing fails.
	if err := r.CreateBootstrapPolicy(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRBACBrokenPolicy(t *testing.T) {
	r := newRBAC(t)
	ctx := context.Background()
	// A binding RBAC cannot use grants nothing and says why; it is no
	// reason to fail other users' requests.
	mustCreate(t, r, clusterRoleBindings, object.Object{"metadata": map[string]any{"name": "odd"},
		"roleRef": map[string]any{"kind": "Robot", "name": "x"}, "subjects": []any{map[string]any{"kind": "User", "name": "alice"}}})
	mustCreate(t, r, clusterRoleBindings, object.Object{"metadata": map[string]any{"name": "bad"}, "subjects": "everyone"})
	d, reason, err := r.Authorize(ctx, resourceAttrs(alice, "get", "", "pods", "ns", "web"))
	if d != NoOpinion || err != nil || !strings.Contains(reason, `unsupported role reference kind: "Robot"`) || !strings.Contains(reason, "ClusterRoleBinding bad") {
		t.Errorf("unusable bindings: %v %q %v", d, reason, err)
	}
	// A store that cannot be read is an error: the server's, not a "no".
	if err := r.Store.Backend().Close(); err != nil {
		t.Fatal(err)
	}
	if d, _, err := r.Authorize(ctx, resourceAttrs(alice, "get", "", "pods", "ns", "web")); d != NoOpinion || err == nil {
		t.Errorf("closed store: %v %v", d, err)
	}
}
