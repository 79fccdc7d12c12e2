// RBAC: permissions are API objects. A Role (in a namespace) or ClusterRole
// (everywhere) lists rules; a RoleBinding or ClusterRoleBinding grants a
// role's rules to users, groups and service accounts. Nothing is allowed
// unless some binding allows it.

package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Group is the API group of Roles, ClusterRoles and their bindings.
const Group = "rbac.authorization.k8s.io"

// PolicyRule is one rule of a role (rbac.authorization.k8s.io/v1): verbs on
// resources in API groups, maybe only on some names; or verbs on
// non-resource URLs. "*" matches anything.
type PolicyRule struct {
	Verbs           []string `json:"verbs"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// RoleRef names the role a binding grants.
type RoleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"` // Role or ClusterRole
	Name     string `json:"name"`
}

// Subject is who a binding grants a role to.
type Subject struct {
	Kind      string `json:"kind"` // User, Group or ServiceAccount
	APIGroup  string `json:"apiGroup,omitempty"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// binding is the part of a RoleBinding or ClusterRoleBinding RBAC reads.
type binding struct {
	RoleRef  RoleRef   `json:"roleRef"`
	Subjects []Subject `json:"subjects"`
}

// RBAC is the RBAC authorizer. It reads roles and bindings from the store
// on every decision, so a new RoleBinding takes effect at once; the
// resources say where in the store they are.
type RBAC struct {
	Store                                                  *store.Store
	Roles, ClusterRoles, RoleBindings, ClusterRoleBindings *registry.Resource
}

// Authorize allows when some rule granted to the user matches, and says
// which binding granted it. Otherwise it has no opinion, and lists what it
// could not resolve (a binding to a missing role) as its reason; a store
// that fails is an error.
func (r *RBAC) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reason string
	resolveErr := r.visitRulesFor(ctx, a.User, a.Namespace, func(source string, rule PolicyRule) bool {
		if ruleAllows(a, rule) {
			reason = "RBAC: allowed by " + source
			return false
		}
		return true
	})
	if reason != "" {
		return Allow, reason, nil
	}
	if resolveErr == nil {
		return NoOpinion, "", nil
	}
	return NoOpinion, "RBAC: " + resolveErr.Error(), storeFailure(resolveErr)
}

// storeFailure keeps the errors that are the store's: a binding may name a
// role that was deleted, or be of no use (policyError), and that only grants
// nothing; but a store that cannot be read is the server's fault.
func storeFailure(err error) error {
	var failures []error
	var unusable policyError
	for _, e := range flatten(err) {
		if !apierrors.IsNotFound(e) && !errors.As(e, &unusable) {
			failures = append(failures, e)
		}
	}
	return aggregate(failures)
}

// policyError is a binding or a role that RBAC cannot read.
type policyError struct{ error }

func flatten(err error) []error {
	if many, ok := err.(aggregateError); ok {
		return many
	}
	return []error{err}
}

// RulesFor lists every rule granted to a user in a namespace: by
// ClusterRoleBindings everywhere, and by the namespace's RoleBindings ("":
// cluster-wide only). Like Kubernetes' rule resolver it returns what it
// found even with an error: RBAC only adds, so every rule found is granted.
func (r *RBAC) RulesFor(ctx context.Context, user *request.User, namespace string) ([]PolicyRule, error) {
	var rules []PolicyRule
	err := r.visitRulesFor(ctx, user, namespace, func(_ string, rule PolicyRule) bool {
		rules = append(rules, rule)
		return true
	})
	return rules, err
}

// visitRulesFor calls visit with each rule granted to user in namespace and
// a description of the binding that grants it, until visit returns false.
// It returns the errors met on the way.
func (r *RBAC) visitRulesFor(ctx context.Context, user *request.User, namespace string, visit func(source string, rule PolicyRule) bool) error {
	if user == nil {
		return nil
	}
	var errs []error
	if r.visitBindings(ctx, r.ClusterRoleBindings, "", user, visit, &errs) && namespace != "" {
		r.visitBindings(ctx, r.RoleBindings, namespace, user, visit, &errs)
	}
	return aggregate(errs)
}

// visitBindings visits the rules of the bindings of res in namespace that
// name the user. It returns false once visit has asked to stop.
func (r *RBAC) visitBindings(ctx context.Context, res *registry.Resource, namespace string, user *request.User,
	visit func(source string, rule PolicyRule) bool, errs *[]error) bool {
	items, _, _, err := r.Store.List(ctx, res, namespace, store.ListOptions{})
	if err != nil {
		*errs = append(*errs, err)
		return true
	}
	for _, item := range items {
		var b binding
		if err := remarshal(item, &b); err != nil {
			*errs = append(*errs, policyError{fmt.Errorf("%s %s: %w", res.Kind, item.MetaString("name"), err)})
			continue
		}
		i := slices.IndexFunc(b.Subjects, func(s Subject) bool { return appliesTo(s, user, namespace) })
		if i < 0 {
			continue
		}
		rules, err := r.roleRules(ctx, b.RoleRef, namespace)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		source := describeBinding(res.Kind, item.MetaString("name"), namespace, b.RoleRef, b.Subjects[i])
		for _, rule := range rules {
			if !visit(source, rule) {
				return false
			}
		}
	}
	return true
}

// roleRules reads the rules of the role a binding in namespace refers to
// (Kubernetes' GetRoleReferenceRules). A missing role is NotFound.
func (r *RBAC) roleRules(ctx context.Context, ref RoleRef, namespace string) ([]PolicyRule, error) {
	var res *registry.Resource
	switch ref.Kind {
	case "Role":
		res = r.Roles
	case "ClusterRole":
		res, namespace = r.ClusterRoles, ""
	default:
		return nil, policyError{fmt.Errorf("unsupported role reference kind: %q", ref.Kind)}
	}
	role, err := r.Store.Get(ctx, res, namespace, ref.Name)
	if err != nil {
		return nil, err
	}
	var body struct {
		Rules []PolicyRule `json:"rules"`
	}
	if err := remarshal(role, &body); err != nil {
		return nil, policyError{fmt.Errorf("%s %s: %w", ref.Kind, ref.Name, err)}
	}
	return body.Rules, nil
}

// appliesTo: a service account is the user system:serviceaccount:<ns>:<name>;
// in a RoleBinding its namespace defaults to the binding's.
func appliesTo(s Subject, user *request.User, bindingNamespace string) bool {
	switch s.Kind {
	case "User":
		return user.Name == s.Name
	case "Group":
		return slices.Contains(user.Groups, s.Name)
	case "ServiceAccount":
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return ns != "" && user.Name == serviceAccountPrefix+ns+":"+s.Name
	}
	return false
}

const serviceAccountPrefix = "system:serviceaccount:"

// describeBinding names the binding that granted a rule, as the reasons of
// Kubernetes' RBAC authorizer do: ClusterRoleBinding "admins" of
// ClusterRole "cluster-admin" to Group "system:masters", RoleBinding
// "edit/dev" of ClusterRole "edit" to ServiceAccount "builder/dev".
func describeBinding(kind, name, namespace string, ref RoleRef, s Subject) string {
	if namespace != "" {
		name += "/" + namespace
	}
	subject := fmt.Sprintf("%s %q", s.Kind, s.Name)
	if s.Kind == "ServiceAccount" {
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		subject = fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q of %s %q to %s", kind, name, ref.Kind, ref.Name, subject)
}

// ruleAllows matches one rule against a request, as Kubernetes' RuleAllows:
// "*" matches any verb, group or resource; "pods/log" names a subresource
// and "*/scale" that subresource of any resource; resourceNames narrows a
// rule to those objects, so it never grants list, watch, create or
// deletecollection (requests without a name); a non-resource URL ending in
// "*" matches every path it starts.
func ruleAllows(a Attributes, rule PolicyRule) bool {
	if !matches(rule.Verbs, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return slices.ContainsFunc(rule.NonResourceURLs, func(u string) bool { return urlCovers(u, a.Path) })
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	return matches(rule.APIGroups, a.APIGroup) &&
		slices.ContainsFunc(rule.Resources, func(r string) bool {
			return r == "*" || r == resource || a.Subresource != "" && r == "*/"+a.Subresource
		}) &&
		(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, a.Name))
}

// matches: the rule's values hold the requested one, or "*".
func matches(values []string, requested string) bool {
	return slices.Contains(values, "*") || slices.Contains(values, requested)
}

// urlCovers: "*" covers every path, "/apis/*" every path under /apis/.
func urlCovers(rule, path string) bool {
	return rule == "*" || rule == path ||
		strings.HasSuffix(rule, "*") && strings.HasPrefix(path, strings.TrimRight(rule, "*"))
}

// remarshal converts decoded JSON into a Go type (or back).
func remarshal(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// toJSON turns Go values into decoded JSON, the form every object the
// server holds has (numbers as json.Number, lists as []any).
func toJSON(v any) object.Object {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // Go values built here always encode
	}
	obj, err := object.Decode(data)
	if err != nil {
		panic(fmt.Sprintf("decoding %T: %v", v, err))
	}
	return obj
}
