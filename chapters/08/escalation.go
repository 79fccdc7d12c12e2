// Escalation prevention. Being allowed to create Roles must not mean being
// allowed everything: a user may only write a Role or ClusterRole whose rules
// they hold themselves, and only bind a role whose rules they hold, unless
// RBAC grants them the "escalate" (roles) or "bind" (bindings) verb. This is
// the check kube-apiserver's RBAC registry runs on every write of these four
// resources; it also validates their rules and references (422).
package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

const rbacGroup = "rbac.authorization.k8s.io"

// checkRBACWrite runs on create and update of the four RBAC resources.
func (s *server) checkRBACWrite(r *http.Request, res *resource, obj object) error {
	if res.group != rbacGroup {
		return nil
	}
	user := userFrom(r.Context())
	namespace, name := obj.metaString("namespace"), obj.metaString("name")
	switch res.name {
	case "roles", "clusterroles":
		var body struct {
			Rules []policyRule `json:"rules"`
		}
		if err := remarshal(obj, &body); err != nil {
			return errBadRequest("rules: %v", err)
		}
		if causes := validateRules(body.Rules, res.name == "roles"); len(causes) > 0 {
			return errInvalid(res, name, causes)
		}
		if s.allowed(user, "escalate", res.name, namespace, name) {
			return nil
		}
		return s.mustHold(user, namespace, res, name, body.Rules)
	case "rolebindings", "clusterrolebindings":
		var body struct {
			RoleRef  roleRef   `json:"roleRef"`
			Subjects []subject `json:"subjects"`
		}
		if err := remarshal(obj, &body); err != nil {
			return errBadRequest("roleRef or subjects: %v", err)
		}
		if causes := validateBinding(body.RoleRef, body.Subjects, res.name == "rolebindings"); len(causes) > 0 {
			return errInvalid(res, name, causes)
		}
		roleResource, roleNamespace := s.rbac.clusterRoles, ""
		if body.RoleRef.Kind == "Role" {
			roleResource, roleNamespace = s.rbac.roles, namespace
		}
		if s.allowed(user, "bind", roleResource.name, namespace, body.RoleRef.Name) {
			return nil
		}
		// Without bind, the role must exist: a binding to a missing role
		// would grant whatever someone later puts in it (404, as Kubernetes).
		if _, err := s.store.get(roleResource, roleNamespace, body.RoleRef.Name); err != nil {
			return err
		}
		return s.mustHold(user, namespace, res, name, s.rbac.roleRules(body.RoleRef, roleNamespace))
	}
	return nil
}

// allowed asks the authorizer about an RBAC verb on an RBAC resource.
func (s *server) allowed(user *userInfo, verb, resource, namespace, name string) bool {
	return s.authorizer.authorize(attributes{user: user, requestInfo: requestInfo{IsResourceRequest: true,
		Verb: verb, APIGroup: rbacGroup, Resource: resource, Namespace: namespace, Name: name}}) == allow
}

// mustHold refuses unless the user already holds every rule, in the
// namespace of the object (or cluster-wide for cluster-scoped ones).
func (s *server) mustHold(user *userInfo, namespace string, res *resource, name string, rules []policyRule) error {
	if slices.Contains(user.Groups, "system:masters") {
		return nil
	}
	held := s.rbac.rulesFor(user, namespace)
	var missing []string
	for _, rule := range rules {
		if !covers(held, rule) {
			missing = append(missing, compactRule(rule))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return errForbidden(res, name, fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		user.Name, user.Groups, strings.Join(missing, "\n")))
}

// validateRules: every rule names verbs, and either resources in API groups
// or non-resource URLs (which a namespaced Role may not use).
func validateRules(rules []policyRule, namespaced bool) []cause {
	var causes []cause
	for i, rule := range rules {
		path := fmt.Sprintf("rules[%d]", i)
		if len(rule.Verbs) == 0 {
			causes = append(causes, cause{"FieldValueRequired", "Required value: verbs must contain at least one value", path + ".verbs"})
		}
		switch {
		case len(rule.NonResourceURLs) > 0 && namespaced:
			causes = append(causes, cause{"FieldValueInvalid", "Invalid value: namespaced rules cannot apply to non-resource URLs", path + ".nonResourceURLs"})
		case len(rule.NonResourceURLs) > 0 && (len(rule.APIGroups) > 0 || len(rule.Resources) > 0):
			causes = append(causes, cause{"FieldValueInvalid", "Invalid value: rules cannot apply to both regular resources and non-resource URLs", path + ".nonResourceURLs"})
		case len(rule.NonResourceURLs) == 0 && (len(rule.APIGroups) == 0 || len(rule.Resources) == 0):
			causes = append(causes, cause{"FieldValueRequired", "Required value: resource rules must supply at least one api group and one resource", path + ".resources"})
		}
	}
	return causes
}

// validateBinding: the roleRef names a Role or ClusterRole, and each subject is whole.
func validateBinding(ref roleRef, subjects []subject, namespaced bool) []cause {
	var causes []cause
	switch {
	case ref.APIGroup != rbacGroup:
		causes = append(causes, cause{"FieldValueNotSupported", fmt.Sprintf("Unsupported value: %q: supported values: %q", ref.APIGroup, rbacGroup), "roleRef.apiGroup"})
	case ref.Kind != "ClusterRole" && !(namespaced && ref.Kind == "Role"):
		causes = append(causes, cause{"FieldValueNotSupported", fmt.Sprintf("Unsupported value: %q", ref.Kind), "roleRef.kind"})
	case ref.Name == "":
		causes = append(causes, cause{"FieldValueRequired", "Required value", "roleRef.name"})
	}
	for i, sub := range subjects {
		path := fmt.Sprintf("subjects[%d]", i)
		if sub.Name == "" {
			causes = append(causes, cause{"FieldValueRequired", "Required value", path + ".name"})
		}
		switch sub.Kind {
		case "User", "Group":
		case "ServiceAccount":
			if sub.Namespace == "" && !namespaced {
				causes = append(causes, cause{"FieldValueRequired", "Required value", path + ".namespace"})
			}
		default:
			causes = append(causes, cause{"FieldValueNotSupported", fmt.Sprintf("Unsupported value: %q: supported values: \"ServiceAccount\", \"User\", \"Group\"", sub.Kind), path + ".kind"})
		}
	}
	return causes
}

// compactRule prints a rule as Kubernetes does in escalation errors:
// {APIGroups:[""], Resources:["pods"], Verbs:["get"]}, leaving out empty fields.
func compactRule(r policyRule) string {
	var parts []string
	for _, f := range []struct {
		name   string
		values []string
	}{{"APIGroups", r.APIGroups}, {"Resources", r.Resources}, {"ResourceNames", r.ResourceNames},
		{"NonResourceURLs", r.NonResourceURLs}, {"Verbs", r.Verbs}} {
		if len(f.values) == 0 {
			continue
		}
		quoted := make([]string, len(f.values))
		for i, v := range f.values {
			quoted[i] = fmt.Sprintf("%q", v)
		}
		parts = append(parts, f.name+":["+strings.Join(quoted, ", ")+"]")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
