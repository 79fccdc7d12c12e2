package authz

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func review(t *testing.T, body string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func sar(user, verb, resource, namespace string) string {
	return `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"` + user +
		`","groups":["system:authenticated"],"resourceAttributes":{"verb":"` + verb + `","resource":"` + resource + `","namespace":"` + namespace + `"}}}`
}

func field(obj map[string]any, path ...string) any {
	var v any = obj
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestSubjectAccessReview(t *testing.T) {
	r, a := newChain(t)
	ctx := context.Background()
	ask := func(body string) (bool, string) {
		t.Helper()
		in := review(t, body)
		out, err := SubjectAccessReview(ctx, a, in)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if in["status"] != nil {
			t.Error("the review given was changed")
		}
		if out["kind"] != "SubjectAccessReview" || out.MetaString("creationTimestamp") == "" || field(out, "spec") == nil {
			t.Errorf("answer %v", out)
		}
		reason, _ := field(out, "status", "reason").(string)
		return field(out, "status", "allowed") == true, reason
	}
	if allowed, _ := ask(sar("bob", "list", "pods", "sar-ns")); allowed {
		t.Error("bob may list pods before any binding")
	}
	createRoleBinding(t, r, "sar-ns", "bob-view", clusterRole("view"), user("bob"))
	if allowed, reason := ask(sar("bob", "list", "pods", "sar-ns")); !allowed ||
		reason != `RBAC: allowed by RoleBinding "bob-view/sar-ns" of ClusterRole "view" to User "bob"` {
		t.Errorf("after the binding: %v %q", allowed, reason)
	}
	if allowed, _ := ask(sar("bob", "delete", "pods", "sar-ns")); allowed {
		t.Error("view lets bob delete")
	}
	// The spec's groups are taken as given: no system:authenticated is added.
	if allowed, _ := ask(`{"spec":{"user":"bob","nonResourceAttributes":{"path":"/api","verb":"get"}}}`); allowed {
		t.Error("a user without groups may discover")
	}
	if allowed, _ := ask(`{"spec":{"groups":["system:authenticated"],"nonResourceAttributes":{"path":"/api","verb":"get"}}}`); !allowed {
		t.Error("system:authenticated may not discover")
	}
	if allowed, _ := ask(`{"spec":{"groups":["system:masters"],"resourceAttributes":{"verb":"delete","group":"apps","resource":"deployments","namespace":"x","name":"y"}}}`); !allowed {
		t.Error("system:masters may not delete")
	}

	invalid := []struct{ body, message string }{
		{`{"spec":{"resourceAttributes":{"verb":"get"}}}`,
			`SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified`},
		{`{"spec":{"user":"bob"}}`,
			`SubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
		{`{"spec":{"user":"bob","resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"path":"/x","verb":"get"}}}`,
			`SubjectAccessReview.authorization.k8s.io "" is invalid: spec: Invalid value: {"path":"/x","verb":"get"}: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
	}
	for _, tt := range invalid {
		_, err := SubjectAccessReview(ctx, a, review(t, tt.body))
		if code, reason, message := status(err); code != http.StatusUnprocessableEntity || reason != "Invalid" || message != tt.message {
			t.Errorf("%s: %d %s\n got %s\nwant %s", tt.body, code, reason, message, tt.message)
		}
	}
	if _, err := SubjectAccessReview(ctx, a, review(t, `{"spec":{"user":["bob"]}}`)); err == nil {
		t.Error("a user that is a list")
	} else if code, _, _ := status(err); code != http.StatusBadRequest {
		t.Errorf("a user that is a list: %v", err)
	}
}

func TestSelfSubjectAccessReview(t *testing.T) {
	_, a := newChain(t)
	ctx := context.Background()
	ask := func(u *request.User, spec string) map[string]any {
		t.Helper()
		out, err := SelfSubjectAccessReview(ctx, a, u, review(t, `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":`+spec+`}`))
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		s, _ := out["status"].(map[string]any)
		return s
	}
	// kubectl auth can-i create selfsubjectaccessreviews
	if s := ask(alice, `{"resourceAttributes":{"verb":"create","group":"authorization.k8s.io","resource":"selfsubjectaccessreviews"}}`); s["allowed"] != true ||
		!strings.Contains(s["reason"].(string), `ClusterRole "system:basic-user"`) {
		t.Errorf("every user may ask: %v", s)
	}
	// kubectl auth can-i delete secrets -n kube-system
	if s := ask(alice, `{"resourceAttributes":{"verb":"delete","resource":"secrets","namespace":"kube-system"}}`); s["allowed"] != false || s["denied"] != nil {
		t.Errorf("alice deleting secrets: %v", s)
	}
	// kubectl auth can-i '*' '*'
	if s := ask(admin, `{"resourceAttributes":{"verb":"*","group":"*","resource":"*"}}`); s["allowed"] != true {
		t.Errorf("admin: %v", s)
	}
	if s := ask(alice, `{"nonResourceAttributes":{"verb":"get","path":"/healthz"}}`); s["allowed"] != true {
		t.Errorf("alice /healthz: %v", s)
	}

	// An authorizer's Deny and errors show in the status.
	denying := authorizerFunc(func(_ context.Context, attrs Attributes) (Decision, string, error) {
		if attrs.APIVersion != "*" {
			t.Errorf("a review without a version asks about %q", attrs.APIVersion)
		}
		return Deny, "not on Sundays", context.DeadlineExceeded
	})
	out, err := SelfSubjectAccessReview(ctx, denying, alice, review(t, `{"spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}`))
	if err != nil || field(out, "status", "denied") != true || field(out, "status", "reason") != "not on Sundays" ||
		field(out, "status", "evaluationError") != "context deadline exceeded" {
		t.Errorf("denied: %v %v", out, err)
	}
	if _, err := SelfSubjectAccessReview(ctx, a, alice, review(t, `{"spec":{}}`)); err == nil {
		t.Error("a review asking nothing")
	} else if _, reason, message := status(err); reason != "Invalid" || !strings.HasPrefix(message, `SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec:`) {
		t.Errorf("a review asking nothing: %s", message)
	}
}

func TestSelfSubjectRulesReview(t *testing.T) {
	r, _ := newChain(t)
	ctx := context.Background()
	createRoleBinding(t, r, "sar-ns", "bob-view", clusterRole("view"), user("bob"))
	createRole(t, r, "sar-ns", "one-cm", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"cm-a"}})
	createRoleBinding(t, r, "sar-ns", "bob-one-cm", role("one-cm"), user("bob"))
	body := `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"sar-ns"}}`
	out, err := SelfSubjectRulesReview(ctx, r, bob, review(t, body))
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		ResourceRules []struct {
			Verbs, APIGroups, Resources, ResourceNames []string
		}
		NonResourceRules []struct{ Verbs, NonResourceURLs []string }
		Incomplete       bool
		EvaluationError  string
	}
	if err := remarshal(out["status"], &status); err != nil {
		t.Fatal(err)
	}
	has := func(verbs []string, resource string, names ...string) bool {
		return slices.ContainsFunc(status.ResourceRules, func(r struct{ Verbs, APIGroups, Resources, ResourceNames []string }) bool {
			return slices.Equal(r.Verbs, verbs) && slices.Contains(r.Resources, resource) && slices.Equal(r.ResourceNames, names)
		})
	}
	if !has([]string{"get", "list", "watch"}, "pods") || !has([]string{"create"}, "selfsubjectaccessreviews") ||
		!has([]string{"get"}, "configmaps", "cm-a") || has([]string{"get", "list", "watch"}, "secrets") {
		t.Errorf("resource rules %+v", status.ResourceRules)
	}
	if !slices.ContainsFunc(status.NonResourceRules, func(r struct{ Verbs, NonResourceURLs []string }) bool {
		return slices.Contains(r.NonResourceURLs, "/apis/*")
	}) || status.Incomplete || status.EvaluationError != "" {
		t.Errorf("status %+v", status)
	}

	// Elsewhere bob has only what every user has.
	out, _ = SelfSubjectRulesReview(ctx, r, bob, review(t, `{"spec":{"namespace":"default"}}`))
	if rules, _ := field(out, "status", "resourceRules").([]any); len(rules) != 2 {
		t.Errorf("bob in default: %v", rules)
	}
	// A binding to a missing role: the rest, and an evaluation error.
	createRoleBinding(t, r, "sar-ns", "gone", role("gone"), user("bob"))
	out, _ = SelfSubjectRulesReview(ctx, r, bob, review(t, body))
	if field(out, "status", "evaluationError") != `roles.rbac.authorization.k8s.io "gone" not found` || field(out, "status", "resourceRules") == nil {
		t.Errorf("missing role: %v", out["status"])
	}
	// No RBAC: nothing to list, and the answer says it is incomplete.
	out, _ = SelfSubjectRulesReview(ctx, nil, bob, review(t, body))
	if field(out, "status", "incomplete") != true {
		t.Errorf("no RBAC: %v", out["status"])
	}
	// As in Kubernetes, the namespace is required.
	if _, err := SelfSubjectRulesReview(ctx, r, bob, review(t, `{"spec":{}}`)); err == nil || err.Error() != "no namespace on request" {
		t.Errorf("no namespace: %v", err)
	}
}
