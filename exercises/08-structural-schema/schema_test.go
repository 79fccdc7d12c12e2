package structuralschema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// decode reads JSON the way chapter 08 reads a request body: numbers stay
// json.Number, so that 3 and 3.5 are told apart.
func decode(t *testing.T, text string, into any) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		t.Fatalf("the test's own JSON does not decode: %v\n%s", err, text)
	}
}

func schemaOf(t *testing.T, text string) *Schema {
	t.Helper()
	var s Schema
	decode(t, text, &s)
	return &s
}

func valueOf(t *testing.T, text string) any {
	t.Helper()
	var v any
	decode(t, text, &v)
	return v
}

func show(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(buf.String())
}

// widget is chapter 08's Widget schema, with a few more fields to check.
const widget = `{
  "type": "object",
  "properties": {
    "spec": {
      "type": "object",
      "required": ["size"],
      "properties": {
        "size":   {"type": "integer", "minimum": 1, "maximum": 100},
        "color":  {"type": "string", "enum": ["red", "green", "blue"], "default": "blue"},
        "owner":  {"type": "string", "maxLength": 8, "pattern": "^[a-z]+$"},
        "title":  {"type": "string", "maxLength": 5},
        "ratio":  {"type": "number", "minimum": 0.5},
        "copies": {"type": "integer", "enum": [1, 3, 5]},
        "paused": {"type": "boolean"},
        "note":   {"type": "string", "nullable": true},
        "tags":   {"type": "array", "items": {"type": "string"}},
        "ports": {
          "type": "array",
          "items": {
            "type": "object",
            "required": ["port"],
            "properties": {
              "name": {"type": "string"},
              "port": {"type": "integer", "minimum": 1, "maximum": 65535},
              "protocol": {"type": "string", "default": "TCP"}
            }
          }
        },
        "config": {
          "type": "object",
          "x-kubernetes-preserve-unknown-fields": true,
          "properties": {"team": {"type": "object", "properties": {"name": {"type": "string"}}}}
        }
      }
    },
    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
  }
}`

func TestStructural(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		path   string
		want   []string
	}{
		{"chapter 08's widget is structural", widget, "", nil},
		{"the root needs a type", `{"properties": {"spec": {"type": "object"}}}`, "",
			[]string{"type: Required value: must not be empty at the root"}},
		{"the root is an object", `{"type": "string"}`, "",
			[]string{`type: Invalid value: "string": must be object at the root`}},
		{"every property needs a type", `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"minimum": 1}}}}}`, "",
			[]string{"properties[spec].properties[size].type: Required value: must not be empty for specified object fields"}},
		{"array items need a type", `{"type": "object", "properties": {"tags": {"type": "array", "items": {"maxLength": 3}}}}`, "",
			[]string{"properties[tags].items.type: Required value: must not be empty for specified array items"}},
		{"an array needs items", `{"type": "object", "properties": {"tags": {"type": "array"}}}`, "",
			[]string{"properties[tags].items: Required value: must be specified"}},
		{"items of items", `{"type": "object", "properties": {"grid": {"type": "array", "items": {"type": "array", "items": {}}}}}`, "",
			[]string{"properties[grid].items.items.type: Required value: must not be empty for specified array items"}},
		{"x-kubernetes-preserve-unknown-fields needs no type", `{"type": "object", "properties": {"config": {"x-kubernetes-preserve-unknown-fields": true}}}`, "", nil},
		{"x-kubernetes-preserve-unknown-fields at the root", `{"x-kubernetes-preserve-unknown-fields": true}`, "", nil},
		{"anyOf may add checks", `{"type": "object", "properties": {"size": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}}}`, "", nil},
		{"a type inside anyOf", `{"type": "object", "properties": {"size": {"type": "integer", "anyOf": [{"type": "integer", "minimum": 10}, {"maximum": 0}]}}}`, "",
			[]string{"properties[size].anyOf[0].type: Forbidden: must be empty to be structural"}},
		{"inside anyOf, nothing may say what the data is, at any depth",
			`{"type": "object", "properties": {"spec": {"type": "object",
			   "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "string"}}},
			   "anyOf": [
			     {"properties": {"a": {"type": "string", "nullable": true}}},
			     {"required": ["a"], "default": {}, "x-kubernetes-preserve-unknown-fields": true},
			     {"properties": {"b": {"items": {"type": "string", "maxLength": 2}}}},
			     {"anyOf": [{"type": "object"}]}]}}}`, "",
			[]string{
				"properties[spec].anyOf[0].properties[a].nullable: Forbidden: must be false to be structural",
				"properties[spec].anyOf[0].properties[a].type: Forbidden: must be empty to be structural",
				"properties[spec].anyOf[1].default: Forbidden: must be undefined to be structural",
				"properties[spec].anyOf[1].x-kubernetes-preserve-unknown-fields: Forbidden: must be false to be structural",
				"properties[spec].anyOf[2].properties[b].items.type: Forbidden: must be empty to be structural",
				"properties[spec].anyOf[3].anyOf[0].type: Forbidden: must be empty to be structural",
			}},
		{"nullable and a default are fine outside anyOf", `{"type": "object", "properties": {"note": {"type": "string", "nullable": true, "default": "none"}}}`, "", nil},
		{"a pattern must compile", `{"type": "object", "properties": {"name": {"type": "string", "pattern": "([a-z]+"}}}`, "",
			[]string{"properties[name].pattern: Invalid value: \"([a-z]+\": must be a valid regular expression, but isn't: error parsing regexp: missing closing ): `([a-z]+`"}},
		{"every reason, sorted, under the CRD's path",
			`{"properties": {"spec": {"type": "object", "properties": {"tags": {"type": "array"}, "size": {}}}, "status": {"anyOf": [{"type": "object"}]}}}`,
			"spec.versions[0].schema.openAPIV3Schema",
			[]string{
				"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields",
				"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].items: Required value: must be specified",
				"spec.versions[0].schema.openAPIV3Schema.properties[status].anyOf[0].type: Forbidden: must be empty to be structural",
				"spec.versions[0].schema.openAPIV3Schema.properties[status].type: Required value: must not be empty for specified object fields",
				"spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Structural(schemaOf(t, tt.schema), tt.path)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Structural(%q) =\n  %s\nwant\n  %s", tt.path, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		object string
		want   []Cause
	}{
		{"a valid widget", `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
		   "spec": {"size": 3, "color": "red", "owner": "alice", "title": "hi", "ratio": 0.75, "copies": 3, "paused": false,
		            "tags": ["a", "b"], "ports": [{"name": "http", "port": 80}], "config": {"anything": [1, "two"]}},
		   "status": {"ready": true}}`, nil},
		{"no spec at all: nothing requires it", `{"metadata": {"name": "w"}}`, nil},
		{"a string where an integer goes", `{"spec": {"size": "three"}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "string": spec.size in body must be of type integer: "string"`, "spec.size"}}},
		{"below the minimum", `{"spec": {"size": 0}}`, []Cause{
			{FieldValueInvalid, "Invalid value: 0: spec.size in body should be greater than or equal to 1", "spec.size"}}},
		{"above the maximum", `{"spec": {"size": 101}}`, []Cause{
			{FieldValueInvalid, "Invalid value: 101: spec.size in body should be less than or equal to 100", "spec.size"}}},
		{"a fraction is not an integer", `{"spec": {"size": 2.5}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "number": spec.size in body must be of type integer: "number"`, "spec.size"}}},
		{"a number without a fraction is an integer, however it is written", `{"spec": {"size": 3.0, "copies": 1e0}}`, nil},
		{"an integer is a number", `{"spec": {"size": 1, "ratio": 2}}`, nil},
		{"a fraction below the minimum", `{"spec": {"size": 1, "ratio": 0.25}}`, []Cause{
			{FieldValueInvalid, "Invalid value: 0.25: spec.ratio in body should be greater than or equal to 0.5", "spec.ratio"}}},
		{"a required field is missing", `{"spec": {"color": "red"}}`, []Cause{
			{FieldValueRequired, "Required value", "spec.size"}}},
		{"null is present, and not an integer", `{"spec": {"size": null}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "null": spec.size in body must be of type integer: "null"`, "spec.size"}}},
		{"null where nullable", `{"spec": {"size": 1, "note": null}}`, nil},
		{"not in the enum", `{"spec": {"size": 1, "color": "pink"}}`, []Cause{
			{FieldValueNotSupported, `Unsupported value: "pink": supported values: "red", "green", "blue"`, "spec.color"}}},
		{"an enum of numbers compares numbers", `{"spec": {"size": 1, "copies": 2}}`, []Cause{
			{FieldValueNotSupported, `Unsupported value: 2: supported values: "1", "3", "5"`, "spec.copies"}}},
		{"the enum matches 3.0 to 3", `{"spec": {"size": 1, "copies": 3.0}}`, nil},
		{"a wrong type, and the enum still applies", `{"spec": {"size": 1, "color": 7}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "integer": spec.color in body must be of type string: "integer"`, "spec.color"},
			{FieldValueNotSupported, `Unsupported value: 7: supported values: "red", "green", "blue"`, "spec.color"}}},
		{"a wrong type: no bounds of the schema's type", `{"spec": {"size": "0", "owner": 12345678901}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "integer": spec.owner in body must be of type string: "integer"`, "spec.owner"},
			{FieldValueTypeInvalid, `Invalid value: "string": spec.size in body must be of type integer: "string"`, "spec.size"}}},
		{"null and an enum", `{"spec": {"size": 1, "color": null}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "null": spec.color in body must be of type string: "null"`, "spec.color"},
			{FieldValueNotSupported, `Unsupported value: null: supported values: "red", "green", "blue"`, "spec.color"}}},
		{"not matching the pattern", `{"spec": {"size": 1, "owner": "Alex"}}`, []Cause{
			{FieldValueInvalid, `Invalid value: "Alex": spec.owner in body should match '^[a-z]+$'`, "spec.owner"}}},
		{"too long, and not matching the pattern: a string gets one cause", `{"spec": {"size": 1, "owner": "Alexander"}}`, []Cause{
			{FieldValueTooLong, "Too long: may not be more than 8 bytes", "spec.owner"}}},
		{"the pattern is not anchored unless it says so", `{"spec": {"size": 1, "owner": "bob"}}`, nil},
		{"maxLength counts characters, not bytes", `{"spec": {"size": 1, "title": "héllo"}}`, nil},
		{"one character too many", `{"spec": {"size": 1, "title": "héllos"}}`, []Cause{
			{FieldValueTooLong, "Too long: may not be more than 5 bytes", "spec.title"}}},
		{"a boolean is not a string", `{"spec": {"size": 1, "paused": "yes"}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "string": spec.paused in body must be of type boolean: "string"`, "spec.paused"}}},
		{"an object where an array goes", `{"spec": {"size": 1, "ports": {"http": 80}}}`, []Cause{
			{FieldValueTypeInvalid, `Invalid value: "object": spec.ports in body must be of type array: "object"`, "spec.ports"}}},
		{"array items, by index", `{"spec": {"size": 1, "tags": ["a", 2], "ports": [{"name": "http", "port": 80}, {"name": "https"}, {"port": 70000}]}}`, []Cause{
			{FieldValueRequired, "Required value", "spec.ports[1].port"},
			{FieldValueInvalid, "Invalid value: 70000: spec.ports[2].port in body should be less than or equal to 65535", "spec.ports[2].port"},
			{FieldValueTypeInvalid, `Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"`, "spec.tags[1]"}}},
		{"fields the schema does not know are not validated", `{"spec": {"size": 1, "extra": {"size": "x"}, "config": {"team": {"name": "a", "lead": 5}, "n": null}}}`, nil},
		{"every violation, in order: required first, then the fields by name",
			`{"status": {"ready": "no"}, "spec": {"title": "toolong", "ratio": "x", "color": "pink", "ports": [{"port": 0}], "config": {"team": {"name": 1}}}}`,
			[]Cause{
				{FieldValueRequired, "Required value", "spec.size"},
				{FieldValueNotSupported, `Unsupported value: "pink": supported values: "red", "green", "blue"`, "spec.color"},
				{FieldValueTypeInvalid, `Invalid value: "integer": spec.config.team.name in body must be of type string: "integer"`, "spec.config.team.name"},
				{FieldValueInvalid, "Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1", "spec.ports[0].port"},
				{FieldValueTypeInvalid, `Invalid value: "string": spec.ratio in body must be of type number: "string"`, "spec.ratio"},
				{FieldValueTooLong, "Too long: may not be more than 5 bytes", "spec.title"},
				{FieldValueTypeInvalid, `Invalid value: "string": status.ready in body must be of type boolean: "string"`, "status.ready"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(schemaOf(t, widget), valueOf(t, tt.object), "")
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate(widget, %s) =\n  %s\nwant\n  %s", tt.object, causes(got), causes(tt.want))
			}
		})
	}
}

func causes(cs []Cause) string {
	var lines []string
	for _, c := range cs {
		lines = append(lines, c.Field+" "+c.Reason+" "+c.Message)
	}
	if len(lines) == 0 {
		return "(none)"
	}
	return strings.Join(lines, "\n  ")
}

// A schema below the root validates with the path it is at.
func TestValidateAtAPath(t *testing.T) {
	spec := schemaOf(t, widget).Properties["spec"]
	got := Validate(spec, valueOf(t, `{"size": 0, "ports": [{"port": "80"}]}`), "spec")
	want := []Cause{
		{FieldValueTypeInvalid, `Invalid value: "string": spec.ports[0].port in body must be of type integer: "string"`, "spec.ports[0].port"},
		{FieldValueInvalid, "Invalid value: 0: spec.size in body should be greater than or equal to 1", "spec.size"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate(spec schema, ..., \"spec\") =\n  %s\nwant\n  %s", causes(got), causes(want))
	}
	// A required field of the root is named without a leading dot.
	root := schemaOf(t, `{"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}`)
	got = Validate(root, valueOf(t, `{"kind": "Widget"}`), "")
	want = []Cause{{FieldValueRequired, "Required value", "spec"}}
	if !slices.Equal(got, want) {
		t.Errorf("a missing spec: Validate =\n  %s\nwant\n  %s", causes(got), causes(want))
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name   string
		schema string // widget if empty
		object string
		root   bool
		want   string // the object after pruning
		pruned []string
	}{
		{name: "nothing unknown", root: true,
			object: `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "ports": [{"port": 80}]}}`,
			want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "ports": [{"port": 80}]}}`},
		{name: "apiVersion, kind and metadata are kept at the root, as they are", root: true,
			object: `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "whatever": 1}, "extra": true, "spec": {"size": 1}}`,
			want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "whatever": 1}, "spec": {"size": 1}}`,
			pruned: []string{"extra"}},
		{name: "below the root they are fields like any other",
			schema: `{"type": "object", "properties": {"size": {"type": "integer"}}}`,
			object: `{"kind": "Widget", "metadata": {}, "size": 1}`,
			want:   `{"size": 1}`,
			pruned: []string{"kind", "metadata"}},
		{name: "unknown fields at every depth, sorted", root: true,
			object: `{"kind": "Widget", "zzz": 1, "spec": {"size": 1, "sizes": [1], "ports": [{"port": 80}, {"port": 443, "protocl": "TCP", "name": "https"}]}, "status": {"ready": true, "phase": "Up"}}`,
			want:   `{"kind": "Widget", "spec": {"size": 1, "ports": [{"port": 80}, {"port": 443, "name": "https"}]}, "status": {"ready": true}}`,
			pruned: []string{"spec.ports[1].protocl", "spec.sizes", "status.phase", "zzz"}},
		{name: "an unknown object goes whole, not field by field", root: true,
			object: `{"spec": {"size": 1, "extra": {"a": {"b": 1}, "c": 2}}}`,
			want:   `{"spec": {"size": 1}}`,
			pruned: []string{"spec.extra"}},
		{name: "x-kubernetes-preserve-unknown-fields keeps unknown fields there, and prunes the known ones' own", root: true,
			object: `{"spec": {"size": 1, "config": {"anything": {"deep": [1, {"x": 2}]}, "team": {"name": "a", "lead": "b"}}}}`,
			want:   `{"spec": {"size": 1, "config": {"anything": {"deep": [1, {"x": 2}]}, "team": {"name": "a"}}}}`,
			pruned: []string{"spec.config.team.lead"}},
		{name: "an object without properties keeps none",
			schema: `{"type": "object", "properties": {"status": {"type": "object"}}}`, root: true,
			object: `{"status": {"ready": true, "phase": "Up"}}`,
			want:   `{"status": {}}`,
			pruned: []string{"status.phase", "status.ready"}},
		{name: "a schema that keeps everything",
			schema: `{"type": "object", "x-kubernetes-preserve-unknown-fields": true}`, root: true,
			object: `{"kind": "Widget", "spec": {"anything": 1}, "more": [1]}`,
			want:   `{"kind": "Widget", "spec": {"anything": 1}, "more": [1]}`},
		{name: "items of items",
			schema: `{"type": "object", "properties": {"grid": {"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"v": {"type": "integer"}}}}}}}`,
			object: `{"grid": [[{"v": 1}], [{"v": 2, "w": 3}, {"w": 4}]]}`,
			want:   `{"grid": [[{"v": 1}], [{"v": 2}, {}]]}`,
			pruned: []string{"grid[1][0].w", "grid[1][1].w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := tt.schema
			if schema == "" {
				schema = widget
			}
			obj := valueOf(t, tt.object)
			pruned := Prune(schemaOf(t, schema), obj, tt.root)
			if !slices.Equal(pruned, tt.pruned) {
				t.Errorf("Prune returned %q, want %q", pruned, tt.pruned)
			}
			if want := valueOf(t, tt.want); !reflect.DeepEqual(obj, want) {
				t.Errorf("after Prune the object is\n  %s\nwant\n  %s", show(obj), show(want))
			}
		})
	}
}

func TestDefault(t *testing.T) {
	tests := []struct {
		name   string
		schema string // widget if empty
		object string
		want   string
	}{
		{name: "a missing field gets its default",
			object: `{"spec": {"size": 1}}`,
			want:   `{"spec": {"size": 1, "color": "blue"}}`},
		{name: "a field that is there keeps its value",
			object: `{"spec": {"size": 1, "color": "red"}}`,
			want:   `{"spec": {"size": 1, "color": "red"}}`},
		{name: "no parent, no default: spec is not made up",
			object: `{"metadata": {"name": "w"}}`,
			want:   `{"metadata": {"name": "w"}}`},
		{name: "every item of an array",
			object: `{"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}, {"port": 443}]}}`,
			want:   `{"spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}, {"port": 443, "protocol": "TCP"}], "color": "blue"}}`},
		{name: "a parent's default, then the defaults inside it",
			schema: `{"type": "object", "properties": {"spec": {"type": "object", "default": {},
			           "properties": {"size": {"type": "integer", "default": 1}, "color": {"type": "string", "default": "blue"}}}}}`,
			object: `{"kind": "Widget"}`,
			want:   `{"kind": "Widget", "spec": {"size": 1, "color": "blue"}}`},
		{name: "null where null is not allowed is defaulted; where it is allowed, it stays",
			schema: `{"type": "object", "properties": {
			           "color": {"type": "string", "default": "blue"},
			           "note": {"type": "string", "nullable": true, "default": "none"},
			           "size": {"type": "integer"}}}`,
			object: `{"color": null, "note": null, "size": null}`,
			want:   `{"color": "blue", "note": null, "size": null}`},
		{name: "null items get the items' default",
			schema: `{"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string", "default": "none"}}}}`,
			object: `{"tags": ["a", null, "b"]}`,
			want:   `{"tags": ["a", "none", "b"]}`},
		{name: "unknown fields are left alone",
			object: `{"spec": {"extra": {"color": null}}}`,
			want:   `{"spec": {"extra": {"color": null}, "color": "blue"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := tt.schema
			if schema == "" {
				schema = widget
			}
			obj := valueOf(t, tt.object)
			Default(schemaOf(t, schema), obj)
			if want := valueOf(t, tt.want); !reflect.DeepEqual(obj, want) {
				t.Errorf("after Default the object is\n  %s\nwant\n  %s", show(obj), show(want))
			}
		})
	}
}

// A default is copied into every object, never shared: not with the schema,
// not between objects.
func TestDefaultCopies(t *testing.T) {
	s := schemaOf(t, `{"type": "object", "properties": {"spec": {"type": "object",
	    "properties": {"selector": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "default": {"app": "web", "tiers": ["front"]}}}}}}`)
	first, second := valueOf(t, `{"spec": {}}`), valueOf(t, `{"spec": {}}`)
	Default(s, first)
	Default(s, second)
	sel := first.(map[string]any)["spec"].(map[string]any)["selector"].(map[string]any)
	sel["app"] = "changed"
	sel["tiers"].([]any)[0] = "changed"
	want := valueOf(t, `{"spec": {"selector": {"app": "web", "tiers": ["front"]}}}`)
	if !reflect.DeepEqual(second, want) {
		t.Errorf("changing the first object's default changed the second object: %s", show(second))
	}
	if d := s.Properties["spec"].Properties["selector"].Default; !reflect.DeepEqual(d, valueOf(t, `{"app": "web", "tiers": ["front"]}`)) {
		t.Errorf("changing an object's default changed the schema's default: %s", show(d))
	}
}

// What chapter 08 does to a widget it is sent: prune, default, validate.
func TestPruneDefaultValidate(t *testing.T) {
	s := schemaOf(t, widget)
	obj := valueOf(t, `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
	  "spec": {"size": 0, "colour": "red", "ports": [{"port": 80, "proto": "TCP"}]}}`)
	if got, want := Prune(s, obj, true), []string{"spec.colour", "spec.ports[0].proto"}; !slices.Equal(got, want) {
		t.Errorf("Prune returned %q, want %q", got, want)
	}
	Default(s, obj)
	want := valueOf(t, `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
	  "spec": {"size": 0, "color": "blue", "ports": [{"port": 80, "protocol": "TCP"}]}}`)
	if !reflect.DeepEqual(obj, want) {
		t.Errorf("after Prune and Default the widget is\n  %s\nwant\n  %s", show(obj), show(want))
	}
	got := Validate(s, obj, "")
	wantCauses := []Cause{{FieldValueInvalid, "Invalid value: 0: spec.size in body should be greater than or equal to 1", "spec.size"}}
	if !slices.Equal(got, wantCauses) {
		t.Errorf("Validate =\n  %s\nwant\n  %s", causes(got), causes(wantCauses))
	}
}
