package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fixedAuthorizer always gives the same answer and counts how often it was asked.
type fixedAuthorizer struct {
	answer decision
	asked  *int
}

func (f fixedAuthorizer) authorize(attributes) decision {
	*f.asked++
	return f.answer
}

func TestAuthorizersChain(t *testing.T) {
	alice := &userInfo{Name: "alice", Groups: []string{"developers", groupAuthenticated}}
	master := &userInfo{Name: "admin", Groups: []string{"system:masters", groupAuthenticated}}
	cases := []struct {
		name    string
		chain   []decision
		user    *userInfo
		want    decision
		wantAsk []int // how often each authorizer of the chain was asked
	}{
		{"empty chain denies", nil, alice, deny, nil},
		{"only no opinions denies", []decision{noOpinion, noOpinion}, alice, deny, []int{1, 1}},
		{"allow", []decision{allow}, alice, allow, []int{1}},
		{"deny", []decision{deny}, alice, deny, []int{1}},
		{"first decisive answer wins: deny before allow", []decision{deny, allow}, alice, deny, []int{1, 0}},
		{"first decisive answer wins: allow before deny", []decision{allow, deny}, alice, allow, []int{1, 0}},
		{"no opinion passes to the next", []decision{noOpinion, allow}, alice, allow, []int{1, 1}},
		{"no opinion then deny", []decision{noOpinion, deny, allow}, alice, deny, []int{1, 1, 0}},
		{"system:masters is allowed before anyone is asked", []decision{deny}, master, allow, []int{0}},
		{"system:masters with an empty chain", nil, master, allow, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			asked := make([]int, len(c.chain))
			var chain authorizers
			for i, d := range c.chain {
				chain = append(chain, fixedAuthorizer{d, &asked[i]})
			}
			attr := resourceAttr("get", "", "pods", "", "default", "web")
			attr.user = c.user
			if got := chain.authorize(attr); got != c.want {
				t.Errorf("decision %v, want %v", got, c.want)
			}
			for i := range asked {
				if asked[i] != c.wantAsk[i] {
					t.Errorf("authorizer %d asked %d times, want %d", i, asked[i], c.wantAsk[i])
				}
			}
		})
	}
}

// newAuthorizers with a real RBAC authorizer: alice is bound to view in
// default, bob to nothing.
func TestNewAuthorizers(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	c.admin(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
		roleBinding("alice-view", "ClusterRole", "view", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	alice := &userInfo{Name: "alice", Groups: []string{groupAuthenticated}}
	bob := &userInfo{Name: "bob", Groups: []string{groupAuthenticated}}
	master := &userInfo{Name: "admin", Groups: []string{"system:masters"}}

	cases := []struct {
		modes string
		user  *userInfo
		want  decision
	}{
		{"RBAC", alice, allow},
		{"RBAC", bob, deny},
		{"AlwaysDeny,RBAC", alice, deny}, // AlwaysDeny answers before RBAC is asked
		{"AlwaysDeny,RBAC", master, allow},
		{"RBAC,AlwaysDeny", alice, allow},
		{"RBAC,AlwaysAllow", bob, allow}, // RBAC has no opinion, AlwaysAllow allows
		{"AlwaysAllow", bob, allow},
		{"AlwaysDeny", bob, deny},
		{" RBAC , AlwaysAllow ", bob, allow},
	}
	for _, tc := range cases {
		as, err := newAuthorizers(tc.modes, c.s.rbac)
		if err != nil {
			t.Errorf("newAuthorizers(%q): %v", tc.modes, err)
			continue
		}
		attr := resourceAttr("list", "", "pods", "", "default", "")
		attr.user = tc.user
		if got := as.authorize(attr); got != tc.want {
			t.Errorf("%q: %s lists pods: %v, want %v", tc.modes, tc.user.Name, got, tc.want)
		}
	}

	for _, bad := range []string{"", "Node", "rbac", "RBAC,Webhook", "RBAC,"} {
		if as, err := newAuthorizers(bad, c.s.rbac); err == nil {
			t.Errorf("newAuthorizers(%q) = %v, want an error", bad, as)
		} else if !strings.Contains(err.Error(), "--authorization-mode") {
			t.Errorf("newAuthorizers(%q): the error should name the flag: %v", bad, err)
		}
	}
}

func TestErrForbiddenRequest(t *testing.T) {
	cases := []struct {
		name        string
		info        requestInfo
		reason      string
		wantMessage string
		wantDetails map[string]any
	}{
		{"named, core group, namespaced",
			requestInfo{IsResourceRequest: true, Verb: "get", Resource: "pods", Namespace: "default", Name: "web"}, "",
			`pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"`,
			map[string]any{"name": "web", "group": "", "kind": "pods"}},
		{"unnamed, core group, namespaced",
			requestInfo{IsResourceRequest: true, Verb: "list", Resource: "pods", Namespace: "default"}, "",
			`pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"`,
			map[string]any{"name": "", "group": "", "kind": "pods"}},
		{"named, grouped, namespaced",
			requestInfo{IsResourceRequest: true, Verb: "delete", APIGroup: "batch", Resource: "jobs", Namespace: "ci", Name: "nightly"}, "",
			`jobs.batch "nightly" is forbidden: User "alice" cannot delete resource "jobs" in API group "batch" in the namespace "ci"`,
			map[string]any{"name": "nightly", "group": "batch", "kind": "jobs"}},
		{"unnamed, grouped, cluster scope",
			requestInfo{IsResourceRequest: true, Verb: "create", APIGroup: rbacGroup, Resource: "clusterroles"}, "",
			`clusterroles.rbac.authorization.k8s.io is forbidden: User "alice" cannot create resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`,
			map[string]any{"name": "", "group": rbacGroup, "kind": "clusterroles"}},
		{"named, core group, cluster scope",
			requestInfo{IsResourceRequest: true, Verb: "get", Resource: "users", Name: "bob"}, "",
			`users "bob" is forbidden: User "alice" cannot get resource "users" in API group "" at the cluster scope`,
			map[string]any{"name": "bob", "group": "", "kind": "users"}},
		{"subresource",
			requestInfo{IsResourceRequest: true, Verb: "get", Resource: "pods", Subresource: "log", Namespace: "foo", Name: "bar"}, "",
			`pods "bar" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace "foo"`,
			map[string]any{"name": "bar", "group": "", "kind": "pods"}},
		{"a namespace's subresource",
			requestInfo{IsResourceRequest: true, Verb: "update", Resource: "namespaces", Subresource: "status", Namespace: "foo", Name: "foo"}, "",
			`namespaces "foo" is forbidden: User "alice" cannot update resource "namespaces/status" in API group "" in the namespace "foo"`,
			map[string]any{"name": "foo", "group": "", "kind": "namespaces"}},
		{"non-resource",
			requestInfo{Verb: "get", Path: "/metrics"}, "",
			`forbidden: User "alice" cannot get path "/metrics"`,
			map[string]any{}},
		{"with a reason",
			requestInfo{IsResourceRequest: true, Verb: "list", Resource: "secrets", Namespace: "default"}, "no RBAC policy matched",
			`secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default": no RBAC policy matched`,
			map[string]any{"name": "", "group": "", "kind": "secrets"}},
		{"non-resource with a reason",
			requestInfo{Verb: "post", Path: "/healthz"}, "no",
			`forbidden: User "alice" cannot post path "/healthz": no`,
			map[string]any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeError(rec, errForbiddenRequest(attributes{user: &userInfo{Name: "alice"}, requestInfo: c.info}, c.reason))
			var status struct {
				Kind, Status, Message, Reason string
				Code                          int
				Details                       map[string]any
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusForbidden || status.Code != http.StatusForbidden || status.Reason != "Forbidden" ||
				status.Kind != "Status" || status.Status != "Failure" {
				t.Errorf("HTTP %d, Status %+v", rec.Code, status)
			}
			if status.Message != c.wantMessage {
				t.Errorf("message\n got %s\nwant %s", status.Message, c.wantMessage)
			}
			if !equalJSON(status.Details, c.wantDetails) {
				t.Errorf("details %v, want %v", status.Details, c.wantDetails)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// withAuthorization passes what the authorizer allows and answers 403 to
// anything else, before the handler runs.
func TestWithAuthorization(t *testing.T) {
	for _, c := range []struct {
		answer   decision
		wantCode int
	}{{allow, http.StatusOK}, {deny, http.StatusForbidden}, {noOpinion, http.StatusForbidden}} {
		asked, served := 0, false
		h := withAuthorization(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served = true }),
			fixedAuthorizer{c.answer, &asked})
		r := httptest.NewRequest("DELETE", "/api/v1/namespaces/default/pods/web", nil)
		ctx := withUser(r.Context(), &userInfo{Name: "alice"})
		r = r.WithContext(withRequestInfo(ctx, resolveRequestInfo(r)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != c.wantCode || served != (c.wantCode == http.StatusOK) || asked != 1 {
			t.Errorf("answer %v: HTTP %d, served %v, asked %d; want HTTP %d", c.answer, rec.Code, served, asked, c.wantCode)
		}
		if c.wantCode == http.StatusForbidden && !strings.Contains(rec.Body.String(), `User \"alice\" cannot delete resource \"pods\"`) {
			t.Errorf("403 body: %s", rec.Body)
		}
	}
}
