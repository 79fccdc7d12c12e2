package pruning

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// decode reads JSON as the API server does: numbers stay json.Number.
func decode(t *testing.T, text string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad JSON in the test: %v\n%s", err, text)
	}
	return v
}

func parseSchema(t *testing.T, text string) *Schema {
	t.Helper()
	if text == "" || text == "null" {
		return nil
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	d.DisallowUnknownFields()
	var s Schema
	if err := d.Decode(&s); err != nil {
		t.Fatalf("bad schema in the test: %v\n%s", err, text)
	}
	return &s
}

// canon prints a value as JSON with sorted keys, to compare two values.
func canon(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "unprintable: " + err.Error()
	}
	return strings.TrimSpace(b.String())
}

func sameJSON(t *testing.T, got any, want string) bool {
	t.Helper()
	return canon(got) == canon(decode(t, want))
}

// A case: a schema, a value, and what the value must become.
type transformCase struct {
	name   string
	schema string // JSON; "" or "null" for no schema at all
	root   bool   // Prune only
	in     string
	want   string
	paths  []string // Prune and Coerce only
}

// The schemas of the cases share these parts.
const (
	ports = `{"type": "array", "items": {"type": "object", "properties": {
		"name": {"type": "string"}, "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}}`
	matrix = `{"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}}`
)

var pruneCases = []transformCase{
	{
		name:   "the root keeps apiVersion, kind and metadata; an unknown field goes",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"size": 3}, "extra": true}`,
		want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"size": 3}}`,
		paths:  []string{"extra"},
	},
	{
		name:   "the root's metadata is kept as it is, even where the schema specifies it",
		schema: `{"type": "object", "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string"}}}}}`,
		root:   true,
		in:     `{"metadata": {"name": "w", "annotations": {"x": "y"}}, "spec": {"size": 1}}`,
		want:   `{"metadata": {"name": "w", "annotations": {"x": "y"}}}`,
		paths:  []string{"spec"},
	},
	{
		name:   "not the root: apiVersion, kind and metadata are fields like any other",
		schema: `{"type": "object", "properties": {"size": {"type": "integer"}}}`,
		in:     `{"apiVersion": "v1", "kind": "Thing", "metadata": {}, "size": 1}`,
		want:   `{"size": 1}`,
		paths:  []string{"apiVersion", "kind", "metadata"},
	},
	{
		name:   "below the root they are fields too",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"kind": "Widget", "spec": {"kind": "Gadget", "size": 1}}`,
		want:   `{"kind": "Widget", "spec": {"size": 1}}`,
		paths:  []string{"spec.kind"},
	},
	{
		name:   "an unknown field goes whole: one path, whatever it holds",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"spec": {"size": 1, "template": {"a": {"b": 1}}, "list": [{"x": 1}, 2]}}`,
		want:   `{"spec": {"size": 1}}`,
		paths:  []string{"spec.list", "spec.template"},
	},
	{
		name:   "at every depth, in arrays, and in arrays of arrays",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"ports": ` + ports + `, "matrix": ` + matrix + `}}}}`,
		root:   true,
		in: `{"spec": {"ports": [{"name": "http", "port": 80}, {"name": "dns", "protocl": "UDP"}],
			"matrix": [[{"x": 1, "y": 2}], [{"x": 3}, {"z": 4}], []]}}`,
		want:  `{"spec": {"ports": [{"name": "http", "port": 80}, {"name": "dns"}], "matrix": [[{"x": 1}], [{"x": 3}, {}], []]}}`,
		paths: []string{"spec.matrix[0][0].y", "spec.matrix[1][1].z", "spec.ports[1].protocl"},
	},
	{
		name:   "an object schema without properties keeps no field",
		schema: `{"type": "object", "properties": {"spec": {"type": "object"}}}`,
		root:   true,
		in:     `{"spec": {"a": 1, "b": {"c": 2}}}`,
		want:   `{"spec": {}}`,
		paths:  []string{"spec.a", "spec.b"},
	},
	{
		name: "additionalProperties with a schema: every key stays, its value is pruned by that schema",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"selectors": {"type": "object", "additionalProperties": {"type": "object", "properties": {"app": {"type": "string"}}}}}}}}`,
		root:  true,
		in:    `{"spec": {"selectors": {"web": {"app": "nginx", "tier": "front"}, "db": {"app": "pg"}}}}`,
		want:  `{"spec": {"selectors": {"web": {"app": "nginx"}, "db": {"app": "pg"}}}}`,
		paths: []string{"spec.selectors.web.tier"},
	},
	{
		name: "additionalProperties: true keeps every key, but says nothing of what is inside",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"labels": {"type": "object", "additionalProperties": true}}}}}`,
		root:  true,
		in:    `{"spec": {"labels": {"a": "x", "b": {"c": 1, "d": [1]}, "n": [{"f": 2}, 3], "z": null}}}`,
		want:  `{"spec": {"labels": {"a": "x", "b": {}, "n": [{}, 3], "z": null}}}`,
		paths: []string{"spec.labels.b.c", "spec.labels.b.d", "spec.labels.n[0].f"},
	},
	{
		name: "additionalProperties: false keeps every key too: refusing them is validation's job",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"limits": {"type": "object", "additionalProperties": false}}}}}`,
		root:  true,
		in:    `{"spec": {"limits": {"x": 1, "y": {"z": 2}}}}`,
		want:  `{"spec": {"limits": {"x": 1, "y": {}}}}`,
		paths: []string{"spec.limits.y.z"},
	},
	{
		name: "properties beside additionalProperties: true",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "additionalProperties": true, "properties": {
			"name": {"type": "string"}, "inner": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}}`,
		root:  true,
		in:    `{"spec": {"name": "n", "inner": {"a": 1, "b": 2}, "other": "kept"}}`,
		want:  `{"spec": {"name": "n", "inner": {"a": 1}, "other": "kept"}}`,
		paths: []string{"spec.inner.b"},
	},
	{
		name: "x-kubernetes-preserve-unknown-fields keeps the unknown, and prunes what it specifies",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
				"limits": {"type": "object", "properties": {"cpu": {"type": "string"}}}}}}}}}`,
		root:  true,
		in:    `{"spec": {"config": {"anything": {"deep": [{"x": true}]}, "limits": {"cpu": "1", "memory": "2Gi"}}}}`,
		want:  `{"spec": {"config": {"anything": {"deep": [{"x": true}]}, "limits": {"cpu": "1"}}}}`,
		paths: []string{"spec.config.limits.memory"},
	},
	{
		name: "preserving an array keeps the unknown fields of its items",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"list": {"type": "array", "x-kubernetes-preserve-unknown-fields": true, "items": {"type": "object", "properties": {
				"name": {"type": "string"}, "meta": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}}}}}`,
		root:  true,
		in:    `{"spec": {"list": [{"name": "a", "free": 1, "meta": {"a": 1, "b": 2}}, {"other": {"x": 1}}]}}`,
		want:  `{"spec": {"list": [{"name": "a", "free": 1, "meta": {"a": 1}}, {"other": {"x": 1}}]}}`,
		paths: []string{"spec.list[0].meta.b"},
	},
	{
		name: "preserving, with an additionalProperties schema: that schema still prunes",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"groups": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				"additionalProperties": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}}}`,
		root:  true,
		in:    `{"spec": {"groups": {"k": {"a": 1, "b": 2}, "l": {"c": 3}}}}`,
		want:  `{"spec": {"groups": {"k": {"a": 1}, "l": {}}}}`,
		paths: []string{"spec.groups.k.b", "spec.groups.l.c"},
	},
	{
		name:   "a root that preserves unknown fields",
		schema: `{"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"kind": "Widget", "extra": {"a": 1}, "spec": {"size": 1, "bad": 2}}`,
		want:   `{"kind": "Widget", "extra": {"a": 1}, "spec": {"size": 1}}`,
		paths:  []string{"spec.bad"},
	},
	{
		name: "an embedded resource keeps its apiVersion, kind and metadata",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
				"metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
				"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}}}}`,
		root: true,
		in: `{"spec": {"template": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
			"spec": {"replicas": 2, "paused": true}, "status": {}}}}`,
		want:  `{"spec": {"template": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"replicas": 2}}}}`,
		paths: []string{"spec.template.spec.paused", "spec.template.status"},
	},
	{
		name: "an embedded resource that preserves unknown fields",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"raw": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true, "properties": {
				"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}}}}`,
		root:  true,
		in:    `{"spec": {"raw": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}, "spec": {"replicas": 1, "x": 2}}}}`,
		want:  `{"spec": {"raw": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}, "spec": {"replicas": 1}}}}`,
		paths: []string{"spec.raw.spec.x"},
	},
	{
		name:   "a value of the wrong type: an object where a string goes loses every field",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"owner": {"type": "string"}}}}}`,
		root:   true,
		in:     `{"spec": {"owner": {"name": "alex", "team": "a"}}}`,
		want:   `{"spec": {"owner": {}}}`,
		paths:  []string{"spec.owner.name", "spec.owner.team"},
	},
	{
		name:   "an array where an object goes: its items have no schema",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"spec": [{"size": 1}, "x"]}`,
		want:   `{"spec": [{}, "x"]}`,
		paths:  []string{"spec[0].size"},
	},
	{
		name:   "no schema at all: only what belongs to the API server stays",
		schema: "",
		root:   true,
		in:     `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}, "status": {}}`,
		want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}`,
		paths:  []string{"spec", "status"},
	},
	{
		name:   "a null is a value: a known field that holds one stays, an unknown one goes",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"owner": {"type": "string"}}}}}`,
		root:   true,
		in:     `{"spec": {"owner": null, "x": null}}`,
		want:   `{"spec": {"owner": null}}`,
		paths:  []string{"spec.x"},
	},
	{
		name:   "nothing to prune",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}`,
		root:   true,
		in:     `{"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}`,
		want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}`,
		paths:  nil,
	},
}

var dropNullsCases = []transformCase{
	{
		name: "a null the schema cannot hold and no default can replace goes",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"owner": {"type": "string"}, "note": {"type": "string", "nullable": true}, "size": {"type": "integer", "default": 1}}}}}`,
		in:   `{"spec": {"owner": null, "note": null, "size": null}}`,
		want: `{"spec": {"note": null, "size": null}}`,
	},
	{
		name:   "a null object goes the same way",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}, "status": {"type": "object"}}}`,
		in:     `{"spec": null, "status": null}`,
		want:   `{}`,
	},
	{
		name: "null map values: by the additionalProperties schema",
		schema: `{"type": "object", "properties": {
			"plain": {"type": "object", "additionalProperties": {"type": "string"}},
			"nullable": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}},
			"defaulted": {"type": "object", "additionalProperties": {"type": "string", "default": "x"}},
			"anything": {"type": "object", "additionalProperties": true}}}`,
		in:   `{"plain": {"a": null, "b": "y"}, "nullable": {"a": null}, "defaulted": {"a": null}, "anything": {"a": null}}`,
		want: `{"plain": {"b": "y"}, "nullable": {"a": null}, "defaulted": {"a": null}, "anything": {"a": null}}`,
	},
	{
		name: "array items are never dropped, null or not",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"names": {"type": "array", "items": {"type": "string"}}, "ports": ` + ports + `}}}}`,
		in:   `{"spec": {"names": ["a", null, "b"], "ports": [null, {"name": null, "port": 80, "protocol": null}]}}`,
		want: `{"spec": {"names": ["a", null, "b"], "ports": [null, {"port": 80, "protocol": null}]}}`,
	},
	{
		name: "unknown fields are not the schema's: their nulls stay",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
			"owner": {"type": "string"}}}}}`,
		in:   `{"metadata": null, "spec": {"owner": null, "free": null, "deep": {"x": null}}}`,
		want: `{"metadata": null, "spec": {"free": null, "deep": {"x": null}}}`,
	},
}

var defaultCases = []transformCase{
	{
		name: "a missing field gets its default; a present one keeps its value",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"size": {"type": "integer", "default": 1}, "color": {"type": "string", "default": "blue"}}}}}`,
		in:   `{"spec": {"color": "red"}}`,
		want: `{"spec": {"size": 1, "color": "red"}}`,
	},
	{
		name: "a null takes the default unless the field is nullable",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"size": {"type": "integer", "default": 1}, "note": {"type": "string", "nullable": true, "default": "none"}}}}}`,
		in:   `{"spec": {"size": null, "note": null}}`,
		want: `{"spec": {"size": 1, "note": null}}`,
	},
	{
		name: "a missing parent is not made up to hold a default",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"size": {"type": "integer", "default": 1}}}}}`,
		in:   `{"kind": "Widget"}`,
		want: `{"kind": "Widget"}`,
	},
	{
		name: "a parent whose default is {} is made, then filled in",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
			"size": {"type": "integer", "default": 1},
			"policy": {"type": "object", "default": {"mode": "auto"}, "properties": {
				"mode": {"type": "string"}, "retries": {"type": "integer", "default": 3}}}}}}}`,
		in:   `{}`,
		want: `{"spec": {"size": 1, "policy": {"mode": "auto", "retries": 3}}}`,
	},
	{
		name:   "every item of an array; a null item takes the items' default",
		schema: `{"type": "object", "properties": {"ports": ` + ports + `, "names": {"type": "array", "items": {"type": "string", "default": "unnamed"}}, "ids": {"type": "array", "items": {"type": "integer"}}}}`,
		in:     `{"ports": [{"name": "http"}, {"name": "dns", "protocol": "UDP"}], "names": ["a", null], "ids": [1, null]}`,
		want:   `{"ports": [{"name": "http", "protocol": "TCP"}, {"name": "dns", "protocol": "UDP"}], "names": ["a", "unnamed"], "ids": [1, null]}`,
	},
	{
		name: "every value of a map: its fields' defaults, and a null value takes the values' default",
		schema: `{"type": "object", "properties": {"backends": {"type": "object", "additionalProperties": {
			"type": "object", "default": {"weight": 1}, "properties": {"weight": {"type": "integer", "default": 10}, "host": {"type": "string"}}}}}}`,
		in:   `{"backends": {"a": {"host": "a.example"}, "b": null, "c": {"weight": 5}}}`,
		want: `{"backends": {"a": {"host": "a.example", "weight": 10}, "b": {"weight": 1}, "c": {"weight": 5}}}`,
	},
	{
		name: "inside preserved unknown fields, what the schema knows is defaulted",
		schema: `{"type": "object", "properties": {"config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
			"level": {"type": "string", "default": "info"}}}}}`,
		in:   `{"config": {"free": {"level": null}}}`,
		want: `{"config": {"free": {"level": null}, "level": "info"}}`,
	},
	{
		name:   "no schema, no defaults",
		schema: "",
		in:     `{"spec": {"size": null}}`,
		want:   `{"spec": {"size": null}}`,
	},
}

// The widget of chapter 08, with a few more fields.
const widget = `{"type": "object", "properties": {
	"spec": {"type": "object", "properties": {
		"size": {"type": "integer", "default": 1},
		"color": {"type": "string", "default": "blue"},
		"owner": {"type": "string"},
		"note": {"type": "string", "nullable": true},
		"ports": ` + ports + `,
		"limits": {"type": "object", "additionalProperties": {"type": "string", "default": "1"}},
		"tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
	"status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}`

var coerceCases = []transformCase{
	{
		name:   "what a widget goes through on its way in",
		schema: widget,
		in: `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
			"spec": {"size": null, "colour": "red", "owner": null, "note": null, "ports": [{"name": "http", "port": 80, "protocl": "TCP"}]}}`,
		want: `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
			"spec": {"size": 1, "color": "blue", "note": null, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}`,
		paths: []string{"spec.colour", "spec.ports[0].protocl"},
	},
	{
		name:   "a null map value with a default survives the nulls, to be defaulted",
		schema: widget,
		in:     `{"spec": {"size": 2, "color": "red", "limits": {"cpu": null, "memory": "2Gi"}, "tags": {"team": null, "tier": "web"}}}`,
		want:   `{"spec": {"size": 2, "color": "red", "limits": {"cpu": "1", "memory": "2Gi"}, "tags": {"tier": "web"}}}`,
	},
	{
		name:   "an unknown field is pruned before anything else looks at it",
		schema: widget,
		in:     `{"spec": {"size": 2, "color": "red", "extra": {"size": null, "owner": null}}, "status": {"phase": "Ready", "conditions": [{"type": "Ready"}]}}`,
		want:   `{"spec": {"size": 2, "color": "red"}, "status": {"phase": "Ready"}}`,
		paths:  []string{"spec.extra", "status.conditions"},
	},
	{
		name:   "an object that has been through it once: nothing changes",
		schema: widget,
		in:     `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "color": "blue", "note": null, "ports": [{"name": "a", "protocol": "TCP"}]}}`,
		want:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "color": "blue", "note": null, "ports": [{"name": "a", "protocol": "TCP"}]}}`,
	},
}

type defaultsCase struct {
	name   string
	schema string
	want   []string
}

var unprunedDefaultsCases = []defaultsCase{
	{
		name:   "the widget's defaults are all pruned already",
		schema: widget,
	},
	{
		name: "a default with a field its schema does not know",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"policy": {"type": "object", "default": {"mode": "auto", "legacy": true}, "properties": {"mode": {"type": "string"}}}}}}}`,
		want: []string{"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[policy].default"},
	},
	{
		name: "everywhere a schema can hold a default: a property, items, additionalProperties",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "default": {"size": 1, "x": 2}, "properties": {
			"size": {"type": "integer"},
			"ports": {"type": "array", "items": {"type": "object", "default": {"name": "a", "nmae": "b"}, "properties": {"name": {"type": "string"}}}},
			"limits": {"type": "object", "additionalProperties": {"type": "object", "default": {"cpu": "1", "gpu": 1}, "properties": {"cpu": {"type": "string"}}}}}}}}`,
		want: []string{
			"spec.versions[0].schema.openAPIV3Schema.properties[spec].default",
			"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[limits].additionalProperties.default",
			"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[ports].items.default",
		},
	},
	{
		name: "a default under x-kubernetes-preserve-unknown-fields may hold anything",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "default": {"any": {"thing": true}}}}}}}`,
	},
	{
		name: "the default of an embedded resource keeps its apiVersion, kind and metadata",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"template": {"type": "object", "x-kubernetes-embedded-resource": true,
				"default": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}},
				"properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}`,
	},
	{
		name: "elsewhere, apiVersion and kind in a default are unknown fields",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"ref": {"type": "object", "default": {"kind": "ConfigMap", "name": "c"}, "properties": {"name": {"type": "string"}}}}}}}`,
		want: []string{"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[ref].default"},
	},
	{
		name: "a map's default under additionalProperties: true: its values say nothing of what is inside",
		schema: `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
			"flat": {"type": "object", "additionalProperties": true, "default": {"a": "x"}},
			"deep": {"type": "object", "additionalProperties": true, "default": {"a": {"b": 1}}}}}}}`,
		want: []string{"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[deep].default"},
	},
}

func TestUnprunedDefaults(t *testing.T) {
	for _, tt := range unprunedDefaultsCases {
		t.Run(tt.name, func(t *testing.T) {
			s := parseSchema(t, tt.schema)
			before := canon(s)
			got := UnprunedDefaults(s, "spec.versions[0].schema.openAPIV3Schema")
			if !slices.Equal(got, tt.want) {
				t.Errorf("UnprunedDefaults = %q\nwant %q", got, tt.want)
			}
			if after := canon(s); after != before {
				t.Errorf("UnprunedDefaults changed the schema: pruning a default must prune a copy\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// Why Kubernetes refuses such a default, and why the order of Coerce's
// steps matters: pruning comes first, so a field the API server adds itself
// is never reported as the client's. With a default that pruning would
// change, the object is not stable: the second pass prunes what the first
// one added.
func TestCoerceOrder(t *testing.T) {
	s := parseSchema(t, `{"type": "object", "properties": {"spec": {"type": "object", "properties": {
		"policy": {"type": "object", "default": {"mode": "auto", "legacy": true}, "properties": {"mode": {"type": "string"}}}}}}}`)
	obj := decode(t, `{"spec": {}}`).(map[string]any)
	if paths := Coerce(s, obj); len(paths) != 0 {
		t.Errorf("the first Coerce reported %q: the client sent no unknown field; the default came after pruning", paths)
	}
	if want := `{"spec": {"policy": {"mode": "auto", "legacy": true}}}`; !sameJSON(t, obj, want) {
		t.Errorf("after the first Coerce: %s, want %s: the default, whole", canon(obj), want)
	}
	if paths := Coerce(s, obj); !slices.Equal(paths, []string{"spec.policy.legacy"}) {
		t.Errorf("the second Coerce reported %q, want [spec.policy.legacy]", paths)
	}
	if want := `{"spec": {"policy": {"mode": "auto"}}}`; !sameJSON(t, obj, want) {
		t.Errorf("after the second Coerce: %s, want %s", canon(obj), want)
	}
}

func TestPrune(t *testing.T) {
	for _, tt := range pruneCases {
		t.Run(tt.name, func(t *testing.T) {
			s, v := parseSchema(t, tt.schema), decode(t, tt.in)
			paths := Prune(s, v, tt.root)
			if !sameJSON(t, v, tt.want) {
				t.Errorf("Prune(root=%v) left\n  %s\nwant\n  %s", tt.root, canon(v), canon(decode(t, tt.want)))
			}
			if !slices.Equal(paths, tt.paths) {
				t.Errorf("Prune(root=%v) returned the paths %q, want %q (sorted)", tt.root, paths, tt.paths)
			}
		})
	}
}

func TestDropNulls(t *testing.T) {
	for _, tt := range dropNullsCases {
		t.Run(tt.name, func(t *testing.T) {
			s, v := parseSchema(t, tt.schema), decode(t, tt.in)
			DropNulls(s, v)
			if !sameJSON(t, v, tt.want) {
				t.Errorf("DropNulls left\n  %s\nwant\n  %s", canon(v), canon(decode(t, tt.want)))
			}
		})
	}
}

func TestDefault(t *testing.T) {
	for _, tt := range defaultCases {
		t.Run(tt.name, func(t *testing.T) {
			s, v := parseSchema(t, tt.schema), decode(t, tt.in)
			Default(s, v)
			if !sameJSON(t, v, tt.want) {
				t.Errorf("Default left\n  %s\nwant\n  %s", canon(v), canon(decode(t, tt.want)))
			}
		})
	}
}

func TestCoerce(t *testing.T) {
	for _, tt := range coerceCases {
		t.Run(tt.name, func(t *testing.T) {
			s := parseSchema(t, tt.schema)
			obj := decode(t, tt.in).(map[string]any)
			paths := Coerce(s, obj)
			if !sameJSON(t, obj, tt.want) {
				t.Errorf("Coerce left\n  %s\nwant\n  %s", canon(obj), canon(decode(t, tt.want)))
			}
			if !slices.Equal(paths, tt.paths) {
				t.Errorf("Coerce returned the paths %q, want %q", paths, tt.paths)
			}
			// On every read from storage it happens again: it must change
			// nothing the second time.
			again := Coerce(s, obj)
			if !sameJSON(t, obj, tt.want) || len(again) != 0 {
				t.Errorf("Coerce a second time: %s, paths %q; want it unchanged, no paths", canon(obj), again)
			}
		})
	}
}

// A default is copied into every object: changing what one object got
// changes neither the schema nor the next object.
func TestDefaultsAreCopies(t *testing.T) {
	s := parseSchema(t, `{"type": "object", "properties": {
		"policy": {"type": "object", "default": {"mode": "auto", "steps": [{"n": 1}]}},
		"backends": {"type": "object", "additionalProperties": {"type": "object", "default": {"hosts": ["a"]}}},
		"rules": {"type": "array", "items": {"type": "object", "default": {"allow": ["*"]}}}}}`)
	first := decode(t, `{"backends": {"x": null}, "rules": [null]}`).(map[string]any)
	Default(s, first)
	first["policy"].(map[string]any)["mode"] = "manual"
	first["policy"].(map[string]any)["steps"].([]any)[0].(map[string]any)["n"] = 99
	first["backends"].(map[string]any)["x"].(map[string]any)["hosts"].([]any)[0] = "changed"
	first["rules"].([]any)[0].(map[string]any)["allow"].([]any)[0] = "changed"

	second := decode(t, `{"backends": {"x": null}, "rules": [null]}`).(map[string]any)
	Default(s, second)
	want := `{"policy": {"mode": "auto", "steps": [{"n": 1}]}, "backends": {"x": {"hosts": ["a"]}}, "rules": [{"allow": ["*"]}]}`
	if !sameJSON(t, second, want) {
		t.Errorf("the second object got\n  %s\nwant\n  %s\n(changing the first object's defaults changed the schema's)", canon(second), canon(decode(t, want)))
	}
}
