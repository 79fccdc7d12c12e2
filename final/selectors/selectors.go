// Package selectors filters lists and watches on the server. A label selector
// is a comma-separated list of requirements, all of which must hold:
//
//	app=web  app==web  tier!=db  env in (prod,staging)  env notin (dev)  app  !app
//
// A field selector does the same for a few fields of the object itself:
// metadata.name and metadata.namespace for every resource, and whatever more
// the resource names (a pod's spec.nodeName, a CRD's selectableFields).
//
// Kubernetes keeps these in k8s.io/apimachinery/pkg/labels and
// k8s.io/apimachinery/pkg/fields; the query parameters are labelSelector and
// fieldSelector.
package selectors

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// Selector is a label selector and a field selector together. The zero
// Selector selects everything.
type Selector struct {
	labels labelSelector
	fields fieldSelector
}

// Parse reads a labelSelector and a fieldSelector parameter (either may be
// empty). A field selector may name metadata.name, metadata.namespace and the
// extraFields, each a dotted path into the object ("spec.nodeName"). A
// selector that does not parse is a 400 BadRequest.
func Parse(labelSelector, fieldSelector string, extraFields ...string) (Selector, error) {
	labels, err := parseLabelSelector(labelSelector)
	if err != nil {
		return Selector{}, err
	}
	fields, err := parseFieldSelector(fieldSelector, extraFields...)
	if err != nil {
		return Selector{}, err
	}
	return Selector{labels, fields}, nil
}

// Matches tells whether obj (decoded JSON) has the labels and the field
// values the selector asks for. It only reads obj.
func (s Selector) Matches(obj map[string]any) bool {
	return s.labels.matches(object.Object(obj).Labels()) && s.fields.matches(obj)
}

// requirement is one term of a label selector.
type requirement struct {
	key      string
	operator string // "=", "!=", "in", "notin", "exists", "!"
	values   []string
}

type labelSelector []requirement

var (
	setTerm     = regexp.MustCompile(`(?s)^([^ \t\r\n]+)[ \t\r\n]+(in|notin)[ \t\r\n]*\((.*)\)$`)
	equalityOps = []string{"!=", "==", "="} // longest first, so "==" is not read as "="
)

// parseLabelSelector reads a selector; an empty one selects everything.
func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	for _, term := range splitOutsideParens(s) {
		term = trimSpace(term)
		if term == "" {
			if trimSpace(s) == "" {
				return nil, nil
			}
			return nil, apierrors.NewBadRequest("unable to parse requirement: empty term in label selector %q", s)
		}
		req, err := parseRequirement(term)
		if err != nil {
			return nil, apierrors.NewBadRequest("unable to parse requirement: %v", err)
		}
		sel = append(sel, req)
	}
	return sel, nil
}

func parseRequirement(term string) (requirement, error) {
	var req requirement
	switch m := setTerm.FindStringSubmatch(term); {
	case strings.HasPrefix(term, "!"):
		req = requirement{key: trimSpace(term[1:]), operator: "!"}
	case m != nil:
		req = requirement{key: m[1], operator: m[2]}
		// "()" is the set holding the empty value, as in Kubernetes.
		for _, v := range strings.Split(m[3], ",") {
			req.values = append(req.values, trimSpace(v))
		}
	default:
		req = requirement{key: term, operator: "exists"}
		for _, op := range equalityOps {
			if k, v, found := strings.Cut(term, op); found {
				req = requirement{key: trimSpace(k), operator: op, values: []string{trimSpace(v)}}
				if op == "==" {
					req.operator = "="
				}
				break
			}
		}
	}
	if err := object.ValidateLabelKey(req.key); err != nil {
		return req, err
	}
	for _, v := range req.values {
		if !object.IsValidLabelValue(v) {
			return req, fmt.Errorf("invalid label value: %q: must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'", v)
		}
	}
	return req, nil
}

// trimSpace trims what Kubernetes' label selector lexer counts as
// white space: blanks, tabs and line ends, not every Unicode space.
func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }

// splitOutsideParens splits on commas that are not inside "( )".
func splitOutsideParens(s string) []string {
	var terms []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				terms = append(terms, s[start:i])
				start = i + 1
			}
		}
	}
	return append(terms, s[start:])
}

func (sel labelSelector) matches(labels map[string]string) bool {
	for _, req := range sel {
		value, has := labels[req.key]
		ok := false
		switch req.operator {
		case "=":
			ok = has && value == req.values[0]
		case "!=":
			ok = !has || value != req.values[0]
		case "in":
			ok = has && slices.Contains(req.values, value)
		case "notin":
			ok = !has || !slices.Contains(req.values, value)
		case "exists":
			ok = has
		case "!":
			ok = !has
		}
		if !ok {
			return false
		}
	}
	return true
}

// fieldRequirement is one term of a field selector: field=value or field!=value.
type fieldRequirement struct {
	field, value string
	negate       bool
}

type fieldSelector []fieldRequirement

// parseFieldSelector reads a field selector over metadata.name,
// metadata.namespace and the extra fields.
func parseFieldSelector(s string, extraFields ...string) (fieldSelector, error) {
	sel, err := readFieldTerms(s)
	if err != nil {
		return nil, err
	}
	known := append([]string{"metadata.name", "metadata.namespace"}, extraFields...)
	for _, req := range sel {
		if !slices.Contains(known, req.field) {
			quoted := make([]string, len(known))
			for i, f := range known {
				quoted[i] = strconv.Quote(f)
			}
			return nil, apierrors.NewBadRequest("%q is not a known field selector: only %s", req.field, strings.Join(quoted, ", "))
		}
	}
	return sel, nil
}

// FieldEqualities reads a field selector's field=value terms as
// [field, value] pairs, whatever the fields; a selector that does not
// parse is an error. Authorization reads a list's
// fieldSelector=metadata.name=<name> with it as a request for one object
// (Kubernetes' RequestInfo does the same), so it must read the selector
// exactly as the list does.
func FieldEqualities(fieldSelector string) ([][2]string, error) {
	sel, err := readFieldTerms(fieldSelector)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, req := range sel {
		if !req.negate {
			out = append(out, [2]string{req.field, req.value})
		}
	}
	return out, nil
}

// readFieldTerms reads the terms of a field selector. As in Kubernetes,
// nothing is trimmed, empty terms are skipped, and a value writes ",", "="
// and "\" as "\,", "\=" and "\\".
func readFieldTerms(s string) (fieldSelector, error) {
	var sel fieldSelector
	for _, term := range splitFieldTerms(s) {
		if term == "" {
			continue
		}
		field, op, value, ok := cutOperator(term)
		if !ok {
			return nil, apierrors.NewBadRequest("invalid selector: '%s'; can't understand '%s'", s, term)
		}
		value, err := unescapeFieldValue(value)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid field selector: %v", err)
		}
		if field == "" && value == "" {
			continue // "=" selects everything, as in Kubernetes
		}
		sel = append(sel, fieldRequirement{field: field, value: value, negate: op == "!="})
	}
	return sel, nil
}

// splitFieldTerms splits on the commas that are not escaped.
func splitFieldTerms(s string) []string {
	var terms []string
	start, escaped := 0, false
	for i, c := range s {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == ',':
			terms = append(terms, s[start:i])
			start = i + 1
		}
	}
	return append(terms, s[start:])
}

// cutOperator cuts a term at its first operator.
func cutOperator(term string) (field, op, value string, ok bool) {
	for i := range term {
		for _, op := range equalityOps {
			if strings.HasPrefix(term[i:], op) {
				return term[:i], op, term[i+len(op):], true
			}
		}
	}
	return "", "", "", false
}

// unescapeFieldValue reads a value's escapes; a bare "," or "=" in it is
// an error, as is any other escape.
func unescapeFieldValue(v string) (string, error) {
	if !strings.ContainsAny(v, `\,=`) {
		return v, nil // as is, bytes that are not UTF-8 too
	}
	var out strings.Builder
	escaped := false
	for _, c := range v {
		switch {
		case escaped && (c == '\\' || c == ',' || c == '='):
			out.WriteRune(c)
			escaped = false
		case escaped:
			return "", fmt.Errorf("invalid escape sequence: \\%c", c)
		case c == '\\':
			escaped = true
		case c == ',' || c == '=':
			return "", fmt.Errorf("unescaped character in value: %d", c)
		default:
			out.WriteRune(c)
		}
	}
	if escaped {
		return "", errors.New("invalid escape sequence: \\")
	}
	return out.String(), nil
}

func (sel fieldSelector) matches(obj map[string]any) bool {
	for _, req := range sel {
		if (fieldValue(obj, req.field) == req.value) == req.negate {
			return false
		}
	}
	return true
}

// fieldValue reads the value at a dotted path as a field selector compares
// it: a string as is, a number or a boolean as JSON, a missing field as "".
func fieldValue(obj map[string]any, path string) string {
	var v any = obj
	for _, key := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[key]
	}
	return object.JSONString(v)
}
