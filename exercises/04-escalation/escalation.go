// Exercise 04 (second): escalation prevention.
//
// RBAC would be worthless if anyone allowed to write a Role could write one
// that grants everything, and bind it to themselves. So kube-apiserver
// checks every write of a Role, ClusterRole, RoleBinding and
// ClusterRoleBinding: the writer must already hold every permission the
// role grants, unless RBAC explicitly lets them "escalate" (roles) or
// "bind" (bindings). This exercise writes that check, from the bindings a
// user is a subject of to the message of the 403.
//
// Edit this file. The tests in escalation_test.go are the specification;
// README.md explains the rules.
package escalation

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// RBACGroup is the API group of the four RBAC resources.
const RBACGroup = "rbac.authorization.k8s.io"

// PolicyRule is rbac.authorization.k8s.io/v1's PolicyRule.
type PolicyRule struct {
	Verbs           []string
	APIGroups       []string
	Resources       []string
	ResourceNames   []string
	NonResourceURLs []string
}

// User is who is writing: a name and groups.
type User struct {
	Name   string
	Groups []string
}

// Role is a Role (Namespace set) or a ClusterRole (Namespace "").
type Role struct {
	Namespace string
	Name      string
	Rules     []PolicyRule
}

// RoleRef is what a binding grants: Kind "Role" (in the binding's
// namespace) or "ClusterRole", and its name.
type RoleRef struct {
	Kind string
	Name string
}

// Subject is who a binding grants it to: Kind "User", "Group" or
// "ServiceAccount" (whose Namespace may be empty in a RoleBinding).
type Subject struct {
	Kind      string
	Name      string
	Namespace string
}

// Binding is a RoleBinding (Namespace set) or a ClusterRoleBinding
// (Namespace "").
type Binding struct {
	Namespace string
	Name      string
	RoleRef   RoleRef
	Subjects  []Subject
}

// Policy is every RBAC object of the cluster, in the order they are listed.
type Policy struct {
	Roles               []Role
	ClusterRoles        []Role
	RoleBindings        []Binding
	ClusterRoleBindings []Binding
}

// Attributes describe a request to authorize, as in exercise 04.
type Attributes struct {
	IsResourceRequest bool
	Verb              string
	Namespace         string // "" for cluster-scoped resources and non-resource requests
	APIGroup          string
	Resource          string
	Subresource       string
	Name              string
	Path              string // non-resource requests only
}

// RuleAllows is exercise 04's rule matcher, given: does rule allow the
// request? Verbs, groups and resources match exactly or by "*"; "*/sub"
// matches a subresource of any resource; resourceNames never allow a
// request without a name; "/prefix*" URLs match by prefix.
func RuleAllows(rule PolicyRule, a Attributes) bool {
	if !has(rule.Verbs, a.Verb) {
		return false
	}
	if !a.IsResourceRequest {
		return slices.ContainsFunc(rule.NonResourceURLs, func(u string) bool { return urlCovers(u, a.Path) })
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	return has(rule.APIGroups, a.APIGroup) &&
		slices.ContainsFunc(rule.Resources, func(r string) bool {
			return r == "*" || r == resource || a.Subresource != "" && r == "*/"+a.Subresource
		}) &&
		(len(rule.ResourceNames) == 0 || a.Name != "" && slices.Contains(rule.ResourceNames, a.Name))
}

// has: the list holds "*" or the value.
func has(list []string, value string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, value)
}

// urlCovers: equal, or the owner ends in "*" and the url starts with the
// rest of it.
func urlCovers(owner, url string) bool {
	return owner == url || strings.HasSuffix(owner, "*") && strings.HasPrefix(url, strings.TrimRight(owner, "*"))
}

// StatusError is a metav1.Status as an error.
type StatusError struct {
	Code    int
	Reason  string
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// NewForbidden is errors.NewForbidden: resource is the qualified resource
// ("roles.rbac.authorization.k8s.io").
func NewForbidden(resource, name string, err error) *StatusError {
	return &StatusError{http.StatusForbidden, "Forbidden", fmt.Sprintf("%s %q is forbidden: %v", resource, name, err)}
}

// NewNotFound is errors.NewNotFound.
func NewNotFound(resource, name string) *StatusError {
	return &StatusError{http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", resource, name)}
}

// CompactString prints a rule as Kubernetes' escalation errors do:
// {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}, the fields in
// this order, empty ones left out.
func CompactString(r PolicyRule) string {
	var parts []string
	for _, f := range []struct {
		name   string
		values []string
	}{{"APIGroups", r.APIGroups}, {"Resources", r.Resources}, {"NonResourceURLs", r.NonResourceURLs},
		{"ResourceNames", r.ResourceNames}, {"Verbs", r.Verbs}} {
		if len(f.values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", f.name, f.values))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// RulesFor is every rule the user holds in namespace: the rules of the
// ClusterRoles of the ClusterRoleBindings the user is a subject of, then,
// unless namespace is "", those of the roles of the RoleBindings in
// namespace the user is a subject of. A binding whose role does not exist
// grants nothing.
func (p *Policy) RulesFor(u User, namespace string) []PolicyRule {
	// TODO: which subjects are this user (and where is a ServiceAccount
	//       subject without a namespace)?
	// TODO: ClusterRoleBindings first, then the RoleBindings of namespace,
	//       each in the order of the Policy; find the role each refers to.
	panic("Please implement RulesFor")
}

// Authorize is the RBAC authorizer: some rule the user holds in the
// request's namespace allows the request.
func (p *Policy) Authorize(u User, a Attributes) bool {
	// TODO: RulesFor and RuleAllows.
	panic("Please implement Authorize")
}

// Covers reports whether the owner rules grant everything the servant
// rules do, taken literally, and the pieces of the servant rules they do
// not grant, in order.
func Covers(owner, servant []PolicyRule) (bool, []PolicyRule) {
	// TODO: break each servant rule down into pieces of one group, one
	//       resource, one verb and at most one name, then of one URL and
	//       one verb.
	// TODO: a piece is covered when one owner rule covers all of it.
	panic("Please implement Covers")
}

// ConfirmNoEscalation refuses unless the user holds, in namespace, every
// rule of rules. The error lists what is missing, compacted and sorted.
func (p *Policy) ConfirmNoEscalation(u User, namespace string, rules []PolicyRule) error {
	// TODO: Covers(the rules the user holds in namespace, rules).
	// TODO: merge the missing pieces that differ only in their verbs,
	//       print each with CompactString, sort, and word the error.
	panic("Please implement ConfirmNoEscalation")
}

// CheckRoleWrite is the escalation check on a create or update of a Role
// (role.Namespace set) or a ClusterRole (role.Namespace ""): nil if the
// write may go on, a 403 StatusError if not.
func (p *Policy) CheckRoleWrite(u User, role Role) error {
	// TODO: system:masters, or the escalate verb on this role: go on.
	// TODO: otherwise the user must hold the role's rules.
	panic("Please implement CheckRoleWrite")
}

// CheckBindingWrite is the escalation check on a create or update of a
// RoleBinding (b.Namespace set) or a ClusterRoleBinding (b.Namespace ""):
// nil if the write may go on, a 403 or 404 StatusError if not.
func (p *Policy) CheckBindingWrite(u User, b Binding) error {
	// TODO: system:masters, or the bind verb on the role it refers to: go on.
	// TODO: otherwise the role must exist, and the user must hold its rules.
	panic("Please implement CheckBindingWrite")
}
