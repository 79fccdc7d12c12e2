// Exercise 08: pruning, and what comes after it.
//
// Every custom object that reaches the API server, and every one it reads
// back from storage, goes through three steps against its CRD's structural
// schema, in this order: the fields the schema does not specify are pruned
// (and reported as warnings), the nulls the schema cannot hold are dropped,
// and the defaults are filled in.
//
// Edit this file. The tests in pruning_test.go are the specification;
// README.md explains the rules.
package pruning

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Schema is the part of a structural schema (apiextensions.k8s.io/v1
// JSONSchemaProps) that pruning and defaulting read. The JSON names are a
// CRD's, so a schema reads as it is written under openAPIV3Schema.
type Schema struct {
	Type                 string             `json:"type,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	AdditionalProperties *SchemaOrBool      `json:"additionalProperties,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Nullable             bool               `json:"nullable,omitempty"`
	// Default is the default value, decoded JSON; nil is no default
	// (`default: null` is none either).
	Default               any  `json:"default,omitempty"`
	PreserveUnknownFields bool `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
	EmbeddedResource      bool `json:"x-kubernetes-embedded-resource,omitempty"`
}

// SchemaOrBool is additionalProperties: a schema for the value of every key
// the properties do not name, or only true or false.
type SchemaOrBool struct {
	Schema *Schema // nil for true and false
	Allows bool
}

// UnmarshalJSON reads `additionalProperties: false`, `true`, or a schema.
func (s *SchemaOrBool) UnmarshalJSON(data []byte) error {
	var b bool
	if err := json.Unmarshal(data, &b); err == nil {
		*s = SchemaOrBool{Allows: b}
		return nil
	}
	var schema Schema
	if err := json.Unmarshal(data, &schema); err != nil {
		return fmt.Errorf("additionalProperties: %w", err)
	}
	*s = SchemaOrBool{Schema: &schema, Allows: true}
	return nil
}

// child is the path of field name inside path: "spec" and "size" make
// "spec.size"; at the top ("") it is just the name.
func child(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// index is the path of item i of the array at path: "spec.ports[1]".
func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// copyJSON deep-copies decoded JSON: maps and slices are new, the
// scalars (strings, numbers, booleans, null) need no copy.
func copyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = copyJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyJSON(x)
		}
		return out
	}
	return v
}

// ---- What you write ---------------------------------------------------------------------

// metaFields are the fields of a resource that belong to the API server,
// not to its schema: TypeMeta and ObjectMeta.
var metaFields = map[string]bool{"apiVersion": true, "kind": true, "metadata": true}

// Prune removes from value, in place, every field that s does not specify,
// and returns their paths, sorted. root says value is a whole resource,
// whose apiVersion, kind and metadata are not the schema's to prune.
func Prune(s *Schema, value any, root bool) []string {
	if root {
		// The root is a resource, as an embedded one is.
		if s == nil {
			s = &Schema{}
		}
		clone := *s
		clone.EmbeddedResource = true
		s = &clone
	}
	var pruned []string
	prune(value, s, "", &pruned)
	sort.Strings(pruned)
	return pruned
}

// prune is Kubernetes' algorithm: each field is pruned by the schema that
// specifies it, and a field nothing specifies is removed, whole.
func prune(value any, s *Schema, path string, pruned *[]string) {
	if s != nil && s.PreserveUnknownFields {
		skipPrune(value, s, path, pruned)
		return
	}
	switch v := value.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case s != nil && s.EmbeddedResource && metaFields[k]:
				// TypeMeta and ObjectMeta have rules of their own.
			case s != nil && s.Properties[k] != nil:
				prune(x, s.Properties[k], child(path, k), pruned)
			case s != nil && s.AdditionalProperties != nil:
				// Every key is specified; true and false say nothing of
				// what its value holds (nil: an object there is emptied).
				prune(x, s.AdditionalProperties.Schema, child(path, k), pruned)
			default:
				delete(v, k)
				*pruned = append(*pruned, child(path, k))
			}
		}
	case []any:
		var items *Schema
		if s != nil {
			items = s.Items
		}
		for i, x := range v {
			prune(x, items, index(path, i), pruned)
		}
	}
}

// skipPrune keeps the unknown fields of a node that preserves them, and of
// the items of such an array, while what the schema does specify below is
// still pruned by its own schema.
func skipPrune(value any, s *Schema, path string, pruned *[]string) {
	if s == nil {
		return
	}
	switch v := value.(type) {
	case map[string]any:
		for k, x := range v {
			switch {
			case s.EmbeddedResource && metaFields[k]:
			case s.Properties[k] != nil:
				prune(x, s.Properties[k], child(path, k), pruned)
			case s.AdditionalProperties != nil:
				prune(x, s.AdditionalProperties.Schema, child(path, k), pruned)
			}
		}
	case []any:
		for i, x := range v {
			skipPrune(x, s.Items, index(path, i), pruned)
		}
	}
}

// fieldSchema is the schema of field k of an object of schema s: its
// property, or the additionalProperties schema, or none.
func fieldSchema(s *Schema, k string) *Schema {
	switch {
	case s == nil:
		return nil
	case s.Properties[k] != nil:
		return s.Properties[k]
	case s.AdditionalProperties != nil:
		return s.AdditionalProperties.Schema
	}
	return nil
}

// DropNulls removes, in place, every field whose value is null although its
// schema is not nullable and has no default to replace the null with. Such
// a field is specified, so it is not reported. Array items stay.
func DropNulls(s *Schema, value any) {
	switch v := value.(type) {
	case map[string]any:
		for k, x := range v {
			fs := fieldSchema(s, k)
			if x == nil && fs != nil && !fs.Nullable && fs.Default == nil {
				delete(v, k)
				continue
			}
			DropNulls(fs, x)
		}
	case []any:
		var items *Schema
		if s != nil {
			items = s.Items
		}
		for _, x := range v {
			DropNulls(items, x)
		}
	}
}

// Default fills in, in place, what value leaves out: a property with a
// default that is missing, or null where the schema is not nullable, gets
// a copy of the default, and so does a null map value or array item whose
// schema has one; then every field and item is defaulted in its turn, the
// ones just set too.
func Default(s *Schema, value any) {
	if s == nil {
		return
	}
	switch v := value.(type) {
	case map[string]any:
		// First this object's own defaults, then each field's: a parent
		// defaulted to {} gets its children's defaults too.
		for k, p := range s.Properties {
			if p.Default == nil {
				continue
			}
			if x, found := v[k]; !found || (x == nil && !p.Nullable) {
				v[k] = copyJSON(p.Default)
			}
		}
		for k, x := range v {
			if p := s.Properties[k]; p != nil {
				Default(p, x)
			} else if s.AdditionalProperties != nil {
				ap := s.AdditionalProperties.Schema
				if x == nil && ap != nil && !ap.Nullable && ap.Default != nil {
					v[k] = copyJSON(ap.Default)
				}
				Default(ap, v[k])
			}
		}
	case []any:
		for i := range v {
			if v[i] == nil && s.Items != nil && !s.Items.Nullable && s.Items.Default != nil {
				v[i] = copyJSON(s.Items.Default)
			}
			Default(s.Items, v[i])
		}
	}
}

// UnprunedDefaults returns where s holds a default that pruning would
// change, as paths below path (where s sits in the CRD), sorted. A CRD with
// such a default is refused: pruning runs before defaulting, so what such a
// default brings in would be kept the first time and pruned, and reported,
// the next.
func UnprunedDefaults(s *Schema, path string) []string {
	var found []string
	unprunedDefaults(s, path, &found)
	sort.Strings(found)
	return found
}

func unprunedDefaults(s *Schema, path string, found *[]string) {
	if s == nil {
		return
	}
	// A default is pruned by the schema it is the default of; an embedded
	// resource's keeps its apiVersion, kind and metadata.
	if s.Default != nil && len(Prune(s, copyJSON(s.Default), s.EmbeddedResource)) > 0 {
		*found = append(*found, path+".default")
	}
	for k, p := range s.Properties {
		unprunedDefaults(p, path+".properties["+k+"]", found)
	}
	unprunedDefaults(s.Items, path+".items", found)
	if s.AdditionalProperties != nil {
		unprunedDefaults(s.AdditionalProperties.Schema, path+".additionalProperties", found)
	}
}

// Coerce is what the API server does to a custom object, on its way in and
// on every read from storage: prune it as a resource, drop the nulls it
// cannot hold, fill in the defaults. It returns the pruned paths, which
// become the warnings of the response.
func Coerce(s *Schema, obj map[string]any) []string {
	pruned := Prune(s, obj, true)
	DropNulls(s, obj)
	Default(s, obj)
	return pruned
}
