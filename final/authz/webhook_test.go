package authz

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn/authntest"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// accessReviewer answers as an authorization webhook: carol may get pods;
// dave is denied everything; /healthz is anyone's; secrets in "vault" are
// denied to everybody; the rest has no opinion. It records the last review.
func accessReviewer(last *map[string]any) func(map[string]any) (int, any) {
	return func(review map[string]any) (int, any) {
		*last = review
		user, _ := field(review, "spec", "user").(string)
		resource, _ := field(review, "spec", "resourceAttributes", "resource").(string)
		status := map[string]any{"allowed": false}
		switch {
		case user == "broken":
			return http.StatusInternalServerError, map[string]any{}
		case user == "dave":
			status = map[string]any{"allowed": false, "denied": true, "reason": "dave is suspended"}
		case user == "both":
			status = map[string]any{"allowed": true, "denied": true}
		case resource == "secrets" && field(review, "spec", "resourceAttributes", "namespace") == "vault":
			status = map[string]any{"allowed": false, "denied": true, "reason": "the vault is closed"}
		case user == "carol" && resource == "pods" && field(review, "spec", "resourceAttributes", "verb") == "get":
			status = map[string]any{"allowed": true, "reason": "carol runs pods"}
		case field(review, "spec", "nonResourceAttributes", "path") == "/healthz":
			status = map[string]any{"allowed": true}
		}
		return http.StatusOK, map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "status": status}
	}
}

func newWebhook(t *testing.T, last *map[string]any) (*Webhook, *authntest.Webhook) {
	t.Helper()
	hook := authntest.NewWebhook(t, accessReviewer(last))
	client, err := authn.LoadWebhookClient(hook.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return &Webhook{Client: client, AuthorizedTTL: 5 * time.Minute, UnauthorizedTTL: 30 * time.Second}, hook
}

func TestWebhookAuthorizer(t *testing.T) {
	var last map[string]any
	w, hook := newWebhook(t, &last)
	clock := time.Now()
	w.Now = func() time.Time { return clock }
	carol := &request.User{Name: "carol", UID: "7", Groups: []string{"dev", request.GroupAuthenticated}, Extra: map[string][]string{"scopes": {"a"}}}

	d, reason := decide(t, w, resourceAttrs(carol, "get", "", "pods", "default", "web"))
	if d != Allow || reason != "carol runs pods" {
		t.Errorf("carol get pods: %v %q", d, reason)
	}
	// The review carries the user and the question, as Kubernetes sends them.
	if last["apiVersion"] != "authorization.k8s.io/v1" || last["kind"] != "SubjectAccessReview" ||
		field(last, "spec", "uid") != "7" || field(last, "spec", "resourceAttributes", "name") != "web" ||
		field(last, "spec", "extra", "scopes") == nil || field(last, "spec", "nonResourceAttributes") != nil {
		t.Errorf("review sent: %v", last)
	}
	if d, _ := decide(t, w, resourceAttrs(carol, "delete", "", "pods", "default", "web")); d != NoOpinion {
		t.Errorf("carol delete pods: %v, want no opinion", d)
	}
	if d, reason := decide(t, w, resourceAttrs(&request.User{Name: "dave"}, "get", "", "pods", "default", "web")); d != Deny || reason != "dave is suspended" {
		t.Errorf("dave: %v %q", d, reason)
	}
	d, _ = decide(t, w, Attributes{User: carol, Verb: "get", Path: "/healthz"})
	if d != Allow || field(last, "spec", "nonResourceAttributes", "path") != "/healthz" || field(last, "spec", "resourceAttributes") != nil {
		t.Errorf("non-resource /healthz: %v, review %v", d, last)
	}
	// Both allowed and denied: denied, with an error.
	if d, _, err := w.Authorize(context.Background(), resourceAttrs(&request.User{Name: "both"}, "get", "", "pods", "", "")); d != Deny || err == nil {
		t.Errorf("allowed and denied: %v %v", d, err)
	}
	// The webhook failing is no opinion, and an error.
	if d, _, err := w.Authorize(context.Background(), resourceAttrs(&request.User{Name: "broken"}, "get", "", "pods", "", "")); d != NoOpinion || err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("broken: %v %v", d, err)
	}

	// Cached: allowed answers for 5 minutes, the others for 30 seconds.
	calls := hook.Calls()
	decide(t, w, resourceAttrs(carol, "get", "", "pods", "default", "web"))
	decide(t, w, resourceAttrs(carol, "delete", "", "pods", "default", "web"))
	if n := hook.Calls() - calls; n != 0 {
		t.Errorf("%d calls for cached questions", n)
	}
	clock = clock.Add(31 * time.Second)
	decide(t, w, resourceAttrs(carol, "get", "", "pods", "default", "web"))
	decide(t, w, resourceAttrs(carol, "delete", "", "pods", "default", "web"))
	if n := hook.Calls() - calls; n != 1 {
		t.Errorf("%d calls after 31 s, want 1 (the refusal asked again)", n)
	}
	clock = clock.Add(5 * time.Minute)
	decide(t, w, resourceAttrs(carol, "get", "", "pods", "default", "web"))
	if n := hook.Calls() - calls; n != 2 {
		t.Errorf("%d calls after 5 min more, want 2", n)
	}
	// Failures are not cached.
	calls = hook.Calls()
	_, _, _ = w.Authorize(context.Background(), resourceAttrs(&request.User{Name: "broken"}, "get", "", "pods", "", ""))
	if hook.Calls()-calls != 1 {
		t.Error("a failure was cached")
	}
}

// In the union, the first decisive answer wins: the webhook's denial stops
// RBAC from allowing when it comes first, and RBAC's allowance stops the
// webhook from denying when RBAC comes first; no opinion falls through.
func TestWebhookInTheChain(t *testing.T) {
	r := newRBAC(t)
	createRoleBinding(t, r, "vault", "bob-edit", clusterRole("edit"), user("bob"))
	var last map[string]any
	w, _ := newWebhook(t, &last)
	carol := &request.User{Name: "carol", Groups: []string{request.GroupAuthenticated}}
	bobSecrets := resourceAttrs(bob, "get", "", "secrets", "vault", "key")
	for _, tc := range []struct {
		modes string
		attrs Attributes
		want  Decision
	}{
		{"RBAC,Webhook", bobSecrets, Allow},
		{"Webhook,RBAC", bobSecrets, Deny},
		{"RBAC,Webhook", resourceAttrs(carol, "get", "", "pods", "default", "web"), Allow},
		{"RBAC,Webhook", resourceAttrs(carol, "delete", "", "pods", "default", "web"), NoOpinion},
		{"AlwaysDeny,Webhook", resourceAttrs(carol, "get", "", "pods", "default", "web"), Allow},
		{"Webhook,AlwaysAllow", resourceAttrs(&request.User{Name: "dave"}, "get", "", "pods", "", ""), Deny},
		{"Webhook,AlwaysAllow", resourceAttrs(carol, "delete", "", "pods", "", ""), Allow},
		// system:masters is allowed before any mode is asked.
		{"Webhook", resourceAttrs(&request.User{Name: "dave", Groups: []string{request.GroupMasters}}, "get", "", "pods", "", ""), Allow},
	} {
		a, err := New(tc.modes, r, nil, w)
		if err != nil {
			t.Fatal(err)
		}
		if d, _, _ := a.Authorize(context.Background(), tc.attrs); d != tc.want {
			t.Errorf("%s, %s %s %s: %v, want %v", tc.modes, tc.attrs.User.Name, tc.attrs.Verb, tc.attrs.Resource, d, tc.want)
		}
	}
}
