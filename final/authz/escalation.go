// Escalation prevention. Being allowed to write Roles must not mean being
// allowed everything: a user may only write a Role or ClusterRole whose
// rules they hold, and only bind a role whose rules they hold, unless RBAC
// grants them the "escalate" (roles) or "bind" (bindings) verb. Kubernetes
// runs this check in the storage of these four resources
// (pkg/registry/rbac/*/policybased, pkg/registry/rbac/validation).

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
)

// CheckEscalation runs on every create and update, with the object about
// to be stored; objects other than Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings pass. For those it first validates the rules, the
// roleRef and the subjects (422), then refuses (403) a role granting more
// than user holds unless user may "escalate" it, and a binding to a role
// whose rules user does not hold unless user may "bind" it. Without bind,
// the role must exist (404): a binding to a missing role would grant
// whatever someone later puts in it. a answers the escalate and bind
// questions; members of system:masters pass without asking.
func (r *RBAC) CheckEscalation(ctx context.Context, a Authorizer, user *request.User, res *registry.Resource, obj object.Object) error {
	if res.Group != Group {
		return nil
	}
	if user == nil {
		return apierrors.NewInternalError(errors.New("no user on context"))
	}
	namespace, name := "", obj.MetaString("name")
	if res.Namespaced {
		namespace = obj.MetaString("namespace")
	}
	switch res.Name {
	case "roles", "clusterroles":
		var role struct {
			Rules []PolicyRule `json:"rules"`
		}
		if err := remarshal(obj, &role); err != nil {
			return cannotHandle(res, err)
		}
		if causes := validateRules(role.Rules, res.Namespaced); len(causes) > 0 {
			return apierrors.NewInvalid(res.Group, res.Kind, name, causes)
		}
		if escalationAllowed(user) || allowed(ctx, a, Attributes{User: user, ResourceRequest: true, Verb: "escalate",
			APIGroup: res.Group, APIVersion: "*", Resource: res.Name, Namespace: namespace, Name: name}) {
			return nil
		}
		return r.confirmNoEscalation(ctx, user, namespace, res, name, role.Rules)
	case "rolebindings", "clusterrolebindings":
		var b binding
		if err := remarshal(obj, &b); err != nil {
			return cannotHandle(res, err)
		}
		if causes := validateBinding(b, res.Namespaced); len(causes) > 0 {
			return apierrors.NewInvalid(res.Group, res.Kind, name, causes)
		}
		// bind is asked in the binding's namespace, so that one may be
		// allowed to bind a ClusterRole in some namespaces only.
		roleResource := "clusterroles"
		if b.RoleRef.Kind == "Role" {
			roleResource = "roles"
		}
		if escalationAllowed(user) || allowed(ctx, a, Attributes{User: user, ResourceRequest: true, Verb: "bind",
			APIGroup: Group, APIVersion: "*", Resource: roleResource, Namespace: namespace, Name: b.RoleRef.Name}) {
			return nil
		}
		rules, err := r.roleRules(ctx, b.RoleRef, namespace)
		if err != nil {
			return err
		}
		return r.confirmNoEscalation(ctx, user, namespace, res, name, rules)
	}
	return nil
}

// escalationAllowed: system:masters may always escalate, as the server's
// own privileged clients rely on.
func escalationAllowed(user *request.User) bool {
	return slices.Contains(user.Groups, request.GroupMasters)
}

func allowed(ctx context.Context, a Authorizer, attrs Attributes) bool {
	if a == nil {
		return false
	}
	decision, _, _ := a.Authorize(ctx, attrs)
	return decision == Allow
}

// cannotHandle is the 400 for a body whose rules, roleRef or subjects have
// the wrong shape, worded as Kubernetes' decoder words it.
func cannotHandle(res *registry.Resource, err error) error {
	return apierrors.NewBadRequest("%s in version %q cannot be handled as a %s: %v", res.Kind, res.Version, res.Kind, err)
}

// confirmNoEscalation refuses unless the rules user holds in namespace
// cover every rule given; the 403 lists what is missing, each rule
// broken down and merged again as Kubernetes' ConfirmNoEscalation does.
func (r *RBAC) confirmNoEscalation(ctx context.Context, user *request.User, namespace string, res *registry.Resource, name string, rules []PolicyRule) error {
	held, resolveErr := r.RulesFor(ctx, user, namespace)
	missing := uncovered(held, rules)
	if len(missing) == 0 {
		return nil
	}
	var descriptions []string
	for _, rule := range compactRules(missing) {
		descriptions = append(descriptions, compactString(rule))
	}
	slices.Sort(descriptions)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		user.Name, user.Groups, strings.Join(slices.Compact(descriptions), "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return apierrors.NewForbidden(res.Group, res.Name, name, errors.New(msg))
}

// uncovered breaks each rule down to one verb on one resource (and one
// name), or one verb on one URL, and returns the pieces no held rule
// covers. Coverage is literal: a "*" given is only covered by a "*" held.
func uncovered(held, rules []PolicyRule) []PolicyRule {
	var missing []PolicyRule
	for _, rule := range rules {
		for _, sub := range breakdown(rule) {
			if !slices.ContainsFunc(held, func(h PolicyRule) bool { return covers(h, sub) }) {
				missing = append(missing, sub)
			}
		}
	}
	return missing
}

func breakdown(rule PolicyRule) []PolicyRule {
	var subs []PolicyRule
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			for _, verb := range rule.Verbs {
				if len(rule.ResourceNames) == 0 {
					subs = append(subs, PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{verb}})
				}
				for _, name := range rule.ResourceNames {
					subs = append(subs, PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: []string{verb}, ResourceNames: []string{name}})
				}
			}
		}
	}
	for _, url := range rule.NonResourceURLs {
		for _, verb := range rule.Verbs {
			subs = append(subs, PolicyRule{NonResourceURLs: []string{url}, Verbs: []string{verb}})
		}
	}
	return subs
}

// covers: does the held rule grant all of the broken-down one?
func covers(held, sub PolicyRule) bool {
	names := len(held.ResourceNames) == 0 || len(sub.ResourceNames) > 0 && hasAll(held.ResourceNames, sub.ResourceNames)
	return (slices.Contains(held.Verbs, "*") || hasAll(held.Verbs, sub.Verbs)) &&
		(slices.Contains(held.APIGroups, "*") || hasAll(held.APIGroups, sub.APIGroups)) &&
		resourcesCover(held.Resources, sub.Resources) &&
		names &&
		!slices.ContainsFunc(sub.NonResourceURLs, func(url string) bool {
			return !slices.ContainsFunc(held.NonResourceURLs, func(h string) bool {
				return h == url || strings.HasSuffix(h, "*") && strings.HasPrefix(url, strings.TrimRight(h, "*"))
			})
		})
}

// resourcesCover: "*" covers any resource, "*/status" any resource's status.
func resourcesCover(held, resources []string) bool {
	if slices.Contains(held, "*") {
		return true
	}
	for _, resource := range resources {
		_, sub, isSubresource := strings.Cut(resource, "/")
		if !slices.Contains(held, resource) && !(isSubresource && slices.Contains(held, "*/"+sub)) {
			return false
		}
	}
	return true
}

func hasAll(set, values []string) bool {
	return !slices.ContainsFunc(values, func(v string) bool { return !slices.Contains(set, v) })
}

// compactRules merges broken-down rules that differ only in their verb,
// so the 403 says {... Verbs:["get" "list"]} once rather than twice.
func compactRules(rules []PolicyRule) []PolicyRule {
	type simple struct {
		group, resource, name string
		named                 bool
	}
	var out []PolicyRule
	merged := map[simple]int{} // index in out
	for _, rule := range rules {
		if len(rule.NonResourceURLs) > 0 || len(rule.APIGroups) != 1 || len(rule.Resources) != 1 || len(rule.ResourceNames) > 1 {
			out = append(out, rule)
			continue
		}
		key := simple{group: rule.APIGroups[0], resource: rule.Resources[0], named: len(rule.ResourceNames) == 1}
		if key.named {
			key.name = rule.ResourceNames[0]
		}
		if i, ok := merged[key]; ok {
			out[i].Verbs = append(out[i].Verbs, rule.Verbs...)
			continue
		}
		merged[key] = len(out)
		rule.Verbs = slices.Clone(rule.Verbs)
		out = append(out, rule)
	}
	return out
}

// compactString prints a rule as Kubernetes' escalation errors do:
// {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}, leaving out
// empty fields.
func compactString(r PolicyRule) string {
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

// validateRules: every rule names verbs, and either resources in API groups
// or non-resource URLs, which a namespaced Role may not use (Kubernetes'
// ValidatePolicyRule, with its messages).
func validateRules(rules []PolicyRule, namespaced bool) []apierrors.Cause {
	var causes []apierrors.Cause
	for i, rule := range rules {
		path := fmt.Sprintf("rules[%d]", i)
		if len(rule.Verbs) == 0 {
			causes = append(causes, required(path+".verbs", "verbs must contain at least one value"))
		}
		if len(rule.NonResourceURLs) > 0 {
			if namespaced {
				causes = append(causes, invalid(path+".nonResourceURLs", rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
				causes = append(causes, invalid(path+".nonResourceURLs", rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(rule.APIGroups) == 0 {
			causes = append(causes, required(path+".apiGroups", "resource rules must supply at least one api group"))
		}
		if len(rule.Resources) == 0 {
			causes = append(causes, required(path+".resources", "resource rules must supply at least one resource"))
		}
	}
	return causes
}

// validateBinding: the roleRef names a ClusterRole (or, from a RoleBinding,
// a Role) and each subject is whole (Kubernetes' ValidateRoleBinding). An
// empty apiGroup counts as the one Kubernetes' defaulting would fill in.
func validateBinding(b binding, namespaced bool) []apierrors.Cause {
	var causes []apierrors.Cause
	if ref := b.RoleRef; ref.APIGroup != Group && ref.APIGroup != "" {
		causes = append(causes, notSupported("roleRef.apiGroup", ref.APIGroup, Group))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if !slices.Contains(kinds, b.RoleRef.Kind) {
		causes = append(causes, notSupported("roleRef.kind", b.RoleRef.Kind, kinds...))
	}
	if b.RoleRef.Name == "" {
		causes = append(causes, required("roleRef.name", ""))
	} else if msg := object.ValidatePathSegmentName(b.RoleRef.Name); msg != "" {
		causes = append(causes, invalid("roleRef.name", b.RoleRef.Name, msg))
	}
	for i, s := range b.Subjects {
		path := fmt.Sprintf("subjects[%d]", i)
		if s.Name == "" {
			causes = append(causes, required(path+".name", ""))
		}
		switch s.Kind {
		case "ServiceAccount":
			if s.Name != "" {
				if msg := object.ValidateDNS1123Subdomain(s.Name); msg != "" {
					causes = append(causes, invalid(path+".name", s.Name, msg))
				}
			}
			if s.APIGroup != "" {
				causes = append(causes, notSupported(path+".apiGroup", s.APIGroup, ""))
			}
			if !namespaced && s.Namespace == "" {
				causes = append(causes, required(path+".namespace", ""))
			}
		case "User", "Group":
			if s.APIGroup != Group && s.APIGroup != "" {
				causes = append(causes, notSupported(path+".apiGroup", s.APIGroup, Group))
			}
		default:
			causes = append(causes, notSupported(path+".kind", s.Kind, "ServiceAccount", "User", "Group"))
		}
	}
	return causes
}

// The field errors of k8s.io/apimachinery/pkg/util/validation/field, as
// their messages read.

func required(field, detail string) apierrors.Cause {
	msg := "Required value"
	if detail != "" {
		msg += ": " + detail
	}
	return apierrors.Cause{Reason: "FieldValueRequired", Message: msg, Field: field}
}

func invalid(field string, value any, detail string) apierrors.Cause {
	shown := fmt.Sprintf("%q", value)
	if _, isString := value.(string); !isString {
		data, _ := json.Marshal(value)
		shown = string(data)
	}
	return apierrors.Cause{Reason: "FieldValueInvalid", Message: "Invalid value: " + shown + ": " + detail, Field: field}
}

func notSupported(field, value string, supported ...string) apierrors.Cause {
	quoted := make([]string, len(supported))
	for i, s := range supported {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return apierrors.Cause{Reason: "FieldValueNotSupported",
		Message: fmt.Sprintf("Unsupported value: %q: supported values: %s", value, strings.Join(quoted, ", ")), Field: field}
}
