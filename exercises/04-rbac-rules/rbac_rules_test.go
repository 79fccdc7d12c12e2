package rbacrules

import (
	"fmt"
	"testing"
)

// Shorthands for the requests of the tables below.

// res is a resource request: a verb on group/resource[/subresource], maybe on a name.
func res(verb, group, resource, subresource, name string) Attributes {
	return Attributes{IsResourceRequest: true, Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, Name: name}
}

// path is a non-resource request: a lowercase HTTP method on a URL path.
func path(verb, p string) Attributes {
	return Attributes{Verb: verb, Path: p}
}

func list(s ...string) []string { return s }

var (
	allVerbs     = list("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
	podReader    = PolicyRule{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods")}
	clusterAdmin = []PolicyRule{
		{Verbs: list("*"), APIGroups: list("*"), Resources: list("*")},
		{Verbs: list("*"), NonResourceURLs: list("*")},
	}
)

func TestRuleAllows(t *testing.T) {
	tests := []struct {
		name  string
		rule  PolicyRule
		attrs Attributes
		want  bool
	}{
		// Verbs.
		{"the verb is listed", podReader, res("list", "", "pods", "", ""), true},
		{"another verb is not", podReader, res("delete", "", "pods", "", "web"), false},
		{"get does not grant list", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, res("list", "", "pods", "", ""), false},
		{"* is every verb", PolicyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}, res("deletecollection", "", "pods", "", ""), true},
		{"* is every verb, even a special one", PolicyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("users")}, res("impersonate", "", "users", "", "bob"), true},
		{"no verbs grant nothing", PolicyRule{APIGroups: list("*"), Resources: list("*")}, res("get", "", "pods", "", "web"), false},
		{"verbs are compared exactly", PolicyRule{Verbs: list("Get"), APIGroups: list(""), Resources: list("pods")}, res("get", "", "pods", "", "web"), false},

		// API groups.
		{`"" is the core group`, podReader, res("get", "", "pods", "", "web"), true},
		{"the core group is not another group", podReader, res("get", "apps", "pods", "", "web"), false},
		{"a named group is not the core group", PolicyRule{Verbs: list("get"), APIGroups: list("apps"), Resources: list("deployments")}, res("get", "", "deployments", "", "web"), false},
		{"one of several groups", PolicyRule{Verbs: list("get"), APIGroups: list("apps", "batch"), Resources: list("jobs")}, res("get", "batch", "jobs", "", "nightly"), true},
		{"* is every group, the core group too", PolicyRule{Verbs: list("get"), APIGroups: list("*"), Resources: list("pods")}, res("get", "", "pods", "", "web"), true},
		{"no API groups match no resource request", PolicyRule{Verbs: list("get"), Resources: list("pods")}, res("get", "", "pods", "", "web"), false},

		// Resources and subresources.
		{"the resource is listed", podReader, res("get", "", "pods", "", "web"), true},
		{"another resource is not", podReader, res("get", "", "secrets", "", "token"), false},
		{"a resource does not grant its subresources", podReader, res("get", "", "pods", "log", "web"), false},
		{"resource/subresource names a subresource", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, res("get", "", "pods", "log", "web"), true},
		{"a subresource does not grant its resource", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, res("get", "", "pods", "", "web"), false},
		{"a subresource does not grant another subresource", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, res("get", "", "pods", "exec", "web"), false},
		{"* is every resource", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}, res("get", "", "configmaps", "", "settings"), true},
		{"* is every subresource too", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}, res("get", "", "pods", "log", "web"), true},
		{"*/scale is the scale subresource of any resource", PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}, res("update", "apps", "deployments", "scale", "web"), true},
		{"*/scale is not the resource itself", PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}, res("update", "apps", "deployments", "", "web"), false},
		{"*/scale is not another subresource", PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}, res("update", "apps", "deployments", "status", "web"), false},
		{"*/scale is not a resource called scale", PolicyRule{Verbs: list("get"), APIGroups: list("*"), Resources: list("*/scale")}, res("get", "", "scale", "", "x"), false},
		{"pods/* is not a wildcard", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/*")}, res("get", "", "pods", "log", "web"), false},
		{"resources are not prefixes", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pod")}, res("get", "", "pods", "", "web"), false},

		// Resource names.
		{"a listed name", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, res("get", "", "configmaps", "", "settings"), true},
		{"one of several names", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "settings")}, res("get", "", "configmaps", "", "settings"), true},
		{"a name that is not listed", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, res("get", "", "configmaps", "", "other"), false},
		{"resourceNames never grant list", PolicyRule{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, res("list", "", "configmaps", "", ""), false},
		{"resourceNames never grant watch of a collection", PolicyRule{Verbs: list("watch"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, res("watch", "", "configmaps", "", ""), false},
		{"resourceNames never grant create (a POST names no object)", PolicyRule{Verbs: list("create"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, res("create", "", "configmaps", "", ""), false},
		{"resourceNames never grant deletecollection", PolicyRule{Verbs: list("*"), APIGroups: list("*"), Resources: list("*"), ResourceNames: list("settings")}, res("deletecollection", "", "configmaps", "", ""), false},
		{"resourceNames apply to a subresource's object", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log"), ResourceNames: list("web")}, res("get", "", "pods", "log", "web"), true},
		{"no resourceNames: every object", PolicyRule{Verbs: list("delete"), APIGroups: list(""), Resources: list("configmaps")}, res("delete", "", "configmaps", "", "anything"), true},

		// Non-resource requests.
		{"a listed URL", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, path("get", "/healthz"), true},
		{"a URL is matched exactly", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, path("get", "/healthz/etcd"), false},
		{"a URL is not a prefix without *", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/version")}, path("get", "/version/"), false},
		{"non-resource verbs are HTTP methods", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, path("post", "/healthz"), false},
		{"* verbs on a URL", PolicyRule{Verbs: list("*"), NonResourceURLs: list("/metrics")}, path("post", "/metrics"), true},
		{"* is every URL", PolicyRule{Verbs: list("get"), NonResourceURLs: list("*")}, path("get", "/openapi/v3"), true},
		{"a trailing * is a prefix", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, path("get", "/apis/batch/v1"), true},
		{"the prefix includes the slash before *", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, path("get", "/apis"), false},
		{"the prefix with nothing after it", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, path("get", "/apis/"), true},
		{"a prefix need not end at a slash", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/api*")}, path("get", "/apis"), true},
		{"* only counts at the end", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/*/healthz")}, path("get", "/x/healthz"), false},
		{"one of several URLs", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/livez", "/readyz")}, path("get", "/readyz"), true},

		// The two kinds never mix.
		{"a resource rule never matches a path", clusterAdmin[0], path("get", "/healthz"), false},
		{"a URL rule never matches a resource request", clusterAdmin[1], res("get", "", "pods", "", "web"), false},
		{"a resource request is not matched on its path", PolicyRule{Verbs: list("get"), NonResourceURLs: list("/api/*")},
			Attributes{IsResourceRequest: true, Verb: "get", Resource: "pods", Name: "web", Path: "/api/v1/namespaces/default/pods/web"}, false},
		{"a path is not matched on resources", PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")},
			Attributes{Verb: "get", Resource: "pods", Path: "/api/v1/pods"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RuleAllows(tt.rule, tt.attrs); got != tt.want {
				t.Errorf("RuleAllows(\n\t%s,\n\t%s,\n) = %v, want %v", ruleString(tt.rule), attrsString(tt.attrs), got, tt.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name    string
		owner   []PolicyRule
		servant PolicyRule
		want    bool
	}{
		// Plain cases.
		{"the same rule", []PolicyRule{podReader}, podReader, true},
		{"fewer verbs", []PolicyRule{podReader}, PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, true},
		{"a verb the owner lacks", []PolicyRule{podReader}, PolicyRule{Verbs: list("get", "delete"), APIGroups: list(""), Resources: list("pods")}, false},
		{"a resource the owner lacks", []PolicyRule{podReader}, PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods", "secrets")}, false},
		{"a group the owner lacks", []PolicyRule{{Verbs: list("get"), APIGroups: list("apps"), Resources: list("deployments")}},
			PolicyRule{Verbs: list("get"), APIGroups: list("", "apps"), Resources: list("deployments")}, false},
		{"no owner rules cover nothing", nil, podReader, false},
		{"cluster-admin covers anything", clusterAdmin, PolicyRule{Verbs: list("*"), APIGroups: list("*"), Resources: list("*")}, true},

		// Pieces may come from different owner rules, but each piece from one.
		{"each verb from another owner rule", []PolicyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")},
			{Verbs: list("delete"), APIGroups: list(""), Resources: list("pods")},
		}, PolicyRule{Verbs: list("get", "delete"), APIGroups: list(""), Resources: list("pods")}, true},
		{"each resource from another owner rule", []PolicyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")},
			{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps")},
		}, PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods", "configmaps")}, true},
		{"a verb of one owner rule and a resource of another do not combine", []PolicyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")},
			{Verbs: list("delete"), APIGroups: list(""), Resources: list("configmaps")},
		}, PolicyRule{Verbs: list("delete"), APIGroups: list(""), Resources: list("pods")}, false},
		{"a group of one owner rule and a resource of another do not combine", []PolicyRule{
			{Verbs: list("get"), APIGroups: list("apps"), Resources: list("deployments")},
			{Verbs: list("get"), APIGroups: list("batch"), Resources: list("jobs")},
		}, PolicyRule{Verbs: list("get"), APIGroups: list("apps"), Resources: list("jobs")}, false},

		// A * in the servant is only covered by a * in the owner.
		{"* verbs are not covered by every verb listed", []PolicyRule{{Verbs: allVerbs, APIGroups: list(""), Resources: list("pods")}},
			PolicyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}, false},
		{"* verbs are covered by * verbs", []PolicyRule{{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}},
			PolicyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}, true},
		{"* covers listed verbs", []PolicyRule{{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}},
			PolicyRule{Verbs: list("get", "impersonate"), APIGroups: list(""), Resources: list("pods")}, true},
		{"* groups are not covered by the groups listed", []PolicyRule{{Verbs: list("get"), APIGroups: list("", "apps", "batch"), Resources: list("*")}},
			PolicyRule{Verbs: list("get"), APIGroups: list("*"), Resources: list("pods")}, false},
		{"* resources are not covered by the resources listed", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods", "configmaps", "secrets")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}, false},
		{"* resources are covered by * resources", []PolicyRule{{Verbs: list("get"), APIGroups: list("*"), Resources: list("*")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}, true},

		// Subresources.
		{"a resource does not cover its subresource", []PolicyRule{podReader},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, false},
		{"a subresource does not cover its resource", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, false},
		{"* covers a subresource", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("*")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}, true},
		{"*/scale covers deployments/scale", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("deployments/scale")}, true},
		{"*/scale covers */scale", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}, true},
		{"*/scale does not cover */status", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/status")}, false},
		{"*/scale does not cover deployments", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("deployments")}, false},
		{"deployments/scale does not cover */scale", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("deployments/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}, false},

		// Resource names.
		{"no names are not covered by an owner with names", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps")}, false},
		{"names are covered by an owner without names", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}, true},
		{"names among the owner's names", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b", "c")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("c", "a")}, true},
		{"a name the owner lacks", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "d")}, false},
		{"each name from another owner rule", []PolicyRule{
			{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a")},
			{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("b")},
		}, PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b")}, true},

		// Non-resource URLs.
		{"the same URL", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, true},
		{"a URL the owner lacks", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz", "/metrics")}, false},
		{"a verb the owner lacks on a URL", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/metrics")}},
			PolicyRule{Verbs: list("get", "post"), NonResourceURLs: list("/metrics")}, false},
		{"a prefix covers a URL under it", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/batch/v1")}, true},
		{"a prefix covers itself", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}, true},
		{"a prefix does not cover the path without its slash", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis")}, false},
		{"a shorter prefix covers a longer one", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/api*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/api/*")}, true},
		{"a longer prefix does not cover a shorter one", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/api/*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/api*")}, false},
		{"* covers every URL", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("/metrics", "/debug/*")}, true},
		{"/* does not cover *", []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/*")}},
			PolicyRule{Verbs: list("get"), NonResourceURLs: list("*")}, false},

		// The two kinds never mix.
		{"resource rules do not cover URLs", clusterAdmin[:1], PolicyRule{Verbs: list("get"), NonResourceURLs: list("/healthz")}, false},
		{"URL rules do not cover resources", clusterAdmin[1:], PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}, false},

		// Rules that grant nothing.
		{"a rule without verbs grants nothing, so anything covers it", nil, PolicyRule{APIGroups: list("*"), Resources: list("*")}, true},
		{"a rule without resources or URLs grants nothing", nil, PolicyRule{Verbs: list("*"), APIGroups: list("*")}, true},

		// Chapter 04's bootstrap roles, in the hands-on's escalation attempts.
		{"admin in a namespace cannot grant * on pods", []PolicyRule{
			{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods", "configmaps")},
			{Verbs: list("create", "update", "patch", "delete", "deletecollection"), APIGroups: list(""), Resources: list("pods", "configmaps")},
		}, PolicyRule{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}, false},
		{"admin in a namespace can grant read access to pods", []PolicyRule{
			{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods", "configmaps")},
			{Verbs: list("create", "update", "patch", "delete", "deletecollection"), APIGroups: list(""), Resources: list("pods", "configmaps")},
		}, PolicyRule{Verbs: list("get", "list", "watch"), APIGroups: list(""), Resources: list("pods")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Covers(tt.owner, tt.servant); got != tt.want {
				t.Errorf("Covers(\n\towner   %s,\n\tservant %s,\n) = %v, want %v", rulesString(tt.owner), ruleString(tt.servant), got, tt.want)
			}
		})
	}
}

// Covers is what stops escalation, so it must be sound: when it says the
// owner rules cover a rule, every request that rule allows is allowed by
// some owner rule. This test checks that for each covering case above,
// over a set of requests, with your RuleAllows as the judge. Make
// TestRuleAllows pass first.
func TestCoversIsSound(t *testing.T) {
	requests := []Attributes{
		res("get", "", "pods", "", "web"), res("list", "", "pods", "", ""), res("delete", "", "pods", "", "web"),
		res("get", "", "pods", "log", "web"), res("create", "", "pods", "exec", "web"),
		res("get", "", "configmaps", "", "settings"), res("get", "", "configmaps", "", "a"), res("get", "", "configmaps", "", "b"),
		res("list", "", "configmaps", "", ""), res("get", "", "secrets", "", "token"),
		res("update", "apps", "deployments", "scale", "web"), res("update", "apps", "statefulsets", "scale", "db"),
		res("update", "apps", "deployments", "status", "web"), res("get", "apps", "deployments", "", "web"),
		res("get", "batch", "jobs", "", "nightly"), res("impersonate", "", "users", "", "bob"),
		path("get", "/healthz"), path("get", "/metrics"), path("post", "/metrics"), path("get", "/apis"),
		path("get", "/apis/"), path("get", "/apis/batch/v1"), path("get", "/api/v1"), path("get", "/debug/pprof"),
	}
	covered := []struct {
		owner   []PolicyRule
		servant PolicyRule
	}{
		{[]PolicyRule{podReader}, PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}},
		{[]PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
		{[]PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("*/scale")}},
			PolicyRule{Verbs: list("update"), APIGroups: list("apps"), Resources: list("deployments/scale")}},
		{[]PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b", "c")}},
			PolicyRule{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b")}},
		{[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/api*")}}, PolicyRule{Verbs: list("get"), NonResourceURLs: list("/api/*")}},
		{[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/apis/*")}}, PolicyRule{Verbs: list("get"), NonResourceURLs: list("/apis/*")}},
		{clusterAdmin, clusterAdmin[0]},
		{clusterAdmin, clusterAdmin[1]},
	}
	for i, c := range covered {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if !Covers(c.owner, c.servant) {
				t.Fatalf("Covers(%s, %s) = false, want true (TestCovers has this case too)", rulesString(c.owner), ruleString(c.servant))
			}
			for _, attrs := range requests {
				if !RuleAllows(c.servant, attrs) {
					continue
				}
				allowed := false
				for _, o := range c.owner {
					allowed = allowed || RuleAllows(o, attrs)
				}
				if !allowed {
					t.Errorf("Covers says %s covers %s, but only the latter allows %s",
						rulesString(c.owner), ruleString(c.servant), attrsString(attrs))
				}
			}
		})
	}
}

func ruleString(r PolicyRule) string {
	s := fmt.Sprintf("{Verbs:%q", r.Verbs)
	if r.APIGroups != nil {
		s += fmt.Sprintf(" APIGroups:%q", r.APIGroups)
	}
	if r.Resources != nil {
		s += fmt.Sprintf(" Resources:%q", r.Resources)
	}
	if r.ResourceNames != nil {
		s += fmt.Sprintf(" ResourceNames:%q", r.ResourceNames)
	}
	if r.NonResourceURLs != nil {
		s += fmt.Sprintf(" NonResourceURLs:%q", r.NonResourceURLs)
	}
	return s + "}"
}

func rulesString(rules []PolicyRule) string {
	s := "["
	for i, r := range rules {
		if i > 0 {
			s += " "
		}
		s += ruleString(r)
	}
	return s + "]"
}

func attrsString(a Attributes) string {
	if !a.IsResourceRequest {
		return fmt.Sprintf("non-resource request %s %q", a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	s := fmt.Sprintf("resource request %s %q in group %q", a.Verb, resource, a.APIGroup)
	if a.Name != "" {
		s += fmt.Sprintf(" named %q", a.Name)
	}
	if a.Path != "" {
		s += fmt.Sprintf(" (path %q)", a.Path)
	}
	return s
}
