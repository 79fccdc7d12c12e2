package main

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestVersionPriority(t *testing.T) {
	versions := []string{"v1alpha1", "foo", "v2beta1", "v1", "v11alpha2", "v10", "v1beta2", "bar", "v2", "v10beta3", "v1beta1"}
	sort.SliceStable(versions, func(i, j int) bool { return versionPriority(versions[i], versions[j]) })
	want := []string{"v10", "v2", "v1", "v10beta3", "v2beta1", "v1beta2", "v1beta1", "v11alpha2", "v1alpha1", "bar", "foo"}
	if !slices.Equal(versions, want) {
		t.Errorf("sorted %v, want %v", versions, want)
	}
}

// widgetCRD is a valid CRD; tests break one part of it at a time.
const widgetCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
	"metadata":{"name":"widgets.example.com"},
	"spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget","shortNames":["wd"]},
	"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object",
		"properties":{"spec":{"type":"object","properties":{"size":{"type":"integer"}}}}}}}]}}`

func TestValidateCRD(t *testing.T) {
	tests := []struct {
		name   string
		change func(crd object)
		fields []string // the causes' fields, sorted; none for a valid CRD
	}{
		{"valid", func(object) {}, nil},
		{"name is not plural.group", func(c object) { c.metadata()["name"] = "widgets.other.com" }, []string{"metadata.name"}},
		{"group without a dot", func(c object) {
			c["spec"].(map[string]any)["group"] = "example"
			c.metadata()["name"] = "widgets.example"
		}, []string{"spec.group"}},
		{"unknown scope", func(c object) { c["spec"].(map[string]any)["scope"] = "Global" }, []string{"spec.scope"}},
		{"kind equals listKind", func(c object) {
			c["spec"].(map[string]any)["names"].(map[string]any)["listKind"] = "Widget"
		}, []string{"spec.names.listKind"}},
		{"bad short name", func(c object) {
			c["spec"].(map[string]any)["names"].(map[string]any)["shortNames"] = []any{"W D"}
		}, []string{"spec.names.shortNames[0]"}},
		{"no storage version", func(c object) {
			c["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)["storage"] = false
		}, []string{"spec.versions"}},
		{"no schema", func(c object) {
			delete(c["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any), "schema")
		}, []string{"spec.versions[0].schema.openAPIV3Schema"}},
		{"webhook conversion", func(c object) {
			c["spec"].(map[string]any)["conversion"] = map[string]any{"strategy": "Webhook"}
		}, []string{"spec.conversion.strategy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crd := mustDecode(t, widgetCRD)
			tt.change(crd)
			defaultCRD(crd)
			causes, err := validateCRD(crd, nil)
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, c := range causes {
				fields = append(fields, c.Field)
			}
			sort.Strings(fields)
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("causes %v, want fields %v", causes, tt.fields)
			}
		})
	}
}

func TestCRDUpdateKeepsScopeAndStoredVersions(t *testing.T) {
	old := mustDecode(t, widgetCRD)
	defaultCRD(old)
	old["status"] = map[string]any{"storedVersions": []any{"v1"}}
	updated := mustDecode(t, widgetCRD)
	defaultCRD(updated)
	spec := updated["spec"].(map[string]any)
	spec["scope"] = "Cluster"
	version := spec["versions"].([]any)[0].(map[string]any)
	version["name"] = "v2"
	updated["status"] = old["status"]
	causes, err := validateCRD(updated, old)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range causes {
		fields = append(fields, c.Field)
	}
	if !slices.Equal(fields, []string{"spec.scope", "status.storedVersions[0]"}) {
		t.Errorf("causes %v", causes)
	}
}

// newCRDServer is a test server whose CRD controller is wired as in main.
func newCRDServer(t *testing.T) (*server, http.Handler) {
	t.Helper()
	reg := newRegistry(builtinResources())
	s := &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces")}
	s.crds = &crdController{s: s, resource: reg.lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	s.createBootstrapNamespaces()
	s.authorizer = authorizers{alwaysAllow{}}
	chain, err := s.newAdmissionChain("", "")
	if err != nil {
		t.Fatal(err)
	}
	s.admission = chain
	return s, withRequestInfoFilter(s.routes())
}

func TestCRDNamesAreFirstComeFirstServed(t *testing.T) {
	s, h := newCRDServer(t)
	const crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	if code, body := call(t, h, "POST", crds, "", widgetCRD); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	// A second CRD of the same group that wants the short name wd.
	gadgets := strings.NewReplacer("widgets", "gadgets", `"Widget"`, `"Gadget"`).Replace(widgetCRD)
	if code, body := call(t, h, "POST", crds, "", gadgets); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	_, got := call(t, h, "GET", crds+"/gadgets.example.com", "", "")
	conditions := at(got, "status", "conditions").([]any)
	if at(conditions[0], "type") != "NamesAccepted" || at(conditions[0], "status") != "False" || at(conditions[0], "reason") != "ShortNamesConflict" {
		t.Errorf("conditions %v", conditions)
	}
	if s.registry.lookup("example.com", "gadgets") != nil {
		t.Error("gadgets is served with a clashing short name")
	}
	if code, _ := call(t, h, "GET", "/apis/example.com/v1/namespaces/default/widgets", "", ""); code != http.StatusOK {
		t.Errorf("widgets: %d", code)
	}

	// A CRD claiming a built-in resource's names is never served, and
	// deleting it leaves the built-in objects alone.
	roles := strings.NewReplacer("widgets.example.com", "roles.rbac.authorization.k8s.io", `"example.com"`, `"rbac.authorization.k8s.io"`,
		"widgets", "roles", `"Widget"`, `"Role"`, `["wd"]`, `[]`).Replace(widgetCRD)
	if code, body := call(t, h, "POST", crds, "", roles); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	role := mustDecode(t, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"kept","namespace":"default"},"rules":[]}`)
	if _, err := s.store.create(s.registry.lookup("rbac.authorization.k8s.io", "roles"), role); err != nil {
		t.Fatal(err)
	}
	if res := s.registry.lookupVersion("rbac.authorization.k8s.io", "v1", "roles"); res == nil || res.custom != nil {
		t.Errorf("roles is served by %+v", res)
	}
	if code, _ := call(t, h, "DELETE", crds+"/roles.rbac.authorization.k8s.io", "", ""); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call(t, h, "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/kept", "", ""); code != http.StatusOK {
		t.Errorf("the built-in role went with the CRD: %d", code)
	}
}
