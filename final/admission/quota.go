// ResourceQuota: a namespace's ResourceQuota objects cap what it may hold
// and use (spec.hard): object counts ("pods": "10", "count/configmaps":
// "20", "count/jobs.batch": "5") and, for pods, compute resources
// ("requests.cpu": "4", "limits.memory": 8Gi, "cpu", "memory",
// "ephemeral-storage" and their requests./limits. forms). The validating
// plugin refuses a create that would go over; after every write the server
// calls RefreshQuota, which recounts status.used, so that "kubectl describe
// quota" shows the truth.
//
// With --admission-control-config-file, ResourceQuota's limitedResources
// name what may not be consumed at all without a quota that covers it: a
// pod that requests cpu, say, is refused in a namespace whose quotas do not
// limit cpu.
//
// In Kubernetes: k8s.io/apiserver/pkg/admission/plugin/resourcequota
// (CheckRequest in controller.go) over the evaluators of
// k8s.io/kubernetes/pkg/quota/v1/evaluator/core (pods.go: PodUsageFunc,
// Constraints). Left out: quota scopes and scopeSelector, the services'
// services.loadbalancers and services.nodeports, extended resources, and
// usage read from status.used (this server counts what is stored instead).

package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

type resourceQuota struct {
	deps Dependencies
	// limited is the configuration's limitedResources: what needs a
	// covering quota to be consumed at all.
	limited []LimitedResource
}

// podComputeKeys are the spec.hard names a pod's resources count against,
// besides "pods" and "count/pods".
var podComputeKeys = []string{"cpu", "memory", "ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
	"limits.cpu", "limits.memory", "limits.ephemeral-storage"}

// quotaKeys are the spec.hard names that count objects of a resource:
// "count/<resource>[.<group>]", and the bare names Kubernetes also accepts
// for a few core resources.
func quotaKeys(res *registry.Resource) []string {
	keys := []string{"count/" + res.QualifiedName()}
	if res.Group == "" && res.Custom == nil {
		switch res.Name {
		case "pods", "services", "secrets", "configmaps", "resourcequotas", "persistentvolumeclaims", "replicationcontrollers":
			keys = append(keys, res.Name)
		}
	}
	return keys
}

// matches tells whether a spec.hard key is one an object of res counts
// against (the evaluator's MatchingResources).
func matches(res *registry.Resource, key string) bool {
	if slices.Contains(quotaKeys(res), key) {
		return true
	}
	return isBuiltin(res, "", "Pod") && (slices.Contains(podComputeKeys, key) ||
		strings.HasPrefix(key, "hugepages-") || strings.HasPrefix(key, "requests.hugepages-"))
}

// usage is what one object consumes, by spec.hard key: one of its kind,
// and for a pod its compute resources. A pod that has finished (Succeeded
// or Failed) still counts in count/pods, which counts stored objects, but
// not in "pods" or compute, which count what runs.
func usage(res *registry.Resource, obj object.Object) resourceList {
	one := apis.MustParseQuantity("1")
	keys := quotaKeys(res)
	u := resourceList{keys[0]: one}
	if !isBuiltin(res, "", "Pod") {
		for _, key := range keys[1:] {
			u[key] = one
		}
		return u
	}
	status, _ := obj["status"].(map[string]any)
	if phase := status["phase"]; phase == "Succeeded" || phase == "Failed" {
		return u
	}
	u["pods"] = one
	requests, limits := podRequests(obj, true), podLimits(obj, true)
	for _, name := range []string{"cpu", "memory", "ephemeral-storage"} {
		if q, ok := requests[name]; ok {
			u[name], u["requests."+name] = q, q
		}
		if q, ok := limits[name]; ok {
			u["limits."+name] = q
		}
	}
	for name, q := range requests {
		if strings.HasPrefix(name, "hugepages-") {
			u[name], u["requests."+name] = q, q
		}
	}
	return u
}

// validate refuses a create that a namespace's quotas do not allow. Only
// creates add objects; a subresource (a pod's binding, a ServiceAccount's
// token) or a virtual resource (a review) adds none.
//
// Usage is counted as stored, so two creates racing for the last slot may
// both pass; Kubernetes closes that gap by charging status.used with a
// compare-and-swap before admitting, which this server leaves out.
func (p *resourceQuota) validate(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Subresource != "" || !a.Resource.Namespaced || a.Resource.Virtual || a.Object == nil {
		return nil
	}
	quotas, err := p.quotas(ctx, a.Namespace)
	if err != nil {
		return err
	}
	limited := p.limitedFor(a.Resource)
	if len(quotas) == 0 && len(limited) == 0 {
		return nil
	}
	requested := usage(a.Resource, a.Object)

	// The quotas that limit something this object uses, and all they limit.
	var relevant []object.Object
	covered := map[string]bool{}
	for _, q := range quotas {
		var keys []string
		for key := range hardOf(q) {
			if matches(a.Resource, key) {
				keys = append(keys, key)
				covered[key] = true
			}
		}
		if len(keys) == 0 {
			continue
		}
		if isBuiltin(a.Resource, "", "Pod") {
			if err := podConstraints(a.Object, keys); err != nil {
				return forbidden(a, fmt.Errorf("failed quota: %s: %v", q.MetaString("name"), err))
			}
		}
		relevant = append(relevant, q)
	}

	// What limitedResources say needs a quota must have one.
	var uncovered []string
	for _, name := range sortedNames(requested) {
		if requested[name].Sign() <= 0 || covered[name] {
			continue
		}
		for _, l := range limited {
			if slices.ContainsFunc(l.MatchContains, func(s string) bool { return strings.Contains(name, s) }) {
				uncovered = append(uncovered, name)
				break
			}
		}
	}
	if len(uncovered) > 0 {
		return forbidden(a, fmt.Errorf("insufficient quota to consume: %s", strings.Join(uncovered, ",")))
	}

	for _, q := range relevant {
		hard := hardOf(q)
		charged := resourceList{}
		for name, amount := range requested {
			if _, limitedHere := hard[name]; limitedHere && !amount.IsZero() {
				charged[name] = amount
			}
		}
		if len(charged) == 0 {
			continue
		}
		used, err := p.used(ctx, a.Namespace, sortedNames(charged))
		if err != nil {
			return err
		}
		exceeded := []string{}
		for _, name := range sortedNames(charged) {
			if used[name].Add(charged[name]).Cmp(hard[name]) > 0 {
				exceeded = append(exceeded, name)
			}
		}
		if len(exceeded) > 0 {
			return forbidden(a, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
				q.MetaString("name"), prettyPrint(charged, exceeded), prettyPrint(used, exceeded), prettyPrint(hard, exceeded)))
		}
	}
	return nil
}

// limitedFor is the limitedResources entries for res.
func (p *resourceQuota) limitedFor(res *registry.Resource) []LimitedResource {
	var out []LimitedResource
	for _, l := range p.limited {
		if l.APIGroup == res.Group && l.Resource == res.Name {
			out = append(out, l)
		}
	}
	return out
}

// podConstraints: a quota on cpu or memory (Kubernetes' rule from before
// QoS classes, kept for compatibility) needs every container to say how
// much it requests, or limits, of what is quota'd. A pod with pod-level
// resources is exempt.
func podConstraints(pod object.Object, keys []string) error {
	spec, _ := pod["spec"].(map[string]any)
	if podLevel, ok := spec["resources"].(map[string]any); ok {
		for _, field := range []string{"requests", "limits"} {
			for name := range apis.ResourceList(podLevel[field]) {
				if name == "cpu" || name == "memory" {
					return nil
				}
			}
		}
	}
	var required []string
	for _, key := range keys {
		switch key {
		case "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory":
			required = append(required, key)
		}
	}
	missing := map[string][]string{} // resource: container names
	for _, field := range []string{"containers", "initContainers"} {
		for _, c := range objects(spec[field]) {
			requests, limits := containerResources(c)
			has := map[string]bool{}
			for _, name := range []string{"cpu", "memory"} {
				if _, ok := requests[name]; ok {
					has[name], has["requests."+name] = true, true
				}
				if _, ok := limits[name]; ok {
					has["limits."+name] = true
				}
			}
			for _, key := range required {
				if name, _ := c["name"].(string); !has[key] && !slices.Contains(missing[key], name) {
					missing[key] = append(missing[key], name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, key := range sortedKeys(missing) {
		names := missing[key]
		slices.Sort(names)
		parts = append(parts, fmt.Sprintf("%s for: %s", key, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
}

// RefreshQuota recounts status.used of every quota in the namespace of a
// write: the server calls it after each committed create, update and delete
// (not after dry runs). status is replaced, not merged, so a key dropped
// from spec.hard leaves it too. A quota whose status is already right is
// not written again. It does nothing when ResourceQuota is not enabled, or
// for a cluster-scoped resource.
func (c *Chain) RefreshQuota(ctx context.Context, res *registry.Resource, namespace string) error {
	if c == nil || c.quota == nil || !res.Namespaced || namespace == "" {
		return nil
	}
	return c.quota.refresh(ctx, namespace)
}

func (p *resourceQuota) refresh(ctx context.Context, namespace string) error {
	quotas, err := p.quotas(ctx, namespace)
	if err != nil {
		return err
	}
	resource, err := lookup(p.deps.Registry, "", "resourcequotas")
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range quotas {
		status, err := p.status(ctx, q, namespace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sameJSON(status, q["status"]) {
			continue
		}
		_, err = p.deps.Store.Update(ctx, resource, namespace, q.MetaString("name"), func(current object.Object) (object.Object, error) {
			status, err := p.status(ctx, current, namespace) // spec.hard may have changed meanwhile
			if err != nil {
				return nil, err
			}
			current["status"] = status
			return current, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("updating quota %s/%s: %w", namespace, q.MetaString("name"), err))
		}
	}
	return errors.Join(errs...)
}

// status is what a quota's status should be: its spec.hard, and the usage
// of each key this server knows how to count.
func (p *resourceQuota) status(ctx context.Context, q object.Object, namespace string) (map[string]any, error) {
	hard, _ := spec(q)["hard"].(map[string]any)
	var keys []string
	for key := range hard {
		if p.countedBy(key) != nil {
			keys = append(keys, key)
		}
	}
	used, err := p.used(ctx, namespace, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, key := range keys {
		out[key] = used[key].String()
	}
	return map[string]any{"hard": object.DeepCopy(hard), "used": out}, nil
}

// used sums the usage of what the namespace holds, for the given keys:
// each resource they count is listed once.
func (p *resourceQuota) used(ctx context.Context, namespace string, keys []string) (resourceList, error) {
	byResource := map[*registry.Resource][]string{}
	for _, key := range keys {
		if res := p.countedBy(key); res != nil {
			byResource[res] = append(byResource[res], key)
		}
	}
	total := resourceList{}
	for _, key := range keys {
		total[key] = apis.Quantity{}
	}
	for res, resKeys := range byResource {
		items, _, _, err := p.deps.Store.List(ctx, res, namespace, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			u := usage(res, item)
			for _, key := range resKeys {
				total[key] = total[key].Add(u[key])
			}
		}
	}
	return total, nil
}

func (p *resourceQuota) quotas(ctx context.Context, namespace string) ([]object.Object, error) {
	quotas, err := lookup(p.deps.Registry, "", "resourcequotas")
	if err != nil {
		return nil, err
	}
	items, _, _, err := p.deps.Store.List(ctx, quotas, namespace, store.ListOptions{OwnWrites: true})
	return items, err
}

// countedBy finds the resource whose objects a spec.hard key counts, nil if
// none.
func (p *resourceQuota) countedBy(key string) *registry.Resource {
	if pods := p.deps.Registry.Lookup("", "pods"); pods != nil && matches(pods, key) {
		return pods
	}
	for _, res := range p.deps.Registry.All() {
		if res.Namespaced && !res.Virtual && slices.Contains(quotaKeys(res), key) {
			return res
		}
	}
	return nil
}

// hardOf reads a quota's spec.hard; what does not parse is left out.
func hardOf(q object.Object) resourceList {
	return apis.ResourceList(spec(q)["hard"])
}

// prettyPrint writes "name=quantity,..." for the given names, as
// Kubernetes' quota messages do.
func prettyPrint(l resourceList, names []string) string {
	var parts []string
	for _, name := range names {
		parts = append(parts, name+"="+l[name].String())
	}
	return strings.Join(parts, ",")
}

// spec returns an object's spec map, nil if it has none.
func spec(obj object.Object) map[string]any {
	m, _ := obj["spec"].(map[string]any)
	return m
}

// sameJSON tells whether two decoded JSON values encode alike.
func sameJSON(a, b any) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
