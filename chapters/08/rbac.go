// RBAC: permissions are API objects. A Role (in a namespace) or ClusterRole
// (everywhere) lists rules: verbs on resources in API groups, optionally
// only some names, or verbs on non-resource paths. A RoleBinding or
// ClusterRoleBinding grants a role's rules to subjects: users, groups and
// service accounts. Nothing is allowed unless some binding allows it.
package main

import (
	"slices"
	"strings"
)

// policyRule, roleRef and subject are the rbac.authorization.k8s.io/v1 shapes.
type policyRule struct {
	Verbs           []string `json:"verbs"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

type roleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"` // Role or ClusterRole
	Name     string `json:"name"`
}

type subject struct {
	Kind      string `json:"kind"` // User, Group or ServiceAccount
	APIGroup  string `json:"apiGroup,omitempty"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// attributes are what an authorizer decides on: the user and the RequestInfo.
type attributes struct {
	user *userInfo
	requestInfo
}

// rbacAuthorizer reads roles and bindings from the store on every decision,
// so a new RoleBinding takes effect at once.
type rbacAuthorizer struct {
	store                                                  *store
	roles, clusterRoles, roleBindings, clusterRoleBindings *resource
}

// authorize allows when some rule granted to the user matches.
func (a *rbacAuthorizer) authorize(attr attributes) decision {
	for _, rule := range a.rulesFor(attr.user, attr.Namespace) {
		if ruleAllows(rule, attr) {
			return allow
		}
	}
	return noOpinion
}

// rulesFor gathers every rule granted to a user in a namespace: by
// ClusterRoleBindings everywhere, and by the namespace's RoleBindings.
func (a *rbacAuthorizer) rulesFor(user *userInfo, namespace string) []policyRule {
	var rules []policyRule
	bindings, _ := a.store.list(a.clusterRoleBindings, "")
	if namespace != "" {
		namespaced, _ := a.store.list(a.roleBindings, namespace)
		bindings = append(bindings, namespaced...)
	}
	for _, b := range bindings {
		var binding struct {
			RoleRef  roleRef   `json:"roleRef"`
			Subjects []subject `json:"subjects"`
		}
		if remarshal(b, &binding) != nil {
			continue
		}
		ns := b.metaString("namespace")
		if slices.ContainsFunc(binding.Subjects, func(s subject) bool { return subjectMatches(s, user, ns) }) {
			rules = append(rules, a.roleRules(binding.RoleRef, ns)...)
		}
	}
	return rules
}

// roleRules reads the rules of the role a binding refers to.
func (a *rbacAuthorizer) roleRules(ref roleRef, namespace string) []policyRule {
	res, ns := a.clusterRoles, ""
	if ref.Kind == "Role" {
		res, ns = a.roles, namespace
	}
	role, err := a.store.get(res, ns, ref.Name)
	if err != nil {
		return nil // a binding to a missing role grants nothing
	}
	var body struct {
		Rules []policyRule `json:"rules"`
	}
	if remarshal(role, &body) != nil {
		return nil
	}
	return body.Rules
}

// subjectMatches: a service account is the user system:serviceaccount:ns:name;
// its namespace defaults to the binding's.
func subjectMatches(s subject, user *userInfo, bindingNamespace string) bool {
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
		return user.Name == "system:serviceaccount:"+ns+":"+s.Name
	}
	return false
}

// ruleAllows matches one rule against a request. "*" matches anything;
// "pods/log" names a subresource; resourceNames narrows to named objects.
func ruleAllows(rule policyRule, attr attributes) bool {
	if !matchesAny(rule.Verbs, attr.Verb) {
		return false
	}
	if !attr.IsResourceRequest {
		return slices.ContainsFunc(rule.NonResourceURLs, func(u string) bool {
			return u == "*" || u == attr.Path || strings.HasSuffix(u, "*") && strings.HasPrefix(attr.Path, strings.TrimSuffix(u, "*"))
		})
	}
	resource := attr.Resource
	if attr.Subresource != "" {
		resource += "/" + attr.Subresource
	}
	return matchesAny(rule.APIGroups, attr.APIGroup) &&
		slices.ContainsFunc(rule.Resources, func(r string) bool {
			return r == "*" || r == resource || attr.Subresource != "" && r == "*/"+attr.Subresource
		}) &&
		(len(rule.ResourceNames) == 0 || attr.Name != "" && slices.Contains(rule.ResourceNames, attr.Name))
}

func matchesAny(allowed []string, value string) bool {
	return slices.Contains(allowed, "*") || slices.Contains(allowed, value)
}

// covers reports whether owner rules grant everything the servant rule
// does, taken literally as Kubernetes' escalation check does: a "*" in the
// servant is only covered by a "*" in the owner.
func covers(owner []policyRule, servant policyRule) bool {
	verbs, groups, resources, names := servant.Verbs, servant.APIGroups, servant.Resources, servant.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	for _, verb := range verbs {
		for _, url := range servant.NonResourceURLs {
			if !slices.ContainsFunc(owner, func(o policyRule) bool {
				return matchesAny(o.Verbs, verb) && slices.ContainsFunc(o.NonResourceURLs, func(u string) bool {
					return u == "*" || u == url || strings.HasSuffix(u, "*") && strings.HasPrefix(url, strings.TrimSuffix(u, "*"))
				})
			}) {
				return false
			}
		}
		for _, group := range groups {
			for _, resource := range resources {
				for _, name := range names {
					if !slices.ContainsFunc(owner, func(o policyRule) bool {
						return matchesAny(o.Verbs, verb) && matchesAny(o.APIGroups, group) && coversResource(o.Resources, resource) &&
							(len(o.ResourceNames) == 0 || name != "" && slices.Contains(o.ResourceNames, name))
					}) {
						return false
					}
				}
			}
		}
	}
	return true
}

// coversResource: "*" covers any resource, "*/status" any resource's status.
func coversResource(owner []string, resource string) bool {
	_, sub, isSubresource := strings.Cut(resource, "/")
	return slices.ContainsFunc(owner, func(r string) bool {
		return r == "*" || r == resource || isSubresource && r == "*/"+sub
	})
}

// bootstrapBinding grants a cluster role to a group at start-up.
type bootstrapBinding struct {
	name, role string
	group      string
}

// bootstrapPolicy is the roles and bindings a cluster starts with, as
// kube-apiserver's bootstrap policy (trimmed to the resources served here).
func bootstrapPolicy() (map[string][]policyRule, []bootstrapBinding) {
	readOnly := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete", "deletecollection"}
	workloads := []string{"pods", "configmaps", "services", "serviceaccounts", "events"}
	view := []policyRule{
		{Verbs: readOnly, APIGroups: []string{""}, Resources: append(slices.Clone(workloads), "namespaces")},
		{Verbs: readOnly, APIGroups: []string{"batch"}, Resources: []string{"jobs"}},
	}
	edit := append(slices.Clone(view),
		policyRule{Verbs: write, APIGroups: []string{""}, Resources: workloads},
		policyRule{Verbs: append(slices.Clone(readOnly), write...), APIGroups: []string{""}, Resources: []string{"secrets"}},
		policyRule{Verbs: write, APIGroups: []string{"batch"}, Resources: []string{"jobs"}},
		policyRule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}},
	)
	admin := append(slices.Clone(edit),
		policyRule{Verbs: append(slices.Clone(readOnly), write...), APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}},
	)
	clusterRoles := map[string][]policyRule{
		"cluster-admin": {
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
		},
		"admin": admin,
		"edit":  edit,
		"view":  view,
		"system:discovery": {{Verbs: []string{"get"}, NonResourceURLs: []string{
			"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"}}},
		"system:public-info-viewer": {{Verbs: []string{"get"}, NonResourceURLs: []string{
			"/healthz", "/livez", "/readyz", "/version", "/version/"}}},
		"system:basic-user": {
			{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
			{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
		},
	}
	bindings := []bootstrapBinding{
		{"cluster-admin", "cluster-admin", "system:masters"},
		{"system:discovery", "system:discovery", groupAuthenticated},
		{"system:basic-user", "system:basic-user", groupAuthenticated},
		{"system:public-info-viewer", "system:public-info-viewer", groupAuthenticated},
		{"system:public-info-viewer:anonymous", "system:public-info-viewer", groupUnauthenticated},
	}
	return clusterRoles, bindings
}
