// Validation: a custom object against its schema, with kube-openapi's messages
// (k8s.io/kube-openapi/pkg/validation/validate).

package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Validate checks a value against the schema and returns EVERY violation, each with its
// field path relative to the object root ("spec.replicas", "spec.ports[1].name",
// "spec.labels.team"). path is the value's own path ("" for the whole object).
//
// A value of the wrong type gets that one cause: its other keywords would only repeat it.
func (s *Props) Validate(value any, path string) []apierrors.Cause {
	if s == nil {
		return nil
	}
	got, want := jsonType(value), s.Type
	if s.XIntOrString {
		want = "integer,string"
	}
	if want != "" && !slices.Contains(strings.Split(want, ","), got) &&
		!(got == "integer" && want == "number") && !(got == "null" && s.Nullable) {
		return []apierrors.Cause{newCause("FieldValueTypeInvalid", path, got, fmt.Sprintf("%s in body must be of type %s: %q", path, want, got))}
	}
	var cs []apierrors.Cause
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

func (s *Props) validateObject(m map[string]any, path string) []apierrors.Cause {
	var cs []apierrors.Cause
	n := int64(len(m))
	if s.MinProperties != nil && n < *s.MinProperties {
		cs = append(cs, invalid(path, n, fmt.Sprintf("%s in body should have at least %d properties", path, *s.MinProperties)))
	}
	if s.MaxProperties != nil && n > *s.MaxProperties {
		cs = append(cs, tooMany(path, n, *s.MaxProperties))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		child, specified := s.fieldSchema(k) // an unspecified field is pruned, not refused
		cs = append(cs, child.Validate(m[k], childPath(path, k))...)
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
func (s *Props) validateString(v, path string) []apierrors.Cause {
	var cs []apierrors.Cause
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

func (s *Props) validateNumber(v json.Number, path string) []apierrors.Cause {
	var cs []apierrors.Cause
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

func (s *Props) validateArray(l []any, path string) []apierrors.Cause {
	var cs []apierrors.Cause
	n := int64(len(l))
	if s.MinItems != nil && n < *s.MinItems {
		cs = append(cs, invalid(path, n, fmt.Sprintf("%s in body should have at least %d items", path, *s.MinItems)))
	}
	if s.MaxItems != nil && n > *s.MaxItems {
		cs = append(cs, tooMany(path, n, *s.MaxItems))
	}
	for i, item := range l {
		cs = append(cs, s.Items.Validate(item, itemPath(path, i))...)
	}
	return append(cs, s.listDuplicates(l, path)...)
}

// listDuplicates enforces x-kubernetes-list-type set (unique items) and map (unique key fields),
// reporting each repeated value once, at its second occurrence (listtype/validation.go).
func (s *Props) listDuplicates(l []any, path string) []apierrors.Cause {
	if s.XListType != "set" && s.XListType != "map" {
		return nil
	}
	var cs []apierrors.Cause
	seen := map[string]int{}
	for i, item := range l {
		if s.XListType == "map" {
			m, isObject := asMap(item)
			if !isObject && item != nil {
				return []apierrors.Cause{invalid(itemPath(path, i), item, "must be an object for an array of list-type map")}
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
func (s *Props) validateJunctors(value any, path string) []apierrors.Cause {
	var cs []apierrors.Cause
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
		bc := b.Validate(value, path)
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
	if s.Not != nil && len(s.Not.Validate(value, path)) == 0 {
		composite("not validate the schema (not)")
	}
	return cs
}

// tryBranches counts the branches value satisfies and returns the causes of the closest miss.
func (s *Props) tryBranches(list []*Props, value any, path string) (valid int, closest []apierrors.Cause) {
	for _, b := range list {
		if bc := b.Validate(value, path); len(bc) == 0 {
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
