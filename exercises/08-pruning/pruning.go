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

// Prune removes from value, in place, every field that s does not specify,
// and returns their paths, sorted. root says value is a whole resource,
// whose apiVersion, kind and metadata are not the schema's to prune.
func Prune(s *Schema, value any, root bool) []string {
	// TODO: walk value beside s. In an object, a field is specified by its
	//       property, or else by additionalProperties (a schema, true or
	//       false: then by nothing below it); a field nothing specifies is
	//       deleted and its path noted. In an array, every item by items.
	// TODO: x-kubernetes-preserve-unknown-fields: keep the unknown fields
	//       of that node (and of the items below it), but still prune what
	//       is specified there, by its own schema.
	// TODO: apiVersion, kind and metadata of the root and of an
	//       x-kubernetes-embedded-resource are left as they are.
	panic("Please implement Prune")
}

// DropNulls removes, in place, every field whose value is null although its
// schema is not nullable and has no default to replace the null with. Such
// a field is specified, so it is not reported. Array items stay.
func DropNulls(s *Schema, value any) {
	// TODO: in an object, the schema of each field (its property, or the
	//       additionalProperties schema); delete the field if its value is
	//       null and that schema exists, is not nullable and has no
	//       default. Recurse into the rest, and into every array item.
	panic("Please implement DropNulls")
}

// Default fills in, in place, what value leaves out: a property with a
// default that is missing, or null where the schema is not nullable, gets
// a copy of the default, and so does a null map value or array item whose
// schema has one; then every field and item is defaulted in its turn, the
// ones just set too.
func Default(s *Schema, value any) {
	// TODO: in an object, first set this object's defaults (missing, or
	//       null and not nullable), then default every field: by its
	//       property, or by additionalProperties, whose null values take
	//       that schema's default.
	// TODO: in an array, a null item takes the items' default (unless the
	//       items are nullable), then every item is defaulted.
	panic("Please implement Default")
}

// UnprunedDefaults returns where s holds a default that pruning would
// change, as paths below path (where s sits in the CRD), sorted. A CRD with
// such a default is refused: pruning runs before defaulting, so what such a
// default brings in would be kept the first time and pruned, and reported,
// the next.
func UnprunedDefaults(s *Schema, path string) []string {
	// TODO: walk the schema (properties, items, the additionalProperties
	//       schema), naming each node as Kubernetes does:
	//       path.properties[name], path.items, path.additionalProperties.
	// TODO: a node's default is "unpruned" if pruning a copy of it by that
	//       node's own schema finds anything to prune.
	panic("Please implement UnprunedDefaults")
}

// Coerce is what the API server does to a custom object, on its way in and
// on every read from storage: prune it as a resource, drop the nulls it
// cannot hold, fill in the defaults. It returns the pruned paths, which
// become the warnings of the response.
func Coerce(s *Schema, obj map[string]any) []string {
	// TODO: the three steps, in the order that makes each one right.
	panic("Please implement Coerce")
}
