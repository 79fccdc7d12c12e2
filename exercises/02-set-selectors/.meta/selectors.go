// Exercise 02 (second): set-based label selectors. Reference solution.
//
// kubectl get pods -l 'env in (prod,staging),tier!=db,!legacy' sends a
// label selector that the API server reads with a small lexer and a
// recursive-descent parser, then matches against each object's labels.
// This exercise writes the parser, with Kubernetes' error messages, the
// matcher, and the selector's canonical string.
package setselectors

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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

// The label key and value rules, with Kubernetes' words. Given: they are
// k8s.io/apimachinery/pkg/api/validate/content's IsLabelKey and
// IsLabelValue, which the parser calls.

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

// The lexer. A token is an operator or punctuation, made of the special
// characters, or an identifier: a run of anything else but whitespace.

type token int

const (
	tokEnd token = iota
	tokIdent
	tokIn
	tokNotIn
	tokOpen
	tokClose
	tokComma
	tokNot
	tokEquals
	tokDoubleEquals
	tokNotEquals
	tokGreater
	tokLess
)

var symbols = map[string]token{
	"(": tokOpen, ")": tokClose, ",": tokComma, "!": tokNot, "=": tokEquals,
	"==": tokDoubleEquals, "!=": tokNotEquals, ">": tokGreater, "<": tokLess,
}

type item struct {
	tok token
	lit string
}

func isSpace(c byte) bool   { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isSpecial(c byte) bool { return strings.IndexByte("=!(),<>", c) >= 0 }

// lex cuts the selector into tokens, ending with tokEnd. A run of special
// characters is read as its longest prefix that is a symbol, so "!=" is one
// token and "=!" two; "in" and "notin" are keywords, which the parser
// takes for identifiers wherever no operator may stand.
func lex(s string) []item {
	var items []item
	for i := 0; ; {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		switch {
		case i == len(s):
			return append(items, item{tokEnd, ""})
		case isSpecial(s[i]):
			n := 1
			if i+1 < len(s) {
				if _, ok := symbols[s[i:i+2]]; ok {
					n = 2
				}
			}
			items = append(items, item{symbols[s[i:i+n]], s[i : i+n]})
			i += n
		default:
			start := i
			for i < len(s) && !isSpecial(s[i]) && !isSpace(s[i]) {
				i++
			}
			lit := s[start:i]
			tok := tokIdent
			switch lit {
			case "in":
				tok = tokIn
			case "notin":
				tok = tokNotIn
			}
			items = append(items, item{tok, lit})
		}
	}
}

// The parser: recursive descent over the tokens, one token of lookahead.

type parser struct {
	items []item
	pos   int
}

// peek is the next token. asOperator says whether an operator may stand
// here: anywhere else, "in" and "notin" are plain identifiers.
func (p *parser) peek(asOperator bool) item {
	it := p.items[p.pos]
	if !asOperator && (it.tok == tokIn || it.tok == tokNotIn) {
		it.tok = tokIdent
	}
	return it
}

func (p *parser) next(asOperator bool) item {
	it := p.peek(asOperator)
	if it.tok != tokEnd {
		p.pos++
	}
	return it
}

func found(it item, expected string) error {
	return fmt.Errorf("found '%s', expected: %s", it.lit, expected)
}

// Parse reads a label selector. Bad ones are errors worded as
// k8s.io/apimachinery/pkg/labels.Parse words them.
func Parse(selector string) (Selector, error) {
	p := &parser{items: lex(selector)}
	var sel Selector
	if p.peek(false).tok == tokEnd {
		return sel, nil
	}
	for {
		if it := p.peek(false); it.tok != tokIdent && it.tok != tokNot {
			return nil, found(it, "!, identifier, or 'end of string'")
		}
		req, err := p.requirement()
		if err != nil {
			return nil, fmt.Errorf("unable to parse requirement: %w", err)
		}
		sel = append(sel, req)
		switch it := p.next(false); it.tok {
		case tokEnd:
			// Sorted by key, so that two spellings of a selector are one.
			slices.SortStableFunc(sel, func(a, b Requirement) int { return strings.Compare(a.Key, b.Key) })
			return sel, nil
		case tokComma:
			if it := p.peek(false); it.tok != tokIdent && it.tok != tokNot {
				return nil, found(it, "identifier after ','")
			}
		default:
			return nil, found(it, "',' or 'end of string'")
		}
	}
}

// requirement reads [!]key [operator values].
func (p *parser) requirement() (Requirement, error) {
	op := Exists
	if p.peek(false).tok == tokNot {
		p.next(false)
		op = DoesNotExist
	}
	key := p.next(false)
	if key.tok != tokIdent {
		return Requirement{}, found(key, "identifier")
	}
	if errs := labelKeyErrors(key.lit); len(errs) > 0 {
		// The parser has no field path: Kubernetes prints a nil one.
		return Requirement{}, errors.New(invalid("<nil>", key.lit, errs))
	}
	if op == DoesNotExist {
		return Requirement{Key: key.lit, Operator: op}, nil
	}
	if it := p.peek(false); it.tok == tokEnd || it.tok == tokComma {
		return Requirement{Key: key.lit, Operator: Exists}, nil
	}
	var values []string
	var err error
	switch it := p.next(true); it.tok {
	case tokIn, tokNotIn:
		op = Operator(it.lit)
		values, err = p.set()
	case tokEquals, tokDoubleEquals, tokNotEquals:
		op = Operator(it.lit)
		values, err = p.exactValue()
	case tokGreater:
		op = GreaterThan
		values, err = p.exactValue()
	case tokLess:
		op = LessThan
		values, err = p.exactValue()
	default:
		return Requirement{}, found(it, "in, notin, =, ==, !=, gt, lt")
	}
	if err != nil {
		return Requirement{}, err
	}
	return Requirement{Key: key.lit, Operator: op, Values: values}, checkValues(key.lit, op, values)
}

// set reads "(" values ")": values separated by commas, where an empty
// place, and "()", is the empty value. The set comes back sorted, each
// value once.
func (p *parser) set() ([]string, error) {
	if it := p.next(false); it.tok != tokOpen {
		return nil, fmt.Errorf("found '%s' expected: '('", it.lit) // sic: no comma in Kubernetes' message
	}
	switch it := p.peek(false); it.tok {
	case tokClose:
		p.next(false)
		return []string{""}, nil
	case tokIdent, tokComma:
	default:
		return nil, found(it, "',', ')' or identifier")
	}
	values := []string{}
	afterComma := true // an empty place before the first comma is a value too
	for {
		switch it := p.next(false); {
		case it.tok == tokIdent && afterComma:
			values = append(values, it.lit)
			afterComma = false
			if next := p.peek(false); next.tok != tokComma && next.tok != tokClose {
				return nil, found(next, "',' or ')'")
			}
		case it.tok == tokComma:
			if afterComma {
				values = append(values, "")
			}
			afterComma = true
		case it.tok == tokClose:
			if afterComma {
				values = append(values, "")
			}
			slices.Sort(values)
			return slices.Compact(values), nil
		default:
			return nil, found(it, "',', or identifier")
		}
	}
}

// exactValue reads the one value of =, ==, !=, > and <. Nothing before a
// comma or the end is the empty value.
func (p *parser) exactValue() ([]string, error) {
	if it := p.peek(false); it.tok == tokEnd || it.tok == tokComma {
		return []string{""}, nil
	}
	it := p.next(false)
	if it.tok != tokIdent {
		return nil, found(it, "identifier")
	}
	return []string{it.lit}, nil
}

// checkValues is NewRequirement's check of the values: integers for gt and
// lt, and every value a label value. Each error names the value's index in
// the sorted set; several errors are one, in brackets.
func checkValues(key string, op Operator, values []string) error {
	var errs []string
	if op == GreaterThan || op == LessThan {
		for i, v := range values {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				errs = append(errs, invalid(fmt.Sprintf("values[%d]", i), v, []string{"for 'Gt', 'Lt' operators, the value must be an integer"}))
			}
		}
	}
	for i, v := range values {
		if details := labelValueErrors(v); len(details) > 0 {
			errs = append(errs, invalid(fmt.Sprintf("values[%d][%s]", i, key), v, details))
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errors.New(errs[0])
	}
	return errors.New("[" + strings.Join(errs, ", ") + "]")
}

// Matches reports whether labels satisfy the requirement.
func (r Requirement) Matches(labels Labels) bool {
	value, has := labels[r.Key]
	switch r.Operator {
	case Equals, DoubleEquals, In:
		return has && slices.Contains(r.Values, value)
	case NotEquals, NotIn:
		return !has || !slices.Contains(r.Values, value)
	case Exists:
		return has
	case DoesNotExist:
		return !has
	case GreaterThan, LessThan:
		if !has || len(r.Values) != 1 {
			return false
		}
		got, err1 := strconv.ParseInt(value, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false // a label that is no number is neither more nor less
		}
		return r.Operator == GreaterThan && got > want || r.Operator == LessThan && got < want
	}
	return false
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
// requirements in their order, joined by ",", each written without
// spaces except around in and notin.
func (s Selector) String() string {
	terms := make([]string, len(s))
	for i, r := range s {
		terms[i] = r.String()
	}
	return strings.Join(terms, ",")
}

func (r Requirement) String() string {
	value := strings.Join(r.Values, ",")
	switch r.Operator {
	case Exists:
		return r.Key
	case DoesNotExist:
		return "!" + r.Key
	case In, NotIn:
		return r.Key + " " + string(r.Operator) + " (" + value + ")"
	case GreaterThan:
		return r.Key + ">" + value
	case LessThan:
		return r.Key + "<" + value
	}
	return r.Key + string(r.Operator) + value
}
