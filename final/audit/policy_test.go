package audit

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// The example policy of the Kubernetes documentation ("Auditing"), a little
// shortened: the first matching rule wins.
const examplePolicy = `
apiVersion: audit.k8s.io/v1 # This is required.
kind: Policy
# Don't generate audit events for all requests in RequestReceived stage.
omitStages:
  - "RequestReceived"
rules:
  # Log pod changes at RequestResponse level
  - level: RequestResponse
    resources:
    - group: ""
      # Resource "pods" doesn't match requests to any subresource of pods,
      # which is consistent with the RBAC policy.
      resources: ["pods"]
  # Log "pods/log", "pods/status" at Metadata level
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]

  # Don't log requests to a configmap called "controller-leader"
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]

  # Don't log watch requests by the "system:kube-proxy" on endpoints or services
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: "" # core API group
      resources: ["endpoints", "services"]

  # Don't log authenticated requests to certain non-resource URL paths.
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*" # Wildcard matching.
    - "/version"

  # Log the request body of configmap changes in kube-system.
  - level: Request
    resources:
    - group: "" # core API group
      resources: ["configmaps"]
    # This rule only applies to resources in the "kube-system" namespace.
    # The empty string "" can be used to select non-namespaced resources.
    namespaces: ["kube-system"]

  # Log configmap and secret changes in all other namespaces at the Metadata level.
  - level: Metadata
    resources:
    - group: "" # core API group
      resources: ["secrets", "configmaps"]

  # Log all other resources in core and extensions at the Request level.
  - level: Request
    resources:
    - group: "" # core API group
    - group: "extensions" # Version of group should NOT be included.

  # Any subresource of deployments, and status of anything in any group.
  - level: RequestResponse
    resources:
    - group: "apps"
      resources: ["deployments/*"]
    - group: "*"
      resources: ["*/status"]

  # A catch-all rule to log all other requests at the Metadata level.
  - level: Metadata
    # Long-running requests like watches that fall under this rule will not
    # generate an audit event in RequestReceived.
    omitStages:
      - "RequestReceived"
`

func TestPolicyMatching(t *testing.T) {
	p, err := ParsePolicy([]byte(examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	alice := &request.User{Name: "alice", Groups: []string{"dev", request.GroupAuthenticated}}
	proxy := &request.User{Name: "system:kube-proxy", Groups: []string{request.GroupAuthenticated}}
	anonymous := &request.User{Name: request.UserAnonymous, Groups: []string{request.GroupUnauthenticated}}
	res := func(verb, group, resource, ns, name, sub string) request.RequestInfo {
		return request.RequestInfo{IsResourceRequest: true, Verb: verb, APIGroup: group, APIVersion: "v1",
			Resource: resource, Namespace: ns, Name: name, Subresource: sub}
	}
	path := func(p string) request.RequestInfo { return request.RequestInfo{Verb: "get", Path: p} }
	tests := []struct {
		name string
		user *request.User
		info request.RequestInfo
		want Level
	}{
		{"pods", alice, res("create", "", "pods", "default", "", ""), LevelRequestResponse},
		{"pods/status is not pods", alice, res("update", "", "pods", "default", "web", "status"), LevelMetadata},
		{"pods/log", alice, res("get", "", "pods", "default", "web", "log"), LevelMetadata},
		{"a named configmap", alice, res("update", "", "configmaps", "kube-system", "controller-leader", ""), LevelNone},
		{"another configmap in kube-system", alice, res("update", "", "configmaps", "kube-system", "other", ""), LevelRequest},
		{"a configmap elsewhere", alice, res("update", "", "configmaps", "default", "other", ""), LevelMetadata},
		{"kube-proxy watching services", proxy, res("watch", "", "services", "", "", ""), LevelNone},
		{"kube-proxy listing services", proxy, res("list", "", "services", "", "", ""), LevelRequest},
		{"alice watching services", alice, res("watch", "", "services", "", "", ""), LevelRequest},
		{"discovery, authenticated", alice, path("/apis/apps/v1"), LevelNone},
		{"version, authenticated", alice, path("/version"), LevelNone},
		{"discovery, anonymous", anonymous, path("/apis"), LevelMetadata},
		{"healthz", alice, path("/healthz"), LevelMetadata},
		{"any core resource", alice, res("list", "", "nodes", "", "", ""), LevelRequest},
		{"extensions", alice, res("get", "extensions", "ingresses", "ns", "i", ""), LevelRequest},
		{"deployments/scale", alice, res("update", "apps", "deployments", "ns", "d", "scale"), LevelRequestResponse},
		{"deployments/* matches deployments too, as in kube-apiserver", alice, res("update", "apps", "deployments", "ns", "d", ""), LevelRequestResponse},
		{"other apps resources", alice, res("update", "apps", "statefulsets", "ns", "s", ""), LevelMetadata},
		{"status in any group", alice, res("patch", "example.com", "widgets", "ns", "w", "status"), LevelRequestResponse},
		{"no user", nil, res("get", "batch", "jobs", "ns", "j", ""), LevelMetadata},
	}
	for _, tt := range tests {
		got := p.EvaluatePolicyRule(tt.user, tt.info)
		if got.Level != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got.Level, tt.want)
		}
		if tt.want != LevelNone && !slices.Contains(got.OmitStages, StageRequestReceived) {
			t.Errorf("%s: the policy's omitStages are not the rule's: %v", tt.name, got.OmitStages)
		}
	}
}

func TestPolicyRules(t *testing.T) {
	info := request.RequestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "pods", Namespace: "ns", Name: "web"}
	u := &request.User{Name: "bob", Groups: []string{"ops"}}
	tests := []struct {
		name string
		rule PolicyRule
		info request.RequestInfo
		want bool
	}{
		{"empty rule matches all", PolicyRule{}, info, true},
		{"user", PolicyRule{Users: []string{"bob"}}, info, true},
		{"other user", PolicyRule{Users: []string{"alice"}}, info, false},
		{"group", PolicyRule{UserGroups: []string{"dev", "ops"}}, info, true},
		{"other group", PolicyRule{UserGroups: []string{"dev"}}, info, false},
		{"verb", PolicyRule{Verbs: []string{"list", "get"}}, info, true},
		{"other verb", PolicyRule{Verbs: []string{"list"}}, info, false},
		{"namespace", PolicyRule{Namespaces: []string{"ns"}}, info, true},
		{"other namespace", PolicyRule{Namespaces: []string{"kube-system"}}, info, false},
		{"cluster scope is the empty namespace", PolicyRule{Namespaces: []string{""}}, request.RequestInfo{IsResourceRequest: true, Resource: "nodes"}, true},
		{"namespaces do not match paths", PolicyRule{Namespaces: []string{""}}, request.RequestInfo{Path: "/healthz"}, false},
		{"resource name", PolicyRule{Resources: []GroupResources{{Resources: []string{"pods"}, ResourceNames: []string{"web"}}}}, info, true},
		{"other resource name", PolicyRule{Resources: []GroupResources{{Resources: []string{"pods"}, ResourceNames: []string{"db"}}}}, info, false},
		{"group is exact", PolicyRule{Resources: []GroupResources{{Group: "apps", Resources: []string{"pods"}}}}, info, false},
		{"any resource", PolicyRule{Resources: []GroupResources{{Resources: []string{"*"}}}}, info, true},
		{"resources do not match paths", PolicyRule{Resources: []GroupResources{{Group: "*"}}}, request.RequestInfo{Path: "/metrics"}, false},
		{"url exact", PolicyRule{NonResourceURLs: []string{"/metrics"}}, request.RequestInfo{Path: "/metrics"}, true},
		{"url prefix", PolicyRule{NonResourceURLs: []string{"/healthz*"}}, request.RequestInfo{Path: "/healthz/etcd"}, true},
		{"url other", PolicyRule{NonResourceURLs: []string{"/healthz"}}, request.RequestInfo{Path: "/healthz/etcd"}, false},
		{"url star", PolicyRule{NonResourceURLs: []string{"*"}}, request.RequestInfo{Path: "/anything"}, true},
		{"urls do not match resources", PolicyRule{NonResourceURLs: []string{"*"}}, info, false},
	}
	for _, tt := range tests {
		if got := tt.rule.matches(u, tt.info); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
	if got := (*Policy)(nil).EvaluatePolicyRule(u, info); got.Level != LevelNone {
		t.Errorf("no policy: got %s", got.Level)
	}
	p := &Policy{Rules: []PolicyRule{{Level: LevelMetadata, Users: []string{"alice"}}}}
	if got := p.EvaluatePolicyRule(u, info); got.Level != LevelNone {
		t.Errorf("no rule matching: got %s", got.Level)
	}
}

func TestParsePolicy(t *testing.T) {
	quiet(t)
	// JSON is YAML too.
	p, err := ParsePolicy([]byte(`{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"Metadata"}]}`))
	if err != nil || len(p.Rules) != 1 || p.Rules[0].Level != LevelMetadata {
		t.Fatalf("got %+v, %v", p, err)
	}
	// An unknown field is read leniently, as kube-apiserver does.
	if _, err := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  newField: 1\n")); err != nil {
		t.Errorf("unknown field: %v", err)
	}
	bad := []struct{ policy, want string }{
		{"apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None", "audit.k8s.io/v1 Policy"},
		{"apiVersion: audit.k8s.io/v1\nkind: Event\nrules:\n- level: None", "audit.k8s.io/v1 Policy"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []", "0 rules"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- users: [alice]", "rules[0].level: Required value"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything", `Unsupported value: "Everything"`},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [healthz]", "must begin with a '/'"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: ['/a*b']", "must be the final character"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [/a]\n  namespaces: [x]", "both regular resources and non-resource URLs"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources: [{group: rbac.authorization.k8s.io/v1}]", "rules[0].resources.group"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  resources: [{resourceNames: [x]}]", "requires at least one resource"},
		{"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Done]\nrules:\n- level: None", "omitStages[0]"},
		{"rules: [", "failed decoding"},
	}
	for _, tt := range bad {
		if _, err := ParsePolicy([]byte(tt.policy)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error with %q", tt.policy, err, tt.want)
		}
	}
}

func TestLoadPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(examplePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPolicy(path); err != nil || len(p.Rules) != 10 {
		t.Errorf("got %v, %v", p, err)
	}
	if _, err := LoadPolicy(path + ".missing"); err == nil {
		t.Error("a missing file loaded")
	}
}

// quiet keeps the package's log lines out of the test output.
func quiet(t *testing.T) {
	old := log.Writer()
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(old) })
}
