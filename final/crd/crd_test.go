package crd

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// widgetCRD is a valid CRD; tests break one part of it at a time.
const widgetCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
	"metadata":{"name":"widgets.example.com"},
	"spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget","shortNames":["wd"]},
	"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object",
		"properties":{"spec":{"type":"object","properties":{"size":{"type":"integer"}}}}}}}]}}`

func mustDecode(t testing.TB, s string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func at(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			if o, ok := v.(object.Object); ok {
				m = o
			}
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func spec(c object.Object) map[string]any { return c["spec"].(map[string]any) }

func fields(causes []apierrors.Cause) []string {
	var out []string
	for _, c := range causes {
		out = append(out, c.Field)
	}
	sort.Strings(out)
	return out
}

func TestDefault(t *testing.T) {
	c := mustDecode(t, widgetCRD)
	Default(c)
	if at(c, "spec", "names", "singular") != "widget" || at(c, "spec", "names", "listKind") != "WidgetList" ||
		at(c, "spec", "conversion", "strategy") != "None" {
		t.Errorf("defaulted: %v", c)
	}
	// What the author wrote stays; a CRD without a spec is left for Validate.
	c = mustDecode(t, strings.Replace(widgetCRD, `"kind":"Widget"`, `"kind":"Widget","singular":"wid","listKind":"Widgets"`, 1))
	spec(c)["conversion"] = map[string]any{"strategy": "Webhook"}
	Default(c)
	if at(c, "spec", "names", "singular") != "wid" || at(c, "spec", "names", "listKind") != "Widgets" ||
		at(c, "spec", "conversion", "strategy") != "Webhook" {
		t.Errorf("defaulted over the author: %v", c)
	}
	Default(object.Object{"metadata": map[string]any{"name": "x"}})
}

func TestValidate(t *testing.T) {
	version := func(c object.Object) map[string]any { return spec(c)["versions"].([]any)[0].(map[string]any) }
	names := func(c object.Object) map[string]any { return spec(c)["names"].(map[string]any) }
	tests := []struct {
		name   string
		change func(c object.Object)
		fields []string // the causes' fields, sorted; none for a valid CRD
	}{
		{"valid", func(object.Object) {}, nil},
		{"name is not plural.group", func(c object.Object) { c.Metadata()["name"] = "widgets.other.com" }, []string{"metadata.name"}},
		{"no group", func(c object.Object) {
			spec(c)["group"] = ""
			c.Metadata()["name"] = "widgets."
		}, []string{"spec.group"}},
		{"group without a dot", func(c object.Object) {
			spec(c)["group"] = "example"
			c.Metadata()["name"] = "widgets.example"
		}, []string{"spec.group"}},
		{"group not a subdomain", func(c object.Object) {
			spec(c)["group"] = "Example.com"
			c.Metadata()["name"] = "widgets.Example.com"
		}, []string{"spec.group"}},
		{"unknown scope", func(c object.Object) { spec(c)["scope"] = "Global" }, []string{"spec.scope"}},
		{"uppercase plural", func(c object.Object) {
			names(c)["plural"] = "Widgets"
			c.Metadata()["name"] = "Widgets.example.com"
		}, []string{"spec.names.plural"}},
		{"no kind", func(c object.Object) { delete(names(c), "kind") }, []string{"spec.names.kind", "spec.names.listKind"}},
		{"kind not a label", func(c object.Object) { names(c)["kind"] = "Wid_get" }, []string{"spec.names.kind", "spec.names.listKind", "spec.names.singular"}},
		{"kind equals listKind", func(c object.Object) { names(c)["listKind"] = "Widget" }, []string{"spec.names.listKind"}},
		{"bad short name", func(c object.Object) { names(c)["shortNames"] = []any{"W D"} }, []string{"spec.names.shortNames[0]"}},
		{"empty short name", func(c object.Object) { names(c)["shortNames"] = []any{""} }, []string{"spec.names.shortNames[0]"}},
		{"bad category", func(c object.Object) { names(c)["categories"] = []any{"all", "9"} }, []string{"spec.names.categories[1]"}},
		{"no versions", func(c object.Object) { spec(c)["versions"] = []any{} }, []string{"spec.versions"}},
		{"no storage version", func(c object.Object) { version(c)["storage"] = false }, []string{"spec.versions"}},
		{"two storage versions", func(c object.Object) {
			second := object.DeepCopy(version(c)).(map[string]any)
			second["name"] = "v2"
			spec(c)["versions"] = append(spec(c)["versions"].([]any), second)
		}, []string{"spec.versions"}},
		{"duplicate version", func(c object.Object) {
			second := object.DeepCopy(version(c)).(map[string]any)
			second["storage"] = false
			spec(c)["versions"] = append(spec(c)["versions"].([]any), second)
		}, []string{"spec.versions[1].name"}},
		{"bad version name", func(c object.Object) { version(c)["name"] = "V1" }, []string{"spec.versions[0].name"}},
		{"no schema", func(c object.Object) { delete(version(c), "schema") }, []string{"spec.versions[0].schema.openAPIV3Schema"}},
		{"non-structural schema", func(c object.Object) {
			version(c)["schema"] = map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
				"properties": map[string]any{"spec": map[string]any{"properties": map[string]any{}}}}}
		}, []string{"spec.versions[0].schema.openAPIV3Schema.properties[spec].type"}},
		{"forbidden keyword", func(c object.Object) {
			version(c)["schema"] = map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "$ref": "#/x"}}
		}, []string{"spec.versions[0].schema.openAPIV3Schema.$ref"}},
		{"webhook conversion without a webhook", func(c object.Object) { spec(c)["conversion"] = map[string]any{"strategy": "Webhook"} },
			[]string{"spec.conversion.conversionReviewVersions", "spec.conversion.webhookClientConfig"}},
		{"webhook conversion with a bad webhook", func(c object.Object) {
			spec(c)["conversion"] = map[string]any{"strategy": "Webhook", "webhook": map[string]any{"conversionReviewVersions": []any{"v2"},
				"clientConfig": map[string]any{"url": "http://example.com/convert?x=1"}}}
		}, []string{"spec.conversion.conversionReviewVersions", "spec.conversion.webhookClientConfig.url", "spec.conversion.webhookClientConfig.url"}},
		{"webhook conversion with a bad service", func(c object.Object) {
			spec(c)["conversion"] = map[string]any{"strategy": "Webhook", "webhook": map[string]any{"conversionReviewVersions": []any{"v1"},
				"clientConfig": map[string]any{"service": map[string]any{"name": "conv", "port": 70000, "path": "x"}}}}
		}, []string{"spec.conversion.webhookClientConfig.service.namespace", "spec.conversion.webhookClientConfig.service.path",
			"spec.conversion.webhookClientConfig.service.path", "spec.conversion.webhookClientConfig.service.port"}},
		{"webhook conversion with url and service", func(c object.Object) {
			spec(c)["conversion"] = map[string]any{"strategy": "Webhook", "webhook": map[string]any{"conversionReviewVersions": []any{"v1"},
				"clientConfig": map[string]any{"url": "https://example.com", "service": map[string]any{"name": "a", "namespace": "b"}}}}
		}, []string{"spec.conversion.webhookClientConfig"}},
		{"a webhook without strategy Webhook", func(c object.Object) {
			spec(c)["conversion"] = map[string]any{"strategy": "None", "webhook": map[string]any{"conversionReviewVersions": []any{"v1"}}}
		}, []string{"spec.conversion.conversionReviewVersions"}},
		{"unknown strategy", func(c object.Object) { spec(c)["conversion"] = map[string]any{"strategy": "Bogus"} }, []string{"spec.conversion.strategy"}},
		{"preserveUnknownFields", func(c object.Object) { spec(c)["preserveUnknownFields"] = true }, []string{"spec.preserveUnknownFields"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDecode(t, widgetCRD)
			tt.change(c)
			Default(c)
			causes, err := Validate(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fields(causes); !slices.Equal(got, tt.fields) {
				t.Errorf("causes %v, want fields %v", causes, tt.fields)
			}
			if !sort.SliceIsSorted(causes, func(i, j int) bool { return causes[i].Field < causes[j].Field }) {
				t.Errorf("causes not sorted by field: %v", causes)
			}
		})
	}
}

func TestValidateRefusesWhatIsNotACRD(t *testing.T) {
	c := mustDecode(t, widgetCRD)
	spec(c)["versions"] = "v1"
	_, err := Validate(c, nil)
	if apierrors.ReasonForError(err) != "BadRequest" {
		t.Errorf("versions as a string: %v", err)
	}
}

func TestUpdateKeepsScopeAndStoredVersions(t *testing.T) {
	old := mustDecode(t, widgetCRD)
	Default(old)
	old["status"] = map[string]any{"storedVersions": []any{"v1"}}
	updated := mustDecode(t, widgetCRD)
	Default(updated)
	spec(updated)["scope"] = "Cluster"
	spec(updated)["versions"].([]any)[0].(map[string]any)["name"] = "v2"
	updated["status"] = old["status"]
	causes, err := Validate(updated, old)
	if err != nil {
		t.Fatal(err)
	}
	if got := fields(causes); !slices.Equal(got, []string{"spec.scope", "status.storedVersions[0]"}) {
		t.Errorf("causes %v", causes)
	}
	// The same update on create: nothing to keep.
	if causes, _ := Validate(updated, nil); len(causes) != 0 {
		t.Errorf("on create: %v", causes)
	}
}
