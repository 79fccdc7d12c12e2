package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// fields lists the field of each cause, to compare with what a case expects.
func fields(causes []cause) []string {
	out := []string{}
	for _, c := range causes {
		out = append(out, c.Reason+" "+c.Field)
	}
	return out
}

func TestValidateRules(t *testing.T) {
	cases := []struct {
		name       string
		rules      []policyRule
		namespaced bool
		want       []string
	}{
		{"no rules", nil, true, []string{}},
		{"a resource rule", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}}, true, []string{}},
		{"a path rule in a ClusterRole", []policyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}}, false, []string{}},
		{"no verbs", []policyRule{{APIGroups: list(""), Resources: list("pods")}}, true,
			[]string{"FieldValueRequired rules[0].verbs"}},
		{"no groups", []policyRule{{Verbs: list("get"), Resources: list("pods")}}, false,
			[]string{"FieldValueRequired rules[0].resources"}},
		{"no resources", []policyRule{{Verbs: list("get"), APIGroups: list("")}}, false,
			[]string{"FieldValueRequired rules[0].resources"}},
		{"nothing at all", []policyRule{{}}, false,
			[]string{"FieldValueRequired rules[0].verbs", "FieldValueRequired rules[0].resources"}},
		{"a path rule in a Role", []policyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}}, true,
			[]string{"FieldValueInvalid rules[0].nonResourceURLs"}},
		{"resources and paths together", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), NonResourceURLs: list("/healthz")}}, false,
			[]string{"FieldValueInvalid rules[0].nonResourceURLs"}},
		{"the index of the bad rule", []policyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")},
			{Verbs: list("get"), APIGroups: list("")},
		}, true, []string{"FieldValueRequired rules[1].resources"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fields(validateRules(c.rules, c.namespaced)); !slices.Equal(got, c.want) {
				t.Errorf("causes %q, want %q", got, c.want)
			}
		})
	}
}

func TestValidateBinding(t *testing.T) {
	clusterRole := roleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: "view"}
	nsRole := roleRef{APIGroup: rbacGroup, Kind: "Role", Name: "reader"}
	alice := subject{Kind: "User", Name: "alice"}
	cases := []struct {
		name       string
		ref        roleRef
		subjects   []subject
		namespaced bool
		want       []string
	}{
		{"RoleBinding to a ClusterRole", clusterRole, []subject{alice}, true, []string{}},
		{"RoleBinding to a Role", nsRole, []subject{alice}, true, []string{}},
		{"ClusterRoleBinding to a ClusterRole", clusterRole, []subject{alice}, false, []string{}},
		{"no subjects", clusterRole, nil, false, []string{}},
		{"ClusterRoleBinding to a Role", nsRole, []subject{alice}, false, []string{"FieldValueNotSupported roleRef.kind"}},
		{"another kind", roleRef{APIGroup: rbacGroup, Kind: "Pod", Name: "x"}, []subject{alice}, true, []string{"FieldValueNotSupported roleRef.kind"}},
		{"another API group", roleRef{APIGroup: "", Kind: "ClusterRole", Name: "view"}, []subject{alice}, true, []string{"FieldValueNotSupported roleRef.apiGroup"}},
		{"no role name", roleRef{APIGroup: rbacGroup, Kind: "ClusterRole"}, []subject{alice}, true, []string{"FieldValueRequired roleRef.name"}},
		{"a group", clusterRole, []subject{{Kind: "Group", Name: "developers"}}, false, []string{}},
		{"a subject without a name", clusterRole, []subject{alice, {Kind: "Group"}}, false, []string{"FieldValueRequired subjects[1].name"}},
		{"an unknown subject kind", clusterRole, []subject{{Kind: "Robot", Name: "r2"}}, false, []string{"FieldValueNotSupported subjects[0].kind"}},
		{"service account with a namespace", clusterRole, []subject{{Kind: "ServiceAccount", Name: "builder", Namespace: "ci"}}, false, []string{}},
		{"service account in a RoleBinding needs no namespace", clusterRole, []subject{{Kind: "ServiceAccount", Name: "builder"}}, true, []string{}},
		{"service account in a ClusterRoleBinding needs one", clusterRole, []subject{{Kind: "ServiceAccount", Name: "builder"}}, false,
			[]string{"FieldValueRequired subjects[0].namespace"}},
		{"everything wrong", roleRef{Kind: "Role"}, []subject{{Kind: "ServiceAccount"}}, false,
			[]string{"FieldValueNotSupported roleRef.apiGroup", "FieldValueRequired subjects[0].name", "FieldValueRequired subjects[0].namespace"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fields(validateBinding(c.ref, c.subjects, c.namespaced)); !slices.Equal(got, c.want) {
				t.Errorf("causes %q, want %q", got, c.want)
			}
		})
	}
}

// Invalid RBAC objects are refused with 422 through the API, even for system:masters.
func TestInvalidRBACObjects(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	cases := []struct{ path, body string }{
		{rbacPath + "/namespaces/default/roles", role("paths", `{"verbs":["get"],"nonResourceURLs":["/healthz"]}`)},
		{rbacPath + "/clusterroles", clusterRole("no-verbs", `{"apiGroups":[""],"resources":["pods"]}`)},
		{rbacPath + "/clusterrolebindings", clusterRoleBinding("to-role", "view", `{"kind":"ServiceAccount","name":"builder"}`)},
		{rbacPath + "/namespaces/default/rolebindings", roleBinding("bad-kind", "Secret", "x", `{"kind":"User","name":"alice"}`)},
	}
	for _, tc := range cases {
		code, out := c.do(t, "admin", "POST", tc.path, tc.body)
		if code != http.StatusUnprocessableEntity || out["reason"] != "Invalid" {
			t.Errorf("POST %s: HTTP %d, want 422 Invalid: %v", tc.path, code, out["message"])
		}
	}
}

// A user may write only Roles whose rules they hold, and bind only roles
// whose rules they hold, unless RBAC grants them escalate or bind.
func TestEscalationPrevention(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	roles, bindings := rbacPath+"/namespaces/default/roles", rbacPath+"/namespaces/default/rolebindings"
	// alice may write roles and bindings in default, and read pods there: nothing else.
	c.admin(t, "POST", roles, role("rbac-writer",
		`{"verbs":["create","update","patch","get"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles","rolebindings"]}`,
		`{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}`), http.StatusCreated)
	c.admin(t, "POST", bindings, roleBinding("alice-rbac-writer", "Role", "rbac-writer", `{"kind":"User","name":"alice"}`), http.StatusCreated)

	readPods := `{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}`
	readSecrets := `{"verbs":["get"],"apiGroups":[""],"resources":["secrets"]}`
	anyPods := `{"verbs":["*"],"apiGroups":[""],"resources":["pods"]}`

	// Roles.
	c.expect(t, "alice", "POST", roles, role("pod-reader", readPods), http.StatusCreated)
	for _, tc := range []struct{ name, rule string }{{"secret-reader", readSecrets}, {"pod-admin", anyPods}} {
		code, out := c.do(t, "alice", "POST", roles, role(tc.name, tc.rule))
		msg, _ := out["message"].(string)
		if code != http.StatusForbidden || !strings.Contains(msg, `is attempting to grant RBAC permissions not currently held`) ||
			!strings.HasPrefix(msg, `roles.rbac.authorization.k8s.io "`+tc.name+`" is forbidden: user "alice"`) {
			t.Errorf("alice creates role %s: HTTP %d: %s", tc.name, code, msg)
		}
	}
	c.expect(t, "admin", "GET", roles+"/secret-reader", "", http.StatusNotFound)

	// Widening a Role by update or patch is the same write.
	code, _ := c.do(t, "alice", "PATCH", roles+"/pod-reader", `{"rules":[`+readPods+`,`+readSecrets+`]}`,
		"Content-Type", mergePatchType)
	if code != http.StatusForbidden {
		t.Errorf("alice widens pod-reader by patch: HTTP %d, want 403", code)
	}
	c.expect(t, "alice", "PUT", roles+"/pod-reader", role("pod-reader", anyPods), http.StatusForbidden)
	stored := c.admin(t, "GET", roles+"/pod-reader", "", http.StatusOK)
	if rules, _ := stored["rules"].([]any); len(rules) != 1 || !slices.Equal(asStrings(at(rules, 0, "verbs")), []string{"get", "list"}) {
		t.Errorf("pod-reader changed: %v", stored["rules"])
	}
	// Narrowing is fine.
	c.expect(t, "alice", "PUT", roles+"/pod-reader", role("pod-reader", `{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}`), http.StatusOK)

	// Bindings: alice holds pod-reader's rules, not view's or cluster-admin's.
	bob := `{"kind":"User","name":"bob"}`
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-pod-reader", "Role", "pod-reader", bob), http.StatusCreated)
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-view", "ClusterRole", "view", bob), http.StatusForbidden)
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-admin", "ClusterRole", "cluster-admin", bob), http.StatusForbidden)
	c.expect(t, "alice", "POST", bindings, roleBinding("alice-admin", "ClusterRole", "cluster-admin", `{"kind":"User","name":"alice"}`), http.StatusForbidden)
	// Re-pointing her own binding is a write of a binding too.
	c.expect(t, "alice", "PUT", bindings+"/bob-pod-reader", roleBinding("bob-pod-reader", "ClusterRole", "cluster-admin", bob), http.StatusForbidden)
	c.expect(t, "bob", "GET", "/api/v1/namespaces/default/pods/web", "", http.StatusNotFound) // allowed, not there
	c.expect(t, "bob", "GET", "/api/v1/namespaces/default/secrets", "", http.StatusForbidden)

	// What alice holds is read in the namespace of the object: nothing in ci.
	c.admin(t, "POST", rbacPath+"/namespaces/ci/rolebindings",
		roleBinding("alice-rbac-only", "ClusterRole", "rbac-only", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	c.admin(t, "POST", rbacPath+"/clusterroles", clusterRole("rbac-only",
		`{"verbs":["create"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles"]}`), http.StatusCreated)
	c.expect(t, "alice", "POST", rbacPath+"/namespaces/ci/roles", role("pod-reader", readPods), http.StatusForbidden)

	// escalate on roles lets alice write any Role in default.
	c.admin(t, "POST", roles, role("escalator", `{"verbs":["escalate"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles"]}`), http.StatusCreated)
	c.admin(t, "POST", bindings, roleBinding("alice-escalator", "Role", "escalator", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	c.expect(t, "alice", "POST", roles, role("secret-reader", readSecrets), http.StatusCreated)
	c.expect(t, "alice", "POST", roles, role("pod-admin", anyPods), http.StatusCreated)
	// escalate is not bind.
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-admin", "ClusterRole", "cluster-admin", bob), http.StatusForbidden)

	// bind on one ClusterRole by name lets alice bind that one, and only that one.
	c.admin(t, "POST", roles, role("binder",
		`{"verbs":["bind"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"resourceNames":["cluster-admin"]}`), http.StatusCreated)
	c.admin(t, "POST", bindings, roleBinding("alice-binder", "Role", "binder", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-view", "ClusterRole", "view", bob), http.StatusForbidden)
	c.expect(t, "alice", "POST", bindings, roleBinding("bob-admin", "ClusterRole", "cluster-admin", bob), http.StatusCreated)
	c.expect(t, "bob", "GET", "/api/v1/namespaces/default/secrets", "", http.StatusOK)
	c.expect(t, "bob", "GET", "/api/v1/namespaces/ci/secrets", "", http.StatusForbidden) // a RoleBinding: default only
}

// A binding to a role that does not exist is refused unless the user may
// bind it: otherwise whoever creates that role later would grant it to
// subjects someone else chose (kube-apiserver answers 404).
func TestBindingAMissingRole(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings",
		roleBinding("alice-admin", "ClusterRole", "admin", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	self := `{"kind":"User","name":"alice"}`
	c.expect(t, "alice", "POST", rbacPath+"/namespaces/default/rolebindings", roleBinding("later", "ClusterRole", "later", self), http.StatusNotFound)
	c.expect(t, "alice", "POST", rbacPath+"/namespaces/default/rolebindings", roleBinding("later", "Role", "later", self), http.StatusNotFound)
	// system:masters may bind anything, existing or not.
	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings", roleBinding("later", "ClusterRole", "later", self), http.StatusCreated)
}

func asStrings(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, item := range items {
		s, _ := item.(string)
		out = append(out, s)
	}
	return out
}
