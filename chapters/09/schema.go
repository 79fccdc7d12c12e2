// OpenAPI v3 structural schemas for CustomResourceDefinitions: read a CRD's openAPIV3Schema, check
// that it is structural, then validate, prune and default custom objects against it the way
// k8s.io/apiextensions-apiserver does (pkg/apiserver/schema, with kube-openapi's validator behind it).
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jsonSchemaProps mirrors apiextensions' JSONSchemaProps for the keywords we support. Numbers keep
// their JSON text, so a message quotes a bound as the CRD author wrote it.
type jsonSchemaProps struct {
	Type                 string                      `json:"type,omitempty"`
	Format               string                      `json:"format,omitempty"`
	Title                string                      `json:"title,omitempty"`
	Description          string                      `json:"description,omitempty"`
	Properties           map[string]*jsonSchemaProps `json:"properties,omitempty"`
	AdditionalProperties *schemaOrBool               `json:"additionalProperties,omitempty"`
	Items                *jsonSchemaProps            `json:"items,omitempty"`
	Required             []string                    `json:"required,omitempty"`
	Enum                 []any                       `json:"enum,omitempty"`
	Minimum              json.Number                 `json:"minimum,omitempty"`
	Maximum              json.Number                 `json:"maximum,omitempty"`
	ExclusiveMinimum     bool                        `json:"exclusiveMinimum,omitempty"` // OpenAPI v3.0: a flag on minimum
	ExclusiveMaximum     bool                        `json:"exclusiveMaximum,omitempty"`
	MultipleOf           json.Number                 `json:"multipleOf,omitempty"`
	MinLength            *int64                      `json:"minLength,omitempty"`
	MaxLength            *int64                      `json:"maxLength,omitempty"`
	Pattern              string                      `json:"pattern,omitempty"`
	MinItems             *int64                      `json:"minItems,omitempty"`
	MaxItems             *int64                      `json:"maxItems,omitempty"`
	UniqueItems          bool                        `json:"uniqueItems,omitempty"` // parsed only to be refused
	MinProperties        *int64                      `json:"minProperties,omitempty"`
	MaxProperties        *int64                      `json:"maxProperties,omitempty"`
	Nullable             bool                        `json:"nullable,omitempty"`
	Default              any                         `json:"default,omitempty"` // nil: no default
	AllOf                []*jsonSchemaProps          `json:"allOf,omitempty"`
	AnyOf                []*jsonSchemaProps          `json:"anyOf,omitempty"`
	OneOf                []*jsonSchemaProps          `json:"oneOf,omitempty"`
	Not                  *jsonSchemaProps            `json:"not,omitempty"`
	Example              any                         `json:"example,omitempty"`
	ExternalDocs         map[string]any              `json:"externalDocs,omitempty"`

	XPreserveUnknownFields *bool    `json:"x-kubernetes-preserve-unknown-fields,omitempty"` // false is refused
	XIntOrString           bool     `json:"x-kubernetes-int-or-string,omitempty"`
	XEmbeddedResource      bool     `json:"x-kubernetes-embedded-resource,omitempty"`
	XListType              string   `json:"x-kubernetes-list-type,omitempty"`
	XListMapKeys           []string `json:"x-kubernetes-list-map-keys,omitempty"`
	XMapType               string   `json:"x-kubernetes-map-type,omitempty"`
	XValidations           []any    `json:"x-kubernetes-validations,omitempty"` // CEL rules: accepted, never run

	pattern *regexp.Regexp // Pattern, compiled once by parseSchema
}

// schemaOrBool is additionalProperties: one schema for every value, or just allowed (true) or not.
type schemaOrBool struct {
	Schema *jsonSchemaProps
	Allows bool
}

// ---- Parsing --------------------------------------------------------------------------------

// parseSchema reads an openAPIV3Schema (decoded JSON) into jsonSchemaProps. Keywords that
// Kubernetes forbids in CRD schemas ($ref, $schema, id, definitions, patternProperties,
// dependencies, additionalItems) and unknown keywords, and keywords of the wrong JSON type,
// are causes, each with its field path under `path`.
func parseSchema(raw any, path string) (*jsonSchemaProps, []cause) {
	p := &schemaParser{}
	return p.schema(raw, path), p.causes
}

// schemaParser collects every problem rather than stopping at the first, as API validation does.
type schemaParser struct{ causes []cause }

func (p *schemaParser) schema(raw any, path string) *jsonSchemaProps {
	m, ok := asMap(raw)
	if !ok {
		p.wrongType(path, raw, "object")
		return nil
	}
	s := &jsonSchemaProps{}
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
func (p *schemaParser) structure(s *jsonSchemaProps, k string, v any, at string) {
	switch k {
	case "properties":
		s.Properties = p.schemaMap(v, at)
	case "additionalProperties":
		if b, isBool := v.(bool); isBool {
			s.AdditionalProperties = &schemaOrBool{Allows: b}
		} else if sub := p.schema(v, at); sub != nil {
			s.AdditionalProperties = &schemaOrBool{Schema: sub, Allows: true}
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
func (p *schemaParser) schemaMap(v any, at string) map[string]*jsonSchemaProps {
	m := expect[map[string]any](p, v, at, "object")
	if len(m) == 0 {
		return nil // `properties: {}` says nothing, as in Kubernetes
	}
	out := map[string]*jsonSchemaProps{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if sub := p.schema(m[k], at+"["+k+"]"); sub != nil {
			out[k] = sub
		}
	}
	return out
}

func (p *schemaParser) schemaList(v any, at string) []*jsonSchemaProps {
	var out []*jsonSchemaProps
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

func (p *schemaParser) add(c cause) { p.causes = append(p.causes, c) }

func (p *schemaParser) wrongType(at string, v any, want string) {
	p.add(newCause("FieldValueTypeInvalid", at, v, "must be of type "+want))
}

// ---- Structural schema rules ----------------------------------------------------------------

// structuralCauses lists why a schema is not structural (empty if it is). path is where the
// schema sits in the CRD, e.g. "spec.versions[0].schema.openAPIV3Schema".
func structuralCauses(s *jsonSchemaProps, path string) []cause {
	if s == nil {
		s = &jsonSchemaProps{}
	}
	c := &schemaChecker{}
	c.check(s.Nullable, forbidden(path+".nullable", "nullable cannot be true at the root"))
	c.structural(s, path, rootLevel, "")
	// Kubernetes sorts these so that Go's map order does not shuffle them.
	sort.SliceStable(c.causes, func(i, j int) bool {
		return c.causes[i].Field+": "+c.causes[i].Message < c.causes[j].Field+": "+c.causes[j].Message
	})
	if len(c.causes) == 0 { // a default is only worth checking against an otherwise valid schema
		c.defaults(s, path, true)
	}
	return c.causes
}

type schemaChecker struct{ causes []cause }

// check adds the cause when the rule is broken, so that each rule below reads as one line.
func (c *schemaChecker) check(broken bool, cs cause) {
	if broken {
		c.causes = append(c.causes, cs)
	}
}

// Where a schema sits decides the wording when its type is missing (structural.go's levels).
const (
	rootLevel = iota
	itemLevel
	fieldLevel
)

// structural checks one node outside allOf/anyOf/oneOf/not, then its items and properties, with
// the rules of structural.go. topMeta names the root's apiVersion, kind or metadata subtree we are
// in, where defaults are banned.
func (c *schemaChecker) structural(s *jsonSchemaProps, path string, level int, topMeta string) {
	c.keywords(s, path)
	root, embedded := level == rootLevel, s.XEmbeddedResource
	where := []string{"at the root", "for specified array items", "for specified object fields"}[level]
	c.check(embedded && s.Type != "object", requiredOrInvalid(path+".type", s.Type, "must be object if x-kubernetes-embedded-resource is true"))
	c.check(!embedded && s.Type == "" && !s.XIntOrString && !s.preserves(), required(path+".type", "must not be empty "+where))
	c.check(root && s.Type != "" && s.Type != "object", invalid(path+".type", s.Type, "must be object at the root"))
	c.check(root && s.AdditionalProperties != nil, forbidden(path+".additionalProperties", "must not be used at the root"))
	c.check(s.Type == "array" && s.Items == nil, required(path+".items", "must be specified"))
	c.check(s.XIntOrString && s.preserves(), invalid(path+".x-kubernetes-preserve-unknown-fields", true, "must be false if x-kubernetes-int-or-string is true"))
	c.check(s.XIntOrString && embedded, invalid(path+".x-kubernetes-embedded-resource", true, "must be false if x-kubernetes-int-or-string is true"))
	c.check(embedded && s.AdditionalProperties != nil, forbidden(path+".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))
	c.check(embedded && !s.preserves() && len(s.Properties) == 0, required(path+".properties", "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
	c.check(topMeta != "" && s.Default != nil, forbidden(path+".default", "must not be set in top-level "+topMeta))
	if root || embedded {
		c.resourceMeta(s, path, root)
	}

	// Junctors may only add value checks, and only for fields specified outside them.
	c.junctors(s, path, isIntOrStringPair(s.AnyOf), len(s.AllOf) > 0 && isIntOrStringPair(s.AllOf[0].AnyOf))
	for _, b := range s.branches(path) {
		c.complete(b.schema, s, path, b.path)
	}

	if s.Items != nil {
		c.structural(s.Items, path+".items", itemLevel, topMeta)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		meta := topMeta
		if root && isMetaField(k) {
			meta = k
		}
		c.structural(s.Properties[k], path+".properties["+k+"]", fieldLevel, meta)
	}
	if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
		c.structural(ap.Schema, path+".additionalProperties", fieldLevel, topMeta)
	}
}

// keywords holds the rules that apiextensions' CRD validation (validation.go) applies to every
// schema node, inside junctors too.
func (c *schemaChecker) keywords(s *jsonSchemaProps, path string) {
	types := []string{"array", "boolean", "integer", "number", "object", "string"}
	ap, lt, it := s.AdditionalProperties, s.XListType, s.Items
	c.check(s.Type != "" && !slices.Contains(types, s.Type), notSupported(path+".type", s.Type, types))
	c.check(s.Type == "null", forbidden(path+".type", "type cannot be set to null, use nullable as an alternative"))
	c.check(s.UniqueItems, forbidden(path+".uniqueItems", "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
	// properties are for structs, additionalProperties for maps; `additionalProperties: true` is harmless.
	c.check(len(s.Properties) > 0 && ap != nil && (!ap.Allows || ap.Schema != nil), forbidden(path+".additionalProperties", "additionalProperties and properties are mutual exclusive"))
	c.check(s.XPreserveUnknownFields != nil && !s.preserves(), invalid(path+".x-kubernetes-preserve-unknown-fields", false, "must be true or undefined"))
	c.check(s.XMapType != "" && s.Type != "object", requiredOrInvalid(path+".type", s.Type, "must be object if x-kubernetes-map-type is specified"))
	c.check(s.XMapType != "" && s.XMapType != "atomic" && s.XMapType != "granular", notSupported(path+".x-kubernetes-map-type", s.XMapType, []string{"atomic", "granular"}))
	c.check(lt != "" && s.Type != "array", requiredOrInvalid(path+".type", s.Type, "must be array if x-kubernetes-list-type is specified"))
	c.check(lt != "" && lt != "atomic" && lt != "set" && lt != "map", notSupported(path+".x-kubernetes-list-type", lt, []string{"atomic", "set", "map"}))
	c.check(len(s.XListMapKeys) > 0 && lt != "map", requiredOrInvalid(path+".x-kubernetes-list-type", lt, "must be map if x-kubernetes-list-map-keys is non-empty"))
	if (lt == "set" || lt == "map") && it != nil {
		const atomic = "must be atomic as item of a list with x-kubernetes-list-type=set"
		c.check(it.Nullable, forbidden(path+".items.nullable", "cannot be nullable when x-kubernetes-list-type is "+lt))
		c.check(lt == "set" && it.Type == "array" && it.XListType != "" && it.XListType != "atomic", invalid(path+".items.x-kubernetes-list-type", it.XListType, atomic))
		c.check(lt == "set" && it.Type == "object" && it.XMapType != "atomic", invalid(path+".items.x-kubernetes-map-type", orNull(it.XMapType), atomic))
	}
	if lt == "map" {
		c.listMapKeys(s, path)
	}
}

// listMapKeys: the items of a list-type map are objects identified by scalar key fields that are
// always there, being required or defaulted, because validate compares them.
func (c *schemaChecker) listMapKeys(s *jsonSchemaProps, path string) {
	keys, it, keysPath := s.XListMapKeys, s.Items, path+".x-kubernetes-list-map-keys"
	c.check(len(keys) == 0, required(keysPath, "must not be empty if x-kubernetes-list-type is map"))
	c.check(it == nil, required(path+".items", "must have a schema if x-kubernetes-list-type is map"))
	if it == nil || it.Type != "object" {
		c.check(it != nil, invalid(path+".items.type", it.typeName(), "must be object if parent array's x-kubernetes-list-type is map"))
		return
	}
	for i, k := range keys {
		key, at := it.Properties[k], path+".items.properties["+k+"]"
		if slices.Contains(keys[:i], k) {
			c.causes = append(c.causes, invalid(keysPath, keys, "must not contain duplicate entries"))
			continue
		}
		c.check(key == nil, invalid(keysPath, keys, "entries must all be names of item properties"))
		if key != nil {
			c.check(key.Type == "array" || key.Type == "object", invalid(at+".type", key.Type, "must be a scalar type if parent array's x-kubernetes-list-type is map"))
			c.check(key.Default == nil && !slices.Contains(it.Required, k), required(at+".default", "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"))
			c.check(key.Nullable, forbidden(at+".nullable", "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"))
		}
	}
}

// resourceMeta: at a resource root apiVersion and kind are strings and metadata an object; at the
// CRD root, metadata may only restrict name and generateName, as the server owns the rest.
func (c *schemaChecker) resourceMeta(s *jsonSchemaProps, path string, root bool) {
	for _, k := range []string{"apiVersion", "kind"} {
		p := s.Properties[k]
		c.check(p != nil && p.Type != "string", invalid(path+".properties["+k+"].type", p.typeName(), "must be string"))
	}
	meta := s.Properties["metadata"]
	if meta == nil {
		return
	}
	c.check(meta.Type != "object", invalid(path+".properties[metadata].type", meta.Type, "must be object"))
	rest := *meta
	rest.Type, rest.Default = "", nil // a default there is reported on its own
	names := 0
	for k := range rest.Properties {
		if k == "name" || k == "generateName" {
			names++
		}
	}
	if names == len(rest.Properties) {
		rest.Properties = nil
	}
	c.check(root && !reflect.DeepEqual(rest, jsonSchemaProps{}), forbidden(path+".properties[metadata]",
		"must not specify anything other than name and generateName, but metadata is implicitly specified"))
}

// junctors checks the allOf/anyOf/oneOf/not branches of s. The skips let the two int-or-string
// shapes, `anyOf: [{type: integer}, {type: string}]` and the same as allOf[0], name their types.
func (c *schemaChecker) junctors(s *jsonSchemaProps, path string, skipAnyOf, skipFirstAllOfAnyOf bool) {
	for _, b := range s.branches(path) {
		if !skipAnyOf || !slices.Contains(s.AnyOf, b.schema) {
			c.nested(b.schema, b.path, skipFirstAllOfAnyOf && b.schema == s.AllOf[0])
		}
	}
}

// nested checks a schema inside a junctor: it may check values but not say what they are.
func (c *schemaChecker) nested(s *jsonSchemaProps, path string, skipAnyOf bool) {
	c.keywords(s, path)
	for _, f := range []struct {
		set         bool
		key, detail string
	}{
		{s.Type != "", "type", "must be empty"},
		{s.Description != "", "description", "must be empty"},
		{s.Title != "", "title", "must be empty"},
		{s.Default != nil, "default", "must be undefined"},
		{s.AdditionalProperties != nil, "additionalProperties", "must be undefined"},
		{s.Nullable, "nullable", "must be false"},
		{s.preserves(), "x-kubernetes-preserve-unknown-fields", "must be false"},
		{s.XEmbeddedResource, "x-kubernetes-embedded-resource", "must be false"},
		{s.XIntOrString, "x-kubernetes-int-or-string", "must be false"},
		{len(s.XListMapKeys) > 0, "x-kubernetes-list-map-keys", "must be empty"},
		{s.XListType != "", "x-kubernetes-list-type", "must be undefined"},
		{s.XMapType != "", "x-kubernetes-map-type", "must be undefined"},
		{len(s.XValidations) > 0, "x-kubernetes-validations", "must be empty"},
	} {
		c.check(f.set, forbidden(path+"."+f.key, f.detail+" to be structural"))
	}
	c.check(s.Properties["metadata"] != nil, forbidden(path+".properties[metadata]", "must not be specified in a nested context"))
	if s.Items != nil {
		c.nested(s.Items, path+".items", false)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		c.nested(s.Properties[k], path+".properties["+k+"]", false)
	}
	c.junctors(s, path, skipAnyOf, false)
}

// complete reports each property or items named in junctor branch j but missing from the
// structural schema s beside it: every value check must apply to a field with a known schema.
func (c *schemaChecker) complete(j, s *jsonSchemaProps, sPath, jPath string) {
	for _, b := range j.branches(jPath) {
		c.complete(b.schema, s, sPath, b.path)
	}
	c.check(j.Items != nil && s.Items == nil, required(sPath+".items", "because it is defined in "+jPath+".items"))
	if j.Items != nil && s.Items != nil {
		c.complete(j.Items, s.Items, sPath+".items", jPath+".items")
	}
	for _, k := range slices.Sorted(maps.Keys(j.Properties)) {
		sp, jp := sPath+".properties["+k+"]", jPath+".properties["+k+"]"
		c.check(s.Properties[k] == nil, required(sp, "because it is defined in "+jp))
		if s.Properties[k] != nil {
			c.complete(j.Properties[k], s.Properties[k], sp, jp)
		}
	}
}

// defaults checks that each default is already pruned and passes its own schema
// (defaulting/validation.go), so that defaulting can never make an object invalid.
func (c *schemaChecker) defaults(s *jsonSchemaProps, path string, root bool) {
	if s.Default != nil {
		unknown := s.prune(copyJSON(s.Default), "", s.XEmbeddedResource)
		c.check(len(unknown) > 0, invalid(path+".default", s.Default, "must not have unknown fields"))
		c.causes = append(c.causes, s.validate(s.Default, path+".default")...)
	}
	if s.Items != nil {
		c.defaults(s.Items, path+".items", false)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		if !root || !isMetaField(k) { // those were refused already
			c.defaults(s.Properties[k], path+".properties["+k+"]", false)
		}
	}
	if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
		c.defaults(ap.Schema, path+".additionalProperties", false)
	}
}

type branch struct {
	schema *jsonSchemaProps
	path   string
}

// branches lists the allOf, anyOf, oneOf and not schemas of s, in that order, with their paths.
func (s *jsonSchemaProps) branches(path string) []branch {
	var out []branch
	for _, j := range []struct {
		name string
		list []*jsonSchemaProps
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}} {
		for i, b := range j.list {
			out = append(out, branch{b, itemPath(path+"."+j.name, i)})
		}
	}
	if s.Not != nil {
		out = append(out, branch{s.Not, path + ".not"})
	}
	return out
}

// isIntOrStringPair spots `[{type: integer}, {type: string}]` with nothing else in either schema.
func isIntOrStringPair(list []*jsonSchemaProps) bool {
	return len(list) == 2 && reflect.DeepEqual(*list[0], jsonSchemaProps{Type: "integer"}) &&
		reflect.DeepEqual(*list[1], jsonSchemaProps{Type: "string"})
}

// ---- Validation -----------------------------------------------------------------------------

// validate checks a value against the schema and returns EVERY violation, each with its
// field path relative to the object root ("spec.replicas", "spec.ports[1].name",
// "spec.labels.team"). path is the value's own path ("" for the whole object).
//
// A value of the wrong type gets that one cause: its other keywords would only repeat it.
func (s *jsonSchemaProps) validate(value any, path string) []cause {
	if s == nil {
		return nil
	}
	got, want := jsonType(value), s.Type
	if s.XIntOrString {
		want = "integer,string"
	}
	if want != "" && !slices.Contains(strings.Split(want, ","), got) &&
		!(got == "integer" && want == "number") && !(got == "null" && s.Nullable) {
		return []cause{newCause("FieldValueTypeInvalid", path, got, fmt.Sprintf("%s in body must be of type %s: %q", path, want, got))}
	}
	var cs []cause
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return renderValue(e) == renderValue(value) }) {
		supported := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			supported[i] = renderValue(e) // then quoted once more, as Kubernetes does: "1", "{\"a\":1}"
			if str, isString := e.(string); isString {
				supported[i] = str
			}
		}
		cs = append(cs, notSupported(path, value, supported))
	}
	if value == nil {
		return cs // kube-openapi checks only type and enum on null
	}
	if m, ok := asMap(value); ok {
		cs = append(cs, s.validateObject(m, path)...)
	}
	if n, ok := asNumber(value); ok {
		cs = append(cs, s.validateNumber(n, path)...)
	}
	switch v := value.(type) {
	case string:
		cs = append(cs, s.validateString(v, path)...)
	case []any:
		cs = append(cs, s.validateArray(v, path)...)
	}
	return append(cs, s.validateJunctors(value, path)...)
}

func (s *jsonSchemaProps) validateObject(m map[string]any, path string) []cause {
	var cs []cause
	n := int64(len(m))
	if s.MinProperties != nil && n < *s.MinProperties {
		cs = append(cs, invalid(path, n, fmt.Sprintf("%s in body should have at least %d properties", path, *s.MinProperties)))
	}
	if s.MaxProperties != nil && n > *s.MaxProperties {
		cs = append(cs, tooMany(path, n, *s.MaxProperties))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		child, specified := s.fieldSchema(k) // an unspecified field is pruned, not refused
		cs = append(cs, child.validate(m[k], childPath(path, k))...)
		if specified && child == nil && !s.AdditionalProperties.Allows {
			cs = append(cs, invalid(path, k, childPath(path, k)+" in body is a forbidden property"))
		}
	}
	mustHave := s.Required
	if s.XEmbeddedResource { // an embedded object must say what it is (objectmeta/validation.go)
		mustHave = slices.Concat(mustHave, []string{"apiVersion", "kind"})
	}
	for _, k := range mustHave {
		if _, ok := m[k]; !ok {
			cs = append(cs, required(childPath(path, k), ""))
		}
	}
	return cs
}

// validateString counts length in characters, as kube-openapi does, though field.TooLong, which
// kubectl shows, words the limit in bytes.
func (s *jsonSchemaProps) validateString(v, path string) []cause {
	var cs []cause
	n := int64(utf8.RuneCountInString(v))
	if s.MaxLength != nil && n > *s.MaxLength {
		cs = append(cs, newCause("FieldValueTooLong", path, nil, fmt.Sprintf("may not be more than %d %s", *s.MaxLength, plural(*s.MaxLength, "byte"))))
	}
	if s.MinLength != nil && n < *s.MinLength {
		cs = append(cs, invalid(path, v, fmt.Sprintf("%s in body should be at least %d chars long", path, *s.MinLength)))
	}
	if s.pattern != nil && !s.pattern.MatchString(v) {
		cs = append(cs, invalid(path, v, fmt.Sprintf("%s in body should match '%s'", path, s.Pattern)))
	}
	if (s.Type == "string" || s.Type == "") && !formatOK(s.Format, v) {
		cs = append(cs, newCause("FieldValueTypeInvalid", path, v, fmt.Sprintf("%s in body must be of type %s: %q", path, s.Format, v)))
	}
	return cs
}

func (s *jsonSchemaProps) validateNumber(v json.Number, path string) []cause {
	var cs []cause
	f, min, max := toFloat(v), toFloat(s.Minimum), toFloat(s.Maximum)
	if (s.Type == "integer" && s.Format == "int32" && (f < math.MinInt32 || f > math.MaxInt32)) ||
		(s.Type == "number" && s.Format == "float" && math.Abs(f) > math.MaxFloat32) {
		cs = append(cs, invalid(path, v, fmt.Sprintf("Checked value must be of type %s with format %s in %s", s.Type, s.Format, path)))
	}
	if s.Minimum != "" && (f < min || s.ExclusiveMinimum && f == min) {
		cs = append(cs, invalid(path, v, fmt.Sprintf("%s in body should be greater than %s%s", path, orEqualTo(!s.ExclusiveMinimum), s.Minimum)))
	}
	if s.Maximum != "" && (f > max || s.ExclusiveMaximum && f == max) {
		cs = append(cs, invalid(path, v, fmt.Sprintf("%s in body should be less than %s%s", path, orEqualTo(!s.ExclusiveMaximum), s.Maximum)))
	}
	if s.MultipleOf != "" && !isMultiple(v, s.MultipleOf) {
		cs = append(cs, invalid(path, v, fmt.Sprintf("%s in body should be a multiple of %s", path, s.MultipleOf)))
	}
	return cs
}

func (s *jsonSchemaProps) validateArray(l []any, path string) []cause {
	var cs []cause
	n := int64(len(l))
	if s.MinItems != nil && n < *s.MinItems {
		cs = append(cs, invalid(path, n, fmt.Sprintf("%s in body should have at least %d items", path, *s.MinItems)))
	}
	if s.MaxItems != nil && n > *s.MaxItems {
		cs = append(cs, tooMany(path, n, *s.MaxItems))
	}
	for i, item := range l {
		cs = append(cs, s.Items.validate(item, itemPath(path, i))...)
	}
	return append(cs, s.listDuplicates(l, path)...)
}

// listDuplicates enforces x-kubernetes-list-type set (unique items) and map (unique key fields),
// reporting each repeated value once, at its second occurrence (listtype/validation.go).
func (s *jsonSchemaProps) listDuplicates(l []any, path string) []cause {
	if s.XListType != "set" && s.XListType != "map" {
		return nil
	}
	var cs []cause
	seen := map[string]int{}
	for i, item := range l {
		if s.XListType == "map" {
			m, isObject := asMap(item)
			if !isObject && item != nil {
				return []cause{invalid(itemPath(path, i), item, "must be an object for an array of list-type map")}
			}
			key := map[string]any{} // a missing key field is part of the identity too
			for _, k := range s.XListMapKeys {
				if v, found := m[k]; found {
					key[k] = v
				}
			}
			item = key
		}
		seen[renderValue(item)]++
		if seen[renderValue(item)] == 2 {
			cs = append(cs, newCause("FieldValueDuplicate", itemPath(path, i), item, ""))
		}
	}
	return cs
}

// validateJunctors words its failures like kube-openapi. Where no branch fits, it adds the causes
// of the branch that came closest (fewest causes), so the user sees what to fix.
func (s *jsonSchemaProps) validateJunctors(value any, path string) []cause {
	var cs []cause
	composite := func(format string, args ...any) {
		cs = append(cs, invalid(path, "", fmt.Sprintf("%q must "+format, append([]any{path}, args...)...)))
	}
	if valid, closest := s.tryBranches(s.AnyOf, value, path); len(s.AnyOf) > 0 && valid == 0 {
		composite("validate at least one schema (anyOf)")
		cs = append(cs, closest...)
	}
	if valid, closest := s.tryBranches(s.OneOf, value, path); len(s.OneOf) > 0 && valid == 0 {
		composite("validate one and only one schema (oneOf). Found none valid")
		cs = append(cs, closest...)
	} else if valid > 1 {
		composite("validate one and only one schema (oneOf). Found %d valid alternatives", valid)
	}
	passed := 0
	for _, b := range s.AllOf {
		bc := b.validate(value, path)
		if len(bc) == 0 {
			passed++
		}
		cs = append(cs, bc...)
	}
	if len(s.AllOf) > 0 && passed == 0 {
		composite("validate all the schemas (allOf). None validated")
	} else if passed < len(s.AllOf) {
		composite("validate all the schemas (allOf)")
	}
	if s.Not != nil && len(s.Not.validate(value, path)) == 0 {
		composite("not validate the schema (not)")
	}
	return cs
}

// tryBranches counts the branches value satisfies and returns the causes of the closest miss.
func (s *jsonSchemaProps) tryBranches(list []*jsonSchemaProps, value any, path string) (valid int, closest []cause) {
	for _, b := range list {
		if bc := b.validate(value, path); len(bc) == 0 {
			valid++
		} else if closest == nil || len(bc) < len(closest) {
			closest = bc
		}
	}
	return valid, closest
}

// formatOK checks the string formats Kubernetes keeps for CRDs; an unknown format always passes.
func formatOK(format, v string) bool {
	var err error
	switch strings.ReplaceAll(format, "-", "") { // kube-openapi ignores dashes: date-time is datetime
	case "byte":
		_, err = base64.StdEncoding.DecodeString(v)
	case "date":
		_, err = time.Parse(time.DateOnly, v)
	case "datetime":
		_, err = time.Parse(time.RFC3339, v)
	case "duration":
		_, err = time.ParseDuration(v)
	case "email":
		_, err = mail.ParseAddress(v)
	case "cidr":
		_, _, err = net.ParseCIDR(v)
	case "mac":
		_, err = net.ParseMAC(v)
	case "uri":
		_, err = url.ParseRequestURI(v)
	case "uuid":
		return uuidPattern.MatchString(v)
	case "hostname":
		return len(v) <= 255 && hostnamePattern.MatchString(v)
	case "ipv4":
		return net.ParseIP(v) != nil && strings.Contains(v, ".")
	case "ipv6":
		return net.ParseIP(v) != nil && strings.Contains(v, ":")
	}
	return err == nil
}

// Compiled once and never changed. uuidPattern is strfmt's; hostnames follow RFC 1123.
var (
	uuidPattern     = regexp.MustCompile(`(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`)
	hostnamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$`)
)

// ---- Pruning and defaulting -----------------------------------------------------------------

// prune removes, in place, the fields the schema does not specify, and returns their paths
// (sorted), e.g. ["spec.bogus", "spec.template.extra"]. At the root (and at
// x-kubernetes-embedded-resource nodes) apiVersion, kind and metadata are kept.
//
// Like Kubernetes before defaulting, it also drops a null whose schema is neither nullable nor
// defaulted; that field is specified, so its path is not returned.
func (s *jsonSchemaProps) prune(value any, path string, root bool) []string {
	var pruned []string
	pruneValue(value, s, path, root, false, &pruned)
	sort.Strings(pruned)
	return pruned
}

// pruneValue follows pruning/algorithm.go: preserve-unknown-fields keeps the unknown fields of its
// node and of array items below it, while each specified property is pruned by its own schema.
// additionalProperties specifies every key, even when `true`, and prunes values by its schema.
func pruneValue(value any, s *jsonSchemaProps, path string, keepMeta, preserve bool, pruned *[]string) {
	if s != nil {
		preserve = preserve || s.preserves()
		keepMeta = keepMeta || s.XEmbeddedResource
	}
	if s == nil && preserve {
		return
	}
	if m, ok := asMap(value); ok {
		for k, v := range m {
			child, specified := s.fieldSchema(k)
			switch {
			case keepMeta && isMetaField(k):
				// TypeMeta and ObjectMeta have their own rules
			case specified && v == nil && child != nil && !child.Nullable && child.Default == nil:
				delete(m, k) // defaulting/prunenulls.go
			case specified:
				pruneValue(v, child, childPath(path, k), false, false, pruned)
			case !preserve:
				delete(m, k)
				*pruned = append(*pruned, childPath(path, k))
			}
		}
	}
	if l, ok := value.([]any); ok {
		for i, item := range l {
			pruneValue(item, s.itemSchema(), itemPath(path, i), false, preserve, pruned)
		}
	}
}

// applyDefaults sets, in place, every missing field that has a default, where its parent
// object exists (recursively, into array items and additionalProperties values too).
//
// As in defaulting/algorithm.go, a null that is not nullable takes the default too, and a
// default just set is then defaulted inside.
func (s *jsonSchemaProps) applyDefaults(value any) {
	if s == nil {
		return
	}
	if m, ok := asMap(value); ok {
		for k, p := range s.Properties {
			if _, found := m[k]; !found && p.Default != nil {
				m[k] = copyJSON(p.Default)
			}
		}
		for k, v := range m {
			if child, _ := s.fieldSchema(k); child != nil {
				m[k] = child.defaultNull(v)
				child.applyDefaults(m[k])
			}
		}
	}
	if l, ok := value.([]any); ok {
		for i := range l {
			l[i] = s.Items.defaultNull(l[i])
			s.Items.applyDefaults(l[i])
		}
	}
}

// defaultNull turns a null into the default, unless null is allowed.
func (s *jsonSchemaProps) defaultNull(v any) any {
	if v == nil && s != nil && !s.Nullable && s.Default != nil {
		return copyJSON(s.Default)
	}
	return v
}

// ---- Helpers --------------------------------------------------------------------------------

func (s *jsonSchemaProps) preserves() bool {
	return s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
}

// fieldSchema finds the schema of key k: its property, else additionalProperties, which may
// specify the key without giving a schema (true or false).
func (s *jsonSchemaProps) fieldSchema(k string) (*jsonSchemaProps, bool) {
	switch {
	case s == nil:
		return nil, false
	case s.Properties[k] != nil:
		return s.Properties[k], true
	case s.AdditionalProperties != nil:
		return s.AdditionalProperties.Schema, true
	}
	return nil, false
}

func (s *jsonSchemaProps) itemSchema() *jsonSchemaProps {
	if s == nil {
		return nil
	}
	return s.Items
}

// typeName is s.Type, or "" for no schema at all.
func (s *jsonSchemaProps) typeName() string {
	if s == nil {
		return ""
	}
	return s.Type
}

func isMetaField(k string) bool { return k == "apiVersion" || k == "kind" || k == "metadata" }

// asMap accepts the chapter's object type as well as a decoded JSON object.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case object:
		return m, true
	}
	return nil, false
}

// jsonType names a value's JSON type; integer is a number without a fraction that fits in int64.
func jsonType(v any) string {
	if _, ok := asMap(v); ok {
		return "object"
	}
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	}
	if n, ok := asNumber(v); ok {
		if _, err := n.Int64(); err == nil {
			return "integer"
		}
		if f := toFloat(n); f == math.Trunc(f) && math.Abs(f) < 1<<63 { // 2.0, 1e3
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// asNumber reads a JSON number: json.Number from a UseNumber decoder, or the float64 of a plain one.
func asNumber(v any) (json.Number, bool) {
	switch n := v.(type) {
	case json.Number:
		return n, true
	case float64:
		return json.Number(strconv.FormatFloat(n, 'g', -1, 64)), true
	}
	return "", false
}

func toFloat(n json.Number) float64 {
	f, _ := strconv.ParseFloat(string(n), 64) // out of range gives ±Inf, which compares fine
	return f
}

// isMultiple is exact for integers and tolerates binary rounding for decimals (0.3 of 0.1).
func isMultiple(v, factor json.Number) bool {
	i, errV := v.Int64()
	f, errF := factor.Int64()
	if errV == nil && errF == nil && f > 0 {
		return i%f == 0
	}
	q := toFloat(v) / toFloat(factor)
	return toFloat(factor) <= 0 || math.Abs(q-math.Round(q)) <= 1e-9*math.Max(1, math.Abs(q))
}

// copyJSON deep-copies decoded JSON; float64 numbers become json.Number, as the server keeps them.
func copyJSON(v any) any {
	if m, ok := asMap(v); ok {
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = copyJSON(x)
		}
		return out
	}
	if l, ok := v.([]any); ok {
		out := make([]any, len(l))
		for i, x := range l {
			out[i] = copyJSON(x)
		}
		return out
	}
	if n, ok := asNumber(v); ok {
		return n
	}
	return v // other scalars are immutable
}

func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func itemPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEqualTo(inclusive bool) string {
	if inclusive {
		return "or equal to "
	}
	return ""
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// newCause builds a cause whose message reads like apimachinery's field.Error.ErrorBody(), which
// is what kubectl prints for each cause: "<what>[: <bad value>][: <detail>]".
func newCause(reason, field string, value any, detail string) cause {
	msg := "Invalid value: " + renderValue(value) // FieldValueInvalid and FieldValueTypeInvalid
	switch reason {
	case "FieldValueRequired":
		msg = "Required value"
	case "FieldValueForbidden":
		msg = "Forbidden"
	case "FieldValueTooLong":
		msg = "Too long"
	case "FieldValueNotSupported":
		msg = "Unsupported value: " + renderValue(value)
	case "FieldValueDuplicate":
		msg = "Duplicate value: " + renderValue(value)
	case "FieldValueTooMany":
		msg = "Too many: " + renderValue(value)
	}
	if detail != "" {
		msg += ": " + detail
	}
	return cause{Reason: reason, Message: msg, Field: field}
}

func required(field, detail string) cause {
	return newCause("FieldValueRequired", field, nil, detail)
}

func forbidden(field, detail string) cause {
	return newCause("FieldValueForbidden", field, nil, detail)
}

func invalid(field string, value any, detail string) cause {
	return newCause("FieldValueInvalid", field, value, detail)
}

func tooMany(field string, actual, max int64) cause {
	return newCause("FieldValueTooMany", field, actual, fmt.Sprintf("must have at most %d %s", max, plural(max, "item")))
}

// requiredOrInvalid is how Kubernetes reports a type that must be X: missing, or wrong.
func requiredOrInvalid(field, value, detail string) cause {
	if value == "" {
		return required(field, detail)
	}
	return invalid(field, value, detail)
}

func notSupported(field string, value any, supported []string) cause {
	quoted := make([]string, len(supported))
	for i, v := range supported {
		quoted[i] = strconv.Quote(v)
	}
	return newCause("FieldValueNotSupported", field, value, "supported values: "+strings.Join(quoted, ", "))
}

// renderValue prints a bad value as field.Error does, strings quoted and the rest as JSON. Being
// canonical (map keys sorted), it also serves to compare values for enum and list uniqueness.
func renderValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
