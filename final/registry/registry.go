// Package registry is the table of what the server serves: one Resource per
// group, version and resource (GVR), with its kind, scope, verbs and names.
// Routes, discovery, OpenAPI and the generic handler are all built from it.
// The built-in part is fixed at start-up; the part CustomResourceDefinitions
// define is replaced whole whenever they change, so every read takes the lock
// and sees what was served at one moment.
//
// In Kubernetes the same knowledge is spread over the RESTStorage of each API
// group (k8s.io/kubernetes/pkg/controlplane) and, for CRDs, the
// apiextensions-apiserver's crdHandler.
package registry

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// Resource describes one API resource, like an APIResource in discovery.
type Resource struct {
	Group      string // "" for the core group, served under /api
	Version    string
	Name       string // the plural in the URL: "pods"
	Singular   string
	Kind       string
	ListKind   string // "" means Kind + "List"
	Namespaced bool
	ShortNames []string
	Categories []string
	Verbs      []string // as discovery lists them; nil means DefaultVerbs
	// ValidateName returns what is wrong with a metadata.name, "" if nothing.
	ValidateName func(name string) string
	// Virtual resources are not stored: their handler computes an answer to
	// a create (the reviews).
	Virtual bool
	// StatusSubresource: status is written only through {name}/status.
	StatusSubresource bool
	// ScaleSubresource: {name}/scale reads and writes spec.replicas as an
	// autoscaling/v1 Scale (kubectl scale).
	ScaleSubresource bool
	// TracksGeneration: metadata.generation counts changes to the spec.
	TracksGeneration bool
	// Subresources served by handlers of their own, for discovery
	// (serviceaccounts/token); status and scale are listed from the flags.
	Subresources []Subresource
	// Custom is set for resources served for a CustomResourceDefinition;
	// its content belongs to the package that serves them.
	Custom any
	// Converter, for a resource served in several versions, moves objects
	// between this version and the one they are stored in. Nil: objects
	// are served as stored.
	Converter Converter
}

// Converter converts the objects of one served version to and from the
// storage version: every write in that version goes through ToStorage before
// the store, every object read goes through FromStorage before the client
// (gets, lists, watch events, the objects admission sees). A resource's
// versions all share its storage, under one key per object; only the
// version the bytes are in is fixed, and the stored apiVersion says which.
// In Kubernetes this is the scheme's conversion through the internal
// version (built-in kinds), or a CRD's converter (None or Webhook).
type Converter interface {
	// ToStorage returns obj, written in this version, in the storage version.
	ToStorage(ctx context.Context, obj object.Object) (object.Object, error)
	// FromStorage returns stored objects in this version, in order. The
	// results are copies where they differ: stored objects are shared.
	FromStorage(ctx context.Context, objs []object.Object) ([]object.Object, error)
}

// DefaultVerbs are what the generic handler serves.
var DefaultVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Subresource is one {name}/{subresource} path, as discovery lists it: the
// kind it takes and returns, which may be of another group.
type Subresource struct {
	Name, Group, Version, Kind string
	Verbs                      []string
}

// GroupVersion is "v1" for the core group, "group/version" otherwise.
func (r *Resource) GroupVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// QualifiedName is how Kubernetes names a resource in messages: "pods", "jobs.batch".
func (r *Resource) QualifiedName() string {
	if r.Group == "" {
		return r.Name
	}
	return r.Name + "." + r.Group
}

// QualifiedKind is how Kubernetes names a kind in messages: "Pod", "Job.batch".
func (r *Resource) QualifiedKind() string {
	if r.Group == "" {
		return r.Kind
	}
	return r.Kind + "." + r.Group
}

// ListKindOrDefault is the kind of the resource's lists.
func (r *Resource) ListKindOrDefault() string {
	if r.ListKind != "" {
		return r.ListKind
	}
	return r.Kind + "List"
}

// PathPrefix is where the resource's group version is served.
func (r *Resource) PathPrefix() string {
	if r.Group == "" {
		return "/api/" + r.Version
	}
	return "/apis/" + r.Group + "/" + r.Version
}

// Registry holds the built-in resources and the custom ones.
type Registry struct {
	mu      sync.RWMutex
	builtin []*Resource
	custom  []*Resource
}

// New returns a registry serving the built-in resources, with defaults
// filled in (verbs, and validateSubdomain for names when none is given).
func New(builtin []*Resource, validateSubdomain func(string) string) *Registry {
	for _, r := range builtin {
		fill(r, validateSubdomain)
	}
	return &Registry{builtin: builtin}
}

func fill(r *Resource, validateSubdomain func(string) string) {
	if r.ValidateName == nil {
		r.ValidateName = validateSubdomain
	}
	if r.Verbs == nil {
		r.Verbs = DefaultVerbs
	}
}

// SetCustom replaces the resources served for CustomResourceDefinitions.
func (reg *Registry) SetCustom(resources []*Resource, validateSubdomain func(string) string) {
	for _, r := range resources {
		fill(r, validateSubdomain)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.custom = resources
}

// All lists every resource served now: the built-in ones, then the custom ones.
func (reg *Registry) All() []*Resource {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return slices.Concat(reg.builtin, reg.custom)
}

// Groups lists the API groups under /apis, in the order they were added.
func (reg *Registry) Groups() []string {
	var out []string
	for _, r := range reg.All() {
		if r.Group != "" && !slices.Contains(out, r.Group) {
			out = append(out, r.Group)
		}
	}
	return out
}

// Lookup finds a resource by group and plural name, in its first version.
func (reg *Registry) Lookup(group, name string) *Resource {
	for _, r := range reg.All() {
		if r.Group == group && r.Name == name {
			return r
		}
	}
	return nil
}

// LookupVersion finds a resource by group, version and plural name.
func (reg *Registry) LookupVersion(group, version, name string) *Resource {
	for _, r := range reg.All() {
		if r.Group == group && r.Version == version && r.Name == name {
			return r
		}
	}
	return nil
}

// Versions lists the versions served for a group, the preferred one first.
func (reg *Registry) Versions(group string) []string {
	var out []string
	for _, r := range reg.All() {
		if r.Group == group && !slices.Contains(out, r.Version) {
			out = append(out, r.Version)
		}
	}
	return out
}

// InGroupVersion lists the resources served in one group version.
func (reg *Registry) InGroupVersion(group, version string) []*Resource {
	var out []*Resource
	for _, r := range reg.All() {
		if r.Group == group && r.Version == version {
			out = append(out, r)
		}
	}
	return out
}

// VersionPriority reports whether version a comes before b, as Kubernetes
// orders the versions of a group (k8s.io/apimachinery/pkg/version's
// CompareKubeAwareVersionStrings): GA, then beta, then alpha, the higher
// numbers first; names not of that form come last, in alphabetical order.
// The first is a group's preferred version.
func VersionPriority(a, b string) bool {
	ma, mb := kubeVersion.FindStringSubmatch(a), kubeVersion.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		if ma == nil && mb == nil {
			return a < b
		}
		return mb == nil
	}
	stability := map[string]int{"": 3, "beta": 2, "alpha": 1}
	if sa, sb := stability[ma[2]], stability[mb[2]]; sa != sb {
		return sa > sb
	}
	majorA, _ := strconv.Atoi(ma[1])
	majorB, _ := strconv.Atoi(mb[1])
	if majorA != majorB {
		return majorA > majorB
	}
	minorA, _ := strconv.Atoi(ma[3])
	minorB, _ := strconv.Atoi(mb[3])
	return minorA > minorB
}

var kubeVersion = regexp.MustCompile(`^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$`)
