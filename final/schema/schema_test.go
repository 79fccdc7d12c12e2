package schema

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// decode reads JSON the way the server does: json.Number for every number.
func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func mustParse(t testing.TB, schema string) *Props {
	t.Helper()
	s, causes := Parse(decode(t, schema), "schema")
	if len(causes) > 0 {
		t.Fatalf("Parse(%s): unexpected causes %v", schema, causes)
	}
	return s
}

func c(reason, field, message string) apierrors.Cause {
	return apierrors.Cause{Reason: reason, Message: message, Field: field}
}

func checkCauses(t *testing.T, got, want []apierrors.Cause) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		var b strings.Builder
		fmt.Fprintf(&b, "got %d causes:\n", len(got))
		for _, g := range got {
			fmt.Fprintf(&b, "\tc(%q, %q, %q),\n", g.Reason, g.Field, g.Message)
		}
		fmt.Fprintf(&b, "want %d:\n", len(want))
		for _, w := range want {
			fmt.Fprintf(&b, "\tc(%q, %q, %q),\n", w.Reason, w.Field, w.Message)
		}
		t.Error(b.String())
	}
}

const (
	invalidR      = "FieldValueInvalid"
	typeInvalidR  = "FieldValueTypeInvalid"
	requiredR     = "FieldValueRequired"
	forbiddenR    = "FieldValueForbidden"
	notSupportedR = "FieldValueNotSupported"
	tooLongR      = "FieldValueTooLong"
	tooManyR      = "FieldValueTooMany"
	duplicateR    = "FieldValueDuplicate"
)

// ---- Parse ----------------------------------------------------------------------------------

func TestParseSchemaReadsEveryKeyword(t *testing.T) {
	raw := decode(t, `{
		"type": "object", "title": "T", "description": "D", "example": {"a": 1},
		"externalDocs": {"url": "https://example.com"},
		"properties": {
			"n": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 1.5, "exclusiveMinimum": true,
			      "exclusiveMaximum": false, "multipleOf": 0.5, "enum": [1, 2], "default": 1, "nullable": true},
			"s": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^a", "format": "uuid"},
			"l": {"type": "array", "minItems": 0, "maxItems": 3, "uniqueItems": false, "items": {"type": "string"},
			      "x-kubernetes-list-type": "set"},
			"m": {"type": "object", "minProperties": 1, "maxProperties": 2, "additionalProperties": {"type": "string"},
			      "x-kubernetes-map-type": "granular"},
			"o": {"type": "object", "additionalProperties": false},
			"p": {"x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-embedded-resource": true},
			"i": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
			"k": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
			      "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}},
			"j": {"type": "object", "allOf": [{"required": ["a"]}], "oneOf": [{}], "not": {"required": ["b"]},
			      "x-kubernetes-validations": [{"rule": "self.a > 0"}]}
		}
	}`)
	s, causes := Parse(raw, "schema")
	checkCauses(t, causes, nil)

	n := s.Properties["n"]
	if n.Type != "integer" || n.Format != "int32" || n.Minimum != "1" || n.Maximum != "1.5" || !n.ExclusiveMinimum ||
		n.MultipleOf != "0.5" || !n.Nullable || !reflect.DeepEqual(n.Enum, []any{json.Number("1"), json.Number("2")}) {
		t.Errorf("number keywords: %+v", n)
	}
	if str := s.Properties["s"]; *str.MinLength != 1 || *str.MaxLength != 5 || str.pattern == nil || str.Format != "uuid" {
		t.Errorf("string keywords: %+v", str)
	}
	if l := s.Properties["l"]; *l.MaxItems != 3 || l.Items.Type != "string" || l.XListType != "set" {
		t.Errorf("array keywords: %+v", l)
	}
	if m := s.Properties["m"]; m.AdditionalProperties.Schema.Type != "string" || *m.MaxProperties != 2 || m.XMapType != "granular" {
		t.Errorf("map keywords: %+v", m)
	}
	if o := s.Properties["o"]; o.AdditionalProperties.Allows || o.AdditionalProperties.Schema != nil {
		t.Errorf("additionalProperties false: %+v", o.AdditionalProperties)
	}
	if p := s.Properties["p"]; !p.preserves() || !p.XEmbeddedResource {
		t.Errorf("extensions: %+v", p)
	}
	if j := s.Properties["j"]; len(j.AllOf) != 1 || len(j.OneOf) != 1 || j.Not.Required[0] != "b" || len(j.XValidations) != 1 {
		t.Errorf("junctors: %+v", j)
	}
	if k := s.Properties["k"]; k.XListMapKeys[0] != "id" || k.Items.Required[0] != "id" {
		t.Errorf("list map: %+v", k)
	}

	// Defaults and examples are deep copies: changing the CRD afterwards does not change the schema.
	raw.(map[string]any)["example"].(map[string]any)["a"] = "changed"
	if s.Example.(map[string]any)["a"] != json.Number("1") {
		t.Errorf("example was not copied: %v", s.Example)
	}
}

func TestParseSchemaCauses(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		want         []apierrors.Cause
	}{{
		name:   "keywords Kubernetes does not support in CRDs",
		schema: `{"type": "object", "$ref": "#/definitions/a", "$schema": "x", "id": "x", "definitions": {}, "patternProperties": {}, "dependencies": {}, "additionalItems": false}`,
		want: []apierrors.Cause{
			c(forbiddenR, "schema.$ref", "Forbidden: $ref is not supported"),
			c(forbiddenR, "schema.$schema", "Forbidden: $schema is not supported"),
			c(forbiddenR, "schema.additionalItems", "Forbidden: additionalItems is not supported"),
			c(forbiddenR, "schema.definitions", "Forbidden: definitions is not supported"),
			c(forbiddenR, "schema.dependencies", "Forbidden: dependencies is not supported"),
			c(forbiddenR, "schema.id", "Forbidden: id is not supported"),
			c(forbiddenR, "schema.patternProperties", "Forbidden: patternProperties is not supported"),
		},
	}, {
		name:   "unknown keywords, however deep",
		schema: `{"type": "object", "frobnicate": 1, "properties": {"spec": {"type": "object", "items": {"typo": "string"}}}}`,
		want: []apierrors.Cause{
			c(forbiddenR, "schema.frobnicate", "Forbidden: unknown field"),
			c(forbiddenR, "schema.properties[spec].items.typo", "Forbidden: unknown field"),
		},
	}, {
		name: "keywords of the wrong JSON type",
		schema: `{"type": 1, "nullable": "yes", "maxLength": "3", "minItems": 1.5, "minimum": "0", "required": "a",
		          "enum": {}, "additionalProperties": "x", "x-kubernetes-preserve-unknown-fields": "true",
		          "externalDocs": "x", "allOf": {}, "properties": {"a": "string", "b": {"required": [1]}}}`,
		want: []apierrors.Cause{
			c(typeInvalidR, "schema.additionalProperties", `Invalid value: "x": must be of type object`),
			c(typeInvalidR, "schema.allOf", `Invalid value: {}: must be of type array`),
			c(typeInvalidR, "schema.enum", `Invalid value: {}: must be of type array`),
			c(typeInvalidR, "schema.externalDocs", `Invalid value: "x": must be of type object`),
			c(typeInvalidR, "schema.maxLength", `Invalid value: "3": must be of type integer`),
			c(typeInvalidR, "schema.minItems", `Invalid value: 1.5: must be of type integer`),
			c(typeInvalidR, "schema.minimum", `Invalid value: "0": must be of type number`),
			c(typeInvalidR, "schema.nullable", `Invalid value: "yes": must be of type boolean`),
			c(typeInvalidR, "schema.properties[a]", `Invalid value: "string": must be of type object`),
			c(typeInvalidR, "schema.properties[b].required[0]", `Invalid value: 1: must be of type string`),
			c(typeInvalidR, "schema.required", `Invalid value: "a": must be of type array`),
			c(typeInvalidR, "schema.type", `Invalid value: 1: must be of type string`),
			c(typeInvalidR, "schema.x-kubernetes-preserve-unknown-fields", `Invalid value: "true": must be of type boolean`),
		},
	}, {
		name:   "items must be one schema, not a list (tuple validation)",
		schema: `{"type": "array", "items": [{"type": "string"}]}`,
		want:   []apierrors.Cause{c(forbiddenR, "schema.items", "Forbidden: items must be a schema object and not an array")},
	}, {
		name:   "a pattern that does not compile",
		schema: `{"type": "string", "pattern": "[a-"}`,
		want:   []apierrors.Cause{c(invalidR, "schema.pattern", "Invalid value: \"[a-\": must be a valid regular expression, but isn't: error parsing regexp: missing closing ]: `[a-`")},
	}, {
		name:   "not an object at all",
		schema: `["type", "object"]`,
		want:   []apierrors.Cause{c(typeInvalidR, "schema", `Invalid value: ["type","object"]: must be of type object`)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, causes := Parse(decode(t, tc.schema), "schema")
			checkCauses(t, causes, tc.want)
		})
	}
}

// ---- Structural -----------------------------------------------------------------------------

const crdPath = "spec.versions[0].schema.openAPIV3Schema"

func TestStructuralCauses(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		want         []apierrors.Cause
	}{{
		name: "a structural schema using every rule's escape hatch",
		schema: `{"type": "object", "properties": {
			"apiVersion": {"type": "string"}, "kind": {"type": "string"},
			"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}},
			"spec": {"type": "object", "required": ["replicas"],
				"properties": {
					"replicas": {"type": "integer", "minimum": 1, "default": 1},
					"ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "protocol"],
						"items": {"type": "object", "required": ["name"], "properties": {
							"name": {"type": "string"}, "protocol": {"type": "string", "default": "TCP"}}}},
					"labels": {"type": "object", "additionalProperties": {"type": "string"}},
					"loose": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": true},
					"size": {"x-kubernetes-int-or-string": true},
					"port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
					"quota": {"x-kubernetes-int-or-string": true,
						"allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]"}]},
					"raw": {"x-kubernetes-preserve-unknown-fields": true},
					"template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
					"choice": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
						"oneOf": [{"required": ["a"]}, {"required": ["b"], "properties": {"b": {"minLength": 1}}}]},
					"mode": {"type": "object", "default": {"on": true}, "properties": {"on": {"type": "boolean"}}}
				}
			}
		}}`,
	}, {
		name:   "type is required at the root and must be object",
		schema: `{"properties": {"spec": {"type": "object"}}}`,
		want:   []apierrors.Cause{c(requiredR, crdPath+".type", "Required value: must not be empty at the root")},
	}, {
		name:   "the root is an object",
		schema: `{"type": "string"}`,
		want:   []apierrors.Cause{c(invalidR, crdPath+".type", `Invalid value: "string": must be object at the root`)},
	}, {
		name: "every property, items and additionalProperties needs a type",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"a": {"description": "no type"},
			"b": {"type": "array", "items": {"description": "no type"}},
			"c": {"type": "object", "additionalProperties": {"maxLength": 3}}}}}}`,
		want: []apierrors.Cause{
			c(requiredR, crdPath+".properties[spec].properties[a].type", "Required value: must not be empty for specified object fields"),
			c(requiredR, crdPath+".properties[spec].properties[b].items.type", "Required value: must not be empty for specified array items"),
			c(requiredR, crdPath+".properties[spec].properties[c].additionalProperties.type", "Required value: must not be empty for specified object fields"),
		},
	}, {
		name:   "only the six OpenAPI types",
		schema: `{"type": "object", "properties": {"a": {"type": "float"}, "b": {"type": "null"}}}`,
		want: []apierrors.Cause{
			c(notSupportedR, crdPath+".properties[a].type", `Unsupported value: "float": supported values: "array", "boolean", "integer", "number", "object", "string"`),
			c(forbiddenR, crdPath+".properties[b].type", "Forbidden: type cannot be set to null, use nullable as an alternative"),
			c(notSupportedR, crdPath+".properties[b].type", `Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string"`),
		},
	}, {
		name:   "an array says what its items are",
		schema: `{"type": "object", "properties": {"a": {"type": "array"}}}`,
		want:   []apierrors.Cause{c(requiredR, crdPath+".properties[a].items", "Required value: must be specified")},
	}, {
		name: "properties and additionalProperties are exclusive, unless additionalProperties is true",
		schema: `{"type": "object", "properties": {
			"a": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "string"}},
			"b": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": false},
			"c": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": true}}}`,
		want: []apierrors.Cause{
			c(forbiddenR, crdPath+".properties[a].additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive"),
			c(forbiddenR, crdPath+".properties[b].additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive"),
		},
	}, {
		name:   "additionalProperties is not allowed at the root",
		schema: `{"type": "object", "additionalProperties": {"type": "string"}}`,
		want:   []apierrors.Cause{c(forbiddenR, crdPath+".additionalProperties", "Forbidden: must not be used at the root")},
	}, {
		name:   "nullable is not allowed at the root",
		schema: `{"type": "object", "nullable": true}`,
		want:   []apierrors.Cause{c(forbiddenR, crdPath+".nullable", "Forbidden: nullable cannot be true at the root")},
	}, {
		name:   "uniqueItems is refused: quadratic",
		schema: `{"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}`,
		want:   []apierrors.Cause{c(forbiddenR, crdPath+".properties[a].uniqueItems", "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")},
	}, {
		name: "preserve-unknown-fields is true or absent; int-or-string does not combine with it",
		schema: `{"type": "object", "properties": {
			"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": false},
			"b": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}}}`,
		want: []apierrors.Cause{
			c(invalidR, crdPath+".properties[a].x-kubernetes-preserve-unknown-fields", "Invalid value: false: must be true or undefined"),
			c(invalidR, crdPath+".properties[b].x-kubernetes-preserve-unknown-fields", "Invalid value: true: must be false if x-kubernetes-int-or-string is true"),
		},
	}, {
		name: "an embedded resource is an object with properties or preserve-unknown-fields",
		schema: `{"type": "object", "properties": {
			"a": {"x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
			"b": {"type": "object", "x-kubernetes-embedded-resource": true},
			"c": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"kind": {"type": "integer"}}}}}`,
		want: []apierrors.Cause{
			c(requiredR, crdPath+".properties[a].type", "Required value: must be object if x-kubernetes-embedded-resource is true"),
			c(requiredR, crdPath+".properties[b].properties", "Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"),
			c(invalidR, crdPath+".properties[c].properties[kind].type", `Invalid value: "integer": must be string`),
		},
	}, {
		name: "junctors add no structure: no type, description, default, nullable, additionalProperties...",
		schema: `{"type": "object", "properties": {"a": {"type": "object", "properties": {"x": {"type": "string"}},
			"anyOf": [{"properties": {"x": {"type": "string", "description": "d", "nullable": true, "default": "q"}}},
			          {"title": "t", "additionalProperties": {"type": "string"}, "x-kubernetes-preserve-unknown-fields": true}]}}}`,
		want: []apierrors.Cause{
			c(forbiddenR, crdPath+".properties[a].anyOf[0].properties[x].default", "Forbidden: must be undefined to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[0].properties[x].description", "Forbidden: must be empty to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[0].properties[x].nullable", "Forbidden: must be false to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[0].properties[x].type", "Forbidden: must be empty to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[1].additionalProperties", "Forbidden: must be undefined to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[1].title", "Forbidden: must be empty to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[1].x-kubernetes-preserve-unknown-fields", "Forbidden: must be false to be structural"),
		},
	}, {
		name: "the int-or-string pattern must be exactly integer then string",
		schema: `{"type": "object", "properties": {"a": {"x-kubernetes-int-or-string": true,
			"anyOf": [{"type": "string"}, {"type": "integer"}]}}}`,
		want: []apierrors.Cause{
			c(forbiddenR, crdPath+".properties[a].anyOf[0].type", "Forbidden: must be empty to be structural"),
			c(forbiddenR, crdPath+".properties[a].anyOf[1].type", "Forbidden: must be empty to be structural"),
		},
	}, {
		name: "a field or items checked in a junctor must be specified outside it, at any depth",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}},
				"oneOf": [{"properties": {"b": {"maxLength": 3}}}, {"not": {"items": {"minLength": 1}}}]}},
			"anyOf": [{"properties": {"spec": {"properties": {"c": {"minimum": 1}}}}}, {"properties": {"status": {}}}]}`,
		want: []apierrors.Cause{
			c(requiredR, crdPath+".properties[spec].items", "Required value: because it is defined in "+crdPath+".properties[spec].oneOf[1].not.items"),
			c(requiredR, crdPath+".properties[spec].properties[b]", "Required value: because it is defined in "+crdPath+".properties[spec].oneOf[0].properties[b]"),
			c(requiredR, crdPath+".properties[spec].properties[c]", "Required value: because it is defined in "+crdPath+".anyOf[0].properties[spec].properties[c]"),
			c(requiredR, crdPath+".properties[status]", "Required value: because it is defined in "+crdPath+".anyOf[1].properties[status]"),
		},
	}, {
		name: "metadata may only restrict name and generateName, and never in a junctor",
		schema: `{"type": "object", "properties": {
				"metadata": {"type": "object", "properties": {"name": {"type": "string"}, "labels": {"type": "object"}}},
				"spec": {"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}},
			"allOf": [{"properties": {"metadata": {"properties": {"name": {"maxLength": 3}}}}}]}`,
		want: []apierrors.Cause{
			c(forbiddenR, crdPath+".allOf[0].properties[metadata]", "Forbidden: must not be specified in a nested context"),
			c(forbiddenR, crdPath+".properties[metadata]", "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"),
		},
	}, {
		name: "no defaults in the root's apiVersion, kind or metadata",
		schema: `{"type": "object", "properties": {"apiVersion": {"type": "string", "default": "x/v1"},
			"metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "n"}}}}}`,
		want: []apierrors.Cause{
			c(forbiddenR, crdPath+".properties[apiVersion].default", "Forbidden: must not be set in top-level apiVersion"),
			c(forbiddenR, crdPath+".properties[metadata].properties[name].default", "Forbidden: must not be set in top-level metadata"),
		},
	}, {
		name: "list-type and map-type values, and the type they need",
		schema: `{"type": "object", "properties": {
			"a": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"},
			"b": {"type": "object", "x-kubernetes-list-type": "set"},
			"c": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-map-keys": ["k"]},
			"d": {"type": "string", "x-kubernetes-map-type": "loose"},
			"e": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object", "properties": {"k": {"type": "string"}}}}}}`,
		want: []apierrors.Cause{
			c(notSupportedR, crdPath+".properties[a].x-kubernetes-list-type", `Unsupported value: "bag": supported values: "atomic", "set", "map"`),
			c(invalidR, crdPath+".properties[b].type", `Invalid value: "object": must be array if x-kubernetes-list-type is specified`),
			c(requiredR, crdPath+".properties[c].x-kubernetes-list-type", "Required value: must be map if x-kubernetes-list-map-keys is non-empty"),
			c(invalidR, crdPath+".properties[d].type", `Invalid value: "string": must be object if x-kubernetes-map-type is specified`),
			c(notSupportedR, crdPath+".properties[d].x-kubernetes-map-type", `Unsupported value: "loose": supported values: "atomic", "granular"`),
			c(invalidR, crdPath+".properties[e].items.x-kubernetes-map-type", "Invalid value: null: must be atomic as item of a list with x-kubernetes-list-type=set"),
		},
	}, {
		name: "list-type map: keys are required-or-defaulted scalar fields of object items",
		schema: `{"type": "object", "properties": {
			"a": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "string"}},
			"b": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k", "o", "z", "k"],
				"items": {"type": "object", "properties": {"k": {"type": "string", "nullable": true}, "o": {"type": "object", "default": {}}}}}}}`,
		want: []apierrors.Cause{
			c(invalidR, crdPath+".properties[a].items.type", `Invalid value: "string": must be object if parent array's x-kubernetes-list-type is map`),
			c(requiredR, crdPath+".properties[a].x-kubernetes-list-map-keys", "Required value: must not be empty if x-kubernetes-list-type is map"),
			c(requiredR, crdPath+".properties[b].items.properties[k].default", "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"),
			c(forbiddenR, crdPath+".properties[b].items.properties[k].nullable", "Forbidden: this property is in x-kubernetes-list-map-keys, so it cannot be nullable"),
			c(invalidR, crdPath+".properties[b].items.properties[o].type", `Invalid value: "object": must be a scalar type if parent array's x-kubernetes-list-type is map`),
			c(invalidR, crdPath+".properties[b].x-kubernetes-list-map-keys", `Invalid value: ["k","o","z","k"]: entries must all be names of item properties`),
			c(invalidR, crdPath+".properties[b].x-kubernetes-list-map-keys", `Invalid value: ["k","o","z","k"]: must not contain duplicate entries`),
		},
	}, {
		name: "a default validates against its schema and has no unknown fields",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"a": {"type": "integer", "default": "x"},
			"b": {"type": "integer", "minimum": 3, "default": 1},
			"c": {"type": "string", "enum": ["a"], "default": "b"},
			"d": {"type": "object", "properties": {"x": {"type": "string", "maxLength": 1}}, "default": {"x": "long", "zz": 1}},
			"e": {"type": "array", "items": {"type": "string", "default": 7}}}}}}`,
		want: []apierrors.Cause{
			c(typeInvalidR, crdPath+".properties[spec].properties[a].default", `Invalid value: "string": `+crdPath+`.properties[spec].properties[a].default in body must be of type integer: "string"`),
			c(invalidR, crdPath+".properties[spec].properties[b].default", `Invalid value: 1: `+crdPath+`.properties[spec].properties[b].default in body should be greater than or equal to 3`),
			c(notSupportedR, crdPath+".properties[spec].properties[c].default", `Unsupported value: "b": supported values: "a"`),
			c(invalidR, crdPath+".properties[spec].properties[d].default", `Invalid value: {"x":"long","zz":1}: must not have unknown fields`),
			c(tooLongR, crdPath+".properties[spec].properties[d].default.x", "Too long: may not be more than 1 byte"),
			c(typeInvalidR, crdPath+".properties[spec].properties[e].items.default", `Invalid value: "integer": `+crdPath+`.properties[spec].properties[e].items.default in body must be of type string: "integer"`),
		},
	}, {
		name:   "defaults are not checked while the schema is otherwise broken",
		schema: `{"type": "object", "properties": {"a": {"type": "array", "default": "x"}}}`,
		want:   []apierrors.Cause{c(requiredR, crdPath+".properties[a].items", "Required value: must be specified")},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkCauses(t, Structural(mustParse(t, tc.schema), crdPath), tc.want)
		})
	}
}

// ---- Validate -------------------------------------------------------------------------------

const widgetSchema = `{"type": "object", "properties": {"spec": {"type": "object", "required": ["replicas"], "properties": {
	"replicas": {"type": "integer", "minimum": 1, "maximum": 10},
	"name": {"type": "string", "minLength": 2, "maxLength": 5},
	"one": {"type": "string", "maxLength": 1},
	"code": {"type": "string", "pattern": "^[0-9]+$"},
	"color": {"type": "string", "enum": ["red", "blue"]},
	"level": {"type": "integer", "enum": [1, 2]},
	"ratio": {"type": "number", "maximum": 1.5, "exclusiveMaximum": true, "multipleOf": 0.5},
	"weight": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
	"count": {"type": "integer", "multipleOf": 3},
	"flag": {"type": "boolean"},
	"note": {"type": "string", "nullable": true},
	"size": {"x-kubernetes-int-or-string": true},
	"ports": {"type": "array", "minItems": 1, "maxItems": 2, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
		"items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer", "format": "int32"}}}},
	"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
	"labels": {"type": "object", "minProperties": 1, "maxProperties": 2, "additionalProperties": {"type": "string", "maxLength": 3}},
	"empty": {"type": "object", "additionalProperties": false},
	"formats": {"type": "object", "properties": {
		"byte": {"type": "string", "format": "byte"}, "date": {"type": "string", "format": "date"},
		"dateTime": {"type": "string", "format": "date-time"}, "duration": {"type": "string", "format": "duration"},
		"uuid": {"type": "string", "format": "uuid"}, "email": {"type": "string", "format": "email"},
		"hostname": {"type": "string", "format": "hostname"}, "ipv4": {"type": "string", "format": "ipv4"},
		"ipv6": {"type": "string", "format": "ipv6"}, "cidr": {"type": "string", "format": "cidr"},
		"mac": {"type": "string", "format": "mac"}, "uri": {"type": "string", "format": "uri"},
		"other": {"type": "string", "format": "no-such-format"},
		"float": {"type": "number", "format": "float"}, "int64": {"type": "integer", "format": "int64"}}},
	"pick": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
	"any": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
	"all": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "allOf": [{"required": ["a"]}, {"required": ["b"]}]},
	"nope": {"type": "object", "properties": {"a": {"type": "string"}}, "not": {"required": ["a"]}},
	"template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
}}}}`

func TestValidate(t *testing.T) {
	s := mustParse(t, widgetSchema)
	for _, tc := range []struct {
		name, spec string
		want       []apierrors.Cause
	}{{
		name: "a valid object",
		spec: `{"replicas": 3, "name": "web", "code": "042", "color": "red", "level": 2, "ratio": 0.5, "weight": 2, "count": 6.0, "flag": true,
			"note": null, "size": "50%", "ports": [{"name": "http", "port": 80}, {"name": "https"}], "tags": ["a", "b"],
			"labels": {"team": "abc"}, "empty": {}, "pick": {"a": "x"}, "any": {"b": "y"}, "all": {"a": "x", "b": "y"}, "nope": {},
			"template": {"apiVersion": "v1", "kind": "Pod"}}`,
	}, {
		name: "every violation is reported, in field order",
		spec: `{"replicas": "3", "name": "toolong", "code": "12a", "color": "pink", "ratio": 1.5, "count": 4, "flag": "yes"}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.code", `Invalid value: "12a": spec.code in body should match '^[0-9]+$'`),
			c(notSupportedR, "spec.color", `Unsupported value: "pink": supported values: "red", "blue"`),
			c(invalidR, "spec.count", "Invalid value: 4: spec.count in body should be a multiple of 3"),
			c(typeInvalidR, "spec.flag", `Invalid value: "string": spec.flag in body must be of type boolean: "string"`),
			c(tooLongR, "spec.name", "Too long: may not be more than 5 bytes"),
			c(invalidR, "spec.ratio", "Invalid value: 1.5: spec.ratio in body should be less than 1.5"),
			c(typeInvalidR, "spec.replicas", `Invalid value: "string": spec.replicas in body must be of type integer: "string"`),
		},
	}, {
		name: "required",
		spec: `{}`,
		want: []apierrors.Cause{c(requiredR, "spec.replicas", "Required value")},
	}, {
		name: "integer means no fraction; number takes integers",
		spec: `{"replicas": 2.5, "weight": 1, "count": 1e1}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.count", "Invalid value: 1e1: spec.count in body should be a multiple of 3"),
			c(typeInvalidR, "spec.replicas", `Invalid value: "number": spec.replicas in body must be of type integer: "number"`),
		},
	}, {
		name: "minimum, maximum and their exclusive forms",
		spec: `{"replicas": 0, "weight": 0}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.replicas", "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
			c(invalidR, "spec.weight", "Invalid value: 0: spec.weight in body should be greater than 0"),
		},
	}, {
		name: "maximum and multipleOf on decimals",
		spec: `{"replicas": 11, "ratio": 0.7}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.ratio", "Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"),
			c(invalidR, "spec.replicas", "Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
		},
	}, {
		name: "length counts characters, not bytes",
		spec: `{"replicas": 1, "name": "ééééé", "one": "éé", "code": "٣"}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.code", `Invalid value: "٣": spec.code in body should match '^[0-9]+$'`),
			c(tooLongR, "spec.one", "Too long: may not be more than 1 byte"),
		},
	}, {
		name: "minLength and a non-string enum",
		spec: `{"replicas": 1, "name": "a", "level": 3}`,
		want: []apierrors.Cause{
			c(notSupportedR, "spec.level", `Unsupported value: 3: supported values: "1", "2"`),
			c(invalidR, "spec.name", `Invalid value: "a": spec.name in body should be at least 2 chars long`),
		},
	}, {
		name: "null only where nullable (prune has dropped a non-nullable null field before; not an item)",
		spec: `{"replicas": 1, "note": null, "flag": null, "tags": [null]}`,
		want: []apierrors.Cause{
			c(typeInvalidR, "spec.flag", `Invalid value: "null": spec.flag in body must be of type boolean: "null"`),
			c(typeInvalidR, "spec.tags[0]", `Invalid value: "null": spec.tags[0] in body must be of type string: "null"`),
		},
	}, {
		name: "int-or-string takes integers and strings only",
		spec: `{"replicas": 1, "size": 1.5}`,
		want: []apierrors.Cause{c(typeInvalidR, "spec.size", `Invalid value: "number": spec.size in body must be of type integer,string: "number"`)},
	}, {
		name: "items, minItems and format int32",
		spec: `{"replicas": 1, "ports": [], "tags": [1]}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.ports", "Invalid value: 0: spec.ports in body should have at least 1 items"),
			c(typeInvalidR, "spec.tags[0]", `Invalid value: "integer": spec.tags[0] in body must be of type string: "integer"`),
		},
	}, {
		name: "maxItems, a missing required item field, int32 range, list-type map and set duplicates",
		spec: `{"replicas": 1, "ports": [{"name": "a"}, {"port": 3000000000}, {"name": "a"}], "tags": ["x", "y", "x", "x"]}`,
		want: []apierrors.Cause{
			c(tooManyR, "spec.ports", "Too many: 3: must have at most 2 items"),
			c(invalidR, "spec.ports[1].port", "Invalid value: 3000000000: Checked value must be of type integer with format int32 in spec.ports[1].port"),
			c(requiredR, "spec.ports[1].name", "Required value"),
			c(duplicateR, "spec.ports[2]", `Duplicate value: {"name":"a"}`),
			c(duplicateR, "spec.tags[2]", `Duplicate value: "x"`),
		},
	}, {
		name: "minProperties, maxProperties and additionalProperties",
		spec: `{"replicas": 1, "labels": {"a": "long", "b": "y", "c": "z"}, "empty": {"x": 1}}`,
		want: []apierrors.Cause{
			c(invalidR, "spec.empty", `Invalid value: "x": spec.empty.x in body is a forbidden property`),
			c(tooManyR, "spec.labels", "Too many: 3: must have at most 2 items"),
			c(tooLongR, "spec.labels.a", "Too long: may not be more than 3 bytes"),
		},
	}, {
		name: "too few properties",
		spec: `{"replicas": 1, "labels": {}}`,
		want: []apierrors.Cause{c(invalidR, "spec.labels", "Invalid value: 0: spec.labels in body should have at least 1 properties")},
	}, {
		name: "formats",
		spec: `{"replicas": 1, "formats": {"byte": "!!", "date": "2020-13-01", "dateTime": "2020-01-01", "duration": "5 parsecs",
			"uuid": "abc", "email": "nope", "hostname": "-bad-", "ipv4": "1.2.3", "ipv6": "1.2.3.4", "cidr": "10.0.0.0",
			"mac": "zz", "uri": "::", "other": "anything", "float": 1e39, "int64": 9223372036854775807}}`,
		want: []apierrors.Cause{
			c(typeInvalidR, "spec.formats.byte", `Invalid value: "!!": spec.formats.byte in body must be of type byte: "!!"`),
			c(typeInvalidR, "spec.formats.cidr", `Invalid value: "10.0.0.0": spec.formats.cidr in body must be of type cidr: "10.0.0.0"`),
			c(typeInvalidR, "spec.formats.date", `Invalid value: "2020-13-01": spec.formats.date in body must be of type date: "2020-13-01"`),
			c(typeInvalidR, "spec.formats.dateTime", `Invalid value: "2020-01-01": spec.formats.dateTime in body must be of type date-time: "2020-01-01"`),
			c(typeInvalidR, "spec.formats.duration", `Invalid value: "5 parsecs": spec.formats.duration in body must be of type duration: "5 parsecs"`),
			c(typeInvalidR, "spec.formats.email", `Invalid value: "nope": spec.formats.email in body must be of type email: "nope"`),
			c(invalidR, "spec.formats.float", "Invalid value: 1e39: Checked value must be of type number with format float in spec.formats.float"),
			c(typeInvalidR, "spec.formats.hostname", `Invalid value: "-bad-": spec.formats.hostname in body must be of type hostname: "-bad-"`),
			c(typeInvalidR, "spec.formats.ipv4", `Invalid value: "1.2.3": spec.formats.ipv4 in body must be of type ipv4: "1.2.3"`),
			c(typeInvalidR, "spec.formats.ipv6", `Invalid value: "1.2.3.4": spec.formats.ipv6 in body must be of type ipv6: "1.2.3.4"`),
			c(typeInvalidR, "spec.formats.mac", `Invalid value: "zz": spec.formats.mac in body must be of type mac: "zz"`),
			c(typeInvalidR, "spec.formats.uri", `Invalid value: "::": spec.formats.uri in body must be of type uri: "::"`),
			c(typeInvalidR, "spec.formats.uuid", `Invalid value: "abc": spec.formats.uuid in body must be of type uuid: "abc"`),
		},
	}, {
		name: "valid formats",
		spec: `{"replicas": 1, "formats": {"byte": "aGk=", "date": "2020-12-01", "dateTime": "2020-01-01T10:00:00.5+02:00",
			"duration": "1h30m", "uuid": "123E4567-e89b-12d3-a456-426614174000", "email": "a@b.example", "hostname": "ok.example",
			"ipv4": "1.2.3.4", "ipv6": "::1", "cidr": "10.0.0.0/8", "mac": "01:23:45:67:89:ab", "uri": "https://x/y"}}`,
	}, {
		name: "junctors that fail: anyOf, oneOf with none, allOf with none, not",
		spec: `{"replicas": 1, "any": {}, "pick": {}, "all": {}, "nope": {"a": "x"}}`,
		want: []apierrors.Cause{
			c(requiredR, "spec.all.a", "Required value"),
			c(requiredR, "spec.all.b", "Required value"),
			c(invalidR, "spec.all", `Invalid value: "": "spec.all" must validate all the schemas (allOf). None validated`),
			c(invalidR, "spec.any", `Invalid value: "": "spec.any" must validate at least one schema (anyOf)`),
			c(requiredR, "spec.any.a", "Required value"),
			c(invalidR, "spec.nope", `Invalid value: "": "spec.nope" must not validate the schema (not)`),
			c(invalidR, "spec.pick", `Invalid value: "": "spec.pick" must validate one and only one schema (oneOf). Found none valid`),
			c(requiredR, "spec.pick.a", "Required value"),
		},
	}, {
		name: "oneOf with two matches, allOf with one",
		spec: `{"replicas": 1, "pick": {"a": "x", "b": "y"}, "all": {"b": "y"}}`,
		want: []apierrors.Cause{
			c(requiredR, "spec.all.a", "Required value"),
			c(invalidR, "spec.all", `Invalid value: "": "spec.all" must validate all the schemas (allOf)`),
			c(invalidR, "spec.pick", `Invalid value: "": "spec.pick" must validate one and only one schema (oneOf). Found 2 valid alternatives`),
		},
	}, {
		name: "an embedded resource names its apiVersion and kind",
		spec: `{"replicas": 1, "template": {"spec": {}}}`,
		want: []apierrors.Cause{
			c(requiredR, "spec.template.apiVersion", "Required value"),
			c(requiredR, "spec.template.kind", "Required value"),
		},
	}, {
		name: "a value of the wrong type gets one cause",
		spec: `{"replicas": 1, "labels": ["a"], "ports": {"name": "x"}}`,
		want: []apierrors.Cause{
			c(typeInvalidR, "spec.labels", `Invalid value: "array": spec.labels in body must be of type object: "array"`),
			c(typeInvalidR, "spec.ports", `Invalid value: "object": spec.ports in body must be of type array: "object"`),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, `{"apiVersion": "x/v1", "kind": "Widget", "spec": `+tc.spec+`}`)
			checkCauses(t, s.Validate(obj, ""), tc.want)
		})
	}
}

func TestValidateMore(t *testing.T) {
	t.Run("an object.Object is an object too", func(t *testing.T) {
		s := mustParse(t, `{"type": "object", "properties": {"spec": {"type": "object", "required": ["a"]}}}`)
		checkCauses(t, s.Validate(object.Object{"spec": object.Object{}}, ""), []apierrors.Cause{c(requiredR, "spec.a", "Required value")})
	})
	t.Run("list-type map compares key tuples, missing keys included", func(t *testing.T) {
		s := mustParse(t, `{"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a", "b"],
			"items": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "string"}}}}`)
		v := decode(t, `[{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "x", "b": 1, "c": "other"}, {"c": "1"}, {"c": "2"}]`)
		checkCauses(t, s.Validate(v, "list"), []apierrors.Cause{
			c(duplicateR, "list[2]", `Duplicate value: {"a":"x","b":1}`),
			c(duplicateR, "list[4]", "Duplicate value: {}"),
		})
	})
	t.Run("paths inside additionalProperties use the key", func(t *testing.T) {
		s := mustParse(t, `{"type": "object", "additionalProperties": {"type": "object", "required": ["v"]}}`)
		checkCauses(t, s.Validate(decode(t, `{"app.kubernetes.io/name": {}}`), "spec.labels"),
			[]apierrors.Cause{c(requiredR, "spec.labels.app.kubernetes.io/name.v", "Required value")})
	})
	t.Run("the nullable enum must list null", func(t *testing.T) {
		s := mustParse(t, `{"type": "string", "nullable": true, "enum": ["a"]}`)
		checkCauses(t, s.Validate(nil, "spec.x"), []apierrors.Cause{c(notSupportedR, "spec.x", `Unsupported value: null: supported values: "a"`)})
	})
}

// ---- Prune ----------------------------------------------------------------------------------

const pruneSchema = `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
	"replicas": {"type": "integer"},
	"template": {"type": "object", "properties": {"name": {"type": "string"}}},
	"ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
	"labels": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
	"anything": {"type": "object", "additionalProperties": true},
	"free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
		"properties": {"known": {"type": "object", "properties": {"k": {"type": "string"}}}}},
	"freeList": {"type": "array", "x-kubernetes-preserve-unknown-fields": true,
		"items": {"type": "object", "properties": {"k": {"type": "string"}}}},
	"raw": {"x-kubernetes-preserve-unknown-fields": true},
	"embedded": {"type": "object", "x-kubernetes-embedded-resource": true,
		"properties": {"spec": {"type": "object", "properties": {"z": {"type": "string"}}}}},
	"note": {"type": "string"},
	"maybe": {"type": "string", "nullable": true},
	"size": {"type": "integer", "default": 1}
}}}}`

func TestPrune(t *testing.T) {
	s := mustParse(t, pruneSchema)
	for _, tc := range []struct {
		name, in, out string
		root          bool
		pruned        []string
	}{{
		name:   "the root keeps apiVersion, kind and metadata, untouched",
		root:   true,
		in:     `{"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "n", "junk": 1}, "status": {"a": 1}, "spec": {"replicas": 1}}`,
		out:    `{"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "n", "junk": 1}, "spec": {"replicas": 1}}`,
		pruned: []string{"status"},
	}, {
		name:   "anywhere else they are fields like any other",
		in:     `{"apiVersion": "x/v1", "spec": {"kind": "K"}}`,
		out:    `{"spec": {}}`,
		pruned: []string{"apiVersion", "spec.kind"},
	}, {
		name:   "nested objects and array items",
		root:   true,
		in:     `{"spec": {"bogus": 1, "template": {"name": "a", "extra": {"deep": 1}}, "ports": [{"port": 1}, {"port": 2, "extra": true}]}}`,
		out:    `{"spec": {"template": {"name": "a"}, "ports": [{"port": 1}, {"port": 2}]}}`,
		pruned: []string{"spec.bogus", "spec.ports[1].extra", "spec.template.extra"},
	}, {
		name:   "additionalProperties prunes inside each value; true keeps keys but not what is below them",
		root:   true,
		in:     `{"spec": {"labels": {"a": {"v": "1", "w": 2}}, "anything": {"s": "t", "x": {"y": 1}, "l": [{"z": 1}]}}}`,
		out:    `{"spec": {"labels": {"a": {"v": "1"}}, "anything": {"s": "t", "x": {}, "l": [{}]}}}`,
		pruned: []string{"spec.anything.l[0].z", "spec.anything.x.y", "spec.labels.a.w"},
	}, {
		name:   "preserve-unknown-fields keeps unknown fields, but specified ones are pruned by their schema",
		root:   true,
		in:     `{"spec": {"free": {"u": {"v": 1}, "known": {"k": "a", "drop": 1}}, "freeList": [{"k": "a", "keep": 1}], "raw": {"a": {"b": [1]}}}}`,
		out:    `{"spec": {"free": {"u": {"v": 1}, "known": {"k": "a"}}, "freeList": [{"k": "a", "keep": 1}], "raw": {"a": {"b": [1]}}}}`,
		pruned: []string{"spec.free.known.drop"},
	}, {
		name:   "an embedded resource keeps its apiVersion, kind and metadata",
		root:   true,
		in:     `{"spec": {"embedded": {"apiVersion": "v1", "kind": "X", "metadata": {"junk": 1}, "spec": {"z": "q", "drop": 1}, "drop": 1}}}`,
		out:    `{"spec": {"embedded": {"apiVersion": "v1", "kind": "X", "metadata": {"junk": 1}, "spec": {"z": "q"}}}}`,
		pruned: []string{"spec.embedded.drop", "spec.embedded.spec.drop"},
	}, {
		name: "a null that is neither nullable nor defaulted goes, silently",
		root: true,
		in:   `{"spec": {"note": null, "maybe": null, "size": null, "ports": [null], "raw": {"n": null}}}`,
		out:  `{"spec": {"maybe": null, "size": null, "ports": [null], "raw": {"n": null}}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			v := decode(t, tc.in)
			pruned := s.Prune(v, "", tc.root)
			if want := decode(t, tc.out); !reflect.DeepEqual(v, want) {
				t.Errorf("pruned object:\n got %v\nwant %v", v, want)
			}
			if !reflect.DeepEqual(pruned, tc.pruned) {
				t.Errorf("pruned paths: got %q, want %q", pruned, tc.pruned)
			}
		})
	}
}

func TestPruneUnderAPath(t *testing.T) {
	s := mustParse(t, `{"type": "object", "properties": {"a": {"type": "string"}}}`)
	v := object.Object{"a": "x", "b": "y"}
	if got := s.Prune(v, "spec.template", false); !reflect.DeepEqual(got, []string{"spec.template.b"}) {
		t.Errorf("got %q", got)
	}
	if !reflect.DeepEqual(v, object.Object{"a": "x"}) {
		t.Errorf("got %v", v)
	}
}

// ---- ApplyDefaults --------------------------------------------------------------------------

const defaultSchema = `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
	"replicas": {"type": "integer", "default": 1},
	"template": {"type": "object", "default": {}, "properties": {
		"size": {"type": "integer", "default": 3},
		"inner": {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}}}},
	"strategy": {"type": "object", "properties": {"kind": {"type": "string", "default": "Rolling"}}},
	"ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}},
	"weights": {"type": "object", "additionalProperties": {"type": "object", "properties": {"w": {"type": "integer", "default": 5}}}},
	"mode": {"type": "string", "default": "auto"},
	"maybe": {"type": "string", "nullable": true, "default": "kept"},
	"names": {"type": "array", "items": {"type": "string", "default": "x"}},
	"counts": {"type": "object", "additionalProperties": {"type": "integer", "default": 0}}
}}}}`

func TestApplyDefaults(t *testing.T) {
	s := mustParse(t, defaultSchema)
	for _, tc := range []struct{ name, in, out string }{{
		name: "no spec, no defaults: missing parents are not created",
		in:   `{"kind": "W"}`,
		out:  `{"kind": "W"}`,
	}, {
		name: "missing fields of an existing object; a default object is itself defaulted inside",
		in:   `{"spec": {}}`,
		out:  `{"spec": {"replicas": 1, "template": {"size": 3}, "mode": "auto", "maybe": "kept"}}`,
	}, {
		name: "present values win; defaults reach nested objects, array items and additionalProperties values",
		in:   `{"spec": {"replicas": 5, "strategy": {}, "template": {"inner": {}}, "ports": [{}, {"protocol": "UDP"}], "weights": {"a": {}, "b": {"w": 7}}}}`,
		out: `{"spec": {"replicas": 5, "strategy": {"kind": "Rolling"}, "template": {"size": 3, "inner": {"x": "d"}},
			"ports": [{"protocol": "TCP"}, {"protocol": "UDP"}], "weights": {"a": {"w": 5}, "b": {"w": 7}},
			"mode": "auto", "maybe": "kept"}}`,
	}, {
		name: "a null takes the default unless nullable, in properties, items and additionalProperties",
		in:   `{"spec": {"mode": null, "maybe": null, "names": [null, "y"], "counts": {"a": null, "b": 2}}}`,
		out: `{"spec": {"replicas": 1, "template": {"size": 3}, "mode": "auto", "maybe": null,
			"names": ["x", "y"], "counts": {"a": 0, "b": 2}}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			v := decode(t, tc.in)
			s.ApplyDefaults(v)
			if want := decode(t, tc.out); !reflect.DeepEqual(v, want) {
				t.Errorf("\n got %v\nwant %v", v, want)
			}
		})
	}
}

func TestApplyDefaultsCopies(t *testing.T) {
	s := mustParse(t, `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
		"tags": {"type": "array", "items": {"type": "string"}, "default": ["a"]}}}}}`)
	first, second := decode(t, `{"spec": {}}`), decode(t, `{"spec": {}}`)
	s.ApplyDefaults(first)
	s.ApplyDefaults(second)
	first.(map[string]any)["spec"].(map[string]any)["tags"].([]any)[0] = "changed"
	if got := second.(map[string]any)["spec"].(map[string]any)["tags"].([]any)[0]; got != "a" {
		t.Errorf("objects share the default: %v", got)
	}
	if got := s.Properties["spec"].Properties["tags"].Default.([]any)[0]; got != "a" {
		t.Errorf("the schema's default changed: %v", got)
	}
	if got := decode(t, `{"n": 1}`).(map[string]any)["n"]; reflect.TypeOf(got) != reflect.TypeOf(json.Number("")) {
		t.Fatalf("decode must give json.Number, got %T", got)
	}
}

// TestPlainJSONNumbers covers a schema decoded without UseNumber, as a typed CRD struct
// does: float64 bounds still work, and the defaults inserted are still json.Number.
func TestPlainJSONNumbers(t *testing.T) {
	var raw any
	if err := json.Unmarshal([]byte(`{"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maxLength": 2, "default": 5},
		"l": {"type": "array", "items": {"type": "number"}, "default": [1.5]}}}`), &raw); err != nil {
		t.Fatal(err)
	}
	s, causes := Parse(raw, "schema")
	checkCauses(t, causes, nil)
	checkCauses(t, Structural(s, "schema"), nil)
	obj := map[string]any{}
	s.ApplyDefaults(obj)
	if want := decode(t, `{"n": 5, "l": [1.5]}`); !reflect.DeepEqual(obj, want) {
		t.Errorf("defaults: got %#v, want %#v", obj, want)
	}
	checkCauses(t, s.Validate(map[string]any{"n": 0.0}, ""), []apierrors.Cause{
		c(invalidR, "n", "Invalid value: 0: n in body should be greater than or equal to 1"),
	})
}

// ---- no panics ------------------------------------------------------------------------------

// TestOddInputsDoNotPanic throws random schemas built from real keywords, with values of every
// JSON type in every place, at all five functions.
func TestOddInputsDoNotPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for range 3000 {
		raw, value := randomSchema(r, 3), randomValue(r, 4)
		s, _ := Parse(raw, "s")
		Structural(s, "s")
		s.Validate(value, "")
		s.Prune(copyJSON(value), "", r.IntN(2) == 0)
		s.ApplyDefaults(copyJSON(value))
	}
}

var keywords = []string{"type", "format", "description", "properties", "additionalProperties", "items", "required",
	"enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
	"pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "nullable", "default", "allOf",
	"anyOf", "oneOf", "not", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
	"x-kubernetes-embedded-resource", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
	"$ref", "bogus"}

func randomSchema(r *rand.Rand, depth int) any {
	m := map[string]any{}
	for range r.IntN(6) {
		k := keywords[r.IntN(len(keywords))]
		switch {
		case depth > 0 && (k == "items" || k == "not" || k == "additionalProperties"):
			m[k] = randomSchema(r, depth-1)
		case depth > 0 && k == "properties":
			m[k] = map[string]any{"a": randomSchema(r, depth-1), "metadata": randomSchema(r, depth-1)}
		case depth > 0 && (k == "allOf" || k == "anyOf" || k == "oneOf"):
			m[k] = []any{randomSchema(r, depth-1), map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
		case k == "type":
			m[k] = []string{"object", "array", "string", "integer", "number", "boolean", "null", ""}[r.IntN(8)]
		case k == "x-kubernetes-list-type":
			m[k] = []string{"set", "map", "atomic", "x"}[r.IntN(4)]
		case k == "x-kubernetes-list-map-keys" || k == "required":
			m[k] = []any{"a", "metadata"}
		case k == "pattern":
			m[k] = []string{"^a", "[", ""}[r.IntN(3)]
		case k == "multipleOf" || k == "minimum" || k == "maximum":
			m[k] = json.Number([]string{"0", "-1", "0.1", "3", "1e400"}[r.IntN(5)])
		default:
			m[k] = randomValue(r, depth)
		}
	}
	return m
}

func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(9); {
	case depth > 0 && n == 0:
		return map[string]any{"a": randomValue(r, depth-1), "metadata": randomValue(r, depth-1), "b": nil}
	case depth > 0 && n == 1:
		return []any{randomValue(r, depth-1), randomValue(r, depth-1), nil}
	case n == 2:
		return json.Number([]string{"0", "-1", "1.5", "1e400", "9223372036854775808", "3"}[r.IntN(6)])
	case n == 3:
		return r.IntN(2) == 0
	case n == 4:
		return nil
	case n == 5:
		return object.Object{"kind": "x"}
	default:
		return []string{"", "a", "1", "é", "2020-01-01"}[r.IntN(5)]
	}
}

func FuzzSchema(f *testing.F) {
	f.Add(widgetSchema, `{"spec": {"replicas": "x", "ports": [{"name": "a"}, {"name": "a"}]}}`)
	f.Add(pruneSchema, `{"spec": {"free": {"known": null}, "embedded": {"metadata": 1}}}`)
	f.Add(defaultSchema, `{"spec": {"names": [null], "template": null}}`)
	f.Add(`{"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a"], "items": {"type": "object"}}`, `[1, null, {}]`)
	f.Fuzz(func(t *testing.T, schema, value string) {
		var raw, v any
		for _, in := range []struct {
			text string
			dst  *any
		}{{schema, &raw}, {value, &v}} {
			d := json.NewDecoder(strings.NewReader(in.text))
			d.UseNumber()
			if d.Decode(in.dst) != nil {
				return
			}
		}
		s, causes := Parse(raw, "s")
		causes = append(causes, Structural(s, "s")...)
		before := copyJSON(v)
		first := s.Validate(v, "")
		if !reflect.DeepEqual(v, before) {
			t.Fatalf("Validate changed the value: %v, then %v", before, v)
		}
		if again := s.Validate(v, ""); !reflect.DeepEqual(again, first) {
			t.Fatalf("Validate answers %v, then %v", first, again)
		}
		s.Prune(v, "", true)
		s.ApplyDefaults(v)
		// A schema a CRD may have keeps its defaults within itself:
		// pruning after defaulting finds nothing more to drop.
		if pruned := s.Prune(v, "", true); len(causes) == 0 && len(pruned) > 0 {
			t.Fatalf("pruning a pruned, defaulted value drops %v", pruned)
		}
	})
}
