// Exercise 02 (second): set-based label selectors.
//
// kubectl get pods -l 'env in (prod,staging),tier!=db,!legacy' sends a
// label selector that the API server reads with a small lexer and a
// recursive-descent parser, then matches against each object's labels.
// This exercise writes the parser, with Kubernetes' error messages, the
// matcher, and the selector's canonical string.
//
// Edit this file. The tests in selectors_test.go are the specification;
// README.md explains the grammar and the messages.
package setselectors

import (
	"fmt"
	"regexp"
	"strings"
)

// Labels are an object's labels.
type Labels map[string]string

// Operator is how a requirement relates its key to its values. The strings
// are those of k8s.io/apimachinery/pkg/selection.
type Operator string

const (
	Equals       Operator = "="      // key=value
	DoubleEquals Operator = "=="     // key==value: another spelling of =
	NotEquals    Operator = "!="     // key!=value
	In           Operator = "in"     // key in (a,b)
	NotIn        Operator = "notin"  // key notin (a,b)
	Exists       Operator = "exists" // key
	DoesNotExist Operator = "!"      // !key
	GreaterThan  Operator = "gt"     // key>5
	LessThan     Operator = "lt"     // key<5
)

// Requirement is one term of a selector.
type Requirement struct {
	Key      string
	Operator Operator
	// Values: none for Exists and DoesNotExist; one for =, ==, !=, gt and
	// lt; for in and notin the set of values, sorted, each once.
	Values []string
}

// Selector is the requirements of a selector, all of which must hold,
// sorted by key (requirements with the same key keep their order). The
// empty selector selects everything.
type Selector []Requirement

// Given: the label key and value rules, with Kubernetes' words. They are
// k8s.io/apimachinery/pkg/api/validate/content's IsLabelKey and
// IsLabelValue, which the parser calls (rules 9 and 10 of the README).

const (
	labelFmt      = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
	labelValueFmt = "(" + labelFmt + ")?"
	subdomainFmt  = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
	nameMsg       = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + labelFmt + "')"
	valueMsg      = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '" + labelValueFmt + "')"
	subdomainMsg  = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" + subdomainFmt + "')"
)

var (
	labelRE      = regexp.MustCompile("^" + labelFmt + "$")
	labelValueRE = regexp.MustCompile("^" + labelValueFmt + "$")
	subdomainRE  = regexp.MustCompile("^" + subdomainFmt + "$")
)

// labelKeyErrors is what is wrong with a label key: an optional DNS
// subdomain prefix and "/", then a name of at most 63 bytes. Nil if nothing.
func labelKeyErrors(key string) []string {
	var errs []string
	parts := strings.Split(key, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			if len(prefix) > 253 {
				errs = append(errs, "prefix part must be no more than 253 bytes")
			}
			if !subdomainRE.MatchString(prefix) {
				errs = append(errs, "prefix part "+subdomainMsg)
			}
		}
	default:
		return append(errs, "a valid label key "+nameMsg+" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
	}
	if name == "" {
		errs = append(errs, "name part must be non-empty")
	} else if len(name) > 63 {
		errs = append(errs, "name part must be no more than 63 bytes")
	}
	if !labelRE.MatchString(name) {
		errs = append(errs, "name part "+nameMsg)
	}
	return errs
}

// labelValueErrors is what is wrong with a label value: empty, or at most
// 63 bytes of the label characters. Nil if nothing.
func labelValueErrors(value string) []string {
	var errs []string
	if len(value) > 63 {
		errs = append(errs, "must be no more than 63 bytes")
	}
	if !labelValueRE.MatchString(value) {
		errs = append(errs, valueMsg)
	}
	return errs
}

// invalid is one field error as k8s.io/apimachinery's field.Invalid prints
// it: `<path>: Invalid value: "<value>": <details joined by "; ">`.
func invalid(path, value string, details []string) string {
	return fmt.Sprintf("%s: Invalid value: %q: %s", path, value, strings.Join(details, "; "))
}

// Parse reads a label selector. A bad one is an error worded as
// k8s.io/apimachinery/pkg/labels.Parse words it.
func Parse(selector string) (Selector, error) {
	// TODO: a lexer: cut the selector into tokens (identifiers, and the
	//       operators and punctuation made of = ! ( ) , > <).
	// TODO: a parser: requirement by requirement, with one token of
	//       lookahead, and the error of the README's table where a token
	//       is not what the grammar allows.
	// TODO: check the key and the values; sort the values of in and notin,
	//       each once; sort the requirements by key, stably.
	panic("Please implement Parse")
}

// Matches reports whether labels satisfy the requirement.
func (r Requirement) Matches(labels Labels) bool {
	// TODO: one case per operator. Which ones does a missing label satisfy?
	panic("Please implement Requirement.Matches")
}

// Matches reports whether labels satisfy every requirement.
func (s Selector) Matches(labels Labels) bool {
	for _, r := range s {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// String is the selector's canonical form, as labels.Selector's String:
// the requirements in their order, joined by ",".
func (s Selector) String() string {
	// TODO: "!key", "key", "key=v", "key==v", "key!=v", "key>v", "key<v",
	//       "key in (a,b)", "key notin (a,b)".
	panic("Please implement Selector.String")
}
