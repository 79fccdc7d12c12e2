// The audit policy (--audit-policy-file): an audit.k8s.io/v1 Policy whose
// rules say, for each request, how much of it to log. The first rule that
// matches decides; a request no rule matches is not logged
// (k8s.io/apiserver/pkg/audit/policy: reader.go, checker.go).

package audit

import (
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// Level is how much of a request an event holds; each level holds what the
// one before it does.
type Level string

const (
	LevelNone            Level = "None"            // no event
	LevelMetadata        Level = "Metadata"        // who, what, when, the response code
	LevelRequest         Level = "Request"         // and the request body
	LevelRequestResponse Level = "RequestResponse" // and the response body
)

var levels = []Level{LevelNone, LevelMetadata, LevelRequest, LevelRequestResponse}

// atLeast tells whether l holds what min does.
func (l Level) atLeast(min Level) bool {
	return slices.Index(levels, l) >= slices.Index(levels, min)
}

// Stage is the moment of a request an event is written at.
type Stage string

const (
	StageRequestReceived  Stage = "RequestReceived"  // as soon as the request is read
	StageResponseStarted  Stage = "ResponseStarted"  // kube-apiserver's, for long-running requests; not written here
	StageResponseComplete Stage = "ResponseComplete" // when the response is sent
	StagePanic            Stage = "Panic"            // when the handler panicked
)

var stages = []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic}

// Policy is an audit.k8s.io/v1 Policy.
type Policy struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Rules      []PolicyRule   `json:"rules"`
	// OmitStages are left out for every rule, besides the rule's own.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields is read and has no effect: request and response
	// objects are logged with their managedFields.
	OmitManagedFields bool `json:"omitManagedFields,omitempty"`
}

// PolicyRule matches requests; every field that is set must match.
type PolicyRule struct {
	Level      Level    `json:"level"`
	Users      []string `json:"users,omitempty"`
	UserGroups []string `json:"userGroups,omitempty"` // any one of the user's groups
	Verbs      []string `json:"verbs,omitempty"`      // RequestInfo verbs: get, list, watch, create...
	// Resources and Namespaces match resource requests only ("" is a
	// cluster-scoped resource's namespace); NonResourceURLs match paths only.
	Resources         []GroupResources `json:"resources,omitempty"`
	Namespaces        []string         `json:"namespaces,omitempty"`
	NonResourceURLs   []string         `json:"nonResourceURLs,omitempty"` // "/healthz", "/api*", "*"
	OmitStages        []Stage          `json:"omitStages,omitempty"`
	OmitManagedFields *bool            `json:"omitManagedFields,omitempty"`
}

// GroupResources names resources of one API group ("" is the core group,
// "*" any group). A resource is "pods", "pods/status", "*", "*/status" or
// "pods/*"; ResourceNames narrows to named objects.
type GroupResources struct {
	Group         string   `json:"group,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// LoadPolicy reads a policy file, YAML or JSON.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the audit policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%v: from file %s", err, path)
	}
	return p, nil
}

// ParsePolicy reads a policy, YAML or JSON, and checks it as kube-apiserver
// does. Like kube-apiserver, it reads a policy with unknown fields, with a
// warning: a field from a newer version does not stop the server.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if strictErr := yaml.UnmarshalStrict(data, &p); strictErr != nil {
		p = Policy{}
		if err := yaml.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("failed decoding: %w", err)
		}
		log.Printf("Audit policy contains errors, falling back to lenient decoding: %v", strictErr)
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		return nil, fmt.Errorf("not an audit.k8s.io/v1 Policy: apiVersion %q, kind %q", p.APIVersion, p.Kind)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(p.Rules) == 0 {
		return nil, errors.New("loaded illegal policy with 0 rules")
	}
	return &p, nil
}

// validate is k8s.io/apiserver/pkg/apis/audit/validation's ValidatePolicy.
func (p *Policy) validate() error {
	var errs []error
	errs = append(errs, validateStages(p.OmitStages, "omitStages")...)
	for i, rule := range p.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		switch {
		case rule.Level == "":
			errs = append(errs, fmt.Errorf("%s.level: Required value", path))
		case !slices.Contains(levels, rule.Level):
			errs = append(errs, fmt.Errorf("%s.level: Unsupported value: %q: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"", path, rule.Level))
		}
		for j, url := range rule.NonResourceURLs {
			if url == "*" {
				continue
			}
			if !strings.HasPrefix(url, "/") {
				errs = append(errs, fmt.Errorf("%s.nonResourceURLs[%d]: Invalid value: %q: non-resource URL rules must begin with a '/' character", path, j, url))
			}
			if url != "" && strings.Contains(url[:len(url)-1], "*") {
				errs = append(errs, fmt.Errorf("%s.nonResourceURLs[%d]: Invalid value: %q: non-resource URL wildcards '*' must be the final character of the rule", path, j, url))
			}
		}
		for _, gr := range rule.Resources {
			if gr.Group != "" && gr.Group != "*" {
				if msg := object.ValidateDNS1123Subdomain(gr.Group); msg != "" {
					errs = append(errs, fmt.Errorf("%s.resources.group: Invalid value: %q: %s", path, gr.Group, msg))
				}
			}
			if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
				errs = append(errs, fmt.Errorf("%s.resources.resourceNames: Invalid value: %q: using resourceNames requires at least one resource", path, gr.ResourceNames))
			}
		}
		errs = append(errs, validateStages(rule.OmitStages, path+".omitStages")...)
		if len(rule.NonResourceURLs) > 0 && (len(rule.Resources) > 0 || len(rule.Namespaces) > 0) {
			errs = append(errs, fmt.Errorf("%s.nonResourceURLs: Invalid value: %q: rules cannot apply to both regular resources and non-resource URLs", path, rule.NonResourceURLs))
		}
	}
	return errors.Join(errs...)
}

func validateStages(omit []Stage, path string) []error {
	var errs []error
	for i, s := range omit {
		if !slices.Contains(stages, s) {
			errs = append(errs, fmt.Errorf("%s[%d]: Invalid value: %q: allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic", path, i, s))
		}
	}
	return errs
}

// RequestAuditConfig is what the policy decides for one request.
type RequestAuditConfig struct {
	Level      Level
	OmitStages []Stage
}

// EvaluatePolicyRule finds the first rule that matches the request of user
// u (the authenticated one, before impersonation) described by info. With
// no rule matching, or no policy, the level is None.
func (p *Policy) EvaluatePolicyRule(u *request.User, info request.RequestInfo) RequestAuditConfig {
	if p == nil {
		return RequestAuditConfig{Level: LevelNone}
	}
	for _, rule := range p.Rules {
		if rule.matches(u, info) {
			return RequestAuditConfig{Level: rule.Level, OmitStages: append(slices.Clone(p.OmitStages), rule.OmitStages...)}
		}
	}
	return RequestAuditConfig{Level: LevelNone, OmitStages: p.OmitStages}
}

func (r *PolicyRule) matches(u *request.User, info request.RequestInfo) bool {
	if len(r.Users) > 0 && (u == nil || !slices.Contains(r.Users, u.Name)) {
		return false
	}
	if len(r.UserGroups) > 0 && (u == nil || !slices.ContainsFunc(u.Groups, func(g string) bool { return slices.Contains(r.UserGroups, g) })) {
		return false
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, info.Verb) {
		return false
	}
	switch {
	case len(r.Namespaces) > 0 || len(r.Resources) > 0:
		return r.matchesResource(info)
	case len(r.NonResourceURLs) > 0:
		return !info.IsResourceRequest && slices.ContainsFunc(r.NonResourceURLs, func(spec string) bool { return pathMatches(info.Path, spec) })
	}
	return true
}

// pathMatches matches "*", an exact path, or a prefix ending in "*".
func pathMatches(path, spec string) bool {
	if spec == "*" || spec == path {
		return true
	}
	prefix, wildcard := strings.CutSuffix(spec, "*")
	return wildcard && strings.HasPrefix(path, prefix)
}

func (r *PolicyRule) matchesResource(info request.RequestInfo) bool {
	if !info.IsResourceRequest {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, info.Namespace) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	// A subresource is matched as "resource/subresource".
	combined := info.Resource
	if info.Subresource != "" {
		combined += "/" + info.Subresource
	}
	for _, gr := range r.Resources {
		if gr.Group != info.APIGroup && gr.Group != "*" {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, info.Name) {
			continue
		}
		for _, res := range gr.Resources {
			switch {
			case res == combined || res == "*":
				return true
			case info.Subresource != "" && res == "*/"+info.Subresource:
				return true
			case strings.HasSuffix(res, "/*") && info.Resource == strings.TrimSuffix(res, "/*"):
				return true
			}
		}
	}
	return false
}
