package crd

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// docsWidgetCRD is the CRD of docs/08: v1 (stored) has a schema with a
// default, v1beta1 keeps whatever it is sent.
const docsWidgetCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
	"metadata":{"name":"widgets.example.com"},
	"spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget","shortNames":["wd"]},
	"versions":[
		{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},"schema":{"openAPIV3Schema":{"type":"object",
			"properties":{"spec":{"type":"object","required":["size"],"properties":{
				"size":{"type":"integer","minimum":1,"maximum":100},
				"color":{"type":"string","enum":["red","green","blue"],"default":"blue"},
				"owner":{"type":"string","maxLength":63,"pattern":"^[a-z]+$"}}},
			"status":{"type":"object","properties":{"ready":{"type":"boolean"}}}}}}},
		{"name":"v1beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}`

// servedWidgets returns the CustomResource of each served version of the docs' CRD.
func servedWidgets(t *testing.T) (v1, v1beta1 *customResource) {
	t.Helper()
	c := newController(t)
	c.create(t, docsWidgetCRD, 0)
	for _, version := range []string{"v1", "v1beta1"} {
		if c.Registry.LookupVersion("example.com", version, "widgets") == nil {
			t.Fatalf("%s is not served", version)
		}
	}
	return c.Registry.LookupVersion("example.com", "v1", "widgets").Custom.(*customResource),
		c.Registry.LookupVersion("example.com", "v1beta1", "widgets").Custom.(*customResource)
}

func TestPresentDefaultsAndPrunesACopy(t *testing.T) {
	v1, v1beta1 := servedWidgets(t)
	stored := mustDecode(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"a","namespace":"default","uid":"u"},
		"spec":{"size":3,"shape":"round"},"extra":1}`)
	before := object.DeepCopy(map[string]any(stored))

	got := present(t, v1, stored)
	if got["apiVersion"] != "example.com/v1" || at(got, "spec", "color") != "blue" || at(got, "spec", "shape") != nil || got["extra"] != nil ||
		at(got, "metadata", "uid") != "u" || fmt.Sprint(at(got, "spec", "size")) != "3" {
		t.Errorf("v1 reads %v", got)
	}
	beta := present(t, v1beta1, stored)
	if beta["apiVersion"] != "example.com/v1beta1" || at(beta, "spec", "shape") != "round" || at(beta, "spec", "color") != nil {
		t.Errorf("v1beta1 reads %v", beta)
	}
	if !reflect.DeepEqual(map[string]any(stored), before) {
		t.Errorf("Present changed the stored object: %v", stored)
	}
	// Present's copy is the client's own: changing it changes nothing stored.
	got["spec"].(map[string]any)["size"] = 99
	if fmt.Sprint(at(stored, "spec", "size")) != "3" {
		t.Errorf("the copy shares the stored spec")
	}
}

func TestToStoragePrunesWithTheStorageSchema(t *testing.T) {
	_, v1beta1 := servedWidgets(t)
	obj := mustDecode(t, `{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"b"},"spec":{"size":6,"shape":"round"},"top":1}`)
	v1beta1.PruneAndDefault(obj) // v1beta1 keeps everything
	if at(obj, "spec", "shape") != "round" || obj["top"] == nil {
		t.Fatalf("v1beta1 pruned: %v", obj)
	}
	obj, err := v1beta1.ToStorage(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	if obj["apiVersion"] != "example.com/v1" || at(obj, "spec", "shape") != nil || obj["top"] != nil || fmt.Sprint(at(obj, "spec", "size")) != "6" {
		t.Errorf("stored as %v", obj)
	}
	// Stored objects are not defaulted: defaults are filled in on the way
	// in (in the request's version) and on every read.
	if at(obj, "spec", "color") != nil {
		t.Errorf("ToStorage defaulted: %v", obj)
	}
}

func TestUnknownFieldsChangesNothing(t *testing.T) {
	v1, v1beta1 := servedWidgets(t)
	obj := mustDecode(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"c","labels":{"a":"b"}},
		"spec":{"size":1,"bogus":true},"status":{"ready":true,"why":"x"},"top":1}`)
	before := object.DeepCopy(map[string]any(obj))
	if got := v1.UnknownFields(obj); !slices.Equal(got, []string{"spec.bogus", "status.why", "top"}) {
		t.Errorf("unknown fields %v", got)
	}
	if got := v1beta1.UnknownFields(obj); len(got) != 0 {
		t.Errorf("v1beta1 knows everything, not %v", got)
	}
	if !reflect.DeepEqual(map[string]any(obj), before) {
		t.Errorf("UnknownFields changed the object: %v", obj)
	}
	v1.PruneAndDefault(obj)
	if at(obj, "spec", "bogus") != nil || obj["top"] != nil || at(obj, "status", "why") != nil || at(obj, "spec", "color") != "blue" ||
		at(obj, "metadata", "labels", "a") != "b" {
		t.Errorf("pruned and defaulted: %v", obj)
	}
}

func TestValidateAgainstTheSchema(t *testing.T) {
	v1, _ := servedWidgets(t)
	bad := mustDecode(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"d"},"spec":{"size":101,"color":"pink","owner":"Not-Lower"}}`)
	if got := fields(v1.Validate(bad)); !slices.Equal(got, []string{"spec.color", "spec.owner", "spec.size"}) {
		t.Errorf("causes name %v", got)
	}
	if got := fields(v1.Validate(mustDecode(t, `{"metadata":{"name":"e"},"spec":{}}`))); !slices.Equal(got, []string{"spec.size"}) {
		t.Errorf("no size: %v", got)
	}
	if causes := v1.Validate(mustDecode(t, `{"metadata":{"name":"f"},"spec":{"size":1,"color":"red"}}`)); len(causes) != 0 {
		t.Errorf("a valid widget: %v", causes)
	}
}

func TestOpenAPISchemaIsACopy(t *testing.T) {
	v1, v1beta1 := servedWidgets(t)
	schema := v1.OpenAPISchema()
	if at(schema, "properties", "spec", "properties", "color", "default") != "blue" {
		t.Fatalf("schema %v", schema)
	}
	schema["properties"].(map[string]any)["apiVersion"] = map[string]any{"type": "string"} // as /openapi/v3 adds
	if at(v1.OpenAPISchema(), "properties", "apiVersion") != nil {
		t.Error("a change to the published schema reached the served one")
	}
	if at(v1beta1.OpenAPISchema(), "x-kubernetes-preserve-unknown-fields") != true {
		t.Errorf("v1beta1 schema %v", v1beta1.OpenAPISchema())
	}
}

// A schema change shows at once: objects stored before are read with the
// new defaults.
func TestReadsFollowTheSchema(t *testing.T) {
	ctx := context.Background()
	c := newController(t)
	c.create(t, docsWidgetCRD, 0)
	widgets := c.Registry.Lookup("example.com", "widgets")
	if _, err := c.Store.Create(ctx, widgets, mustDecode(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"g","namespace":"default"},"spec":{"size":2}}`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Store.Update(ctx, c.CRDs, "", "widgets.example.com", func(cur object.Object) (object.Object, error) {
		color := at(cur, "spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties", "color").(map[string]any)
		color["default"] = "green"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.AfterWrite(ctx, c.CRDs, apiserver.Updated, nil)
	stored, err := c.Store.Get(ctx, widgets, "default", "g")
	if err != nil {
		t.Fatal(err)
	}
	res := c.Registry.Lookup("example.com", "widgets")
	if got := present(t, res.Custom.(*customResource), stored); at(got, "spec", "color") != "green" {
		t.Errorf("read after the schema changed: %v", got)
	}
}

func TestPrinterColumns(t *testing.T) {
	c := &customResource{columns: []printerColumn{{Name: "Size", Type: "integer", JSONPath: ".spec.size"}, {Name: "Ready", Type: "boolean", JSONPath: ".status.ready", Priority: 1}}}
	obj := object.Object{"metadata": map[string]any{"name": "w"}, "spec": map[string]any{"size": 3}}
	columns := c.PrinterColumns()
	if len(columns) != 3 || columns[1].Name != "Size" || columns[2].Priority != 1 {
		t.Fatalf("columns %+v", columns)
	}
	if got := []any{columns[0].Cell(obj), columns[1].Cell(obj), columns[2].Cell(obj)}; got[0] != "w" || got[1] != 3 || got[2] != nil {
		t.Errorf("cells %v", got)
	}
	if plain := (&customResource{}).PrinterColumns(); len(plain) != 2 || plain[1].Name != "Age" {
		t.Errorf("without printer columns: %+v", plain)
	}
}

// present is what a client of c's version reads of a stored object.
func present(t *testing.T, c *customResource, stored object.Object) object.Object {
	t.Helper()
	out, err := c.FromStorage(context.Background(), []object.Object{stored})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}
