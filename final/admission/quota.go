// ResourceQuota: a namespace's ResourceQuota objects cap how many objects of
// a kind it may hold (spec.hard: "pods": "10", "count/configmaps": "20").
// The validating plugin refuses a create that would go over; after every
// write the server calls RefreshQuota, which recounts status.used, so that
// "kubectl describe quota" shows the truth.

package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

type resourceQuota struct{ deps Dependencies }

// quotaKeys are the spec.hard names that count objects of a resource:
// "count/<resource>[.<group>]", and the bare names Kubernetes also accepts
// for a few core resources.
func quotaKeys(res *registry.Resource) []string {
	keys := []string{"count/" + res.QualifiedName()}
	if res.Group == "" && res.Custom == nil {
		switch res.Name {
		case "pods", "services", "secrets", "configmaps", "resourcequotas", "persistentvolumeclaims":
			keys = append(keys, res.Name)
		}
	}
	return keys
}

// validate refuses a create that would take a namespace over one of its
// quotas. Only creates add objects; a subresource (a pod's binding, a
// ServiceAccount's token) or a virtual resource (a review) adds none.
//
// Objects are counted as stored, so two creates racing for the last slot may
// both pass; Kubernetes closes that gap by charging status.used with a
// compare-and-swap before admitting, which this server leaves out.
func (p *resourceQuota) validate(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Subresource != "" || !a.Resource.Namespaced || a.Resource.Virtual {
		return nil
	}
	quotas, err := p.quotas(ctx, a.Namespace)
	if err != nil {
		return err
	}
	used := int64(-1) // counted when a quota first asks
	for _, q := range quotas {
		hard, _ := spec(q)["hard"].(map[string]any)
		for _, key := range quotaKeys(a.Resource) {
			limit, ok := quantity(hard[key])
			if !ok {
				continue
			}
			if used < 0 {
				if used, err = p.count(ctx, a.Resource, a.Namespace); err != nil {
					return err
				}
			}
			if used+1 > limit {
				return forbidden(a, fmt.Errorf("exceeded quota: %s, requested: %s=1, used: %s=%d, limited: %s=%d",
					q.MetaString("name"), key, key, used, key, limit))
			}
		}
	}
	return nil
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

// status is what a quota's status should be: its spec.hard, and the count of
// each key this server knows how to count.
func (p *resourceQuota) status(ctx context.Context, q object.Object, namespace string) (map[string]any, error) {
	hard, _ := spec(q)["hard"].(map[string]any)
	used := map[string]any{}
	for key := range hard {
		res := p.countedBy(key)
		if res == nil {
			continue // cpu, memory, ...: beyond this server
		}
		n, err := p.count(ctx, res, namespace)
		if err != nil {
			return nil, err
		}
		used[key] = strconv.FormatInt(n, 10)
	}
	return map[string]any{"hard": object.DeepCopy(hard), "used": used}, nil
}

func (p *resourceQuota) quotas(ctx context.Context, namespace string) ([]object.Object, error) {
	quotas, err := lookup(p.deps.Registry, "", "resourcequotas")
	if err != nil {
		return nil, err
	}
	items, _, _, err := p.deps.Store.List(ctx, quotas, namespace, store.ListOptions{})
	return items, err
}

func (p *resourceQuota) count(ctx context.Context, res *registry.Resource, namespace string) (int64, error) {
	items, _, _, err := p.deps.Store.List(ctx, res, namespace, store.ListOptions{})
	return int64(len(items)), err
}

// countedBy finds the resource a spec.hard key counts, nil if none.
func (p *resourceQuota) countedBy(key string) *registry.Resource {
	for _, res := range p.deps.Registry.All() {
		if !res.Namespaced || res.Virtual {
			continue
		}
		for _, k := range quotaKeys(res) {
			if k == key {
				return res
			}
		}
	}
	return nil
}

// quantity reads an object count ("10" or 10); fractional or suffixed
// quantities (such as "1k") are beyond this server.
func quantity(v any) (int64, bool) {
	var s string
	switch n := v.(type) {
	case string:
		s = n
	case json.Number:
		s = n.String()
	default:
		return 0, false
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
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
