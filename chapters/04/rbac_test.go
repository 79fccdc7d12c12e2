package main

import (
	"testing"
)

// resourceAttr and pathAttr build the attributes an authorizer sees.
func resourceAttr(verb, group, resource, subresource, namespace, name string) attributes {
	return attributes{user: &userInfo{Name: "alice"}, requestInfo: requestInfo{IsResourceRequest: true,
		Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, Namespace: namespace, Name: name}}
}

func pathAttr(verb, path string) attributes {
	return attributes{user: &userInfo{Name: "alice"}, requestInfo: requestInfo{Verb: verb, Path: path}}
}

func list(s ...string) []string { return s }

func TestRuleAllows(t *testing.T) {
	readPods := policyRule{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods")}
	cases := []struct {
		name string
		rule policyRule
		attr attributes
		want bool
	}{
		{"exact verb, group and resource", readPods, resourceAttr("get", "", "pods", "", "default", "web"), true},
		{"list", readPods, resourceAttr("list", "", "pods", "", "default", ""), true},
		{"verb not listed", readPods, resourceAttr("delete", "", "pods", "", "default", "web"), false},
		{"other resource", readPods, resourceAttr("get", "", "secrets", "", "default", "db"), false},
		{"other group", readPods, resourceAttr("get", "batch", "pods", "", "default", "web"), false},
		{"resource does not grant its subresources", readPods, resourceAttr("get", "", "pods", "log", "default", "web"), false},
		{"namespace plays no part in a rule", readPods, resourceAttr("get", "", "pods", "", "kube-system", "web"), true},

		{"verb *", policyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")},
			resourceAttr("deletecollection", "", "pods", "", "default", ""), true},
		{"group *", policyRule{Verbs: list("get"), APIGroups: list("*"), Resources: list("jobs")},
			resourceAttr("get", "batch", "jobs", "", "default", "nightly"), true},
		{"resource * includes subresources", policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")},
			resourceAttr("get", "", "pods", "log", "default", "web"), true},
		{"no groups matches nothing", policyRule{Verbs: list("get"), Resources: list("pods")},
			resourceAttr("get", "", "pods", "", "default", "web"), false},

		{"resource/subresource", policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")},
			resourceAttr("get", "", "pods", "log", "default", "web"), true},
		{"resource/subresource does not grant the resource", policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")},
			resourceAttr("get", "", "pods", "", "default", "web"), false},
		{"resource/subresource does not grant another subresource", policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")},
			resourceAttr("get", "", "pods", "exec", "default", "web"), false},
		{"*/subresource of any resource", policyRule{Verbs: list("update"), APIGroups: list("*"), Resources: list("*/status")},
			resourceAttr("update", "batch", "jobs", "status", "ci", "nightly"), true},
		{"*/subresource does not grant the resource", policyRule{Verbs: list("update"), APIGroups: list("*"), Resources: list("*/status")},
			resourceAttr("update", "batch", "jobs", "", "ci", "nightly"), false},
		{"*/subresource does not grant another subresource", policyRule{Verbs: list("update"), APIGroups: list("*"), Resources: list("*/status")},
			resourceAttr("update", "", "namespaces", "finalize", "foo", "foo"), false},

		{"resourceNames: a listed name", policyRule{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")},
			resourceAttr("get", "", "configmaps", "", "default", "settings"), true},
		{"resourceNames: another name", policyRule{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")},
			resourceAttr("get", "", "configmaps", "", "default", "other"), false},
		{"resourceNames never grant list", policyRule{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")},
			resourceAttr("list", "", "configmaps", "", "default", ""), false},
		{"resourceNames never grant create", policyRule{Verbs: list("create"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")},
			resourceAttr("create", "", "configmaps", "", "default", ""), false},

		{"a resource rule grants no path", readPods, pathAttr("get", "/api/v1/namespaces/default/pods"), false},
		{"a path rule grants no resource", policyRule{Verbs: list("*"), NonResourceURLs: list("*")},
			resourceAttr("get", "", "pods", "", "default", "web"), false},
		{"path: exact", policyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, pathAttr("get", "/healthz"), true},
		{"path: exact is not a prefix", policyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, pathAttr("get", "/healthz/etcd"), false},
		{"path: other verb", policyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, pathAttr("post", "/healthz"), false},
		{"path: prefix*", policyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, pathAttr("get", "/apis/batch/v1"), true},
		{"path: prefix* needs the prefix", policyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, pathAttr("get", "/apis"), false},
		{"path: prefix* is a plain string prefix", policyRule{Verbs: list("get"), NonResourceURLs: list("/health*")}, pathAttr("get", "/healthz"), true},
		{"path: *", policyRule{Verbs: list("get"), NonResourceURLs: list("*")}, pathAttr("get", "/anything/at/all"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ruleAllows(c.rule, c.attr); got != c.want {
				t.Errorf("ruleAllows(%+v, %+v) = %v, want %v", c.rule, c.attr.requestInfo, got, c.want)
			}
		})
	}
}

// covers is the escalation check's question: do the owner's rules hold
// everything the servant rule grants? A "*" in the servant is taken
// literally: only a "*" covers it, however much the owner holds otherwise.
func TestCovers(t *testing.T) {
	readPods := policyRule{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods")}
	everything := policyRule{Verbs: list("*"), APIGroups: list("*"), Resources: list("*")}
	cases := []struct {
		name    string
		owner   []policyRule
		servant policyRule
		want    bool
	}{
		{"the same rule", []policyRule{readPods}, readPods, true},
		{"fewer verbs", []policyRule{readPods}, policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, true},
		{"a verb more", []policyRule{readPods}, policyRule{Verbs: list("get", "delete"), APIGroups: list(""), Resources: list("pods")}, false},
		{"another resource", []policyRule{readPods}, policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("secrets")}, false},
		{"another group", []policyRule{readPods}, policyRule{Verbs: list("get"), APIGroups: list("batch"), Resources: list("pods")}, false},
		{"spread over two owner rules", []policyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("pods", "secrets")},
			{Verbs: list("list"), APIGroups: list(""), Resources: list("pods", "secrets")},
		}, policyRule{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("pods", "secrets")}, true},
		{"nothing held", nil, readPods, false},

		{"everything covers anything", []policyRule{everything}, policyRule{Verbs: list("escalate"), APIGroups: list("rbac.authorization.k8s.io"), Resources: list("clusterroles")}, true},
		{"everything covers everything", []policyRule{everything}, everything, true},
		{"verb * is covered only by *", []policyRule{{Verbs: list("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"), APIGroups: list(""), Resources: list("pods")}},
			policyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}, false},
		{"resource * is covered only by *", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods", "secrets", "configmaps")}},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}, false},
		{"group * is covered only by *", []policyRule{{Verbs: list("get"), APIGroups: list("", "batch"), Resources: list("jobs")}},
			policyRule{Verbs: list("get"), APIGroups: list("*"), Resources: list("jobs")}, false},

		{"resource * covers a subresource", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, true},
		{"a resource does not cover its subresource", []policyRule{readPods},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, false},
		{"*/subresource covers that subresource", []policyRule{{Verbs: list("update"), APIGroups: list("*"), Resources: list("*/status")}},
			policyRule{Verbs: list("update"), APIGroups: list("batch"), Resources: list("jobs/status")}, true},
		{"*/subresource does not cover another", []policyRule{{Verbs: list("update"), APIGroups: list("*"), Resources: list("*/status")}},
			policyRule{Verbs: list("update"), APIGroups: list("batch"), Resources: list("jobs/scale")}, false},

		{"unrestricted owner covers named objects", []policyRule{readPods},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("web", "db")}, true},
		{"the same names", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("web", "db")}},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("db")}, true},
		{"a name more", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("web")}},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("web", "db")}, false},
		{"named objects do not cover all", []policyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods"), ResourceNames: list("web")}},
			policyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, false},

		{"path: exact", []policyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}},
			policyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, true},
		{"path: prefix* covers a longer path", []policyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
			policyRule{Verbs: list("get"), NonResourceURLs: list("/apis/batch/v1", "/apis/*")}, true},
		{"path: prefix* does not cover a shorter one", []policyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
			policyRule{Verbs: list("get"), NonResourceURLs: list("/api/v1")}, false},
		{"path: * covers any path", []policyRule{{Verbs: list("*"), NonResourceURLs: list("*")}},
			policyRule{Verbs: list("get", "post"), NonResourceURLs: list("/metrics", "/logs/*")}, true},
		{"path: a verb more", []policyRule{{Verbs: list("get"), NonResourceURLs: list("*")}},
			policyRule{Verbs: list("get", "post"), NonResourceURLs: list("/metrics")}, false},
		{"path: resources do not cover paths", []policyRule{everything},
			policyRule{Verbs: list("get"), NonResourceURLs: list("/metrics")}, false},
		{"path: paths do not cover resources", []policyRule{{Verbs: list("*"), NonResourceURLs: list("*")}},
			readPods, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := covers(c.owner, c.servant); got != c.want {
				t.Errorf("covers(%+v, %+v) = %v, want %v", c.owner, c.servant, got, c.want)
			}
		})
	}
}

func TestSubjectMatches(t *testing.T) {
	alice := &userInfo{Name: "alice", Groups: list("developers", "system:authenticated")}
	builder := &userInfo{Name: "system:serviceaccount:ci:builder", Groups: list("system:serviceaccounts", "system:serviceaccounts:ci")}
	cases := []struct {
		name      string
		subject   subject
		user      *userInfo
		bindingNS string
		want      bool
	}{
		{"user by name", subject{Kind: "User", Name: "alice"}, alice, "", true},
		{"another user", subject{Kind: "User", Name: "bob"}, alice, "", false},
		{"a group name is not a user name", subject{Kind: "User", Name: "developers"}, alice, "", false},
		{"group the user is in", subject{Kind: "Group", Name: "developers"}, alice, "", true},
		{"system:authenticated", subject{Kind: "Group", Name: "system:authenticated"}, alice, "", true},
		{"group the user is not in", subject{Kind: "Group", Name: "admins"}, alice, "", false},
		{"a user name is not a group", subject{Kind: "Group", Name: "alice"}, alice, "", false},
		{"service account with its namespace", subject{Kind: "ServiceAccount", Name: "builder", Namespace: "ci"}, builder, "", true},
		{"service account in another namespace", subject{Kind: "ServiceAccount", Name: "builder", Namespace: "prod"}, builder, "ci", false},
		{"service account namespace defaults to the binding's", subject{Kind: "ServiceAccount", Name: "builder"}, builder, "ci", true},
		{"the defaulted namespace must be the account's", subject{Kind: "ServiceAccount", Name: "builder"}, builder, "prod", false},
		{"the subject's namespace wins over the binding's", subject{Kind: "ServiceAccount", Name: "builder", Namespace: "ci"}, builder, "prod", true},
		{"another service account", subject{Kind: "ServiceAccount", Name: "deployer", Namespace: "ci"}, builder, "", false},
		{"a service account user by its full name", subject{Kind: "User", Name: "system:serviceaccount:ci:builder"}, builder, "", true},
		{"service-account groups", subject{Kind: "Group", Name: "system:serviceaccounts:ci"}, builder, "", true},
		{"unknown kind", subject{Kind: "Robot", Name: "alice"}, alice, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := subjectMatches(c.subject, c.user, c.bindingNS); got != c.want {
				t.Errorf("subjectMatches(%+v, %q, %q) = %v, want %v", c.subject, c.user.Name, c.bindingNS, got, c.want)
			}
		})
	}
}

// The bootstrap policy is what a new cluster grants before anyone binds a
// role: discovery and health to everyone, self reviews to the authenticated,
// everything to system:masters.
func TestBootstrapPolicy(t *testing.T) {
	roles, bindings := bootstrapPolicy()
	grants := func(role string, attr attributes) bool {
		for _, rule := range roles[role] {
			if ruleAllows(rule, attr) {
				return true
			}
		}
		return false
	}
	cases := []struct {
		role string
		attr attributes
		want bool
	}{
		{"cluster-admin", resourceAttr("escalate", rbacGroup, "clusterroles", "", "", "cluster-admin"), true},
		{"cluster-admin", pathAttr("post", "/anything"), true},
		{"view", resourceAttr("list", "", "pods", "", "default", ""), true},
		{"view", resourceAttr("get", "batch", "jobs", "", "default", "nightly"), true},
		{"view", resourceAttr("get", "", "secrets", "", "default", "db"), false},
		{"view", resourceAttr("delete", "", "pods", "", "default", "web"), false},
		{"edit", resourceAttr("delete", "", "pods", "", "default", "web"), true},
		{"edit", resourceAttr("get", "", "secrets", "", "default", "db"), true},
		{"edit", resourceAttr("create", "", "serviceaccounts", "token", "default", "builder"), true},
		{"edit", resourceAttr("create", rbacGroup, "rolebindings", "", "default", ""), false},
		{"admin", resourceAttr("create", rbacGroup, "rolebindings", "", "default", ""), true},
		{"admin", resourceAttr("create", rbacGroup, "clusterrolebindings", "", "", ""), false},
		{"admin", resourceAttr("bind", rbacGroup, "clusterroles", "", "default", "cluster-admin"), false},
		{"system:discovery", pathAttr("get", "/apis/batch/v1"), true},
		{"system:discovery", pathAttr("get", "/api"), true},
		{"system:discovery", pathAttr("post", "/api"), false},
		{"system:public-info-viewer", pathAttr("get", "/version"), true},
		{"system:public-info-viewer", pathAttr("get", "/api"), false},
		{"system:basic-user", resourceAttr("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), true},
		{"system:basic-user", resourceAttr("create", "authorization.k8s.io", "subjectaccessreviews", "", "", ""), false},
		{"system:basic-user", resourceAttr("create", "authentication.k8s.io", "selfsubjectreviews", "", "", ""), true},
	}
	for _, c := range cases {
		if got := grants(c.role, c.attr); got != c.want {
			t.Errorf("%s grants %s %s %s%s: %v, want %v", c.role, c.attr.Verb, c.attr.Resource, c.attr.Subresource, c.attr.Path, got, c.want)
		}
	}

	want := map[string]bootstrapBinding{
		"cluster-admin":                       {"cluster-admin", "cluster-admin", "system:masters"},
		"system:discovery":                    {"system:discovery", "system:discovery", "system:authenticated"},
		"system:basic-user":                   {"system:basic-user", "system:basic-user", "system:authenticated"},
		"system:public-info-viewer":           {"system:public-info-viewer", "system:public-info-viewer", "system:authenticated"},
		"system:public-info-viewer:anonymous": {"system:public-info-viewer:anonymous", "system:public-info-viewer", "system:unauthenticated"},
	}
	if len(bindings) != len(want) {
		t.Errorf("%d bootstrap bindings, want %d: %+v", len(bindings), len(want), bindings)
	}
	for _, b := range bindings {
		if b != want[b.name] {
			t.Errorf("binding %+v, want %+v", b, want[b.name])
		}
		if _, ok := roles[b.role]; !ok {
			t.Errorf("binding %s refers to a missing role %s", b.name, b.role)
		}
	}
}
