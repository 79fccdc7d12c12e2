// Discovery and OpenAPI of the extensions: what /apis and /openapi/v3 add for
// the remote APIServices, from what the last availability check saw.

package aggregator

import (
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"sort"
	"strings"
)

// Discovery lists the extensions' groups for /apis: classic APIGroups, or
// aggregated APIGroupDiscovery entries (only versions whose resources a
// check has seen).
func (a *Aggregator) Discovery(aggregated bool) []map[string]any {
	var out []map[string]any
	for _, group := range a.remoteGroups() {
		versions := a.remoteVersions(group)
		if !aggregated {
			out = append(out, apiGroupOf(group, versions))
		} else if d := groupDiscoveryOf(group, versions); len(d["versions"].([]map[string]any)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// OpenAPIPaths are the index entries of the available extensions' OpenAPI
// documents, which kubectl reads before it creates an object; the documents
// themselves are proxied.
func (a *Aggregator) OpenAPIPaths() map[string]any {
	paths := map[string]any{}
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, svc := range a.served {
		if !svc.local && svc.available {
			gv := "apis/" + svc.group + "/" + svc.version
			paths[gv] = map[string]any{"serverRelativeURL": "/openapi/v3/" + gv}
		}
	}
	return paths
}

// remoteVersions lists the remote APIServices of a group, the preferred first:
// the highest versionPriority, then Kubernetes' version order.
func (a *Aggregator) remoteVersions(group string) []*apiService {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []*apiService
	for _, svc := range a.served {
		if svc.group == group && !svc.local {
			out = append(out, svc)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].versionPriority != out[j].versionPriority {
			return out[i].versionPriority > out[j].versionPriority
		}
		return registry.VersionPriority(out[i].version, out[j].version)
	})
	return out
}

// remoteGroups lists the groups served by extensions, highest
// groupPriorityMinimum first, as /apis orders them.
func (a *Aggregator) remoteGroups() []string {
	a.mu.RLock()
	priority := map[string]int64{}
	for _, svc := range a.served {
		if !svc.local && svc.groupPriority > priority[svc.group] {
			priority[svc.group] = svc.groupPriority
		}
	}
	a.mu.RUnlock()
	var groups []string
	for g := range priority {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if priority[groups[i]] != priority[groups[j]] {
			return priority[groups[i]] > priority[groups[j]]
		}
		return groups[i] < groups[j]
	})
	return groups
}

// GroupPriority is the highest groupPriorityMinimum among the APIServices
// of a group, local ones included (0: it has none): kube-aggregator's place
// for the group in /apis.
func (a *Aggregator) GroupPriority(group string) int64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var p int64
	for _, svc := range a.served {
		if svc.group == group {
			p = max(p, svc.groupPriority)
		}
	}
	return p
}

// apiGroupOf is the classic APIGroup of an extension's group.
func apiGroupOf(group string, versions []*apiService) map[string]any {
	list := []map[string]any{}
	for _, svc := range versions {
		list = append(list, map[string]any{"groupVersion": group + "/" + svc.version, "version": svc.version})
	}
	return map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": list, "preferredVersion": list[0]}
}

// groupDiscoveryOf is an extension's group in aggregated discovery, built
// from the resource lists the availability check fetched. A version that
// stopped answering is still listed, marked Stale, as Kubernetes does.
func groupDiscoveryOf(group string, versions []*apiService) map[string]any {
	list := []map[string]any{}
	for _, svc := range versions {
		if svc.resources == nil {
			continue
		}
		freshness := "Current"
		if !svc.available {
			freshness = "Stale"
		}
		resources := []map[string]any{}
		for _, raw := range svc.resources {
			r, _ := raw.(map[string]any)
			name, _ := r["name"].(string)
			if name == "" || strings.Contains(name, "/") {
				continue // subresources are left out of this summary
			}
			scope := "Cluster"
			if r["namespaced"] == true {
				scope = "Namespaced"
			}
			entry := map[string]any{"resource": name, "scope": scope, "singularResource": r["singularName"], "verbs": r["verbs"],
				"responseKind": map[string]any{"group": group, "version": svc.version, "kind": r["kind"]}}
			for _, key := range []string{"shortNames", "categories"} {
				if v, ok := r[key]; ok {
					entry[key] = v
				}
			}
			resources = append(resources, entry)
		}
		list = append(list, map[string]any{"version": svc.version, "resources": resources, "freshness": freshness})
	}
	return map[string]any{"metadata": map[string]any{"name": group}, "versions": list}
}
