// Chapter 04's checks: who may do what. RBAC as API objects, kubectl auth
// can-i, 403 wording, impersonation, escalation prevention, and the
// authorization modes.
package chapters_test

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func chapter04Checks() []check {
	return []check{
		{4, "kubectl auth can-i answers yes and no", checkCanI},
		{4, "alice is forbidden until a RoleBinding", checkForbiddenThenBound},
		{4, "403s are worded as Kubernetes words them", checkForbiddenMessages},
		{4, "rules: resourceNames, subresources, service-account subjects", checkRuleMatching},
		{4, "SubjectAccessReview and SelfSubjectRulesReview", checkAccessReviews},
		{4, "kubectl --as needs the impersonate verb", checkImpersonation},
		{4, "no escalation through roles or bindings", checkEscalation},
		{4, "RBAC objects with invalid rules are 422", checkInvalidRBAC},
		{4, "--authorization-mode", checkAuthorizationModes},
	}
}

func (s *server) alice() string { return filepath.Join(s.dataDir, "kubeconfig-alice") }

func checkCanI(t *testing.T, s *server) {
	if out := s.mustKubectl(t, "", "auth", "can-i", "*", "*"); strings.TrimSpace(out) != "yes" {
		t.Errorf("admin can-i '*' '*': %q", out)
	}
	out, err := s.kubectl(t, "", "--kubeconfig", s.alice(), "auth", "can-i", "delete", "secrets", "-n", "kube-system")
	if err == nil || strings.TrimSpace(out) != "no" {
		t.Errorf("alice can-i delete secrets: %v %q", err, out)
	}
	if out := s.mustKubectl(t, "", "--kubeconfig", s.alice(), "auth", "can-i", "create", "selfsubjectaccessreviews"); !strings.HasSuffix(strings.TrimSpace(out), "yes") {
		t.Errorf("every authenticated user may ask: %q", out)
	}
}

func checkForbiddenThenBound(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "namespace", "alice-ns")
	out, err := s.kubectl(t, "", "--kubeconfig", s.alice(), "get", "configmaps", "-n", "alice-ns")
	if err == nil || !strings.Contains(out, `configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "alice-ns"`) {
		t.Fatalf("before the binding: %v\n%s", err, out)
	}
	s.mustKubectl(t, "", "create", "rolebinding", "alice-edit", "-n", "alice-ns", "--clusterrole=edit", "--user=alice")
	s.mustKubectl(t, "", "--kubeconfig", s.alice(), "create", "configmap", "mine", "-n", "alice-ns", "--from-literal=a=b")
	if out := s.mustKubectl(t, "", "--kubeconfig", s.alice(), "get", "configmaps", "-n", "alice-ns", "-o", "name"); strings.TrimSpace(out) != "configmap/mine" {
		t.Errorf("after the binding: %q", out)
	}
	// The binding is namespaced: elsewhere alice is still nobody.
	if _, err := s.kubectl(t, "", "--kubeconfig", s.alice(), "get", "configmaps", "-n", "kube-public"); err == nil {
		t.Error("a RoleBinding in alice-ns let alice read default")
	}
}

func checkForbiddenMessages(t *testing.T, s *server) {
	alice := s.as(s.clientFor(t, s.alice()))
	cases := []struct{ method, path, message string }{
		{"GET", "/api/v1/namespaces/kube-public/pods/web", `pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "kube-public"`},
		{"GET", "/apis/batch/v1/jobs", `jobs.batch is forbidden: User "alice" cannot list resource "jobs" in API group "batch" at the cluster scope`},
		{"DELETE", "/api/v1/namespaces/kube-public/secrets", `secrets is forbidden: User "alice" cannot deletecollection resource "secrets" in API group "" in the namespace "kube-public"`},
		{"POST", "/api/v1/namespaces/kube-public/serviceaccounts/default/token", `serviceaccounts "default" is forbidden: User "alice" cannot create resource "serviceaccounts/token" in API group "" in the namespace "kube-public"`},
		{"GET", "/metrics", `forbidden: User "alice" cannot get path "/metrics"`},
	}
	for _, c := range cases {
		r := alice.do(t, c.method, c.path, "application/json", `{}`)
		expect(t, r, http.StatusForbidden, "Forbidden")
		if str(r.obj, "message") != c.message {
			t.Errorf("%s %s:\n got %s\nwant %s", c.method, c.path, str(r.obj, "message"), c.message)
		}
	}
	anonymous := s.as(s.httpsClient(t, ""))
	expect(t, anonymous.get(t, "/version"), http.StatusOK, "")
	r := anonymous.get(t, "/api/v1/namespaces")
	expect(t, r, http.StatusForbidden, "Forbidden")
	if !strings.Contains(str(r.obj, "message"), `User "system:anonymous"`) {
		t.Errorf("anonymous 403: %s", r.raw)
	}
}

func checkRuleMatching(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "namespace", "rules")
	s.mustKubectl(t, "", "create", "configmap", "cm-a", "-n", "rules")
	s.mustKubectl(t, "", "create", "configmap", "cm-b", "-n", "rules")
	s.mustKubectl(t, "", "create", "role", "one-cm", "-n", "rules", "--verb=get", "--resource=configmaps", "--resource-name=cm-a")
	s.mustKubectl(t, "", "create", "rolebinding", "alice-one-cm", "-n", "rules", "--role=one-cm", "--user=alice")
	alice := s.as(s.clientFor(t, s.alice()))
	expect(t, alice.get(t, "/api/v1/namespaces/rules/configmaps/cm-a"), http.StatusOK, "")
	expect(t, alice.get(t, "/api/v1/namespaces/rules/configmaps/cm-b"), http.StatusForbidden, "Forbidden")
	expect(t, alice.get(t, "/api/v1/namespaces/rules/configmaps"), http.StatusForbidden, "Forbidden") // resourceNames never grant list

	// A service account is a subject too, and its token carries it.
	s.mustKubectl(t, "", "create", "serviceaccount", "reader", "-n", "rules")
	s.mustKubectl(t, "", "create", "rolebinding", "reader-view", "-n", "rules", "--clusterrole=view", "--serviceaccount=rules:reader")
	token := strings.TrimSpace(s.mustKubectl(t, "", "create", "token", "reader", "-n", "rules"))
	reader := s.as(s.httpsClient(t, token))
	if r := reader.get(t, "/api/v1/namespaces/rules/configmaps"); r.code != http.StatusOK || len(names(t, r)) != 2 {
		t.Errorf("service account with view: HTTP %d %s", r.code, r.raw)
	}
	expect(t, reader.post(t, "/api/v1/namespaces/rules/configmaps", `{"metadata":{"name":"no"}}`), http.StatusForbidden, "Forbidden")
	// edit grants the token subresource, view does not.
	expect(t, reader.post(t, "/api/v1/namespaces/rules/serviceaccounts/reader/token", `{}`), http.StatusForbidden, "Forbidden")
}

func checkAccessReviews(t *testing.T, s *server) {
	sar := func(user, verb, resource, namespace string) any {
		r := s.post(t, "/apis/authorization.k8s.io/v1/subjectaccessreviews", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
			"spec":{"user":"`+user+`","groups":["system:authenticated"],"resourceAttributes":{"verb":"`+verb+`","resource":"`+resource+`","namespace":"`+namespace+`"}}}`)
		expect(t, r, http.StatusCreated, "")
		return field(r.obj, "status", "allowed")
	}
	if sar("bob", "list", "pods", "sar-ns") != false {
		t.Error("bob may list pods before any binding")
	}
	s.mustKubectl(t, "", "create", "namespace", "sar-ns")
	s.mustKubectl(t, "", "create", "rolebinding", "bob-view", "-n", "sar-ns", "--clusterrole=view", "--user=bob")
	if sar("bob", "list", "pods", "sar-ns") != true || sar("bob", "delete", "pods", "sar-ns") != false {
		t.Error("SubjectAccessReview does not follow bob's new binding")
	}
	// Only those allowed to create SubjectAccessReviews may ask about others.
	bob := s.as(s.clientFor(t, filepath.Join(s.dataDir, "kubeconfig-bob")))
	expect(t, bob.post(t, "/apis/authorization.k8s.io/v1/subjectaccessreviews", `{"spec":{"user":"x"}}`), http.StatusForbidden, "Forbidden")
	expect(t, s.post(t, "/apis/authorization.k8s.io/v1/subjectaccessreviews", `{"spec":{"resourceAttributes":{"verb":"get"}}}`), http.StatusUnprocessableEntity, "Invalid")

	out := s.mustKubectl(t, "", "--kubeconfig", filepath.Join(s.dataDir, "kubeconfig-bob"), "auth", "can-i", "--list", "-n", "sar-ns")
	if !strings.Contains(out, "pods") || !strings.Contains(out, "[get list watch]") || !strings.Contains(out, "selfsubjectaccessreviews.authorization.k8s.io") {
		t.Errorf("kubectl auth can-i --list as bob:\n%s", out)
	}
}

func checkImpersonation(t *testing.T, s *server) {
	// admin (system:masters) may impersonate anyone: it then has their rights.
	out, err := s.kubectl(t, "", "get", "secrets", "-n", "kube-system", "--as", "bob")
	if err == nil || !strings.Contains(out, `User "bob" cannot list resource "secrets"`) {
		t.Errorf("admin --as bob: %v\n%s", err, out)
	}
	if out := s.mustKubectl(t, "", "auth", "whoami", "--as", "carol", "--as-group", "qa"); !strings.Contains(out, "carol") || !strings.Contains(out, "qa") {
		t.Errorf("whoami --as carol --as-group qa:\n%s", out)
	}
	out, err = s.kubectl(t, "", "--kubeconfig", s.alice(), "get", "pods", "--as", "bob")
	if err == nil || !strings.Contains(out, `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`) {
		t.Errorf("alice --as bob before a grant: %v\n%s", err, out)
	}
	s.mustKubectl(t, "", "create", "clusterrole", "impersonate-bob", "--verb=impersonate", "--resource=users", "--resource-name=bob")
	s.mustKubectl(t, "", "create", "clusterrolebinding", "alice-impersonates-bob", "--clusterrole=impersonate-bob", "--user=alice")
	if out := s.mustKubectl(t, "", "--kubeconfig", s.alice(), "auth", "whoami", "--as", "bob"); !strings.Contains(out, "bob") {
		t.Errorf("alice --as bob after the grant:\n%s", out)
	}
	if _, err := s.kubectl(t, "", "--kubeconfig", s.alice(), "auth", "whoami", "--as", "bob", "--as-group", "system:masters"); err == nil {
		t.Error("alice could add system:masters while impersonating bob")
	}
}

func checkEscalation(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "namespace", "esc")
	s.mustKubectl(t, "", "create", "rolebinding", "alice-admin", "-n", "esc", "--clusterrole=admin", "--user=alice")
	as := func(args ...string) (string, error) {
		return s.kubectl(t, "", append([]string{"--kubeconfig", s.alice(), "-n", "esc"}, args...)...)
	}
	if out, err := as("create", "role", "narrow", "--verb=get,list", "--resource=pods"); err != nil {
		t.Errorf("a role within alice's rights: %v\n%s", err, out)
	}
	if out, err := as("create", "role", "wide", "--verb=*", "--resource=pods"); err == nil || !strings.Contains(out, "attempting to grant RBAC permissions not currently held") {
		t.Errorf("a role beyond alice's rights: %v\n%s", err, out)
	}
	if out, err := as("create", "rolebinding", "bob-admin", "--clusterrole=admin", "--user=bob"); err != nil {
		t.Errorf("binding a role alice holds: %v\n%s", err, out)
	}
	if out, err := as("create", "rolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob"); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("binding cluster-admin: %v\n%s", err, out)
	}
	// Updating a role is checked as creating one is.
	if out, err := as("patch", "role", "narrow", "--type=json", `-p=[{"op":"add","path":"/rules/0/verbs/-","value":"*"}]`); err == nil {
		t.Errorf("patching a role beyond alice's rights succeeded:\n%s", out)
	}
	// The escalate and bind verbs lift the check.
	s.mustKubectl(t, "", "create", "role", "escalator", "-n", "esc", "--verb=escalate,bind", "--resource=roles,clusterroles")
	s.mustKubectl(t, "", "create", "rolebinding", "alice-escalates", "-n", "esc", "--role=escalator", "--user=alice")
	if out, err := as("create", "role", "wide", "--verb=*", "--resource=pods"); err != nil {
		t.Errorf("with escalate: %v\n%s", err, out)
	}
	if out, err := as("create", "rolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob"); err != nil {
		t.Errorf("with bind: %v\n%s", err, out)
	}
}

func checkInvalidRBAC(t *testing.T, s *server) {
	const roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
	for name, body := range map[string]string{
		"no verbs":                 `{"metadata":{"name":"x"},"rules":[{"verbs":[],"apiGroups":[""],"resources":["pods"]}]}`,
		"no resources":             `{"metadata":{"name":"x"},"rules":[{"verbs":["get"],"apiGroups":[""]}]}`,
		"non-resource URL in Role": `{"metadata":{"name":"x"},"rules":[{"verbs":["get"],"nonResourceURLs":["/healthz"]}]}`,
	} {
		t.Run(name, func(t *testing.T) { expect(t, s.post(t, roles, body), http.StatusUnprocessableEntity, "Invalid") })
	}
	const bindings = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
	expect(t, s.post(t, bindings, `{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}`), http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.post(t, bindings, `{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"Robot","name":"r2"}]}`), http.StatusUnprocessableEntity, "Invalid")
}

func checkAuthorizationModes(t *testing.T, s *server) {
	open := start(t, s.exe, s.chapter, "--authorization-mode=AlwaysAllow")
	if out, err := open.kubectl(t, "", "--kubeconfig", open.alice(), "get", "secrets", "-n", "kube-system"); err != nil {
		t.Errorf("AlwaysAllow: alice is refused: %v\n%s", err, out)
	}
	closed := start(t, s.exe, s.chapter, "--authorization-mode=AlwaysDeny")
	expect(t, closed.as(closed.clientFor(t, closed.alice())).get(t, "/api/v1/namespaces"), http.StatusForbidden, "Forbidden")
	expect(t, closed.get(t, "/api/v1/namespaces"), http.StatusOK, "") // system:masters before any authorizer

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.exe, "--secure-port=0", "--data-dir="+t.TempDir(), "--authorization-mode=Webhook").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Webhook") {
		t.Errorf("an unimplemented mode must stop the server: %v\n%s", err, out)
	}
}
