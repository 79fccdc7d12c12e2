// Exercise 04 (second): escalation prevention. Reference solution.
//
// RBAC would be worthless if anyone allowed to write a Role could write one
// that grants everything, and bind it to themselves. So kube-apiserver
// checks every write of a Role, ClusterRole, RoleBinding and
// ClusterRoleBinding: the writer must already hold every permission the
// role grants, unless RBAC explicitly lets them "escalate" (roles) or
// "bind" (bindings). This exercise writes that check, from the bindings a
// user is a subject of to the message of the 403.
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
	var rules []PolicyRule
	for _, b := range p.ClusterRoleBindings {
		if appliesTo(u, b.Subjects, "") {
			rules = append(rules, p.roleRules(b.RoleRef, "")...)
		}
	}
	if namespace == "" {
		return rules
	}
	for _, b := range p.RoleBindings {
		if b.Namespace == namespace && appliesTo(u, b.Subjects, namespace) {
			rules = append(rules, p.roleRules(b.RoleRef, namespace)...)
		}
	}
	return rules
}

// roleRules are the rules of the role a binding in namespace refers to, or
// nil if there is no such role. A Role is looked up in the binding's
// namespace: a ClusterRoleBinding (namespace "") cannot refer to one.
func (p *Policy) roleRules(ref RoleRef, namespace string) []PolicyRule {
	role, ok := p.role(ref, namespace)
	if !ok {
		return nil
	}
	return role.Rules
}

func (p *Policy) role(ref RoleRef, namespace string) (Role, bool) {
	var roles []Role
	switch {
	case ref.Kind == "ClusterRole":
		roles = p.ClusterRoles
	case ref.Kind == "Role" && namespace != "":
		for _, r := range p.Roles {
			if r.Namespace == namespace {
				roles = append(roles, r)
			}
		}
	}
	i := slices.IndexFunc(roles, func(r Role) bool { return r.Name == ref.Name })
	if i < 0 {
		return Role{}, false
	}
	return roles[i], true
}

// appliesTo: one of the subjects is the user. A ServiceAccount subject
// without a namespace is in the binding's namespace; in a
// ClusterRoleBinding (namespace "") it is nobody.
func appliesTo(u User, subjects []Subject, namespace string) bool {
	return slices.ContainsFunc(subjects, func(s Subject) bool {
		switch s.Kind {
		case "User":
			return u.Name == s.Name
		case "Group":
			return slices.Contains(u.Groups, s.Name)
		case "ServiceAccount":
			ns := s.Namespace
			if ns == "" {
				ns = namespace
			}
			return ns != "" && u.Name == "system:serviceaccount:"+ns+":"+s.Name
		}
		return false
	})
}

// Authorize is the RBAC authorizer: some rule the user holds in the
// request's namespace allows the request.
func (p *Policy) Authorize(u User, a Attributes) bool {
	return slices.ContainsFunc(p.RulesFor(u, a.Namespace), func(r PolicyRule) bool { return RuleAllows(r, a) })
}

// Covers reports whether the owner rules grant everything the servant
// rules do, taken literally, and the pieces of the servant rules they do
// not grant, in order.
func Covers(owner, servant []PolicyRule) (bool, []PolicyRule) {
	var missing []PolicyRule
	for _, rule := range servant {
		for _, piece := range breakdown(rule) {
			if !slices.ContainsFunc(owner, func(o PolicyRule) bool { return ruleCovers(o, piece) }) {
				missing = append(missing, piece)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdown cuts a rule into pieces of one group, one resource, one verb
// and at most one name, in that order of loops, then pieces of one URL and
// one verb. A rule without groups, resources or verbs has no resource
// pieces.
func breakdown(rule PolicyRule) []PolicyRule {
	var pieces []PolicyRule
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			for _, verb := range rule.Verbs {
				if len(rule.ResourceNames) == 0 {
					pieces = append(pieces, PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{verb}})
				}
				for _, name := range rule.ResourceNames {
					pieces = append(pieces, PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{verb}, ResourceNames: []string{name}})
				}
			}
		}
	}
	for _, url := range rule.NonResourceURLs {
		for _, verb := range rule.Verbs {
			pieces = append(pieces, PolicyRule{NonResourceURLs: []string{url}, Verbs: []string{verb}})
		}
	}
	return pieces
}

// ruleCovers: does one owner rule grant the whole piece? A "*" in the
// piece is only granted by a "*" in the owner (has compares literally).
func ruleCovers(owner, piece PolicyRule) bool {
	for _, v := range piece.Verbs {
		if !has(owner.Verbs, v) {
			return false
		}
	}
	for _, g := range piece.APIGroups {
		if !has(owner.APIGroups, g) {
			return false
		}
	}
	for _, r := range piece.Resources {
		_, sub, isSub := strings.Cut(r, "/")
		if !has(owner.Resources, r) && !(isSub && slices.Contains(owner.Resources, "*/"+sub)) {
			return false
		}
	}
	for _, u := range piece.NonResourceURLs {
		if !slices.ContainsFunc(owner.NonResourceURLs, func(o string) bool { return urlCovers(o, u) }) {
			return false
		}
	}
	if len(owner.ResourceNames) == 0 {
		return true // every object
	}
	// An owner limited to names covers a piece with one of them, and never
	// a piece for every object.
	return len(piece.ResourceNames) > 0 && !slices.ContainsFunc(piece.ResourceNames, func(n string) bool {
		return !slices.Contains(owner.ResourceNames, n)
	})
}

// ConfirmNoEscalation refuses unless the user holds, in namespace, every
// rule of rules. The error lists what is missing, compacted and sorted.
func (p *Policy) ConfirmNoEscalation(u User, namespace string, rules []PolicyRule) error {
	ok, missing := Covers(p.RulesFor(u, namespace), rules)
	if ok {
		return nil
	}
	var lines []string
	for _, r := range compact(missing) {
		lines = append(lines, CompactString(r))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return fmt.Errorf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, strings.Join(lines, "\n"))
}

// compact merges the pieces that differ only in their verbs, as
// Kubernetes' CompactRules does: resource pieces with the same group,
// resource and name (or none) become one rule with the verbs of all of
// them, in order. URL pieces stay as they are.
func compact(pieces []PolicyRule) []PolicyRule {
	type simple struct {
		group, resource, name string
		named                 bool
	}
	var out []PolicyRule
	index := map[simple]int{}
	for _, r := range pieces {
		if len(r.NonResourceURLs) > 0 || len(r.APIGroups) != 1 || len(r.Resources) != 1 || len(r.ResourceNames) > 1 {
			out = append(out, r)
			continue
		}
		key := simple{group: r.APIGroups[0], resource: r.Resources[0]}
		if len(r.ResourceNames) == 1 {
			key.name, key.named = r.ResourceNames[0], true
		}
		if i, ok := index[key]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		index[key] = len(out)
		r.Verbs = slices.Clone(r.Verbs)
		out = append(out, r)
	}
	return out
}

// isMaster: system:masters may do anything, and is never checked.
func isMaster(u User) bool { return slices.Contains(u.Groups, "system:masters") }

// CheckRoleWrite is the escalation check on a create or update of a Role
// (role.Namespace set) or a ClusterRole (role.Namespace ""): nil if the
// write may go on, a 403 StatusError if not.
func (p *Policy) CheckRoleWrite(u User, role Role) error {
	resource := "roles"
	if role.Namespace == "" {
		resource = "clusterroles"
	}
	if isMaster(u) || p.Authorize(u, Attributes{IsResourceRequest: true, Verb: "escalate", APIGroup: RBACGroup,
		Resource: resource, Namespace: role.Namespace, Name: role.Name}) {
		return nil
	}
	if err := p.ConfirmNoEscalation(u, role.Namespace, role.Rules); err != nil {
		return NewForbidden(resource+"."+RBACGroup, role.Name, err)
	}
	return nil
}

// CheckBindingWrite is the escalation check on a create or update of a
// RoleBinding (b.Namespace set) or a ClusterRoleBinding (b.Namespace ""):
// nil if the write may go on, a 403 or 404 StatusError if not.
func (p *Policy) CheckBindingWrite(u User, b Binding) error {
	var roleResource string
	switch b.RoleRef.Kind {
	case "Role":
		roleResource = "roles"
	case "ClusterRole":
		roleResource = "clusterroles"
	default:
		return fmt.Errorf("unsupported role reference kind: %q", b.RoleRef.Kind)
	}
	if isMaster(u) || p.Authorize(u, Attributes{IsResourceRequest: true, Verb: "bind", APIGroup: RBACGroup,
		Resource: roleResource, Namespace: b.Namespace, Name: b.RoleRef.Name}) {
		return nil
	}
	// Without bind, the role must exist: a binding to a role that is not
	// there yet would grant whatever someone later puts into it.
	role, ok := p.role(b.RoleRef, b.Namespace)
	if !ok {
		return NewNotFound(roleResource+"."+RBACGroup, b.RoleRef.Name)
	}
	if err := p.ConfirmNoEscalation(u, b.Namespace, role.Rules); err != nil {
		resource := "rolebindings"
		if b.Namespace == "" {
			resource = "clusterrolebindings"
		}
		return NewForbidden(resource+"."+RBACGroup, b.Name, err)
	}
	return nil
}
