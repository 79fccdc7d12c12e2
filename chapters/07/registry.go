// The resource registry: what the server serves, as data. Each entry is one
// GVR (group, version, resource) with its kind, scope, verbs and names. The
// routes, discovery and the generic handler are all built from this table,
// which is why adding a resource here is all it takes to serve it.
package main

import "slices"

// resource describes one API resource, like an APIResource in discovery.
type resource struct {
	group      string // "" for the core group served under /api
	version    string
	name       string // the plural in the URL: "pods"
	singular   string
	kind       string
	namespaced bool
	shortNames []string
	categories []string
	// validateName checks metadata.name and returns what is wrong with it.
	// Most names are DNS subdomains; a few resources are stricter.
	validateName func(name string) string
	// verbs are what clients may do with the resource, as discovery lists them.
	verbs []string
	// virtual resources are not stored: routes.go gives each its own handler
	// (the reviews answer a create with a computed object).
	virtual bool
}

// defaultVerbs are what the generic handler serves for every resource of this
// chapter: all of CRUD, patch and watch.
var defaultVerbs = []string{"create", "delete", "get", "list", "patch", "update", "watch"}

func (r *resource) groupVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

// qualifiedKind is how Kubernetes names a kind in messages: "Pod", "Job.batch".
func (r *resource) qualifiedKind() string {
	if r.group == "" {
		return r.kind
	}
	return r.kind + "." + r.group
}

// qualifiedName is how Kubernetes names a resource in messages: "pods",
// "jobs.batch".
func (r *resource) qualifiedName() string {
	if r.group == "" {
		return r.name
	}
	return r.name + "." + r.group
}

// pathPrefix is where the resource's group version is served.
func (r *resource) pathPrefix() string {
	if r.group == "" {
		return "/api/" + r.version
	}
	return "/apis/" + r.group + "/" + r.version
}

// builtinResources is the table of what chapter 05 serves.
func builtinResources() []*resource {
	return []*resource{
		{group: "", version: "v1", name: "namespaces", singular: "namespace", kind: "Namespace", shortNames: []string{"ns"}, validateName: validateLabel},
		{group: "", version: "v1", name: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: []string{"po"}, categories: []string{"all"}},
		{group: "", version: "v1", name: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: []string{"cm"}},
		{group: "", version: "v1", name: "secrets", singular: "secret", kind: "Secret", namespaced: true},
		{group: "", version: "v1", name: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: []string{"sa"}},
		{group: "", version: "v1", name: "services", singular: "service", kind: "Service", namespaced: true, shortNames: []string{"svc"}, categories: []string{"all"}, validateName: validateDNS1035},
		{group: "", version: "v1", name: "events", singular: "event", kind: "Event", namespaced: true, shortNames: []string{"ev"}},
		{group: "", version: "v1", name: "resourcequotas", singular: "resourcequota", kind: "ResourceQuota", namespaced: true, shortNames: []string{"quota"}},
		{group: "batch", version: "v1", name: "jobs", singular: "job", kind: "Job", namespaced: true, categories: []string{"all"}},
		{group: "authentication.k8s.io", version: "v1", name: "tokenreviews", singular: "tokenreview", kind: "TokenReview", verbs: []string{"create"}, virtual: true},
		{group: "authentication.k8s.io", version: "v1", name: "selfsubjectreviews", singular: "selfsubjectreview", kind: "SelfSubjectReview", verbs: []string{"create"}, virtual: true},
		{group: "rbac.authorization.k8s.io", version: "v1", name: "roles", singular: "role", kind: "Role", namespaced: true, validateName: validatePathSegmentName},
		{group: "rbac.authorization.k8s.io", version: "v1", name: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true, validateName: validatePathSegmentName},
		{group: "rbac.authorization.k8s.io", version: "v1", name: "clusterroles", singular: "clusterrole", kind: "ClusterRole", validateName: validatePathSegmentName},
		{group: "rbac.authorization.k8s.io", version: "v1", name: "clusterrolebindings", singular: "clusterrolebinding", kind: "ClusterRoleBinding", validateName: validatePathSegmentName},
		{group: "authorization.k8s.io", version: "v1", name: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview", kind: "SelfSubjectAccessReview", verbs: []string{"create"}, virtual: true},
		{group: "authorization.k8s.io", version: "v1", name: "subjectaccessreviews", singular: "subjectaccessreview", kind: "SubjectAccessReview", verbs: []string{"create"}, virtual: true},
		{group: "admissionregistration.k8s.io", version: "v1", name: "mutatingwebhookconfigurations", singular: "mutatingwebhookconfiguration", kind: "MutatingWebhookConfiguration", categories: []string{"api-extensions"}},
		{group: "admissionregistration.k8s.io", version: "v1", name: "validatingwebhookconfigurations", singular: "validatingwebhookconfiguration", kind: "ValidatingWebhookConfiguration", categories: []string{"api-extensions"}},
		{group: "authorization.k8s.io", version: "v1", name: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview", kind: "SelfSubjectRulesReview", verbs: []string{"create"}, virtual: true},
	}
}

// registry indexes the table for the two questions the server asks: what is
// served in a group version, and which groups exist, in a stable order.
type registry struct {
	resources []*resource
	groups    []string // API groups under /apis, in the order they were added
}

func newRegistry(resources []*resource) *registry {
	reg := &registry{resources: resources}
	seen := map[string]bool{}
	for _, r := range resources {
		if r.validateName == nil {
			r.validateName = validateSubdomain
		}
		if r.verbs == nil {
			r.verbs = defaultVerbs
		}
		if r.group != "" && !seen[r.group] {
			seen[r.group] = true
			reg.groups = append(reg.groups, r.group)
		}
	}
	return reg
}

// lookup finds a resource by group and plural name.
func (reg *registry) lookup(group, name string) *resource {
	for _, r := range reg.resources {
		if r.group == group && r.name == name {
			return r
		}
	}
	return nil
}

// versions lists the versions served for a group.
func (reg *registry) versions(group string) []string {
	var out []string
	for _, r := range reg.resources {
		if r.group == group && !slices.Contains(out, r.version) {
			out = append(out, r.version)
		}
	}
	return out
}

// inGroupVersion lists the resources served in one group version.
func (reg *registry) inGroupVersion(group, version string) []*resource {
	var out []*resource
	for _, r := range reg.resources {
		if r.group == group && r.version == version {
			out = append(out, r)
		}
	}
	return out
}
