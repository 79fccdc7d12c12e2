package escalation

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func list(s ...string) []string { return s }

var (
	read  = list("get", "list", "watch")
	write = list("create", "update", "patch", "delete", "deletecollection")

	clusterAdmin = []PolicyRule{
		{Verbs: list("*"), APIGroups: list("*"), Resources: list("*")},
		{Verbs: list("*"), NonResourceURLs: list("*")},
	}
	adminRules = []PolicyRule{
		{Verbs: read, APIGroups: list(""), Resources: list("pods", "configmaps", "secrets")},
		{Verbs: write, APIGroups: list(""), Resources: list("pods", "configmaps", "secrets")},
		{Verbs: append(slices.Clone(read), write...), APIGroups: list(RBACGroup), Resources: list("roles", "rolebindings")},
		{Verbs: list("create"), APIGroups: list(""), Resources: list("pods/exec")},
	}
	viewRules      = []PolicyRule{{Verbs: read, APIGroups: list(""), Resources: list("pods", "configmaps")}}
	metricsRules   = []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/metrics", "/logs/*")}}
	scalerRules    = []PolicyRule{{Verbs: list("get", "update", "patch"), APIGroups: list("apps"), Resources: list("*/scale")}}
	settingsRules  = []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings")}}
	binderRules    = []PolicyRule{{Verbs: list("bind"), APIGroups: list(RBACGroup), Resources: list("clusterroles"), ResourceNames: list("view")}}
	globalBinder   = []PolicyRule{{Verbs: list("bind"), APIGroups: list(RBACGroup), Resources: list("clusterroles"), ResourceNames: list("view", "future")}}
	escalatorRules = []PolicyRule{{Verbs: list("escalate"), APIGroups: list(RBACGroup), Resources: list("roles")}}
	limitedRules   = []PolicyRule{{Verbs: list("escalate"), APIGroups: list(RBACGroup), Resources: list("roles"), ResourceNames: list("limited")}}
	devPodReader   = []PolicyRule{{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("pods")}}
	prodPodReader  = []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}}
)

func user(name string) Subject  { return Subject{Kind: "User", Name: name} }
func group(name string) Subject { return Subject{Kind: "Group", Name: name} }
func sa(namespace, name string) Subject {
	return Subject{Kind: "ServiceAccount", Namespace: namespace, Name: name}
}
func clusterRole(name string) RoleRef { return RoleRef{Kind: "ClusterRole", Name: name} }
func role(name string) RoleRef        { return RoleRef{Kind: "Role", Name: name} }

// policy is a small cluster: who holds what, and where.
func policy() *Policy {
	return &Policy{
		ClusterRoles: []Role{
			{Name: "cluster-admin", Rules: clusterAdmin},
			{Name: "admin", Rules: adminRules},
			{Name: "view", Rules: viewRules},
			{Name: "metrics-reader", Rules: metricsRules},
			{Name: "scaler", Rules: scalerRules},
			{Name: "settings-reader", Rules: settingsRules},
			{Name: "binder-of-view", Rules: binderRules},
			{Name: "global-binder", Rules: globalBinder},
			{Name: "role-escalator", Rules: escalatorRules},
			{Name: "limited-escalator", Rules: limitedRules},
		},
		Roles: []Role{
			{Namespace: "dev", Name: "pod-reader", Rules: devPodReader},
			{Namespace: "prod", Name: "pod-reader", Rules: prodPodReader},
		},
		ClusterRoleBindings: []Binding{
			{Name: "root-admin", RoleRef: clusterRole("cluster-admin"), Subjects: []Subject{user("root")}},
			{Name: "ops-metrics", RoleRef: clusterRole("metrics-reader"), Subjects: []Subject{group("ops")}},
			{Name: "monitor-view", RoleRef: clusterRole("view"), Subjects: []Subject{sa("kube-system", "monitor")}},
			{Name: "stray-robot", RoleRef: clusterRole("view"), Subjects: []Subject{sa("", "robot")}}, // no namespace: nobody
			{Name: "gina-binds", RoleRef: clusterRole("global-binder"), Subjects: []Subject{user("gina")}},
		},
		RoleBindings: []Binding{
			{Namespace: "dev", Name: "alice-admin", RoleRef: clusterRole("admin"), Subjects: []Subject{user("alice")}},
			{Namespace: "dev", Name: "team-b-view", RoleRef: clusterRole("view"), Subjects: []Subject{group("team-b")}},
			{Namespace: "dev", Name: "robot-view", RoleRef: clusterRole("view"), Subjects: []Subject{sa("", "robot")}},
			{Namespace: "dev", Name: "ci-reader", RoleRef: role("pod-reader"), Subjects: []Subject{sa("ci", "ci")}},
			{Namespace: "dev", Name: "carol-binds", RoleRef: clusterRole("binder-of-view"), Subjects: []Subject{user("carol")}},
			{Namespace: "dev", Name: "dana-escalates", RoleRef: clusterRole("role-escalator"), Subjects: []Subject{user("dana")}},
			{Namespace: "dev", Name: "erin-scales", RoleRef: clusterRole("scaler"), Subjects: []Subject{user("erin")}},
			{Namespace: "dev", Name: "erin-settings", RoleRef: clusterRole("settings-reader"), Subjects: []Subject{user("erin")}},
			{Namespace: "dev", Name: "ivan-escalates", RoleRef: clusterRole("limited-escalator"), Subjects: []Subject{user("ivan")}},
			{Namespace: "dev", Name: "ghost", RoleRef: role("does-not-exist"), Subjects: []Subject{user("zed")}},
			{Namespace: "prod", Name: "alice-view", RoleRef: clusterRole("view"), Subjects: []Subject{user("alice"), group("team-b")}},
			{Namespace: "prod", Name: "alice-pods", RoleRef: role("pod-reader"), Subjects: []Subject{user("alice")}},
		},
	}
}

var (
	alice   = User{Name: "alice", Groups: list("system:authenticated")}
	bob     = User{Name: "bob", Groups: list("team-b", "system:authenticated")}
	carol   = User{Name: "carol", Groups: list("ops", "system:authenticated")}
	dana    = User{Name: "dana", Groups: list("system:authenticated")}
	erin    = User{Name: "erin", Groups: list("system:authenticated")}
	frank   = User{Name: "frank", Groups: list("ops")}
	gina    = User{Name: "gina", Groups: list("system:authenticated")}
	ivan    = User{Name: "ivan", Groups: list("system:authenticated")}
	root    = User{Name: "root"}
	robot   = User{Name: "system:serviceaccount:dev:robot", Groups: list("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated")}
	ci      = User{Name: "system:serviceaccount:ci:ci", Groups: list("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated")}
	monitor = User{Name: "system:serviceaccount:kube-system:monitor", Groups: list("system:serviceaccounts", "system:authenticated")}
	masters = User{Name: "kubernetes-admin", Groups: list("system:masters", "system:authenticated")}
	mallory = User{Name: "mallory"}
)

func concat(lists ...[]PolicyRule) []PolicyRule {
	var out []PolicyRule
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func sameRules(a, b []PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y PolicyRule) bool {
		return slices.Equal(x.Verbs, y.Verbs) && slices.Equal(x.APIGroups, y.APIGroups) && slices.Equal(x.Resources, y.Resources) &&
			slices.Equal(x.ResourceNames, y.ResourceNames) && slices.Equal(x.NonResourceURLs, y.NonResourceURLs)
	})
}

func rulesString(rules []PolicyRule) string {
	var s []string
	for _, r := range rules {
		s = append(s, CompactString(r))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestRulesFor(t *testing.T) {
	p := policy()
	tests := []struct {
		name      string
		user      User
		namespace string
		want      []PolicyRule
	}{
		{"a RoleBinding to a ClusterRole grants its rules in the namespace", alice, "dev", adminRules},
		{"a binding to a role that does not exist grants nothing", User{Name: "zed"}, "dev", nil},
		{"bindings in their order: a ClusterRole, then a Role of the namespace", alice, "prod", concat(viewRules, prodPodReader)},
		{"RoleBindings grant nothing cluster-wide", alice, "", nil},
		{"nor in another namespace", alice, "staging", nil},
		{"a Group subject", bob, "dev", viewRules},
		{"a subject among several", bob, "prod", viewRules},
		{"a ServiceAccount without a namespace is in the RoleBinding's namespace", robot, "dev", viewRules},
		{"and in a ClusterRoleBinding it is nobody", robot, "", nil},
		{"not even a user named as if its namespace were empty", User{Name: "system:serviceaccount::robot"}, "", nil},
		{"a ServiceAccount of another namespace, bound to a Role here", ci, "dev", devPodReader},
		{"a ClusterRoleBinding grants in every namespace", monitor, "prod", viewRules},
		{"and cluster-wide", monitor, "", viewRules},
		{"ClusterRoleBindings come first", carol, "dev", concat(metricsRules, binderRules)},
		{"two RoleBindings of one user, in order", erin, "dev", concat(scalerRules, settingsRules)},
		{"a User subject is not a group of that name", User{Name: "team-b"}, "dev", nil},
		{"a ServiceAccount subject is not a user named like it", User{Name: "robot"}, "dev", nil},
		{"system:masters is no RBAC subject here", masters, "dev", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.RulesFor(tt.user, tt.namespace)
			if !sameRules(got, tt.want) {
				t.Errorf("RulesFor(%s, %q) =\n\t%s\nwant\n\t%s", tt.user.Name, tt.namespace, rulesString(got), rulesString(tt.want))
			}
		})
	}
}

func res(verb, namespace, group, resource, subresource, name string) Attributes {
	return Attributes{IsResourceRequest: true, Verb: verb, Namespace: namespace, APIGroup: group, Resource: resource, Subresource: subresource, Name: name}
}

func path(verb, p string) Attributes { return Attributes{Verb: verb, Path: p} }

func TestAuthorize(t *testing.T) {
	p := policy()
	tests := []struct {
		name  string
		user  User
		attrs Attributes
		want  bool
	}{
		{"admin in dev reads pods in dev", alice, res("get", "dev", "", "pods", "", "web"), true},
		{"view in prod reads pods in prod", alice, res("list", "prod", "", "pods", "", ""), true},
		{"but does not delete them", alice, res("delete", "prod", "", "pods", "", "web"), false},
		{"RoleBindings do not reach across all namespaces", alice, res("list", "", "", "pods", "", ""), false},
		{"a group's binding", bob, res("watch", "dev", "", "configmaps", "", ""), true},
		{"what view does not grant", bob, res("get", "dev", "", "secrets", "", "token"), false},
		{"a non-resource URL", frank, path("get", "/metrics"), true},
		{"a URL prefix", frank, path("get", "/logs/kube-apiserver.log"), true},
		{"another verb on the URL", frank, path("post", "/metrics"), false},
		{"bind, on the role named", carol, res("bind", "dev", RBACGroup, "clusterroles", "", "view"), true},
		{"bind, on another role", carol, res("bind", "dev", RBACGroup, "clusterroles", "", "cluster-admin"), false},
		{"bind, in another namespace", carol, res("bind", "prod", RBACGroup, "clusterroles", "", "view"), false},
		{"bind granted cluster-wide holds in any namespace", gina, res("bind", "prod", RBACGroup, "clusterroles", "", "view"), true},
		{"a */scale rule and a subresource", erin, res("update", "dev", "apps", "deployments", "scale", "web"), true},
		{"a rule with resourceNames, the name", erin, res("get", "dev", "", "configmaps", "", "settings"), true},
		{"a rule with resourceNames, a list", erin, res("list", "dev", "", "configmaps", "", ""), false},
		{"cluster-admin", root, res("escalate", "", RBACGroup, "clusterroles", "", "anything"), true},
		{"system:masters is not RBAC's to allow", masters, res("get", "dev", "", "pods", "", "web"), false},
		{"nobody", mallory, res("get", "dev", "", "pods", "", "web"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Authorize(tt.user, tt.attrs); got != tt.want {
				t.Errorf("Authorize(%s, %+v) = %v, want %v", tt.user.Name, tt.attrs, got, tt.want)
			}
		})
	}
}

func piece(group, resource, verb string, names ...string) PolicyRule {
	r := PolicyRule{APIGroups: list(group), Resources: list(resource), Verbs: list(verb)}
	if len(names) > 0 {
		r.ResourceNames = names
	}
	return r
}

func urlPiece(url, verb string) PolicyRule {
	return PolicyRule{NonResourceURLs: list(url), Verbs: list(verb)}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name        string
		owner       []PolicyRule
		servant     []PolicyRule
		wantMissing []PolicyRule // nil: covered
	}{
		{"the same rules", adminRules, adminRules, nil},
		{"nothing to cover", nil, nil, nil},
		{"a rule without verbs grants nothing", nil, []PolicyRule{{APIGroups: list("*"), Resources: list("*")}}, nil},
		{"* covers listed verbs", []PolicyRule{{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}},
			[]PolicyRule{{Verbs: list("get", "impersonate"), APIGroups: list(""), Resources: list("pods")}}, nil},
		{"listed verbs do not cover *", adminRules, []PolicyRule{{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}},
			[]PolicyRule{piece("", "pods", "*")}},
		{"listed groups do not cover *", []PolicyRule{{Verbs: list("get"), APIGroups: list("", "apps"), Resources: list("*")}},
			[]PolicyRule{{Verbs: list("get"), APIGroups: list("*"), Resources: list("pods")}}, []PolicyRule{piece("*", "pods", "get")}},
		{"the pieces, in order: group, resource, verb", nil,
			[]PolicyRule{{Verbs: list("get", "delete"), APIGroups: list("", "apps"), Resources: list("pods", "deployments")}},
			[]PolicyRule{piece("", "pods", "get"), piece("", "pods", "delete"), piece("", "deployments", "get"), piece("", "deployments", "delete"),
				piece("apps", "pods", "get"), piece("apps", "pods", "delete"), piece("apps", "deployments", "get"), piece("apps", "deployments", "delete")}},
		{"then name", nil, []PolicyRule{{Verbs: list("get", "update"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("a", "b")}},
			[]PolicyRule{piece("", "configmaps", "get", "a"), piece("", "configmaps", "get", "b"), piece("", "configmaps", "update", "a"), piece("", "configmaps", "update", "b")}},
		{"only the pieces not covered", viewRules, []PolicyRule{{Verbs: list("get", "delete"), APIGroups: list(""), Resources: list("pods", "secrets")}},
			[]PolicyRule{piece("", "pods", "delete"), piece("", "secrets", "get"), piece("", "secrets", "delete")}},
		{"a resource does not cover its subresource", viewRules, []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods/log")}},
			[]PolicyRule{piece("", "pods/log", "get")}},
		{"*/scale covers a scale subresource, and itself", scalerRules,
			[]PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("deployments/scale", "*/scale", "deployments")}},
			[]PolicyRule{piece("apps", "deployments", "update")}},
		{"a rule for every object is not covered by one with names", settingsRules,
			[]PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps")}}, []PolicyRule{piece("", "configmaps", "get")}},
		{"names: each on its own", settingsRules,
			[]PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings", "secrets")}},
			[]PolicyRule{piece("", "configmaps", "get", "secrets")}},
		{"URLs: a prefix covers what starts with it", metricsRules,
			[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/logs/*", "/logs/a.log", "/logs", "/metrics")}}, []PolicyRule{urlPiece("/logs", "get")}},
		{"URL pieces: URL, then verb", nil, []PolicyRule{{Verbs: list("get", "post"), NonResourceURLs: list("/a", "/b")}},
			[]PolicyRule{urlPiece("/a", "get"), urlPiece("/a", "post"), urlPiece("/b", "get"), urlPiece("/b", "post")}},
		{"resource pieces before URL pieces, rule after rule", nil,
			[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}, {Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}},
			[]PolicyRule{urlPiece("/healthz", "get"), piece("", "pods", "get")}},
		{"resource rules do not cover URLs, nor the other way round", clusterAdmin[:1],
			[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/healthz")}, clusterAdmin[0]}, []PolicyRule{urlPiece("/healthz", "get")}},
		{"cluster-admin covers cluster-admin", clusterAdmin, clusterAdmin, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, missing := Covers(tt.owner, tt.servant)
			if ok != (tt.wantMissing == nil) || !sameRules(missing, tt.wantMissing) {
				t.Errorf("Covers(\n\towner   %s,\n\tservant %s,\n) = %v, %s\nwant %v, %s",
					rulesString(tt.owner), rulesString(tt.servant), ok, rulesString(missing), tt.wantMissing == nil, rulesString(tt.wantMissing))
			}
		})
	}
}

// heldNot is the message of ConfirmNoEscalation.
func heldNot(u User, lines ...string) string {
	return fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n", u.Name, u.Groups) + strings.Join(lines, "\n")
}

func TestConfirmNoEscalation(t *testing.T) {
	p := policy()
	tests := []struct {
		name      string
		user      User
		namespace string
		rules     []PolicyRule
		want      string // "": no error
	}{
		{"rules the user holds", alice, "dev", []PolicyRule{{Verbs: list("get", "list"), APIGroups: list(""), Resources: list("pods")}}, ""},
		{"no rules at all", mallory, "dev", nil, ""},
		{"* is not the verbs listed", alice, "dev", []PolicyRule{{Verbs: list("*"), APIGroups: list(""), Resources: list("pods")}},
			heldNot(alice, `{APIGroups:[""], Resources:["pods"], Verbs:["*"]}`)},
		{"pieces that differ in their verbs are merged, lines are sorted", alice, "prod",
			[]PolicyRule{{Verbs: list("get", "list", "delete"), APIGroups: list(""), Resources: list("secrets", "pods")}},
			heldNot(alice, `{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`, `{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]}`)},
		{"verbs merge across rules, in the order of the pieces", alice, "prod",
			[]PolicyRule{{Verbs: list("patch"), APIGroups: list(""), Resources: list("pods")}, {Verbs: list("delete", "patch"), APIGroups: list(""), Resources: list("pods")}},
			heldNot(alice, `{APIGroups:[""], Resources:["pods"], Verbs:["patch" "delete" "patch"]}`)},
		{"the core group sorts before the others", alice, "prod",
			[]PolicyRule{{Verbs: list("get"), APIGroups: list("apps", ""), Resources: list("deployments")}},
			heldNot(alice, `{APIGroups:[""], Resources:["deployments"], Verbs:["get"]}`, `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`)},
		{"names: one line per name", erin, "dev",
			[]PolicyRule{{Verbs: list("get", "update"), APIGroups: list(""), Resources: list("configmaps"), ResourceNames: list("settings", "other")}},
			heldNot(erin, `{APIGroups:[""], Resources:["configmaps"], ResourceNames:["other"], Verbs:["get" "update"]}`,
				`{APIGroups:[""], Resources:["configmaps"], ResourceNames:["settings"], Verbs:["update"]}`)},
		{"URL pieces are not merged", bob, "dev", []PolicyRule{{Verbs: list("get", "post"), NonResourceURLs: list("/metrics", "/healthz")}},
			heldNot(bob, `{NonResourceURLs:["/healthz"], Verbs:["get"]}`, `{NonResourceURLs:["/healthz"], Verbs:["post"]}`,
				`{NonResourceURLs:["/metrics"], Verbs:["get"]}`, `{NonResourceURLs:["/metrics"], Verbs:["post"]}`)},
		{"a line printed twice is printed once", frank, "dev",
			[]PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/debug")}, {Verbs: list("get"), NonResourceURLs: list("/debug")}},
			heldNot(frank, `{NonResourceURLs:["/debug"], Verbs:["get"]}`)},
		{"cluster-wide, only ClusterRoleBindings count", alice, "", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}},
			heldNot(alice, `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`)},
		{"a ServiceAccount holds what its namespace's bindings grant", robot, "dev", viewRules, ""},
		{"*/scale is held for a scale subresource", erin, "dev", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("statefulsets/scale")}}, ""},
		{"but not for the resource", erin, "dev", []PolicyRule{{Verbs: list("update"), APIGroups: list("apps"), Resources: list("statefulsets")}},
			heldNot(erin, `{APIGroups:["apps"], Resources:["statefulsets"], Verbs:["update"]}`)},
		{"a user without groups", mallory, "dev", []PolicyRule{{Verbs: list("get"), APIGroups: list(""), Resources: list("pods")}},
			heldNot(mallory, `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.ConfirmNoEscalation(tt.user, tt.namespace, tt.rules)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ConfirmNoEscalation(%s, %q, %s) = %v, want nil", tt.user.Name, tt.namespace, rulesString(tt.rules), err)
			case tt.want != "" && err == nil:
				t.Errorf("ConfirmNoEscalation(%s, %q, %s) = nil, want\n%s", tt.user.Name, tt.namespace, rulesString(tt.rules), tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("ConfirmNoEscalation(%s, %q, %s) =\n%s\nwant\n%s", tt.user.Name, tt.namespace, rulesString(tt.rules), err, tt.want)
			}
		})
	}
}

// checkError compares an error with the StatusError wanted (nil: none).
func checkError(t *testing.T, call string, err error, want *StatusError) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s = %v, want nil", call, err)
		}
		return
	}
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("%s = %#v, want the *StatusError %+v", call, err, *want)
	}
	if *se != *want {
		t.Errorf("%s =\n\t%d %s %q\nwant\n\t%d %s %q", call, se.Code, se.Reason, se.Message, want.Code, want.Reason, want.Message)
	}
}

func forbidden(resource, name string, u User, lines ...string) *StatusError {
	return &StatusError{403, "Forbidden", fmt.Sprintf("%s.%s %q is forbidden: %s", resource, RBACGroup, name, heldNot(u, lines...))}
}

func TestCheckRoleWrite(t *testing.T) {
	p := policy()
	everything := []PolicyRule{{Verbs: list("*"), APIGroups: list("*"), Resources: list("*")}}
	podAdmin := []PolicyRule{{Verbs: list("get", "list", "watch", "create", "delete"), APIGroups: list(""), Resources: list("pods")}}
	tests := []struct {
		name string
		user User
		role Role
		want *StatusError
	}{
		{"system:masters writes anything", masters, Role{Name: "everything", Rules: everything}, nil},
		{"a Role with rules the writer holds", alice, Role{Namespace: "dev", Name: "pod-admin", Rules: podAdmin}, nil},
		{"a Role granting more", alice, Role{Namespace: "dev", Name: "everything", Rules: everything},
			forbidden("roles", "everything", alice, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`)},
		{"what the writer holds in the Role's namespace counts", alice, Role{Namespace: "prod", Name: "reader", Rules: viewRules}, nil},
		{"a ClusterRole needs rules held cluster-wide", alice, Role{Name: "pod-reader", Rules: prodPodReader},
			forbidden("clusterroles", "pod-reader", alice, `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`)},
		{"a ClusterRole of URLs the writer holds", frank, Role{Name: "metrics", Rules: []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/metrics")}}}, nil},
		{"a ClusterRole of URLs the writer does not hold", frank, Role{Name: "pprof", Rules: []PolicyRule{{Verbs: list("get"), NonResourceURLs: list("/debug/pprof/*")}}},
			forbidden("clusterroles", "pprof", frank, `{NonResourceURLs:["/debug/pprof/*"], Verbs:["get"]}`)},
		{"escalate on roles in the namespace: anything goes", dana, Role{Namespace: "dev", Name: "everything", Rules: everything}, nil},
		{"escalate in dev is not escalate in prod", dana, Role{Namespace: "prod", Name: "everything", Rules: everything},
			forbidden("roles", "everything", dana, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`)},
		{"escalate on roles is not escalate on clusterroles", dana, Role{Name: "everything", Rules: everything},
			forbidden("clusterroles", "everything", dana, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`)},
		{"escalate limited to a name: that name", ivan, Role{Namespace: "dev", Name: "limited", Rules: everything}, nil},
		{"escalate limited to a name: another name", ivan, Role{Namespace: "dev", Name: "unlimited", Rules: everything},
			forbidden("roles", "unlimited", ivan, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`)},
		{"cluster-admin holds everything", root, Role{Name: "everything", Rules: concat(everything, clusterAdmin)}, nil},
		{"a role without rules is anyone's to write", mallory, Role{Namespace: "dev", Name: "empty"}, nil},
		{"the missing rules of a ServiceAccount", robot, Role{Namespace: "dev", Name: "pods", Rules: podAdmin},
			forbidden("roles", "pods", robot, `{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, fmt.Sprintf("CheckRoleWrite(%s, %s/%s)", tt.user.Name, tt.role.Namespace, tt.role.Name), p.CheckRoleWrite(tt.user, tt.role), tt.want)
		})
	}
}

func TestCheckBindingWrite(t *testing.T) {
	p := policy()
	binding := func(namespace, name string, ref RoleRef) Binding {
		return Binding{Namespace: namespace, Name: name, RoleRef: ref, Subjects: []Subject{user("someone")}}
	}
	viewLines := []string{`{APIGroups:[""], Resources:["configmaps"], Verbs:["get" "list" "watch"]}`, `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list" "watch"]}`}
	tests := []struct {
		name    string
		user    User
		binding Binding
		want    *StatusError
	}{
		{"system:masters binds anything, even what does not exist", masters, binding("dev", "b", clusterRole("future")), nil},
		{"binding a ClusterRole whose rules the writer holds", alice, binding("dev", "b", clusterRole("view")), nil},
		{"binding a Role of the namespace whose rules the writer holds", alice, binding("dev", "b", role("pod-reader")), nil},
		{"a Role is the one of the binding's namespace", alice, binding("prod", "b", role("pod-reader")), nil},
		{"binding more than the writer holds", alice, binding("dev", "b", clusterRole("cluster-admin")),
			forbidden("rolebindings", "b", alice, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`, `{NonResourceURLs:["*"], Verbs:["*"]}`)},
		{"a ClusterRoleBinding needs the rules cluster-wide", alice, binding("", "b", clusterRole("view")),
			forbidden("clusterrolebindings", "b", alice, viewLines...)},
		{"bind on the ClusterRole, in the namespace", carol, binding("dev", "b", clusterRole("view")), nil},
		{"bind in dev is not bind in prod", carol, binding("prod", "b", clusterRole("view")), forbidden("rolebindings", "b", carol, viewLines...)},
		{"bind on view is not bind on admin", carol, binding("dev", "b", clusterRole("cluster-admin")),
			forbidden("rolebindings", "b", carol, `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`, `{NonResourceURLs:["*"], Verbs:["*"]}`)},
		{"bind granted cluster-wide, for a ClusterRoleBinding", gina, binding("", "b", clusterRole("view")), nil},
		{"bind lets the role be missing", gina, binding("", "b", clusterRole("future")), nil},
		{"without bind, a missing ClusterRole is 404", alice, binding("dev", "b", clusterRole("future")),
			&StatusError{404, "NotFound", `clusterroles.rbac.authorization.k8s.io "future" not found`}},
		{"without bind, a missing Role is 404", alice, binding("dev", "b", role("does-not-exist")),
			&StatusError{404, "NotFound", `roles.rbac.authorization.k8s.io "does-not-exist" not found`}},
		{"a Role of another namespace is missing here", alice, binding("staging", "b", role("pod-reader")),
			&StatusError{404, "NotFound", `roles.rbac.authorization.k8s.io "pod-reader" not found`}},
		{"the missing rules of a ServiceAccount of another namespace", ci, binding("dev", "read-all", clusterRole("view")),
			forbidden("rolebindings", "read-all", ci, `{APIGroups:[""], Resources:["configmaps"], Verbs:["get" "list" "watch"]}`, `{APIGroups:[""], Resources:["pods"], Verbs:["watch"]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := fmt.Sprintf("CheckBindingWrite(%s, %s/%s to %s %s)", tt.user.Name, tt.binding.Namespace, tt.binding.Name, tt.binding.RoleRef.Kind, tt.binding.RoleRef.Name)
			checkError(t, call, p.CheckBindingWrite(tt.user, tt.binding), tt.want)
		})
	}
	t.Run("a roleRef kind that is no role", func(t *testing.T) {
		err := p.CheckBindingWrite(alice, binding("dev", "b", RoleRef{Kind: "Group", Name: "admins"}))
		if err == nil || err.Error() != `unsupported role reference kind: "Group"` {
			t.Errorf("CheckBindingWrite with roleRef kind Group = %v, want the error %q", err, `unsupported role reference kind: "Group"`)
		}
	})
}
