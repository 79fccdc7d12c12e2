package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// recordingAuthorizer allows the impersonation checks it was told to allow,
// written "resource[/subresource] [namespace/]name", and records every check
// it is asked, in order.
type recordingAuthorizer struct {
	allowed []string
	asked   *[]string
}

func (a recordingAuthorizer) authorize(attr attributes) decision {
	what := attr.Resource
	if attr.Subresource != "" {
		what += "/" + attr.Subresource
	}
	what += " "
	if attr.Namespace != "" {
		what += attr.Namespace + "/"
	}
	what += attr.Name
	*a.asked = append(*a.asked, what)
	if attr.Verb == "impersonate" && attr.IsResourceRequest && attr.user.Name == "alice" && slices.Contains(a.allowed, what) {
		return allow
	}
	return noOpinion
}

func TestWithImpersonation(t *testing.T) {
	cases := []struct {
		name      string
		headers   [][2]string
		allowed   []string
		wantCode  int
		wantUser  *userInfo // nil: the handler must not run
		wantAsked []string
		wantError string
	}{
		{name: "no impersonation", wantCode: http.StatusOK,
			wantUser: &userInfo{Name: "alice", Groups: list("developers", groupAuthenticated)}},

		{name: "a user, allowed",
			headers: [][2]string{{"Impersonate-User", "bob"}}, allowed: list("users bob"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "bob", Groups: list(groupAuthenticated)},
			wantAsked: list("users bob")},
		{name: "a user, forbidden",
			headers: [][2]string{{"Impersonate-User", "bob"}}, allowed: list("users carol"),
			wantCode: http.StatusForbidden, wantAsked: list("users bob"),
			wantError: `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`},

		{name: "groups, each allowed",
			headers:  [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Group", "ops"}, {"Impersonate-Group", "dev"}},
			allowed:  list("users bob", "groups ops", "groups dev"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "bob", Groups: list("ops", "dev", groupAuthenticated)},
			wantAsked: list("users bob", "groups ops", "groups dev")},
		{name: "groups, one forbidden",
			headers:  [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Group", "ops"}, {"Impersonate-Group", "system:masters"}},
			allowed:  list("users bob", "groups ops"),
			wantCode: http.StatusForbidden, wantAsked: list("users bob", "groups ops", "groups system:masters"),
			wantError: `groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope`},
		{name: "groups without the user",
			headers: [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Group", "ops"}}, allowed: list("groups ops"),
			wantCode: http.StatusForbidden, wantAsked: list("users bob")},

		{name: "a service account, allowed",
			headers: [][2]string{{"Impersonate-User", "system:serviceaccount:ci:builder"}}, allowed: list("serviceaccounts ci/builder"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "system:serviceaccount:ci:builder",
				Groups: list("system:serviceaccounts", "system:serviceaccounts:ci", groupAuthenticated)},
			wantAsked: list("serviceaccounts ci/builder")},
		{name: "a service account is not a user",
			headers: [][2]string{{"Impersonate-User", "system:serviceaccount:ci:builder"}}, allowed: list("users system:serviceaccount:ci:builder"),
			wantCode: http.StatusForbidden, wantAsked: list("serviceaccounts ci/builder"),
			wantError: `serviceaccounts "builder" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "ci"`},
		{name: "a service account with extra groups",
			headers:  [][2]string{{"Impersonate-User", "system:serviceaccount:ci:builder"}, {"Impersonate-Group", "ops"}},
			allowed:  list("serviceaccounts ci/builder", "groups ops"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "system:serviceaccount:ci:builder",
				Groups: list("system:serviceaccounts", "system:serviceaccounts:ci", "ops", groupAuthenticated)},
			wantAsked: list("serviceaccounts ci/builder", "groups ops")},

		{name: "a uid",
			headers: [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Uid", "uid-bob"}}, allowed: list("users bob", "uids uid-bob"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "bob", UID: "uid-bob", Groups: list(groupAuthenticated)},
			wantAsked: list("users bob", "uids uid-bob")},
		{name: "a uid, forbidden",
			headers: [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Uid", "uid-bob"}}, allowed: list("users bob"),
			wantCode: http.StatusForbidden, wantAsked: list("users bob", "uids uid-bob"),
			wantError: `uids.authentication.k8s.io "uid-bob" is forbidden: User "alice" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope`},
		{name: "extra fields, each value checked",
			headers:  [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Extra-Scopes", "read"}, {"Impersonate-Extra-Scopes", "write"}},
			allowed:  list("users bob", "userextras/scopes read", "userextras/scopes write"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "bob", Groups: list(groupAuthenticated),
				Extra: map[string][]string{"scopes": {"read", "write"}}},
			wantAsked: list("users bob", "userextras/scopes read", "userextras/scopes write")},
		{name: "extra fields, one value forbidden",
			headers:  [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Extra-Scopes", "read"}, {"Impersonate-Extra-Scopes", "write"}},
			allowed:  list("users bob", "userextras/scopes read"),
			wantCode: http.StatusForbidden, wantAsked: list("users bob", "userextras/scopes read", "userextras/scopes write")},

		{name: "system:anonymous is unauthenticated",
			headers: [][2]string{{"Impersonate-User", "system:anonymous"}}, allowed: list("users system:anonymous"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "system:anonymous", Groups: list(groupUnauthenticated)},
			wantAsked: list("users system:anonymous")},
		{name: "a user asked to be unauthenticated",
			headers:  [][2]string{{"Impersonate-User", "bob"}, {"Impersonate-Group", groupUnauthenticated}},
			allowed:  list("users bob", "groups system:unauthenticated"),
			wantCode: http.StatusOK, wantUser: &userInfo{Name: "bob", Groups: list(groupUnauthenticated)},
			wantAsked: list("users bob", "groups system:unauthenticated")},

		{name: "a group without a user",
			headers: [][2]string{{"Impersonate-Group", "ops"}}, allowed: list("groups ops"), wantCode: http.StatusBadRequest},
		{name: "a uid without a user",
			headers: [][2]string{{"Impersonate-Uid", "uid-bob"}}, wantCode: http.StatusBadRequest},
		{name: "extra fields without a user",
			headers: [][2]string{{"Impersonate-Extra-Scopes", "read"}}, wantCode: http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var served *userInfo
			var leftHeaders []string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served = userFrom(r.Context())
				for h := range r.Header {
					if strings.HasPrefix(h, "Impersonate-") {
						leftHeaders = append(leftHeaders, h)
					}
				}
			})
			asked := []string{}
			h := withImpersonation(next, recordingAuthorizer{c.allowed, &asked})
			r := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil)
			for _, kv := range c.headers {
				r.Header.Add(kv[0], kv[1])
			}
			r = r.WithContext(withUser(r.Context(), &userInfo{Name: "alice", Groups: list("developers", groupAuthenticated)}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if rec.Code != c.wantCode {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, c.wantCode, rec.Body)
			}
			if want := c.wantAsked; want == nil {
				if len(asked) != 0 {
					t.Errorf("asked %q, want nothing", asked)
				}
			} else if !slices.Equal(asked, want) {
				t.Errorf("asked %q, want %q", asked, want)
			}
			if c.wantError != "" && !strings.Contains(rec.Body.String(), fmt.Sprintf("%q", c.wantError)) {
				t.Errorf("body %s, want message %s", rec.Body, c.wantError)
			}
			if c.wantUser == nil {
				if served != nil {
					t.Errorf("the handler ran as %+v", served)
				}
				return
			}
			if served == nil {
				t.Fatal("the handler did not run")
			}
			if !equalJSON(served, c.wantUser) {
				t.Errorf("user %+v, want %+v", served, c.wantUser)
			}
			if len(leftHeaders) > 0 {
				t.Errorf("the handler saw %q", leftHeaders)
			}
		})
	}
}

// Impersonation through the whole server: alice may impersonate only what
// RBAC grants her, and the impersonated user is then authorized as itself.
func TestImpersonationThroughTheServer(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	whoami := func(user string, headers ...string) (int, map[string]any) {
		return c.do(t, user, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
			`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`, headers...)
	}

	code, out := whoami("alice", "Impersonate-User", "system:serviceaccount:ci:builder")
	if code != http.StatusForbidden {
		t.Fatalf("alice impersonates without a grant: HTTP %d %v", code, out)
	}

	c.admin(t, "POST", rbacPath+"/clusterroles", clusterRole("impersonate-ci",
		`{"verbs":["impersonate"],"apiGroups":[""],"resources":["serviceaccounts"]}`,
		`{"verbs":["impersonate"],"apiGroups":[""],"resources":["groups"],"resourceNames":["ops"]}`), http.StatusCreated)
	c.admin(t, "POST", rbacPath+"/namespaces/ci/rolebindings",
		roleBinding("alice-impersonates", "ClusterRole", "impersonate-ci", `{"kind":"User","name":"alice"}`), http.StatusCreated)

	code, out = whoami("alice", "Impersonate-User", "system:serviceaccount:ci:builder")
	if code != http.StatusCreated {
		t.Fatalf("alice impersonates builder: HTTP %d %v", code, out)
	}
	want := map[string]any{"username": "system:serviceaccount:ci:builder",
		"groups": []any{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}}
	if got := at(out, "status", "userInfo"); !equalJSON(got, want) {
		t.Errorf("userInfo %v, want %v", got, want)
	}
	// The RoleBinding is in ci: default's service accounts stay out of reach.
	if code, _ := whoami("alice", "Impersonate-User", "system:serviceaccount:default:default"); code != http.StatusForbidden {
		t.Errorf("alice impersonates default's service account: HTTP %d", code)
	}
	// Groups are asked about at the cluster scope, one by one: ops is granted by name, system:masters is not.
	if code, _ := whoami("alice", "Impersonate-User", "system:serviceaccount:ci:builder", "Impersonate-Group", "ops"); code != http.StatusForbidden {
		t.Errorf("alice impersonates group ops with only a RoleBinding: HTTP %d", code)
	}
	c.admin(t, "POST", rbacPath+"/clusterrolebindings",
		clusterRoleBinding("alice-impersonates", "impersonate-ci", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	code, out = whoami("alice", "Impersonate-User", "system:serviceaccount:ci:builder", "Impersonate-Group", "ops")
	if groups := at(out, "status", "userInfo", "groups"); code != http.StatusCreated ||
		!equalJSON(groups, []string{"system:serviceaccounts", "system:serviceaccounts:ci", "ops", "system:authenticated"}) {
		t.Errorf("alice impersonates builder in ops: HTTP %d, groups %v", code, groups)
	}
	code, out = whoami("alice", "Impersonate-User", "system:serviceaccount:ci:builder", "Impersonate-Group", "ops", "Impersonate-Group", "system:masters")
	if msg, _ := out["message"].(string); code != http.StatusForbidden || !strings.HasPrefix(msg, `groups "system:masters" is forbidden`) {
		t.Errorf("alice impersonates system:masters: HTTP %d %v", code, out["message"])
	}

	// The impersonated user is the one authorized: admin as bob is bob.
	c.expect(t, "admin", "GET", defaultPods, "", http.StatusOK)
	code, out = c.do(t, "admin", "GET", defaultPods, "", "Impersonate-User", "bob")
	if msg, _ := out["message"].(string); code != http.StatusForbidden || !strings.Contains(msg, `User "bob" cannot list`) {
		t.Errorf("admin as bob lists pods: HTTP %d %v", code, out["message"])
	}
	code, _ = c.do(t, "admin", "GET", defaultPods, "", "Impersonate-User", "bob", "Impersonate-Group", "system:masters")
	if code != http.StatusOK {
		t.Errorf("admin as bob in system:masters lists pods: HTTP %d", code)
	}
	code, _ = c.do(t, "admin", "GET", "/healthz", "", "Impersonate-User", "system:anonymous")
	if code != http.StatusOK {
		t.Errorf("admin as system:anonymous reads /healthz: HTTP %d", code)
	}
	code, _ = c.do(t, "admin", "GET", "/api", "", "Impersonate-User", "system:anonymous")
	if code != http.StatusForbidden {
		t.Errorf("admin as system:anonymous reads /api: HTTP %d", code)
	}
	code, out = c.do(t, "admin", "GET", defaultPods, "", "Impersonate-Group", "system:masters")
	if code != http.StatusBadRequest {
		t.Errorf("Impersonate-Group alone: HTTP %d %v", code, out)
	}
}
