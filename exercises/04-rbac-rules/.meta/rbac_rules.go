// Exercise 04: the RBAC rule matcher. Reference solution.
//
// An RBAC Role is a list of PolicyRules. Two questions are asked of a rule
// all the time: does it allow this request (the authorizer, on every
// request), and do the rules a user already holds cover it (the escalation
// check, on every write of a Role or a binding). This exercise answers both.
package rbacrules

import (
	"slices"
	"strings"
)

// PolicyRule is rbac.authorization.k8s.io/v1's PolicyRule: verbs on
// resources in API groups (optionally only the objects named in
// ResourceNames), or verbs on non-resource URLs.
type PolicyRule struct {
	Verbs           []string // "get", "list", "create", ..., or "*"
	APIGroups       []string // "" is the core group; "*" is every group
	Resources       []string // "pods", "pods/log" (a subresource), "*/scale", or "*"
	ResourceNames   []string // empty: every object
	NonResourceURLs []string // "/healthz", "/apis/*" (a prefix), or "*"
}

// Attributes are what the authorizer knows about a request: a trimmed copy
// of k8s.io/apiserver's authorizer.Attributes, filled from the RequestInfo.
type Attributes struct {
	// IsResourceRequest tells the two kinds of request apart. A resource
	// request is a verb on a resource; the other kind is a verb on a path.
	IsResourceRequest bool

	// Verb is "get", "list", "watch", "create", "update", "patch", "delete",
	// "deletecollection" (or "impersonate", "bind", ...) for a resource
	// request, and the lowercase HTTP method ("get", "post") for a
	// non-resource request.
	Verb string

	// Resource requests only.
	APIGroup    string // "" for the core group
	Resource    string // "pods"
	Subresource string // "log" in /api/v1/namespaces/default/pods/web/log
	Name        string // "" for list, watch, create and deletecollection

	// Path is the URL path. Only non-resource requests are matched on it.
	Path string
}

// RuleAllows reports whether rule allows the request described by attrs.
func RuleAllows(rule PolicyRule, attrs Attributes) bool {
	if !matches(rule.Verbs, attrs.Verb) {
		return false
	}
	if !attrs.IsResourceRequest {
		return slices.ContainsFunc(rule.NonResourceURLs, func(url string) bool { return urlCovers(url, attrs.Path) })
	}
	resource := attrs.Resource
	if attrs.Subresource != "" {
		resource += "/" + attrs.Subresource
	}
	return matches(rule.APIGroups, attrs.APIGroup) &&
		slices.ContainsFunc(rule.Resources, func(r string) bool {
			return r == "*" || r == resource || attrs.Subresource != "" && r == "*/"+attrs.Subresource
		}) &&
		(len(rule.ResourceNames) == 0 || attrs.Name != "" && slices.Contains(rule.ResourceNames, attrs.Name))
}

// matches: "*" in the rule matches any value, anything else only itself.
// Used with a servant's value, it is also the literal covering rule: a "*"
// in the servant is only matched by a "*" in the owner.
func matches(allowed []string, value string) bool {
	return slices.Contains(allowed, "*") || slices.Contains(allowed, value)
}

// urlCovers: "*" is every path, "/prefix*" every path that starts with
// /prefix, anything else only itself. Kubernetes uses the same test for a
// request's path and, in the escalation check, for a servant's URL.
func urlCovers(owner, url string) bool {
	return owner == url || strings.HasSuffix(owner, "*") && strings.HasPrefix(url, strings.TrimRight(owner, "*"))
}

// Covers reports whether the owner rules grant everything servant grants,
// taken literally, as Kubernetes' escalation check does: each
// (verb, group, resource, name) and each (verb, URL) that servant grants
// must be granted by a single owner rule, and a "*" in servant is only
// covered by a "*" in an owner rule.
func Covers(owner []PolicyRule, servant PolicyRule) bool {
	names := servant.ResourceNames
	if len(names) == 0 {
		names = []string{""} // every object: only an owner rule without resourceNames grants that
	}
	for _, verb := range servant.Verbs {
		for _, group := range servant.APIGroups {
			for _, resource := range servant.Resources {
				for _, name := range names {
					if !slices.ContainsFunc(owner, func(o PolicyRule) bool {
						return matches(o.Verbs, verb) && matches(o.APIGroups, group) &&
							resourceCovers(o.Resources, resource) && nameCovers(o.ResourceNames, name)
					}) {
						return false
					}
				}
			}
		}
		for _, url := range servant.NonResourceURLs {
			if !slices.ContainsFunc(owner, func(o PolicyRule) bool {
				return matches(o.Verbs, verb) && slices.ContainsFunc(o.NonResourceURLs, func(u string) bool { return urlCovers(u, url) })
			}) {
				return false
			}
		}
	}
	return true
}

// resourceCovers: "*" covers everything, a resource covers itself, and
// "*/sub" covers the subresource sub of any resource ("pods/status", and
// "*/status" itself).
func resourceCovers(owner []string, resource string) bool {
	if matches(owner, resource) {
		return true
	}
	_, sub, ok := strings.Cut(resource, "/")
	return ok && slices.Contains(owner, "*/"+sub)
}

// nameCovers: an owner rule without resourceNames covers every name and no
// name at all ("" here); one with resourceNames covers only those names.
func nameCovers(owner []string, name string) bool {
	return len(owner) == 0 || name != "" && slices.Contains(owner, name)
}
