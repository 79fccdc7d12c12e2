// Structural schema rules: what apiextensions-apiserver (pkg/apiserver/schema/validation.go and
// structural.go) requires of a CRD's schema before it accepts the CRD.

package schema

import (
	"maps"
	"reflect"
	"slices"
	"sort"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Structural lists why a schema is not structural (empty if it is). path is where the
// schema sits in the CRD, e.g. "spec.versions[0].schema.openAPIV3Schema".
func Structural(s *Props, path string) []apierrors.Cause {
	if s == nil {
		s = &Props{}
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

type schemaChecker struct{ causes []apierrors.Cause }

// check adds the cause when the rule is broken, so that each rule below reads as one line.
func (c *schemaChecker) check(broken bool, cs apierrors.Cause) {
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
func (c *schemaChecker) structural(s *Props, path string, level int, topMeta string) {
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
func (c *schemaChecker) keywords(s *Props, path string) {
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
func (c *schemaChecker) listMapKeys(s *Props, path string) {
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
func (c *schemaChecker) resourceMeta(s *Props, path string, root bool) {
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
	c.check(root && !reflect.DeepEqual(rest, Props{}), forbidden(path+".properties[metadata]",
		"must not specify anything other than name and generateName, but metadata is implicitly specified"))
}

// junctors checks the allOf/anyOf/oneOf/not branches of s. The skips let the two int-or-string
// shapes, `anyOf: [{type: integer}, {type: string}]` and the same as allOf[0], name their types.
func (c *schemaChecker) junctors(s *Props, path string, skipAnyOf, skipFirstAllOfAnyOf bool) {
	for _, b := range s.branches(path) {
		if !skipAnyOf || !slices.Contains(s.AnyOf, b.schema) {
			c.nested(b.schema, b.path, skipFirstAllOfAnyOf && b.schema == s.AllOf[0])
		}
	}
}

// nested checks a schema inside a junctor: it may check values but not say what they are.
func (c *schemaChecker) nested(s *Props, path string, skipAnyOf bool) {
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
func (c *schemaChecker) complete(j, s *Props, sPath, jPath string) {
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
func (c *schemaChecker) defaults(s *Props, path string, root bool) {
	if s.Default != nil {
		unknown := s.Prune(copyJSON(s.Default), "", s.XEmbeddedResource)
		c.check(len(unknown) > 0, invalid(path+".default", s.Default, "must not have unknown fields"))
		c.causes = append(c.causes, s.Validate(s.Default, path+".default")...)
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
	schema *Props
	path   string
}

// branches lists the allOf, anyOf, oneOf and not schemas of s, in that order, with their paths.
func (s *Props) branches(path string) []branch {
	var out []branch
	for _, j := range []struct {
		name string
		list []*Props
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
func isIntOrStringPair(list []*Props) bool {
	return len(list) == 2 && reflect.DeepEqual(*list[0], Props{Type: "integer"}) &&
		reflect.DeepEqual(*list[1], Props{Type: "string"})
}
