// Exercise 04: the RBAC rule matcher.
//
// An RBAC Role is a list of PolicyRules. Two questions are asked of a rule
// all the time: does it allow this request (the authorizer, on every
// request), and do the rules a user already holds cover it (the escalation
// check, on every write of a Role or a binding). This exercise answers both.
//
// Edit this file. The tests in rbac_rules_test.go are the specification;
// README.md explains the rules.
package rbacrules

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
	// TODO: the verb must match, for both kinds of request.
	// TODO: a non-resource request is matched on NonResourceURLs only.
	// TODO: a resource request: API group, resource (with its subresource),
	//       and resourceNames.
	panic("Please implement RuleAllows")
}

// Covers reports whether the owner rules grant everything servant grants,
// taken literally, as Kubernetes' escalation check does: each
// (verb, group, resource, name) and each (verb, URL) that servant grants
// must be granted by a single owner rule, and a "*" in servant is only
// covered by a "*" in an owner rule.
func Covers(owner []PolicyRule, servant PolicyRule) bool {
	// TODO: break servant down into single verbs, groups, resources and
	//       names (no name at all when it has no resourceNames), and into
	//       single verbs and URLs.
	// TODO: find, for each piece, one owner rule that covers it.
	panic("Please implement Covers")
}
