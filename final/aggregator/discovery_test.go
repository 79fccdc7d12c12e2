package aggregator

import (
	"slices"
	"testing"
)

// /apis orders the extensions' groups by groupPriorityMinimum and a group's
// versions by versionPriority, then Kubernetes' version order; local
// APIServices are this server's own discovery's business.
func TestDiscoveryOrder(t *testing.T) {
	things := []any{map[string]any{"name": "things", "singularName": "thing", "namespaced": true, "kind": "Thing", "verbs": []any{"get"}}}
	svc := func(group, version string, groupPriority, versionPriority int64, resources []any) *apiService {
		return &apiService{name: version + "." + group, group: group, version: version, groupPriority: groupPriority,
			versionPriority: versionPriority, available: true, resources: resources}
	}
	a := serving(
		svc("low.example.com", "v1", 100, 10, things),
		svc("high.example.com", "v1beta1", 2000, 10, things),
		svc("high.example.com", "v1", 2000, 10, nil), // never reached
		svc("high.example.com", "v2alpha1", 2000, 20, things),
		&apiService{name: "v1.apps", group: "apps", version: "v1", local: true, available: true},
	)

	classic := a.Discovery(false)
	var names []string
	for _, g := range classic {
		names = append(names, g["name"].(string))
	}
	if !slices.Equal(names, []string{"high.example.com", "low.example.com"}) {
		t.Errorf("groups %v", names)
	}
	var versions []string
	for _, v := range classic[0]["versions"].([]map[string]any) {
		versions = append(versions, v["version"].(string))
	}
	if !slices.Equal(versions, []string{"v2alpha1", "v1", "v1beta1"}) {
		t.Errorf("versions %v", versions)
	}

	aggregated := a.Discovery(true)
	versions = nil
	for _, v := range aggregated[0]["versions"].([]map[string]any) {
		versions = append(versions, v["version"].(string))
	}
	if len(aggregated) != 2 || !slices.Equal(versions, []string{"v2alpha1", "v1beta1"}) {
		t.Errorf("aggregated: %v", aggregated)
	}
	if paths := a.OpenAPIPaths(); len(paths) != 4 || paths["apis/low.example.com/v1"] == nil {
		t.Errorf("OpenAPI paths %v", paths)
	}
	for group, want := range map[string]int64{"high.example.com": 2000, "low.example.com": 100, "apps": 0, "none.example.com": 0} {
		if got := a.GroupPriority(group); got != want {
			t.Errorf("GroupPriority(%s) = %d, want %d", group, got, want)
		}
	}
}
