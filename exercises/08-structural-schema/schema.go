// Exercise 08: a structural schema, as CustomResourceDefinitions use it.
//
// A CRD describes its objects with an OpenAPI v3 schema, and Kubernetes
// insists that the schema be structural: every field it names has a type,
// and anyOf may only add checks, never say what the data is. That is what
// lets the API server do three things to every custom object without asking
// anyone: prune the fields the schema does not know, fill in defaults, and
// validate what is left.
//
// Edit this file. The tests in schema_test.go are the specification;
// README.md explains the rules.
package structuralschema

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Schema is the part of an OpenAPI v3 schema (JSONSchemaProps in
// apiextensions.k8s.io/v1) this exercise needs. The JSON names are a CRD's,
// so a schema reads as it is written under openAPIV3Schema. Enum and Default
// hold JSON values decoded with json.Decoder.UseNumber.
type Schema struct {
	Type                  string             `json:"type,omitempty"`
	Properties            map[string]*Schema `json:"properties,omitempty"`
	Items                 *Schema            `json:"items,omitempty"`
	Required              []string           `json:"required,omitempty"`
	Enum                  []any              `json:"enum,omitempty"`
	Minimum               *float64           `json:"minimum,omitempty"`
	Maximum               *float64           `json:"maximum,omitempty"`
	MaxLength             *int64             `json:"maxLength,omitempty"`
	Pattern               string             `json:"pattern,omitempty"`
	Nullable              bool               `json:"nullable,omitempty"`
	Default               any                `json:"default,omitempty"`
	PreserveUnknownFields bool               `json:"x-kubernetes-preserve-unknown-fields,omitempty"`
	AnyOf                 []*Schema          `json:"anyOf,omitempty"`
}

// Cause is one violation, as a metav1.StatusCause in a 422's details.causes.
type Cause struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// The reasons a Cause can give (metav1.CauseType).
const (
	FieldValueInvalid      = "FieldValueInvalid"
	FieldValueRequired     = "FieldValueRequired"
	FieldValueNotSupported = "FieldValueNotSupported"
	FieldValueTypeInvalid  = "FieldValueTypeInvalid"
	FieldValueTooLong      = "FieldValueTooLong"
)

// child is the path of field name inside path: "spec" and "size" make
// "spec.size"; at the root ("") it is just the name.
func child(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// formatValue prints a value in a message the way Kubernetes does: a string
// quoted, a number or a boolean as it is, anything else as JSON.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		f, _ := v.Float64()
		return fmt.Sprint(f)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// Structural returns why s is not a structural schema, one line per reason
// with its path as Kubernetes prints it, sorted. path is where s is ("" for
// the root, or where the CRD holds it).
func Structural(s *Schema, path string) []string {
	// TODO: walk the schema proper: the root, every property, every items.
	//       A node needs a type (unless x-kubernetes-preserve-unknown-fields),
	//       the root's is object, an array needs items. Each level words an
	//       empty type differently.
	// TODO: walk every anyOf, to any depth: there, type, nullable, default
	//       and x-kubernetes-preserve-unknown-fields are forbidden.
	// TODO: a pattern must compile. Sort the reasons.
	panic("Please implement Structural")
}

// Validate returns every violation of s by value, which sits at path: a
// node's own checks first (its type, then its bounds, then its enum), then
// its missing required fields in the schema's order, then its fields by
// name, or its items in order.
func Validate(s *Schema, value any, path string) []Cause {
	// TODO: the JSON type of value, and whether s.Type accepts it (an
	//       integer is a number; null only where nullable).
	// TODO: by what value is: a string's maxLength (in characters) or else
	//       its pattern; a number's maximum and minimum. Then the enum, for
	//       any value.
	// TODO: objects: required fields that are missing, then the fields the
	//       schema knows, by name. Arrays: every item, by index.
	panic("Please implement Validate")
}

// Prune removes from value, in place, every field s does not specify, and
// returns their paths, sorted. root says value is a whole object.
func Prune(s *Schema, value any, root bool) []string {
	// TODO: walk value beside s. A field with a property schema: recurse.
	//       Unknown where s preserves unknown fields: keep, as it is.
	//       Otherwise: delete it and note its path.
	// TODO: at the root, apiVersion, kind and metadata are not the schema's
	//       to judge.
	panic("Please implement Prune")
}

// Default fills in, in place, the defaults of s that value leaves out: a
// field that is missing, or null where null is not allowed, gets a copy of
// its default, but only inside an object that is there.
func Default(s *Schema, value any) {
	// TODO: in an object, set each missing (or non-nullable null) property
	//       that has a default to a deep copy of it; then recurse into every
	//       field the schema knows, the new ones too.
	// TODO: in an array, the same for null items, then recurse into each.
	panic("Please implement Default")
}
