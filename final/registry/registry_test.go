package registry

import (
	"slices"
	"sort"
	"testing"
)

func subdomain(name string) string {
	if name == "" {
		return "empty"
	}
	return ""
}

func TestRegistry(t *testing.T) {
	reg := New([]*Resource{
		{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true},
		{Group: "batch", Version: "v1", Name: "jobs", Kind: "Job", Namespaced: true},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "roles", Kind: "Role", Verbs: []string{"get"}},
	}, subdomain)
	pods := reg.Lookup("", "pods")
	if pods == nil || pods.GroupVersion() != "v1" || pods.QualifiedName() != "pods" || pods.PathPrefix() != "/api/v1" || pods.ListKindOrDefault() != "PodList" {
		t.Fatalf("pods: %+v", pods)
	}
	if !slices.Equal(pods.Verbs, DefaultVerbs) || pods.ValidateName("") != "empty" {
		t.Errorf("defaults not filled in: %+v", pods)
	}
	jobs := reg.Lookup("batch", "jobs")
	if jobs.QualifiedKind() != "Job.batch" || jobs.QualifiedName() != "jobs.batch" || jobs.PathPrefix() != "/apis/batch/v1" {
		t.Errorf("jobs: %+v", jobs)
	}
	if roles := reg.Lookup("rbac.authorization.k8s.io", "roles"); !slices.Equal(roles.Verbs, []string{"get"}) {
		t.Errorf("given verbs replaced: %v", roles.Verbs)
	}

	reg.SetCustom([]*Resource{
		{Group: "example.com", Version: "v1", Name: "widgets", Kind: "Widget", ListKind: "WidgetCollection"},
		{Group: "example.com", Version: "v1beta1", Name: "widgets", Kind: "Widget"},
	}, subdomain)
	if got := reg.Groups(); !slices.Equal(got, []string{"batch", "rbac.authorization.k8s.io", "example.com"}) {
		t.Errorf("groups %v", got)
	}
	if got := reg.Versions("example.com"); !slices.Equal(got, []string{"v1", "v1beta1"}) {
		t.Errorf("versions %v", got)
	}
	if w := reg.LookupVersion("example.com", "v1beta1", "widgets"); w == nil || w.Version != "v1beta1" {
		t.Errorf("LookupVersion: %+v", w)
	}
	if w := reg.Lookup("example.com", "widgets"); w.ListKindOrDefault() != "WidgetCollection" {
		t.Errorf("listKind: %s", w.ListKindOrDefault())
	}
	if n := len(reg.InGroupVersion("example.com", "v1")); n != 1 {
		t.Errorf("InGroupVersion: %d", n)
	}
	reg.SetCustom(nil, subdomain)
	if reg.Lookup("example.com", "widgets") != nil || len(reg.All()) != 3 {
		t.Errorf("custom resources outlived SetCustom(nil): %d", len(reg.All()))
	}
}

func TestVersionPriority(t *testing.T) {
	versions := []string{"v1alpha1", "foo", "v2beta1", "v1", "v11alpha2", "v10", "v1beta2", "bar", "v2", "v10beta3", "v1beta1"}
	sort.SliceStable(versions, func(i, j int) bool { return VersionPriority(versions[i], versions[j]) })
	want := []string{"v10", "v2", "v1", "v10beta3", "v2beta1", "v1beta2", "v1beta1", "v11alpha2", "v1alpha1", "bar", "foo"}
	if !slices.Equal(versions, want) {
		t.Errorf("sorted %v, want %v", versions, want)
	}
}
