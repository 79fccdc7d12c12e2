// Selectors filter a list on the server. A label selector is a comma-separated
// list of requirements, all of which must hold:
//
//	app=web  app==web  tier!=db  env in (prod,staging)  env notin (dev)  app  !app
//
// A field selector does the same for a few fields of the object itself; like
// for most resources in Kubernetes, those are metadata.name and metadata.namespace.
package main

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// requirement is one term of a label selector.
type requirement struct {
	key      string
	operator string // "=", "!=", "in", "notin", "exists", "!"
	values   []string
}

type labelSelector []requirement

var (
	labelName   = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
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
			return nil, errBadRequest("unable to parse requirement: empty term in label selector %q", s)
		}
		req, err := parseRequirement(term)
		if err != nil {
			return nil, errBadRequest("unable to parse requirement: %v", err)
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
	if err := validateLabelKey(req.key); err != nil {
		return req, err
	}
	for _, v := range req.values {
		if v != "" && (len(v) > 63 || !labelName.MatchString(v)) {
			return req, fmt.Errorf("invalid label value: %q: must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'", v)
		}
	}
	return req, nil
}

// validateLabelKey checks a key: an optional DNS subdomain prefix and "/", then a name.
func validateLabelKey(key string) error {
	name := key
	if prefix, rest, found := strings.Cut(key, "/"); found {
		if validateSubdomain(prefix) != "" {
			return fmt.Errorf("invalid label key %q: prefix must be a DNS subdomain", key)
		}
		name = rest
	}
	if len(name) == 0 || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Errorf("invalid label key %q: name part must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'", key)
	}
	return nil
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

// parseFieldSelector reads a field selector over the fields this server knows.
func parseFieldSelector(s string) (fieldSelector, error) {
	var sel fieldSelector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
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
			return nil, errBadRequest("invalid selector: %q; can't understand %q", s, term)
		}
		if req.field != "metadata.name" && req.field != "metadata.namespace" {
			return nil, errBadRequest(`%q is not a known field selector: only "metadata.name", "metadata.namespace"`, req.field)
		}
		sel = append(sel, req)
	}
	return sel, nil
}

func (sel fieldSelector) matches(obj object) bool {
	for _, req := range sel {
		value := obj.metaString(strings.TrimPrefix(req.field, "metadata."))
		if (value == req.value) == req.negate {
			return false
		}
	}
	return true
}

// parseSelectors reads labelSelector and fieldSelector into one test.
func parseSelectors(r *http.Request) (func(object) bool, error) {
	labels, err := parseLabelSelector(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, err
	}
	fields, err := parseFieldSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		return nil, err
	}
	return func(obj object) bool { return labels.matches(obj.labels()) && fields.matches(obj) }, nil
}
