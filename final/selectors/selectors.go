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
	setTerm     = regexp.MustCompile(`^(\S+)\s+(in|notin)\s*\((.*)\)$`)
	equalityOps = []string{"!=", "==", "="} // longest first, so "==" is not read as "="
)

// parseLabelSelector reads a selector; an empty one selects everything.
func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	for _, term := range splitOutsideParens(s) {
		term = strings.TrimSpace(term)
		if term == "" {
			if strings.TrimSpace(s) == "" {
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
		req = requirement{key: strings.TrimSpace(term[1:]), operator: "!"}
	case m != nil:
		req = requirement{key: m[1], operator: m[2]}
		// "()" is the set holding the empty value, as in Kubernetes.
		for _, v := range strings.Split(m[3], ",") {
			req.values = append(req.values, strings.TrimSpace(v))
		}
	default:
		req = requirement{key: term, operator: "exists"}
		for _, op := range equalityOps {
			if k, v, found := strings.Cut(term, op); found {
				req = requirement{key: strings.TrimSpace(k), operator: op, values: []string{strings.TrimSpace(v)}}
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
	var sel fieldSelector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	known := append([]string{"metadata.name", "metadata.namespace"}, extraFields...)
	for _, term := range strings.Split(s, ",") {
		var req fieldRequirement
		found := false
		for _, op := range equalityOps {
			if f, v, ok := strings.Cut(term, op); ok {
				req, found = fieldRequirement{field: strings.TrimSpace(f), value: strings.TrimSpace(v), negate: op == "!="}, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewBadRequest("invalid selector: %q; can't understand %q", s, term)
		}
		if !slices.Contains(known, req.field) {
			quoted := make([]string, len(known))
			for i, f := range known {
				quoted[i] = strconv.Quote(f)
			}
			return nil, apierrors.NewBadRequest("%q is not a known field selector: only %s", req.field, strings.Join(quoted, ", "))
		}
		sel = append(sel, req)
	}
	return sel, nil
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
