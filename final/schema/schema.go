// Package schema holds the OpenAPI v3 structural schemas of CustomResourceDefinitions: read a
// CRD's openAPIV3Schema (Parse), check that it is structural (Structural), then validate, prune
// and default custom objects against it (Validate, Prune, ApplyDefaults) the way
// k8s.io/apiextensions-apiserver does (pkg/apiserver/schema, with kube-openapi's validator behind
// it). Every problem is an apierrors.Cause with its field path, worded as Kubernetes words it.
//
// Values are decoded JSON: map[string]any (or a map type built on it, such as object.Object),
// []any, string, bool, nil, and numbers as json.Number (from a UseNumber decoder) or float64.
package schema

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Props mirrors apiextensions' JSONSchemaProps for the keywords we support. Numbers keep
// their JSON text, so a message quotes a bound as the CRD author wrote it. Parse builds it (the
// JSON tags name the keywords); a nil *Props is the schema that says nothing.
type Props struct {
	Type                 string            `json:"type,omitempty"`
	Format               string            `json:"format,omitempty"`
	Title                string            `json:"title,omitempty"`
	Description          string            `json:"description,omitempty"`
	Properties           map[string]*Props `json:"properties,omitempty"`
	AdditionalProperties *PropsOrBool      `json:"additionalProperties,omitempty"`
	Items                *Props            `json:"items,omitempty"`
	Required             []string          `json:"required,omitempty"`
	Enum                 []any             `json:"enum,omitempty"`
	Minimum              json.Number       `json:"minimum,omitempty"`
	Maximum              json.Number       `json:"maximum,omitempty"`
	ExclusiveMinimum     bool              `json:"exclusiveMinimum,omitempty"` // OpenAPI v3.0: a flag on minimum
	ExclusiveMaximum     bool              `json:"exclusiveMaximum,omitempty"`
	MultipleOf           json.Number       `json:"multipleOf,omitempty"`
	MinLength            *int64            `json:"minLength,omitempty"`
	MaxLength            *int64            `json:"maxLength,omitempty"`
	Pattern              string            `json:"pattern,omitempty"`
	MinItems             *int64            `json:"minItems,omitempty"`
	MaxItems             *int64            `json:"maxItems,omitempty"`
	UniqueItems          bool              `json:"uniqueItems,omitempty"` // parsed only to be refused
	MinProperties        *int64            `json:"minProperties,omitempty"`
	MaxProperties        *int64            `json:"maxProperties,omitempty"`
	Nullable             bool              `json:"nullable,omitempty"`
	Default              any               `json:"default,omitempty"` // nil: no default
	AllOf                []*Props          `json:"allOf,omitempty"`
	AnyOf                []*Props          `json:"anyOf,omitempty"`
	OneOf                []*Props          `json:"oneOf,omitempty"`
	Not                  *Props            `json:"not,omitempty"`
	Example              any               `json:"example,omitempty"`
	ExternalDocs         map[string]any    `json:"externalDocs,omitempty"`

	XPreserveUnknownFields *bool    `json:"x-kubernetes-preserve-unknown-fields,omitempty"` // false is refused
	XIntOrString           bool     `json:"x-kubernetes-int-or-string,omitempty"`
	XEmbeddedResource      bool     `json:"x-kubernetes-embedded-resource,omitempty"`
	XListType              string   `json:"x-kubernetes-list-type,omitempty"`
	XListMapKeys           []string `json:"x-kubernetes-list-map-keys,omitempty"`
	XMapType               string   `json:"x-kubernetes-map-type,omitempty"`
	XValidations           []any    `json:"x-kubernetes-validations,omitempty"` // CEL rules: accepted, never run

	pattern *regexp.Regexp // Pattern, compiled once by Parse
}

// PropsOrBool is additionalProperties: one schema for every value, or just allowed (true) or not.
type PropsOrBool struct {
	Schema *Props
	Allows bool
}

// Parse reads an openAPIV3Schema (decoded JSON) into Props. Keywords that
// Kubernetes forbids in CRD schemas ($ref, $schema, id, definitions, patternProperties,
// dependencies, additionalItems) and unknown keywords, and keywords of the wrong JSON type,
// are causes, each with its field path under `path`.
func Parse(raw any, path string) (*Props, []apierrors.Cause) {
	p := &schemaParser{}
	return p.schema(raw, path), p.causes
}

// schemaParser collects every problem rather than stopping at the first, as API validation does.
type schemaParser struct{ causes []apierrors.Cause }

func (p *schemaParser) schema(raw any, path string) *Props {
	m, ok := asMap(raw)
	if !ok {
		p.wrongType(path, raw, "object")
		return nil
	}
	s := &Props{}
	strs := map[string]*string{"type": &s.Type, "format": &s.Format, "title": &s.Title, "description": &s.Description,
		"pattern": &s.Pattern, "x-kubernetes-list-type": &s.XListType, "x-kubernetes-map-type": &s.XMapType}
	bools := map[string]*bool{"exclusiveMinimum": &s.ExclusiveMinimum, "exclusiveMaximum": &s.ExclusiveMaximum,
		"uniqueItems": &s.UniqueItems, "nullable": &s.Nullable,
		"x-kubernetes-int-or-string": &s.XIntOrString, "x-kubernetes-embedded-resource": &s.XEmbeddedResource}
	counts := map[string]**int64{"minLength": &s.MinLength, "maxLength": &s.MaxLength, "minItems": &s.MinItems,
		"maxItems": &s.MaxItems, "minProperties": &s.MinProperties, "maxProperties": &s.MaxProperties}
	numbers := map[string]*json.Number{"minimum": &s.Minimum, "maximum": &s.Maximum, "multipleOf": &s.MultipleOf}

	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, at := m[k], childPath(path, k)
		switch {
		case strs[k] != nil:
			*strs[k] = expect[string](p, v, at, "string")
		case bools[k] != nil:
			*bools[k] = expect[bool](p, v, at, "boolean")
		case counts[k] != nil:
			n, isNumber := asNumber(v)
			if i, err := n.Int64(); isNumber && err == nil {
				*counts[k] = &i
			} else {
				p.wrongType(at, v, "integer")
			}
		case numbers[k] != nil:
			n, isNumber := asNumber(v)
			if !isNumber {
				p.wrongType(at, v, "number")
			}
			*numbers[k] = n
		default:
			p.structure(s, k, v, at)
		}
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			p.add(invalid(childPath(path, "pattern"), s.Pattern, "must be a valid regular expression, but isn't: "+err.Error()))
		}
		s.pattern = re
	}
	return s
}

// structure reads the keywords that hold schemas, lists or arbitrary JSON.
func (p *schemaParser) structure(s *Props, k string, v any, at string) {
	switch k {
	case "properties":
		s.Properties = p.schemaMap(v, at)
	case "additionalProperties":
		if b, isBool := v.(bool); isBool {
			s.AdditionalProperties = &PropsOrBool{Allows: b}
		} else if sub := p.schema(v, at); sub != nil {
			s.AdditionalProperties = &PropsOrBool{Schema: sub, Allows: true}
		}
	case "items":
		if _, isList := v.([]any); isList {
			p.add(forbidden(at, "items must be a schema object and not an array"))
		} else {
			s.Items = p.schema(v, at)
		}
	case "allOf":
		s.AllOf = p.schemaList(v, at)
	case "anyOf":
		s.AnyOf = p.schemaList(v, at)
	case "oneOf":
		s.OneOf = p.schemaList(v, at)
	case "not":
		s.Not = p.schema(v, at)
	case "required":
		s.Required = p.stringList(v, at)
	case "x-kubernetes-list-map-keys":
		s.XListMapKeys = p.stringList(v, at)
	case "enum":
		if list := expect[[]any](p, v, at, "array"); len(list) > 0 { // `enum: []` allows anything
			s.Enum = copyJSON(list).([]any)
		}
	case "x-kubernetes-validations":
		if list := expect[[]any](p, v, at, "array"); len(list) > 0 {
			s.XValidations = list
		}
	case "default":
		s.Default = copyJSON(v)
	case "example":
		s.Example = copyJSON(v)
	case "externalDocs":
		s.ExternalDocs = expect[map[string]any](p, v, at, "object")
	case "x-kubernetes-preserve-unknown-fields":
		if b, isBool := v.(bool); isBool {
			s.XPreserveUnknownFields = &b
		} else {
			p.wrongType(at, v, "boolean")
		}
	case "$ref", "$schema", "id", "definitions", "patternProperties", "dependencies", "additionalItems":
		p.add(forbidden(at, k+" is not supported"))
	default:
		p.add(forbidden(at, "unknown field"))
	}
}

// schemaMap reads properties; Kubernetes names a property in a path as properties[name].
func (p *schemaParser) schemaMap(v any, at string) map[string]*Props {
	m := expect[map[string]any](p, v, at, "object")
	if len(m) == 0 {
		return nil // `properties: {}` says nothing, as in Kubernetes
	}
	out := map[string]*Props{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if sub := p.schema(m[k], at+"["+k+"]"); sub != nil {
			out[k] = sub
		}
	}
	return out
}

func (p *schemaParser) schemaList(v any, at string) []*Props {
	var out []*Props
	for i, x := range expect[[]any](p, v, at, "array") {
		if sub := p.schema(x, itemPath(at, i)); sub != nil {
			out = append(out, sub)
		}
	}
	return out
}

func (p *schemaParser) stringList(v any, at string) []string {
	var out []string
	for i, x := range expect[[]any](p, v, at, "array") {
		out = append(out, expect[string](p, x, itemPath(at, i), "string"))
	}
	return out
}

// expect returns v as a T, or T's zero value and a cause saying which JSON type was wanted.
func expect[T any](p *schemaParser, v any, at, want string) T {
	t, ok := v.(T)
	if !ok {
		p.wrongType(at, v, want)
	}
	return t
}

func (p *schemaParser) add(c apierrors.Cause) { p.causes = append(p.causes, c) }

func (p *schemaParser) wrongType(at string, v any, want string) {
	p.add(newCause("FieldValueTypeInvalid", at, v, "must be of type "+want))
}
