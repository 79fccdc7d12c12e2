package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testCluster is the server main builds, behind the same filters, with one
// difference: users are named by the bearer tokens of a token file instead
// of by TLS client certificates. "<name>-token" authenticates as <name>.
type testCluster struct {
	s *server
	h http.Handler
}

func newTestCluster(t *testing.T, modes string) *testCluster {
	t.Helper()
	reg := newRegistry(builtinResources())
	s := &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces")}
	s.createBootstrapNamespaces()
	s.rbac = &rbacAuthorizer{store: s.store, roles: reg.lookup(rbacGroup, "roles"), clusterRoles: reg.lookup(rbacGroup, "clusterroles"),
		roleBindings: reg.lookup(rbacGroup, "rolebindings"), clusterRoleBindings: reg.lookup(rbacGroup, "clusterrolebindings")}
	s.createBootstrapPolicy()
	authorizers, err := newAuthorizers(modes, s.rbac)
	if err != nil {
		t.Fatal(err)
	}
	s.authorizer = authorizers
	users := tokenFile{
		"admin-token":   {Name: "admin", Groups: []string{"system:masters"}},
		"alice-token":   {Name: "alice", UID: "uid-alice", Groups: []string{"developers"}},
		"bob-token":     {Name: "bob", UID: "uid-bob"},
		"builder-token": {Name: "system:serviceaccount:ci:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci"}},
	}
	chain := union{bearerToken{tokenAuthenticators{users}}}
	c := &testCluster{s: s, h: s.filters(s.routes(), chain, true)}
	c.admin(t, "POST", "/api/v1/namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ci"}}`, http.StatusCreated)
	return c
}

// do sends a request as user ("" is anonymous) with extra headers given as
// name, value pairs (a name may repeat), and decodes the JSON answer if any.
func (c *testCluster) do(t *testing.T, user, method, path, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user+"-token")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Content-Type" {
			req.Header.Del(headers[i])
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	var out map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Errorf("%s %s: %v\n%s", method, path, err, rec.Body)
		}
	}
	return rec.Code, out
}

// expect sends a request and fails the test unless it is answered with code.
func (c *testCluster) expect(t *testing.T, user, method, path, body string, code int) map[string]any {
	t.Helper()
	got, out := c.do(t, user, method, path, body)
	if got != code {
		t.Fatalf("%s: %s %s: HTTP %d, want %d: %v", user, method, path, got, code, out["message"])
	}
	return out
}

func (c *testCluster) admin(t *testing.T, method, path, body string, code int) map[string]any {
	t.Helper()
	return c.expect(t, "admin", method, path, body, code)
}

// can asks the server, by a SelfSubjectAccessReview sent as user, whether
// user may do verb on resource (group/resource or resource) in namespace.
func (c *testCluster) can(t *testing.T, user, verb, resource, namespace string) bool {
	t.Helper()
	group, res, found := strings.Cut(resource, "/")
	if !found {
		group, res = "", resource
	}
	review := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
		"spec":{"resourceAttributes":{"verb":%q,"group":%q,"resource":%q,"namespace":%q}}}`, verb, group, res, namespace)
	out := c.expect(t, user, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review, http.StatusCreated)
	allowed, ok := at(out, "status", "allowed").(bool)
	if !ok {
		t.Fatalf("review without status.allowed: %v", out)
	}
	return allowed
}

const (
	rbacPath    = "/apis/rbac.authorization.k8s.io/v1"
	defaultPods = "/api/v1/namespaces/default/pods"
)

func roleBinding(name, roleKind, roleName string, subjects ...string) string {
	return fmt.Sprintf(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":%q},
		"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":%q,"name":%q},"subjects":[%s]}`,
		name, roleKind, roleName, strings.Join(subjects, ","))
}

func clusterRoleBinding(name, roleName string, subjects ...string) string {
	return strings.Replace(roleBinding(name, "ClusterRole", roleName, subjects...), `"kind":"RoleBinding"`, `"kind":"ClusterRoleBinding"`, 1)
}

func role(name string, rules ...string) string {
	return fmt.Sprintf(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":%q},"rules":[%s]}`,
		name, strings.Join(rules, ","))
}

func clusterRole(name string, rules ...string) string {
	return strings.Replace(role(name, rules...), `"kind":"Role"`, `"kind":"ClusterRole"`, 1)
}

// What a new cluster allows before anyone binds a role.
func TestBootstrapBindings(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	ssar := `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"nonResourceAttributes":{"verb":"get","path":"/api"}}}`
	sar := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"bob","nonResourceAttributes":{"verb":"get","path":"/api"}}}`
	ssr := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	cases := []struct {
		user, method, path, body string
		want                     int
	}{
		{"", "GET", "/healthz", "", http.StatusOK},
		{"", "GET", "/version", "", http.StatusOK},
		{"", "GET", "/api", "", http.StatusForbidden},
		{"", "GET", defaultPods, "", http.StatusForbidden},
		{"", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar, http.StatusForbidden},
		{"bob", "GET", "/api", "", http.StatusOK},
		{"bob", "GET", "/apis/batch/v1", "", http.StatusOK},
		{"bob", "GET", "/openapi/v3", "", http.StatusOK},
		{"bob", "GET", "/readyz", "", http.StatusOK},
		{"bob", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar, http.StatusCreated},
		{"bob", "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", ssr, http.StatusCreated},
		{"bob", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar, http.StatusForbidden},
		{"bob", "GET", defaultPods, "", http.StatusForbidden},
		{"bob", "GET", "/api/v1/namespaces", "", http.StatusForbidden},
		{"bob", "GET", rbacPath + "/clusterroles", "", http.StatusForbidden},
		{"admin", "GET", defaultPods, "", http.StatusOK},
		{"admin", "GET", rbacPath + "/clusterroles/cluster-admin", "", http.StatusOK},
		{"admin", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar, http.StatusCreated},
	}
	for _, tc := range cases {
		if got, out := c.do(t, tc.user, tc.method, tc.path, tc.body); got != tc.want {
			t.Errorf("%q: %s %s: HTTP %d, want %d: %v", tc.user, tc.method, tc.path, got, tc.want, out["message"])
		}
	}

	// The 403 is worded as kube-apiserver words it.
	_, out := c.do(t, "bob", "GET", defaultPods+"/web", "")
	want := `pods "web" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "default"`
	if out["message"] != want || out["reason"] != "Forbidden" {
		t.Errorf("403: %v, want message %s", out, want)
	}
	_, out = c.do(t, "", "GET", "/api", "")
	if want := `forbidden: User "system:anonymous" cannot get path "/api"`; out["message"] != want {
		t.Errorf("anonymous 403: %v, want message %s", out["message"], want)
	}
}

// A RoleBinding grants its role in its own namespace only, at once, and
// deleting it takes the grant away at once.
func TestRoleBindingGrantsAndDeletingItRevokes(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	if c.can(t, "alice", "list", "pods", "default") {
		t.Fatal("alice may list pods before any binding")
	}
	c.expect(t, "alice", "GET", defaultPods, "", http.StatusForbidden)

	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings",
		roleBinding("alice-edit", "ClusterRole", "edit", `{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}`), http.StatusCreated)
	c.expect(t, "alice", "GET", defaultPods, "", http.StatusOK)
	c.expect(t, "alice", "POST", "/api/v1/namespaces/default/configmaps", configMap("settings", ""), http.StatusCreated)
	c.expect(t, "alice", "GET", "/api/v1/namespaces/ci/pods", "", http.StatusForbidden)
	c.expect(t, "alice", "GET", "/api/v1/pods", "", http.StatusForbidden) // all namespaces is cluster scope
	c.expect(t, "bob", "GET", defaultPods, "", http.StatusForbidden)
	for _, tc := range []struct {
		verb, resource, namespace string
		want                      bool
	}{
		{"list", "pods", "default", true},
		{"delete", "configmaps", "default", true},
		{"list", "pods", "ci", false},
		{"create", "rbac.authorization.k8s.io/rolebindings", "default", false}, // edit does not include RBAC
	} {
		if got := c.can(t, "alice", tc.verb, tc.resource, tc.namespace); got != tc.want {
			t.Errorf("alice can %s %s in %s: %v, want %v", tc.verb, tc.resource, tc.namespace, got, tc.want)
		}
	}

	c.admin(t, "DELETE", rbacPath+"/namespaces/default/rolebindings/alice-edit", "", http.StatusOK)
	c.expect(t, "alice", "GET", defaultPods, "", http.StatusForbidden)
	c.expect(t, "alice", "DELETE", "/api/v1/namespaces/default/configmaps/settings", "", http.StatusForbidden)
	if c.can(t, "alice", "list", "pods", "default") {
		t.Error("alice may still list pods after her binding was deleted")
	}
}

// A RoleBinding to a Role reads the Role of the binding's namespace; rules
// with resourceNames grant only those objects.
func TestRoleBindingToARole(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	readSettings := `{"verbs":["get","update"],"apiGroups":[""],"resources":["configmaps"],"resourceNames":["settings"]}`
	c.admin(t, "POST", rbacPath+"/namespaces/default/roles", role("settings-reader", readSettings), http.StatusCreated)
	c.admin(t, "POST", rbacPath+"/namespaces/ci/roles", role("settings-reader", `{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}`), http.StatusCreated)
	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings",
		roleBinding("alice-settings", "Role", "settings-reader", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	c.admin(t, "POST", "/api/v1/namespaces/default/configmaps", configMap("settings", ""), http.StatusCreated)
	c.admin(t, "POST", "/api/v1/namespaces/default/configmaps", configMap("other", ""), http.StatusCreated)

	c.expect(t, "alice", "GET", "/api/v1/namespaces/default/configmaps/settings", "", http.StatusOK)
	c.expect(t, "alice", "GET", "/api/v1/namespaces/default/configmaps/other", "", http.StatusForbidden)
	c.expect(t, "alice", "GET", "/api/v1/namespaces/default/configmaps", "", http.StatusForbidden) // resourceNames never grant list
	c.expect(t, "alice", "DELETE", "/api/v1/namespaces/default/configmaps/settings", "", http.StatusForbidden)
	// ci's Role of the same name is not the one bound in default, and nothing is bound in ci.
	c.expect(t, "alice", "GET", "/api/v1/namespaces/ci/configmaps", "", http.StatusForbidden)

	// A binding to a Role that does not exist grants nothing.
	c.admin(t, "POST", rbacPath+"/namespaces/ci/rolebindings",
		roleBinding("alice-ghost", "Role", "ghost", `{"kind":"User","name":"alice"}`), http.StatusCreated)
	c.expect(t, "alice", "GET", "/api/v1/namespaces/ci/configmaps", "", http.StatusForbidden)
}

// A ClusterRoleBinding grants its ClusterRole in every namespace and at the
// cluster scope.
func TestClusterRoleBindingAppliesEverywhere(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	c.admin(t, "POST", rbacPath+"/clusterrolebindings",
		clusterRoleBinding("developers-view", "view", `{"kind":"Group","name":"developers"}`), http.StatusCreated)
	for _, path := range []string{defaultPods, "/api/v1/namespaces/ci/pods", "/api/v1/namespaces/kube-system/pods",
		"/api/v1/pods", "/api/v1/namespaces", "/api/v1/namespaces/ci", "/apis/batch/v1/namespaces/ci/jobs"} {
		c.expect(t, "alice", "GET", path, "", http.StatusOK)
		c.expect(t, "bob", "GET", path, "", http.StatusForbidden) // not in developers
	}
	c.expect(t, "alice", "GET", "/api/v1/namespaces/default/secrets", "", http.StatusForbidden) // view does not read secrets
	c.expect(t, "alice", "DELETE", "/api/v1/namespaces/ci", "", http.StatusForbidden)

	c.admin(t, "DELETE", rbacPath+"/clusterrolebindings/developers-view", "", http.StatusOK)
	c.expect(t, "alice", "GET", "/api/v1/namespaces/ci/pods", "", http.StatusForbidden)
}

// A ServiceAccount subject without a namespace is the binding's namespace's.
func TestServiceAccountSubjects(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	c.admin(t, "POST", rbacPath+"/namespaces/ci/rolebindings",
		roleBinding("builder-edit", "ClusterRole", "edit", `{"kind":"ServiceAccount","name":"builder"}`), http.StatusCreated)
	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings",
		roleBinding("builder-edit", "ClusterRole", "edit", `{"kind":"ServiceAccount","name":"builder"}`), http.StatusCreated)
	c.expect(t, "builder", "GET", "/api/v1/namespaces/ci/pods", "", http.StatusOK)
	c.expect(t, "builder", "GET", defaultPods, "", http.StatusForbidden) // that binding names default's builder

	c.admin(t, "POST", rbacPath+"/clusterrolebindings",
		clusterRoleBinding("builder-view", "view", `{"kind":"ServiceAccount","name":"builder","namespace":"ci"}`), http.StatusCreated)
	c.expect(t, "builder", "GET", defaultPods, "", http.StatusOK)

	// A group of service accounts.
	c.admin(t, "POST", rbacPath+"/namespaces/default/rolebindings",
		roleBinding("ci-accounts", "ClusterRole", "edit", `{"kind":"Group","name":"system:serviceaccounts:ci"}`), http.StatusCreated)
	c.expect(t, "builder", "POST", "/api/v1/namespaces/default/configmaps", configMap("built", ""), http.StatusCreated)
}

func TestAccessReviews(t *testing.T) {
	c := newTestCluster(t, "RBAC")
	c.admin(t, "POST", rbacPath+"/namespaces/ci/rolebindings",
		roleBinding("developers-view", "ClusterRole", "view", `{"kind":"Group","name":"developers"}`), http.StatusCreated)
	sar := func(spec string) string {
		return `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":` + spec + `}`
	}
	cases := []struct {
		name, spec  string
		wantCode    int
		wantAllowed bool
	}{
		{"a group's grant", `{"user":"carol","groups":["developers"],"resourceAttributes":{"verb":"list","resource":"pods","namespace":"ci"}}`, http.StatusCreated, true},
		{"the user's name alone", `{"user":"alice","resourceAttributes":{"verb":"list","resource":"pods","namespace":"ci"}}`, http.StatusCreated, false},
		{"another namespace", `{"user":"carol","groups":["developers"],"resourceAttributes":{"verb":"list","resource":"pods","namespace":"default"}}`, http.StatusCreated, false},
		{"a verb not granted", `{"user":"carol","groups":["developers"],"resourceAttributes":{"verb":"delete","resource":"pods","namespace":"ci","name":"web"}}`, http.StatusCreated, false},
		{"a group alone", `{"groups":["system:masters"],"resourceAttributes":{"verb":"delete","resource":"nodes"}}`, http.StatusCreated, true},
		{"non-resource", `{"user":"carol","groups":["system:authenticated"],"nonResourceAttributes":{"verb":"get","path":"/apis/batch/v1"}}`, http.StatusCreated, true},
		{"non-resource, anonymous", `{"user":"system:anonymous","groups":["system:unauthenticated"],"nonResourceAttributes":{"verb":"get","path":"/apis"}}`, http.StatusCreated, false},
		{"no user or group", `{"resourceAttributes":{"verb":"list","resource":"pods"}}`, http.StatusUnprocessableEntity, false},
		{"no attributes", `{"user":"alice"}`, http.StatusUnprocessableEntity, false},
		{"both attributes", `{"user":"alice","resourceAttributes":{"verb":"list","resource":"pods"},"nonResourceAttributes":{"verb":"get","path":"/api"}}`, http.StatusUnprocessableEntity, false},
	}
	for _, tc := range cases {
		code, out := c.do(t, "admin", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar(tc.spec))
		if code != tc.wantCode {
			t.Errorf("%s: HTTP %d, want %d: %v", tc.name, code, tc.wantCode, out)
			continue
		}
		if code == http.StatusCreated && at(out, "status", "allowed") != tc.wantAllowed {
			t.Errorf("%s: status %v, want allowed=%v", tc.name, out["status"], tc.wantAllowed)
		}
	}

	// A SelfSubjectAccessReview asks about the caller, whatever the spec says.
	ssar := `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
		"spec":{"user":"admin","groups":["system:masters"],"resourceAttributes":{"verb":"delete","resource":"pods","namespace":"ci"}}}`
	out := c.expect(t, "alice", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ssar, http.StatusCreated)
	if at(out, "status", "allowed") != false {
		t.Errorf("alice asking as admin: %v", out["status"])
	}
	if !c.can(t, "alice", "watch", "pods", "ci") || c.can(t, "alice", "watch", "pods", "default") {
		t.Error("alice should watch pods in ci only")
	}

	// A SelfSubjectRulesReview lists what the caller holds in a namespace.
	rules := `{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"ci"}}`
	out = c.expect(t, "alice", "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", rules, http.StatusCreated)
	if !strings.Contains(fmt.Sprint(at(out, "status", "resourceRules")), "batch") {
		t.Errorf("alice's rules in ci should include view's jobs rule: %v", out["status"])
	}
	out = c.expect(t, "alice", "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
		strings.Replace(rules, `"ci"`, `"default"`, 1), http.StatusCreated)
	if strings.Contains(fmt.Sprint(at(out, "status", "resourceRules")), "batch") {
		t.Errorf("alice holds nothing of view in default: %v", out["status"])
	}
}

// --authorization-mode decides, through the whole server.
func TestAuthorizationModes(t *testing.T) {
	cases := []struct {
		modes     string
		bob, root int
	}{
		{"RBAC", http.StatusForbidden, http.StatusOK},
		{"AlwaysAllow", http.StatusOK, http.StatusOK},
		{"AlwaysDeny", http.StatusForbidden, http.StatusOK}, // system:masters is never asked about
		{"RBAC,AlwaysAllow", http.StatusOK, http.StatusOK},
		{"AlwaysDeny,AlwaysAllow", http.StatusForbidden, http.StatusOK},
	}
	for _, tc := range cases {
		c := newTestCluster(t, tc.modes)
		if got, _ := c.do(t, "bob", "GET", "/api/v1/namespaces/default/secrets", ""); got != tc.bob {
			t.Errorf("%s: bob lists secrets: HTTP %d, want %d", tc.modes, got, tc.bob)
		}
		if got, _ := c.do(t, "admin", "GET", "/api/v1/namespaces/default/secrets", ""); got != tc.root {
			t.Errorf("%s: admin lists secrets: HTTP %d, want %d", tc.modes, got, tc.root)
		}
	}
}
