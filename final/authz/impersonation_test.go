package authz

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// whoami answers with the user the request is served as, and fails on any
// Impersonate-* header left for later handlers to trust.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	for header := range r.Header {
		if strings.HasPrefix(header, "Impersonate-") {
			http.Error(w, "left "+header, http.StatusTeapot)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(request.UserFrom(r.Context()))
})

func as(name string, groups ...string) http.Header {
	h := http.Header{"Impersonate-User": {name}}
	if len(groups) > 0 {
		h["Impersonate-Group"] = groups
	}
	return h
}

func TestImpersonation(t *testing.T) {
	r, a := newChain(t)
	h := WithImpersonation(whoami, a)
	type want struct {
		name   string
		uid    string
		groups []string
		extra  map[string][]string
	}
	allowed := []struct {
		what      string
		requester *request.User
		header    http.Header
		want      want
	}{
		{"no headers: the requester", alice, nil, want{name: "alice", groups: []string{request.GroupAuthenticated}}},
		{"admin as bob", admin, as("bob"), want{name: "bob", groups: []string{request.GroupAuthenticated}}},
		{"admin as carol in qa", admin, as("carol", "qa"), want{name: "carol", groups: []string{"qa", request.GroupAuthenticated}}},
		{"asking for system:authenticated adds nothing", admin, as("carol", request.GroupAuthenticated), want{name: "carol", groups: []string{request.GroupAuthenticated}}},
		{"system:unauthenticated keeps system:authenticated out", admin, as("carol", request.GroupUnauthenticated), want{name: "carol", groups: []string{request.GroupUnauthenticated}}},
		{"anonymous", admin, as(request.UserAnonymous), want{name: request.UserAnonymous, groups: []string{request.GroupUnauthenticated}}},
		{"a service account comes with its groups", admin, as("system:serviceaccount:ns:robot"),
			want{name: "system:serviceaccount:ns:robot", groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns", request.GroupAuthenticated}}},
		{"unless groups are given", admin, as("system:serviceaccount:ns:robot", "qa"),
			want{name: "system:serviceaccount:ns:robot", groups: []string{"qa", request.GroupAuthenticated}}},
		{"uid and extra", admin, http.Header{"Impersonate-User": {"dave"}, "Impersonate-Uid": {"u-1"},
			"Impersonate-Extra-Scopes": {"view", "edit"}, "Impersonate-Extra-Example.com%2fteam": {"a"}},
			want{name: "dave", uid: "u-1", groups: []string{request.GroupAuthenticated},
				extra: map[string][]string{"scopes": {"view", "edit"}, "example.com/team": {"a"}}}},
	}
	for _, tt := range allowed {
		code, body := serve(t, h, tt.requester, "GET", "/api/v1/pods", tt.header)
		var got struct {
			Name   string              `json:"username"`
			UID    string              `json:"uid"`
			Groups []string            `json:"groups"`
			Extra  map[string][]string `json:"extra"`
		}
		if err := remarshal(body, &got); err != nil || code != http.StatusOK {
			t.Errorf("%s: %d %v %v", tt.what, code, body, err)
			continue
		}
		if got.Name != tt.want.name || got.UID != tt.want.uid || !slices.Equal(got.Groups, tt.want.groups) || len(got.Extra) != len(tt.want.extra) {
			t.Errorf("%s: got %+v, want %+v", tt.what, got, tt.want)
		}
		for k, v := range tt.want.extra {
			if !slices.Equal(got.Extra[k], v) {
				t.Errorf("%s: extra %v, want %v", tt.what, got.Extra, tt.want.extra)
			}
		}
	}

	// Each part of the identity is authorized on its own, with its own 403.
	forbidden := func(what string, requester *request.User, header http.Header, message string) {
		t.Helper()
		code, body := serve(t, h, requester, "GET", "/api/v1/pods", header)
		if code != http.StatusForbidden || body["reason"] != "Forbidden" || body["message"] != message {
			t.Errorf("%s: %d %v\nwant %s", what, code, body, message)
		}
	}
	forbidden("alice as bob", alice, as("bob"),
		`users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`)
	forbidden("alice as a service account", alice, as("system:serviceaccount:ns:robot"),
		`serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "ns"`)

	// kubectl create clusterrole impersonate-bob --verb=impersonate --resource=users --resource-name=bob
	createClusterRole(t, r, "impersonate-bob", PolicyRule{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"users"}, ResourceNames: []string{"bob"}})
	createClusterRoleBinding(t, r, "alice-impersonates-bob", "impersonate-bob", user("alice"))
	if code, body := serve(t, h, alice, "GET", "/api/v1/pods", as("bob")); code != http.StatusOK || body["username"] != "bob" {
		t.Errorf("alice as bob after the grant: %d %v", code, body)
	}
	forbidden("alice as carol", alice, as("carol"),
		`users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`)
	forbidden("alice as bob in system:masters", alice, as("bob", request.GroupMasters),
		`groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope`)
	forbidden("alice as bob with a uid", alice, http.Header{"Impersonate-User": {"bob"}, "Impersonate-Uid": {"u-1"}},
		`uids.authentication.k8s.io "u-1" is forbidden: User "alice" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope`)
	forbidden("alice as bob with extra", alice, http.Header{"Impersonate-User": {"bob"}, "Impersonate-Extra-Scopes": {"view"}},
		`userextras.authentication.k8s.io "view" is forbidden: User "alice" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope`)

	// Groups, a uid or extra without a user: 400.
	for _, header := range []http.Header{{"Impersonate-Group": {"qa"}}, {"Impersonate-Uid": {"u"}}, {"Impersonate-Extra-Scopes": {"x"}}} {
		if code, body := serve(t, h, admin, "GET", "/api/v1/pods", header); code != http.StatusBadRequest || body["reason"] != "BadRequest" {
			t.Errorf("%v without a user: %d %v", header, code, body)
		}
	}
	// Impersonation needs someone authenticated to start from.
	if code, _ := serve(t, h, nil, "GET", "/api/v1/pods", as("bob")); code != http.StatusInternalServerError {
		t.Errorf("no user: %d", code)
	}
}

// After impersonation, authorization sees the impersonated user.
func TestImpersonationThenAuthorization(t *testing.T) {
	r, a := newChain(t)
	createRoleBinding(t, r, "ns", "bob-view", clusterRole("view"), user("bob"))
	h := WithImpersonation(WithAuthorization(whoami, a), a)
	if code, body := serve(t, h, admin, "GET", "/api/v1/namespaces/kube-system/secrets", as("bob")); code != http.StatusForbidden ||
		!strings.Contains(body["message"].(string), `User "bob" cannot list resource "secrets"`) {
		t.Errorf("admin as bob reading secrets: %d %v", code, body)
	}
	if code, _ := serve(t, h, admin, "GET", "/api/v1/namespaces/ns/pods", as("bob")); code != http.StatusOK {
		t.Errorf("admin as bob listing pods where bob may: %d", code)
	}
}

func TestSplitServiceAccount(t *testing.T) {
	tests := []struct {
		name, ns, sa string
		ok           bool
	}{
		{"system:serviceaccount:ns:robot", "ns", "robot", true},
		{"system:serviceaccount:ns:robot.v2", "ns", "robot.v2", true},
		{"system:serviceaccount:ns", "", "", false},
		{"system:serviceaccount:ns:a:b", "", "", false},
		{"system:serviceaccount:NS:robot", "", "", false},
		{"system:serviceaccount::robot", "", "", false},
		{"robot", "", "", false},
	}
	for _, tt := range tests {
		ns, sa, ok := splitServiceAccount(tt.name)
		if ns != tt.ns || sa != tt.sa || ok != tt.ok {
			t.Errorf("%s: %q %q %v", tt.name, ns, sa, ok)
		}
	}
}
