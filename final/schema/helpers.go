// Helpers for the schema's files: walking a schema, reading JSON values, and building causes
// whose messages read like apimachinery's field.Error.

package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

func (s *Props) preserves() bool {
	return s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
}

// fieldSchema finds the schema of key k: its property, else additionalProperties, which may
// specify the key without giving a schema (true or false).
func (s *Props) fieldSchema(k string) (*Props, bool) {
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

func (s *Props) itemSchema() *Props {
	if s == nil {
		return nil
	}
	return s.Items
}

// typeName is s.Type, or "" for no schema at all.
func (s *Props) typeName() string {
	if s == nil {
		return ""
	}
	return s.Type
}

func isMetaField(k string) bool { return k == "apiVersion" || k == "kind" || k == "metadata" }

// asMap accepts a decoded JSON object, and any map type built on one (object.Object): this
// package cannot name that type, and must not take it for a value of another JSON type.
func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	mapType := reflect.TypeFor[map[string]any]()
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Map && rv.Type().ConvertibleTo(mapType) {
		return rv.Convert(mapType).Interface().(map[string]any), true // the same map, not a copy
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
func newCause(reason, field string, value any, detail string) apierrors.Cause {
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
	return apierrors.Cause{Reason: reason, Message: msg, Field: field}
}

func required(field, detail string) apierrors.Cause {
	return newCause("FieldValueRequired", field, nil, detail)
}

func forbidden(field, detail string) apierrors.Cause {
	return newCause("FieldValueForbidden", field, nil, detail)
}

func invalid(field string, value any, detail string) apierrors.Cause {
	return newCause("FieldValueInvalid", field, value, detail)
}

func tooMany(field string, actual, max int64) apierrors.Cause {
	return newCause("FieldValueTooMany", field, actual, fmt.Sprintf("must have at most %d %s", max, plural(max, "item")))
}

// requiredOrInvalid is how Kubernetes reports a type that must be X: missing, or wrong.
func requiredOrInvalid(field, value, detail string) apierrors.Cause {
	if value == "" {
		return required(field, detail)
	}
	return invalid(field, value, detail)
}

func notSupported(field string, value any, supported []string) apierrors.Cause {
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
