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
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
	var reasons []string
	structural(s, path, "at the root", &reasons)
	slices.Sort(reasons) // properties are a map: sorting is what makes the answer stable
	return reasons
}

// structural checks one node of the schema proper. where says what an empty
// type is missing from, in Kubernetes' words.
func structural(s *Schema, path, where string, reasons *[]string) {
	if s == nil {
		return
	}
	add := func(field, reason string) { *reasons = append(*reasons, field+": "+reason) }
	// Pruning and defaulting walk the schema beside the data; a node whose
	// type is not known cannot be walked, unless it says to keep whatever
	// comes.
	if s.Type == "" && !s.PreserveUnknownFields {
		add(child(path, "type"), "Required value: must not be empty "+where)
	}
	if where == "at the root" && s.Type != "" && s.Type != "object" {
		add(child(path, "type"), fmt.Sprintf("Invalid value: %q: must be object at the root", s.Type))
	}
	if s.Type == "array" && s.Items == nil {
		add(child(path, "items"), "Required value: must be specified")
	}
	structural(s.Items, child(path, "items"), "for specified array items", reasons)
	for name, p := range s.Properties {
		structural(p, child(path, "properties")+"["+name+"]", "for specified object fields", reasons)
	}
	for i, a := range s.AnyOf {
		valueValidation(a, fmt.Sprintf("%s[%d]", child(path, "anyOf"), i), reasons)
	}
	checkPattern(s, path, reasons)
}

// valueValidation checks a schema inside anyOf. There only checks are
// allowed: whatever would say what the data is (its type, whether it may be
// null, its default, whether to keep unknown fields) must come from the
// schema proper, or pruning and defaulting would depend on which branch
// happens to match.
func valueValidation(s *Schema, path string, reasons *[]string) {
	if s == nil {
		return
	}
	forbid := func(set bool, field, why string) {
		if set {
			*reasons = append(*reasons, child(path, field)+": Forbidden: "+why)
		}
	}
	forbid(s.Type != "", "type", "must be empty to be structural")
	forbid(s.Nullable, "nullable", "must be false to be structural")
	forbid(s.Default != nil, "default", "must be undefined to be structural")
	forbid(s.PreserveUnknownFields, "x-kubernetes-preserve-unknown-fields", "must be false to be structural")
	valueValidation(s.Items, child(path, "items"), reasons)
	for name, p := range s.Properties {
		valueValidation(p, child(path, "properties")+"["+name+"]", reasons)
	}
	for i, a := range s.AnyOf {
		valueValidation(a, fmt.Sprintf("%s[%d]", child(path, "anyOf"), i), reasons)
	}
	checkPattern(s, path, reasons)
}

// checkPattern refuses a pattern Go cannot compile, so that Validate never
// meets one.
func checkPattern(s *Schema, path string, reasons *[]string) {
	if s.Pattern == "" {
		return
	}
	if _, err := regexp.Compile(s.Pattern); err != nil {
		*reasons = append(*reasons, fmt.Sprintf("%s: Invalid value: %q: must be a valid regular expression, but isn't: %v",
			child(path, "pattern"), s.Pattern, err))
	}
}

// jsonType is the JSON type of a decoded value. A number without a fraction
// is an integer however it is written (3, 3.0, 1e3), as in Kubernetes, which
// decodes numbers to int64 or float64.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		if f, err := v.Float64(); err == nil && f == math.Trunc(f) {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// Validate returns every violation of s by value, which sits at path: a
// node's own checks first (its type, then its bounds, then its enum), then
// its missing required fields in the schema's order, then its fields by
// name, or its items in order.
func Validate(s *Schema, value any, path string) []Cause {
	if s == nil {
		return nil
	}
	var causes []Cause
	got := jsonType(value)
	if s.Type != "" && got != s.Type && !(s.Type == "number" && got == "integer") && !(value == nil && s.Nullable) {
		causes = append(causes, Cause{FieldValueTypeInvalid, fmt.Sprintf("Invalid value: %q: %s in body must be of type %s: %q", got, path, s.Type, got), path})
	}
	invalid := func(why string) {
		causes = append(causes, Cause{FieldValueInvalid, fmt.Sprintf("Invalid value: %s: %s in body %s", formatValue(value), path, why), path})
	}
	// The bounds that apply are the value's own, whatever the schema's type
	// says: a string's length and pattern, a number's range.
	switch v := value.(type) {
	case string:
		// maxLength counts characters, whatever the message says. A string
		// gets one cause at most, as kube-openapi stops at the first.
		if s.MaxLength != nil && int64(utf8.RuneCountInString(v)) > *s.MaxLength {
			unit := "bytes"
			if *s.MaxLength == 1 {
				unit = "byte"
			}
			causes = append(causes, Cause{FieldValueTooLong, fmt.Sprintf("Too long: may not be more than %d %s", *s.MaxLength, unit), path})
		} else if re, err := regexp.Compile(s.Pattern); s.Pattern != "" && err == nil && !re.MatchString(v) {
			invalid(fmt.Sprintf("should match '%s'", s.Pattern))
		}
	case json.Number:
		f, _ := v.Float64()
		if s.Maximum != nil && f > *s.Maximum {
			invalid(fmt.Sprintf("should be less than or equal to %v", *s.Maximum))
		}
		if s.Minimum != nil && f < *s.Minimum {
			invalid(fmt.Sprintf("should be greater than or equal to %v", *s.Minimum))
		}
	}
	// The enum applies to any value, null and the wrong type included.
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return sameJSON(e, value) }) {
		supported := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			text, ok := e.(string)
			if !ok {
				data, _ := json.Marshal(e)
				text = string(data)
			}
			supported[i] = strconv.Quote(text)
		}
		causes = append(causes, Cause{FieldValueNotSupported,
			fmt.Sprintf("Unsupported value: %s: supported values: %s", formatValue(value), strings.Join(supported, ", ")), path})
	}
	switch v := value.(type) {
	case map[string]any:
		for _, name := range s.Required {
			if _, ok := v[name]; !ok { // present but null is the type check's business
				causes = append(causes, Cause{FieldValueRequired, "Required value", child(path, name)})
			}
		}
		// Fields the schema does not know are not checked: pruning removes them.
		for _, name := range slices.Sorted(maps.Keys(v)) {
			causes = append(causes, Validate(s.Properties[name], v[name], child(path, name))...)
		}
	case []any:
		for i, item := range v {
			causes = append(causes, Validate(s.Items, item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return causes
}

// sameJSON compares two JSON values; numbers by value, so 3 and 3.0 are one.
func sameJSON(a, b any) bool {
	x, aNum := a.(json.Number)
	y, bNum := b.(json.Number)
	if aNum && bNum {
		fx, errx := x.Float64()
		fy, erry := y.Float64()
		return errx == nil && erry == nil && fx == fy
	}
	return reflect.DeepEqual(a, b)
}

// rootFields are kept at the root of an object whatever its schema says:
// they are the API server's, not the CRD author's.
var rootFields = map[string]bool{"apiVersion": true, "kind": true, "metadata": true}

// Prune removes from value, in place, every field s does not specify, and
// returns their paths, sorted. root says value is a whole object.
func Prune(s *Schema, value any, root bool) []string {
	var pruned []string
	prune(s, value, "", root, &pruned)
	slices.Sort(pruned)
	return pruned
}

func prune(s *Schema, value any, path string, root bool, pruned *[]string) {
	switch v := value.(type) {
	case map[string]any:
		for name, field := range v {
			if root && rootFields[name] {
				continue
			}
			var p *Schema
			if s != nil {
				p = s.Properties[name]
			}
			switch {
			case p != nil:
				prune(p, field, child(path, name), false, pruned)
			case s != nil && s.PreserveUnknownFields:
				// Kept as sent, and not looked into: nothing there is known.
			default:
				delete(v, name)
				*pruned = append(*pruned, child(path, name))
			}
		}
	case []any:
		var items *Schema
		if s != nil {
			items = s.Items
		}
		for i, item := range v {
			prune(items, item, fmt.Sprintf("%s[%d]", path, i), false, pruned)
		}
	}
}

// Default fills in, in place, the defaults of s that value leaves out: a
// field that is missing, or null where null is not allowed, gets a copy of
// its default, but only inside an object that is there.
func Default(s *Schema, value any) {
	if s == nil {
		return
	}
	switch v := value.(type) {
	case map[string]any:
		for name, p := range s.Properties {
			if p == nil || p.Default == nil {
				continue
			}
			if current, ok := v[name]; !ok || (current == nil && !p.Nullable) {
				v[name] = deepCopy(p.Default)
			}
		}
		// After the defaults are in: a default of {} gets its own fields'
		// defaults too.
		for name, field := range v {
			Default(s.Properties[name], field)
		}
	case []any:
		for i := range v {
			if v[i] == nil && s.Items != nil && !s.Items.Nullable && s.Items.Default != nil {
				v[i] = deepCopy(s.Items.Default)
			}
			Default(s.Items, v[i])
		}
	}
}

// deepCopy copies a JSON value. A default is shared by every object the
// schema defaults; handing out the schema's own maps would let one object's
// change show up in the next.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v // strings, numbers, booleans and null are values
}
