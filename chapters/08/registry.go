// The resource registry: what the server serves, as data. Each entry is one
// GVR (group, version, resource) with its kind, scope, verbs and names. The
// routes, discovery and the generic handler are all built from this table,
// which is why adding a resource here is all it takes to serve it.
package main

import (
	"slices"
	"sync"
)

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

	// statusSubresource: status is written only through {name}/status, and
	// the main endpoint keeps the stored status (strategy.go).
	statusSubresource bool
	// tracksGeneration: metadata.generation counts changes to the spec.
	tracksGeneration bool
	// custom is set on resources served for a CustomResourceDefinition.
	custom *customResource
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

// listKind is the kind of the resource's lists: "PodList", or a CRD's names.listKind.
func (r *resource) listKind() string {
	if r.custom != nil && r.custom.listKind != "" {
		return r.custom.listKind
	}
	return r.kind + "List"
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

// builtinResources is the table of what the server serves on its own;
// CustomResourceDefinitions add to it at run time (crd.go).
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
		{group: "apiextensions.k8s.io", version: "v1", name: "customresourcedefinitions", singular: "customresourcedefinition", kind: "CustomResourceDefinition",
			shortNames: []string{"crd", "crds"}, categories: []string{"api-extensions"}, statusSubresource: true, tracksGeneration: true},
	}
}

// registry indexes the table for the questions the server asks: what is
// served in a group version, and which groups exist, in a stable order. The
// built-in part is fixed; the custom part is replaced whole whenever the
// CustomResourceDefinitions change, so every read takes the lock and works
// on what was served at that moment.
type registry struct {
	mu      sync.RWMutex
	builtin []*resource
	custom  []*resource
}

func newRegistry(resources []*resource) *registry {
	for _, r := range resources {
		fillDefaults(r)
	}
	return &registry{builtin: resources}
}

func fillDefaults(r *resource) {
	if r.validateName == nil {
		r.validateName = validateSubdomain
	}
	if r.verbs == nil {
		r.verbs = defaultVerbs
	}
}

// setCustom replaces the resources served for CustomResourceDefinitions.
func (reg *registry) setCustom(resources []*resource) {
	for _, r := range resources {
		fillDefaults(r)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.custom = resources
}

// all lists every resource served now: the built-in ones, then the custom ones.
func (reg *registry) all() []*resource {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return slices.Concat(reg.builtin, reg.custom)
}

// groups lists the API groups under /apis, in the order they were added.
func (reg *registry) groups() []string {
	var out []string
	for _, r := range reg.all() {
		if r.group != "" && !slices.Contains(out, r.group) {
			out = append(out, r.group)
		}
	}
	return out
}

// lookup finds a resource by group and plural name, in any version.
func (reg *registry) lookup(group, name string) *resource {
	for _, r := range reg.all() {
		if r.group == group && r.name == name {
			return r
		}
	}
	return nil
}

// lookupVersion finds a resource by group, version and plural name.
func (reg *registry) lookupVersion(group, version, name string) *resource {
	for _, r := range reg.all() {
		if r.group == group && r.version == version && r.name == name {
			return r
		}
	}
	return nil
}

// versions lists the versions served for a group, the preferred one first.
func (reg *registry) versions(group string) []string {
	var out []string
	for _, r := range reg.all() {
		if r.group == group && !slices.Contains(out, r.version) {
			out = append(out, r.version)
		}
	}
	return out
}

// inGroupVersion lists the resources served in one group version.
func (reg *registry) inGroupVersion(group, version string) []*resource {
	var out []*resource
	for _, r := range reg.all() {
		if r.group == group && r.version == version {
			out = append(out, r)
		}
	}
	return out
}
