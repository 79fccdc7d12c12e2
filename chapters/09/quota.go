// ResourceQuota: a namespace's ResourceQuota objects cap how many objects of
// a kind it may hold (spec.hard: "pods": "10", "count/configmaps": "20").
// The validating plugin refuses a create that would go over, and after every
// create and delete the quotas' status.used is recounted, so "kubectl get
// quota" shows the truth.
package main

import (
	"fmt"
	"log"
	"strconv"
)

type resourceQuota struct{ s *server }

// quotaKeys are the spec.hard names that count objects of a resource:
// "count/<resource>[.<group>]", and the bare names Kubernetes also accepts
// for a few core resources.
func quotaKeys(res *resource) []string {
	keys := []string{"count/" + res.qualifiedName()}
	switch res.name {
	case "pods", "services", "secrets", "configmaps", "resourcequotas", "persistentvolumeclaims":
		keys = append(keys, res.name)
	}
	return keys
}

func (p resourceQuota) validate(a *admissionAttributes) error {
	if a.operation != "CREATE" || !a.resource.namespaced {
		return nil
	}
	for _, q := range p.quotas(a.namespace) {
		hard, _ := field(q, "spec", "hard").(map[string]any)
		for _, key := range quotaKeys(a.resource) {
			limit, ok := quantity(hard[key])
			if !ok {
				continue
			}
			used := p.count(a.resource, a.namespace)
			if used+1 > limit {
				return errAdmissionForbidden(a, fmt.Sprintf("exceeded quota: %s, requested: %s=1, used: %s=%d, limited: %s=%d",
					q.metaString("name"), key, key, used, key, limit))
			}
		}
	}
	return nil
}

func (p resourceQuota) quotas(namespace string) []object {
	items, _ := p.s.store.list(p.s.registry.lookup("", "resourcequotas"), namespace)
	return items
}

func (p resourceQuota) count(res *resource, namespace string) int64 {
	items, _ := p.s.store.list(res, namespace)
	return int64(len(items))
}

// refresh recounts status.used of every quota in a namespace.
func (p resourceQuota) refresh(namespace string) {
	quotas := p.s.registry.lookup("", "resourcequotas")
	for _, q := range p.quotas(namespace) {
		_, err := p.s.store.update(quotas, namespace, q.metaString("name"), func(current object) (object, error) {
			hard, _ := field(current, "spec", "hard").(map[string]any)
			used := map[string]any{}
			for key := range hard {
				if res := p.s.quotaResource(key); res != nil {
					used[key] = strconv.FormatInt(p.count(res, namespace), 10)
				}
			}
			// status is replaced, not merged: a key dropped from spec.hard leaves it too.
			return applyPatch(quotas, "application/json-patch+json", current, mustMarshal([]map[string]any{
				{"op": "add", "path": "/status", "value": map[string]any{"hard": hard, "used": used}}}))
		})
		if err != nil {
			log.Printf("updating quota %s/%s: %v", namespace, q.metaString("name"), err)
		}
	}
}

// quotaResource finds the resource a spec.hard key counts.
func (s *server) quotaResource(key string) *resource {
	for _, res := range s.registry.all() {
		for _, k := range quotaKeys(res) {
			if k == key && res.namespaced && !res.virtual {
				return res
			}
		}
	}
	return nil
}

// quantity reads an object count ("10" or 10); fractional or suffixed
// quantities (such as "1k") are beyond this chapter.
func quantity(v any) (int64, bool) {
	switch n := v.(type) {
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	case fmt.Stringer: // json.Number
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return i, err == nil
	}
	return 0, false
}
