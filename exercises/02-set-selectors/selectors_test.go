package setselectors

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func req(key string, op Operator, values ...string) Requirement {
	return Requirement{Key: key, Operator: op, Values: values}
}

func sameSelector(a, b Selector) bool {
	return slices.EqualFunc(a, b, func(x, y Requirement) bool {
		// No values is no values, nil or empty.
		return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
	})
}

func show(s Selector) string {
	if len(s) == 0 {
		return "Selector{}"
	}
	var parts []string
	for _, r := range s {
		parts = append(parts, fmt.Sprintf("{%q %q %q}", r.Key, r.Operator, r.Values))
	}
	return "Selector{" + strings.Join(parts, ", ") + "}"
}

// valid is every well-formed selector of the tests: what it parses to, and
// its canonical string.
var valid = []struct {
	name     string
	selector string
	want     Selector
	str      string
}{
	{"the empty selector", "", nil, ""},
	{"only whitespace is empty too", " \t\r\n ", nil, ""},
	{"equality", "app=web", Selector{req("app", Equals, "web")}, "app=web"},
	{"== is kept as it was written", "app==web", Selector{req("app", DoubleEquals, "web")}, "app==web"},
	{"inequality", "tier!=db", Selector{req("tier", NotEquals, "db")}, "tier!=db"},
	{"an empty value is a value", "app=", Selector{req("app", Equals, "")}, "app="},
	{"!= an empty value", "app!=", Selector{req("app", NotEquals, "")}, "app!="},
	{"in", "env in (prod,staging)", Selector{req("env", In, "prod", "staging")}, "env in (prod,staging)"},
	{"in: a set, sorted, each value once", "env in (staging,prod,staging)", Selector{req("env", In, "prod", "staging")}, "env in (prod,staging)"},
	{"notin", "env notin (dev)", Selector{req("env", NotIn, "dev")}, "env notin (dev)"},
	{"() is the set holding the empty value", "env in ()", Selector{req("env", In, "")}, "env in ()"},
	{"(,) is the same set", "env in (,)", Selector{req("env", In, "")}, "env in ()"},
	{"an empty place between commas is the empty value", "x in (foo,,baz)", Selector{req("x", In, "", "baz", "foo")}, "x in (,baz,foo)"},
	{"so is one after the last comma", "x notin (a,)", Selector{req("x", NotIn, "", "a")}, "x notin (,a)"},
	{"no space is needed before the parenthesis", "x notin(a)", Selector{req("x", NotIn, "a")}, "x notin (a)"},
	{"exists", "app", Selector{req("app", Exists)}, "app"},
	{"does not exist", "!app", Selector{req("app", DoesNotExist)}, "!app"},
	{"a prefixed key", "example.com/team=infra", Selector{req("example.com/team", Equals, "infra")}, "example.com/team=infra"},
	{"keys and values may have capitals", "App=Web", Selector{req("App", Equals, "Web")}, "App=Web"},
	{"greater than", "replicas>3", Selector{req("replicas", GreaterThan, "3")}, "replicas>3"},
	{"less than, with a leading zero", "replicas<010", Selector{req("replicas", LessThan, "010")}, "replicas<010"},
	{"in and notin are names where no operator may stand", "in in (in,notin)", Selector{req("in", In, "in", "notin")}, "in in (in,notin)"},
	{"notin as a key, in as a value", "notin=in", Selector{req("notin", Equals, "in")}, "notin=in"},
	{"in alone is a key that exists", "in", Selector{req("in", Exists)}, "in"},
	{"requirements are sorted by key", "z,a=1,m", Selector{req("a", Equals, "1"), req("m", Exists), req("z", Exists)}, "a=1,m,z"},
	{"requirements with one key keep their order", "b,a=1,a!=2", Selector{req("a", Equals, "1"), req("a", NotEquals, "2"), req("b", Exists)}, "a=1,a!=2,b"},
	{"whitespace between tokens does not matter", "app = web , tier!=db,env in ( prod , staging ),!legacy", Selector{
		req("app", Equals, "web"), req("env", In, "prod", "staging"), req("legacy", DoesNotExist), req("tier", NotEquals, "db"),
	}, "app=web,env in (prod,staging),!legacy,tier!=db"},
	{"tabs and newlines are whitespace", "a\n=\tb,\r\nc", Selector{req("a", Equals, "b"), req("c", Exists)}, "a=b,c"},
	{"every operator at once", "a in (b),!c,d notin (e,f),g=h,i==j,k!=l,m>1,n<2", Selector{
		req("a", In, "b"), req("c", DoesNotExist), req("d", NotIn, "e", "f"), req("g", Equals, "h"),
		req("i", DoubleEquals, "j"), req("k", NotEquals, "l"), req("m", GreaterThan, "1"), req("n", LessThan, "2"),
	}, "a in (b),!c,d notin (e,f),g=h,i==j,k!=l,m>1,n<2"},
}

func TestParse(t *testing.T) {
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.selector)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.selector, err)
			}
			if !sameSelector(got, tt.want) {
				t.Errorf("Parse(%q) =\n\t%s\nwant\n\t%s", tt.selector, show(got), show(tt.want))
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.want.String(); got != tt.str {
				t.Errorf("%s.String() = %q, want %q", show(tt.want), got, tt.str)
			}
		})
	}
}

// The canonical string parses back to the same selector.
func TestRoundTrip(t *testing.T) {
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			back, err := Parse(tt.want.String())
			if err != nil || !sameSelector(back, tt.want) {
				t.Errorf("Parse(%q) = %s, %v; want %s", tt.want.String(), show(back), err, show(tt.want))
			}
		})
	}
}

// The rules of a label key's name, of a value, and of a key's prefix, as
// Kubernetes words them.
const (
	nameRule      = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
	valueRule     = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
	subdomainRule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	integerRule   = "for 'Gt', 'Lt' operators, the value must be an integer"
	unable        = "unable to parse requirement: "
)

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name     string
		selector string
		want     string
	}{
		// Between requirements.
		{"a selector cannot start with a comma", ",a", "found ',', expected: !, identifier, or 'end of string'"},
		{"nor with an operator", "=a", "found '=', expected: !, identifier, or 'end of string'"},
		{"nor with a parenthesis", "(a)", "found '(', expected: !, identifier, or 'end of string'"},
		{"a comma at the end", "a=b,", "found '', expected: identifier after ','"},
		{"two commas", "a,,b", "found ',', expected: identifier after ','"},
		{"'=' cannot be in a value", "a=b=c", "found '=', expected: ',' or 'end of string'"},
		{"a space does not separate requirements", "a=b c", "found 'c', expected: ',' or 'end of string'"},
		{"something after the set", "a in (b)c", "found 'c', expected: ',' or 'end of string'"},
		{"!key takes no operator", "!a=b", "found '=', expected: ',' or 'end of string'"},
		{"!key takes no set either", "!a in (b)", "found 'in', expected: ',' or 'end of string'"},

		// Inside a requirement.
		{"no key after !", "!", unable + "found '', expected: identifier"},
		{"two !", "!!a", unable + "found '!', expected: identifier"},
		{"a space inside a key", "app web", unable + "found 'web', expected: in, notin, =, ==, !=, gt, lt"},
		{"! alone is no operator", "a!b", unable + "found '!', expected: in, notin, =, ==, !=, gt, lt"},
		{"=== is == then =", "a===b", unable + "found '=', expected: identifier"},
		{"=!= is = then !=", "a=!=b", unable + "found '!=', expected: identifier"},
		{"<> is < then >", "a<>b", unable + "found '>', expected: identifier"},
		{"= takes one value, not a set", "a=(b)", unable + "found '(', expected: identifier"},
		{"in needs parentheses (and Kubernetes' message no comma)", "env in prod", unable + "found 'prod' expected: '('"},
		{"in at the end", "a in", unable + "found '' expected: '('"},
		{"an unclosed set", "env in (prod", unable + "found '', expected: ',' or ')'"},
		{"an unclosed set after a comma", "a in (b,", unable + "found '', expected: ',', or identifier"},
		{"values are separated by commas", "a in (b c)", unable + "found 'c', expected: ',' or ')'"},
		{"an operator inside a set", "a in (b,=)", unable + "found '=', expected: ',', or identifier"},
		{"sets do not nest", "a in ((b))", unable + "found '(', expected: ',', ')' or identifier"},

		// Keys.
		{"a key starts with a letter or digit", "-app=web", unable + `<nil>: Invalid value: "-app": name part ` + nameRule},
		{"the same after !", "!-a", unable + `<nil>: Invalid value: "-a": name part ` + nameRule},
		{"a prefix is a lowercase DNS subdomain", "Example.com/app=web", unable + `<nil>: Invalid value: "Example.com/app": prefix part ` + subdomainRule},
		{"a prefix needs a name after it", "example.com/=web", unable + `<nil>: Invalid value: "example.com/": name part must be non-empty; name part ` + nameRule},
		{"a / needs a prefix before it", "/a=b", unable + `<nil>: Invalid value: "/a": prefix part must be non-empty`},
		{"one / at most", "x/y/z=a", unable + `<nil>: Invalid value: "x/y/z": a valid label key ` + nameRule + ` with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`},
		{"a name is at most 63 bytes", long, unable + `<nil>: Invalid value: "` + long + `": name part must be no more than 63 bytes`},

		// Values.
		{"a value starts with a letter or digit", "a=-b", unable + `values[0][a]: Invalid value: "-b": ` + valueRule},
		{"a value is at most 63 bytes", "a=" + long, unable + `values[0][a]: Invalid value: "` + long + `": must be no more than 63 bytes`},
		{"a value is ASCII", "a=é", unable + `values[0][a]: Invalid value: "é": ` + valueRule},
		{"the index is the value's place in the sorted set", "a in (c,-b)", unable + `values[0][a]: Invalid value: "-b": ` + valueRule},
		{"two bad values are two errors, in brackets", "a in (-b,-c)", unable +
			`[values[0][a]: Invalid value: "-b": ` + valueRule + `, values[1][a]: Invalid value: "-c": ` + valueRule + `]`},
		{"gt and lt need an integer", "a>b", unable + `values[0]: Invalid value: "b": ` + integerRule},
		{"an empty value is no integer", "a<", unable + `values[0]: Invalid value: "": ` + integerRule},
		{"nor is a decimal", "a>1.5", unable + `values[0]: Invalid value: "1.5": ` + integerRule},
		{"nor a number beyond int64", "a>9223372036854775808", unable + `values[0]: Invalid value: "9223372036854775808": ` + integerRule},
		{"a negative integer is no label value", "a>-1", unable + `values[0][a]: Invalid value: "-1": ` + valueRule},
		{"no integer and no label value: both errors", "a>-b", unable +
			`[values[0]: Invalid value: "-b": ` + integerRule + `, values[0][a]: Invalid value: "-b": ` + valueRule + `]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := Parse(tt.selector)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want the error\n\t%s", tt.selector, show(sel), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n\t%s\nwant\n\t%s", tt.selector, err, tt.want)
			}
			if sel != nil {
				t.Errorf("Parse(%q) returned %s with its error, want nil", tt.selector, show(sel))
			}
		})
	}
}

func TestMatches(t *testing.T) {
	web := Labels{"app": "web", "tier": "frontend", "replicas": "3"}
	db := Labels{"app": "db", "replicas": "many"}
	blank := Labels{"app": ""}
	none := Labels{}
	tests := []struct {
		selector string
		labels   Labels
		want     bool
	}{
		{"", none, true},
		{"", web, true},
		{"app=web", web, true},
		{"app==web", web, true},
		{"app=web", db, false},
		{"app=web", none, false},
		{"app=", blank, true}, // the empty value is a value
		{"app=", none, false}, // but a missing label has none
		{"app!=web", db, true},
		{"app!=web", none, true}, // a missing label is not equal
		{"app!=web", web, false},
		{"app in (web,db)", db, true},
		{"app in (web,db)", none, false},
		{"app in ()", blank, true},
		{"app in ()", none, false},
		{"app notin (web)", db, true},
		{"app notin (web)", none, true}, // a missing label is not in any set
		{"app notin (web,db)", db, false},
		{"app", blank, true},
		{"app", none, false},
		{"!app", none, true},
		{"!app", blank, false},
		{"replicas>2", web, true},
		{"replicas>3", web, false},
		{"replicas<4", web, true},
		{"replicas<03", web, false},
		{"replicas>2", db, false},   // a label that is no number is neither more
		{"replicas<2", db, false},   // nor less
		{"replicas>2", none, false}, // nor is a missing one
		{"app=web,tier=frontend", web, true},
		{"app=web,tier=backend", web, false},
		{"app in (web,db),!legacy,replicas>0", web, true},
		{"app in (web,db),!legacy,replicas>0", db, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s on %v", tt.selector, tt.labels), func(t *testing.T) {
			sel, err := Parse(tt.selector)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.selector, err)
			}
			if got := sel.Matches(tt.labels); got != tt.want {
				t.Errorf("Parse(%q).Matches(%v) = %v, want %v", tt.selector, tt.labels, got, tt.want)
			}
		})
	}
}

// Requirement.Matches on requirements built by hand, without Parse.
func TestRequirementMatches(t *testing.T) {
	labels := Labels{"env": "prod", "size": "10"}
	tests := []struct {
		r    Requirement
		want bool
	}{
		{req("env", Equals, "prod"), true},
		{req("env", DoubleEquals, "dev"), false},
		{req("env", NotEquals, "dev"), true},
		{req("env", In, "dev", "prod"), true},
		{req("env", NotIn, "dev", "prod"), false},
		{req("env", Exists), true},
		{req("env", DoesNotExist), false},
		{req("team", DoesNotExist), true},
		{req("size", GreaterThan, "9"), true},
		{req("size", LessThan, "9"), false},
		{req("size", GreaterThan, "x"), false}, // not a number: no match, no panic
		{req("env", Operator("like")), false},  // an unknown operator matches nothing
	}
	for _, tt := range tests {
		if got := tt.r.Matches(labels); got != tt.want {
			t.Errorf("%+v.Matches(%v) = %v, want %v", tt.r, labels, got, tt.want)
		}
	}
}
