package authz

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func TestNewRefuses(t *testing.T) {
	r := newRBAC(t)
	tests := []struct{ modes, wantErr string }{
		{"", "at least one mode"},
		{" , ", "at least one mode"},
		{"Foo", `"Foo" is not a valid mode (valid modes: AlwaysAllow, AlwaysDeny, Node, RBAC, Webhook)`},
		{"rbac", `"rbac" is not a valid mode`}, // modes are case-sensitive, as in kube-apiserver
		{"Node,RBAC", "--authorization-mode Node: no Node authorizer was given"},
		{"RBAC,Webhook", "--authorization-mode Webhook: no Webhook authorizer was given"},
		{"ABAC", "ABAC is a kube-apiserver mode this server does not implement yet"},
		{"RBAC,RBAC", "RBAC is specified more than once"},
	}
	for _, tt := range tests {
		a, err := New(tt.modes, r, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%q) = %v, %v; want an error with %q", tt.modes, a, err, tt.wantErr)
		}
	}
	if _, err := New("RBAC", nil, nil, nil); err == nil {
		t.Error("RBAC mode without an RBAC authorizer")
	}
}

func TestModes(t *testing.T) {
	r := newRBAC(t)
	createRoleBinding(t, r, "ns", "bob-view", clusterRole("view"), user("bob"))
	listPods := func(u *request.User) Attributes { return resourceAttrs(u, "list", "", "pods", "ns", "") }
	tests := []struct {
		modes  string
		attrs  Attributes
		want   Decision
		reason string
	}{
		{"AlwaysAllow", listPods(alice), Allow, ""},
		{"AlwaysDeny", listPods(alice), NoOpinion, "alwaysdeny: Everything is forbidden."},
		// system:masters is allowed before any mode is asked.
		{"AlwaysDeny", listPods(admin), Allow, ""},
		{"RBAC", listPods(bob), Allow, `RBAC: allowed by RoleBinding "bob-view/ns" of ClusterRole "view" to User "bob"`},
		{"RBAC", listPods(alice), NoOpinion, ""},
		// The first decisive answer wins; AlwaysDeny has no opinion, as in
		// Kubernetes, so later modes are still asked.
		{"AlwaysDeny,RBAC", listPods(bob), Allow, `RBAC: allowed by RoleBinding "bob-view/ns" of ClusterRole "view" to User "bob"`},
		{"AlwaysDeny,RBAC", listPods(alice), NoOpinion, "alwaysdeny: Everything is forbidden."},
		{"RBAC, AlwaysAllow", listPods(alice), Allow, ""},
	}
	for _, tt := range tests {
		a, err := New(tt.modes, r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, reason := decide(t, a, tt.attrs); got != tt.want || reason != tt.reason {
			t.Errorf("%s, %s: got %v %q, want %v %q", tt.modes, tt.attrs.User.Name, got, reason, tt.want, tt.reason)
		}
	}
}

func TestUnionDenyAndErrors(t *testing.T) {
	boom := errors.New("boom")
	deny := authorizerFunc(func(context.Context, Attributes) (Decision, string, error) { return Deny, "no", nil })
	broken := authorizerFunc(func(context.Context, Attributes) (Decision, string, error) { return NoOpinion, "", boom })
	never := authorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
		t.Error("asked after a decision")
		return Allow, "", nil
	})
	ctx := context.Background()
	if d, reason, _ := (union{{"deny", deny}, {"never", never}}).Authorize(ctx, Attributes{User: alice}); d != Deny || reason != "no" {
		t.Errorf("deny: %v %q", d, reason)
	}
	// As in Kubernetes, the deciding authorizer's answer is the answer.
	if d, _, err := (union{{"broken", broken}, {"allow", AlwaysAllow{}}}).Authorize(ctx, Attributes{User: alice}); d != Allow || err != nil {
		t.Errorf("an error, then allow: %v %v", d, err)
	}
	if d, _, err := (union{{"broken", broken}, {"broken", broken}}).Authorize(ctx, Attributes{User: alice}); d != NoOpinion || err.Error() != "boom" || !errors.Is(err, boom) {
		t.Errorf("errors: %v %v", d, err)
	}
}

func TestWithAuthorization(t *testing.T) {
	r, a := newChain(t)
	createRoleBinding(t, r, "alice-ns", "alice-edit", clusterRole("edit"), user("alice"))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := WithAuthorization(ok, a)

	// The 403s as kube-apiserver words them.
	forbidden := []struct {
		method, path, message string
		details               map[string]any
	}{
		{"GET", "/api/v1/namespaces/kube-public/pods/web",
			`pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "kube-public"`,
			map[string]any{"name": "web", "kind": "pods"}},
		{"GET", "/api/v1/namespaces/alice-ns/configmaps?watch=true", "", nil}, // allowed: see below
		{"GET", "/api/v1/namespaces/kube-public/configmaps",
			`configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "kube-public"`,
			map[string]any{"kind": "configmaps"}},
		{"GET", "/apis/batch/v1/jobs",
			`jobs.batch is forbidden: User "alice" cannot list resource "jobs" in API group "batch" at the cluster scope`,
			map[string]any{"group": "batch", "kind": "jobs"}},
		{"DELETE", "/api/v1/namespaces/kube-public/secrets",
			`secrets is forbidden: User "alice" cannot deletecollection resource "secrets" in API group "" in the namespace "kube-public"`,
			map[string]any{"kind": "secrets"}},
		{"POST", "/api/v1/namespaces/kube-public/serviceaccounts/default/token",
			`serviceaccounts "default" is forbidden: User "alice" cannot create resource "serviceaccounts/token" in API group "" in the namespace "kube-public"`,
			map[string]any{"name": "default", "kind": "serviceaccounts"}},
		{"GET", "/api/v1/namespaces/kube-public",
			`namespaces "kube-public" is forbidden: User "alice" cannot get resource "namespaces" in API group "" in the namespace "kube-public"`,
			map[string]any{"name": "kube-public", "kind": "namespaces"}},
		{"GET", "/metrics", `forbidden: User "alice" cannot get path "/metrics"`, map[string]any{}},
		// Nothing in a 403 reads as HTML.
		{"GET", "/<b>&", `forbidden: User "alice" cannot get path "/&lt;b&gt;&amp;"`, map[string]any{}},
	}
	for _, c := range forbidden {
		code, body := serve(t, h, alice, c.method, c.path, nil)
		if c.message == "" {
			if code != http.StatusOK {
				t.Errorf("%s %s: %d %v", c.method, c.path, code, body)
			}
			continue
		}
		if code != http.StatusForbidden || body["reason"] != "Forbidden" || body["kind"] != "Status" || body["message"] != c.message {
			t.Errorf("%s %s: %d %v\nwant message %s", c.method, c.path, code, body, c.message)
		}
		if details, _ := body["details"].(map[string]any); len(details) != len(c.details) {
			t.Errorf("%s %s: details %v, want %v", c.method, c.path, details, c.details)
		} else {
			for k, v := range c.details {
				if details[k] != v {
					t.Errorf("%s %s: details %v, want %v", c.method, c.path, details, c.details)
				}
			}
		}
	}

	if code, _ := serve(t, h, alice, "POST", "/api/v1/namespaces/alice-ns/configmaps", nil); code != http.StatusOK {
		t.Errorf("alice creating a configmap where she may: %d", code)
	}
	if code, _ := serve(t, h, admin, "DELETE", "/api/v1/namespaces/kube-system", nil); code != http.StatusOK {
		t.Errorf("system:masters: %d", code)
	}
	if code, _ := serve(t, h, anon, "GET", "/version", nil); code != http.StatusOK {
		t.Errorf("anonymous /version: %d", code)
	}
	code, body := serve(t, h, anon, "GET", "/api/v1/namespaces", nil)
	if code != http.StatusForbidden || !strings.Contains(body["message"].(string), `User "system:anonymous" cannot list resource "namespaces"`) {
		t.Errorf("anonymous namespaces: %d %v", code, body)
	}

	// A reason reaches the user after the message, as kube-apiserver's does.
	closed, err := New("AlwaysDeny", r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, body = serve(t, WithAuthorization(ok, closed), alice, "GET", "/api/v1/namespaces", nil)
	if want := `namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope: alwaysdeny: Everything is forbidden.`; code != http.StatusForbidden || body["message"] != want {
		t.Errorf("AlwaysDeny: %d %v", code, body)
	}
}

func TestWithAuthorizationFailures(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	broken := authorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
		return NoOpinion, "", errors.New("store down")
	})
	code, body := serve(t, WithAuthorization(ok, broken), alice, "GET", "/api/v1/pods", nil)
	if code != http.StatusInternalServerError || body["message"] != "Internal error occurred: store down" {
		t.Errorf("an authorizer that cannot decide: %d %v", code, body)
	}
	// Allowed in spite of an error: the decision counts.
	allowedAnyway := authorizerFunc(func(context.Context, Attributes) (Decision, string, error) { return Allow, "", errors.New("partial") })
	if code, _ := serve(t, WithAuthorization(ok, allowedAnyway), alice, "GET", "/api/v1/pods", nil); code != http.StatusOK {
		t.Errorf("allowed with an error: %d", code)
	}
	// Without a RequestInfo the filters are wired wrong: 500, never a guess.
	w, req := httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/pods", nil)
	WithAuthorization(ok, AlwaysAllow{}).ServeHTTP(w, req.WithContext(request.WithUser(req.Context(), alice)))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("no RequestInfo: %d", w.Code)
	}
}

func TestForbiddenError(t *testing.T) {
	err := ForbiddenError(resourceAttrs(alice, "update", "apps", "deployments/scale", "ns", "web"), "some reason")
	code, reason, message := status(err)
	want := `deployments.apps "web" is forbidden: User "alice" cannot update resource "deployments/scale" in API group "apps" in the namespace "ns": some reason`
	if code != http.StatusForbidden || reason != "Forbidden" || message != want || apierrors.ReasonForError(err) != "Forbidden" {
		t.Errorf("got %d %s %q\nwant %q", code, reason, message, want)
	}
}
