package selectors

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// isBadRequest tells whether err is a 400 BadRequest Status.
func isBadRequest(err error) bool {
	var se *apierrors.StatusError
	return errors.As(err, &se) && se.Code == http.StatusBadRequest && se.Reason == "BadRequest"
}

func TestParseLabelSelector(t *testing.T) {
	tests := []struct {
		selector string
		want     labelSelector
	}{
		{"", nil},
		{"app=web", labelSelector{{"app", "=", []string{"web"}}}},
		{"app==web", labelSelector{{"app", "=", []string{"web"}}}}, // == is another spelling of =
		{"tier!=db", labelSelector{{"tier", "!=", []string{"db"}}}},
		{"app=", labelSelector{{"app", "=", []string{""}}}}, // an empty value is a value
		{"env in (prod,staging)", labelSelector{{"env", "in", []string{"prod", "staging"}}}},
		{"env notin (dev)", labelSelector{{"env", "notin", []string{"dev"}}}},
		{"env in ()", labelSelector{{"env", "in", []string{""}}}}, // the set holding the empty value
		{"app", labelSelector{{"app", "exists", nil}}},
		{"!app", labelSelector{{"app", "!", nil}}},
		{"example.com/team=infra", labelSelector{{"example.com/team", "=", []string{"infra"}}}},
		{"app = web , tier!=db,env in ( prod , staging ),!legacy", labelSelector{
			{"app", "=", []string{"web"}},
			{"tier", "!=", []string{"db"}},
			{"env", "in", []string{"prod", "staging"}},
			{"legacy", "!", nil},
		}},
	}
	for _, tt := range tests {
		got, err := parseLabelSelector(tt.selector)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseLabelSelector(%q) = %v, %v; want %v", tt.selector, got, err, tt.want)
		}
	}
}

func TestParseLabelSelectorErrors(t *testing.T) {
	for _, selector := range []string{
		"-app=web",                       // a key starts with a letter or digit
		"app web",                        // no spaces inside a key
		"Example.com/app=web",            // the prefix is a lowercase DNS subdomain
		"example.com/=web",               // a prefix needs a name after it
		"env in (prod",                   // unbalanced parenthesis
		"app=-web",                       // a value starts with a letter or digit
		"app=a=b",                        // '=' is not allowed in a value
		"app=" + strings.Repeat("a", 64), // values are at most 63 characters
		"app=web,,tier=db",               // an empty term
		"app=web,",
		"\f", "app=web\v", // only blanks, tabs and line ends are white space
	} {
		sel, err := parseLabelSelector(selector)
		if !isBadRequest(err) {
			t.Errorf("parseLabelSelector(%q) = %v, %v; want a 400 BadRequest", selector, sel, err)
		}
	}
}

func TestLabelSelectorMatches(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "frontend"}
	db := map[string]string{"app": "db"}
	none := map[string]string{}
	tests := []struct {
		selector string
		labels   map[string]string
		want     bool
	}{
		{"", none, true}, // the empty selector selects everything
		{"app=web", web, true},
		{"app=web", db, false},
		{"app=web", none, false},
		{"app!=web", db, true},
		{"app!=web", none, true}, // a missing label is "not equal"
		{"app!=web", web, false},
		{"app in (web,db)", db, true},
		{"app in (web,db)", none, false},
		{"app notin (web)", db, true},
		{"app notin (web)", none, true}, // and "not in" too
		{"app notin (web)", web, false},
		{"tier", web, true},
		{"tier", db, false},
		{"!tier", db, true},
		{"!tier", web, false},
		{"app=", map[string]string{"app": ""}, true},
		{"app in ()", map[string]string{"app": ""}, true},
		{"app in ()", web, false},
		{"app=web,tier=frontend", web, true}, // every requirement must hold
		{"app=web,tier=backend", web, false},
	}
	for _, tt := range tests {
		sel, err := parseLabelSelector(tt.selector)
		if err != nil {
			t.Fatalf("parseLabelSelector(%q): %v", tt.selector, err)
		}
		if got := sel.matches(tt.labels); got != tt.want {
			t.Errorf("%q matches %v = %v, want %v", tt.selector, tt.labels, got, tt.want)
		}
	}
}

func TestFieldSelector(t *testing.T) {
	web := map[string]any{"metadata": map[string]any{"namespace": "default", "name": "web"}}
	tests := []struct {
		selector string
		want     bool
	}{
		{"", true},
		{"metadata.name=web", true},
		{"metadata.name==web", true},
		{"metadata.name=db", false},
		{"metadata.name!=db", true},
		{"metadata.name!=web", false},
		{"metadata.namespace=default", true},
		{"metadata.namespace=kube-system", false},
		{"metadata.namespace=default,metadata.name=web", true},
		{"metadata.namespace=default,metadata.name=db", false},
		{"metadata.name=web,,", true},    // empty terms are skipped
		{"=,metadata.name=web", true},    // and so is "="
		{`metadata.name=web\,db`, false}, // the value "web,db"
	}
	for _, tt := range tests {
		sel, err := parseFieldSelector(tt.selector)
		if err != nil {
			t.Fatalf("parseFieldSelector(%q): %v", tt.selector, err)
		}
		if got := sel.matches(web); got != tt.want {
			t.Errorf("%q matches default/web = %v, want %v", tt.selector, got, tt.want)
		}
	}
}

func TestFieldSelectorErrors(t *testing.T) {
	for _, selector := range []string{
		"spec.nodeName=node-1", // only metadata.name and metadata.namespace are supported
		"status.phase!=Running",
		"metadata.name",                                              // a field selector always compares
		"metadata.name=a=b", `metadata.name=a\`, `metadata.name=a\b`, // "=" in a value is escaped, as "\="
		" metadata.name=web", // nothing is trimmed
	} {
		sel, err := parseFieldSelector(selector)
		if !isBadRequest(err) {
			t.Errorf("parseFieldSelector(%q) = %v, %v; want a 400 BadRequest", selector, sel, err)
		}
	}
}

// A resource may offer more fields, at any depth; a number or a boolean
// compares as its JSON text, a missing field as "".
func TestExtraFields(t *testing.T) {
	pod := map[string]any{
		"metadata": map[string]any{"namespace": "default", "name": "web"},
		"spec":     map[string]any{"nodeName": "node-1", "priority": json.Number("10"), "hostNetwork": true},
		"status":   map[string]any{"phase": "Running"},
	}
	extra := []string{"spec.nodeName", "spec.priority", "spec.hostNetwork", "status.phase", "status.podIP"}
	tests := []struct {
		selector string
		want     bool
	}{
		{"spec.nodeName=node-1", true},
		{"spec.nodeName=node-2", false},
		{"status.phase!=Running", false},
		{"spec.priority=10", true},
		{"spec.hostNetwork=true", true},
		{"status.podIP=", true}, // not set yet
		{"status.podIP!=", false},
		{"metadata.name=web,spec.nodeName=node-1", true},
	}
	for _, tt := range tests {
		sel, err := parseFieldSelector(tt.selector, extra...)
		if err != nil {
			t.Fatalf("parseFieldSelector(%q): %v", tt.selector, err)
		}
		if got := sel.matches(pod); got != tt.want {
			t.Errorf("%q matches the pod = %v, want %v", tt.selector, got, tt.want)
		}
	}
	_, err := parseFieldSelector("spec.schedulerName=x", extra...)
	const want = `"spec.schedulerName" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.nodeName", "spec.priority", "spec.hostNetwork", "status.phase", "status.podIP"`
	if !isBadRequest(err) || err.Error() != want {
		t.Errorf("an unknown field: %v\nwant %s", err, want)
	}
}

// Parse joins both selectors: an object must pass each.
func TestParseAndMatches(t *testing.T) {
	web := map[string]any{"metadata": map[string]any{"namespace": "default", "name": "web", "labels": map[string]any{"app": "web"}}}
	db := map[string]any{"metadata": map[string]any{"namespace": "default", "name": "db", "labels": map[string]any{"app": "db"}}}
	bare := map[string]any{"kind": "ConfigMap"}
	tests := []struct {
		labels, fields string
		want           []bool // web, db, bare
	}{
		{"", "", []bool{true, true, true}},
		{"app=web", "", []bool{true, false, false}},
		{"", "metadata.name!=web", []bool{false, true, true}},
		{"app", "metadata.namespace=default", []bool{true, true, false}},
		{"app=web", "metadata.name=db", []bool{false, false, false}},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.labels, tt.fields)
		if err != nil {
			t.Fatalf("Parse(%q, %q): %v", tt.labels, tt.fields, err)
		}
		for i, obj := range []map[string]any{web, db, bare} {
			if got := sel.Matches(obj); got != tt.want[i] {
				t.Errorf("Parse(%q, %q) matches %v = %v, want %v", tt.labels, tt.fields, obj, got, tt.want[i])
			}
		}
	}
	if _, ok := bare["metadata"]; ok {
		t.Errorf("Matches wrote metadata into the object: %v", bare)
	}
	if !(Selector{}).Matches(bare) {
		t.Error("the zero Selector must select everything")
	}
	for _, bad := range [][2]string{{"-app", ""}, {"", "spec.nodeName=n1"}} {
		if _, err := Parse(bad[0], bad[1]); !isBadRequest(err) {
			t.Errorf("Parse(%q, %q) = %v, want a 400 BadRequest", bad[0], bad[1], err)
		}
	}
}
