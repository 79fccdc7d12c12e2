package selectors

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// String writes a label selector back in the syntax it was read from.
func (sel labelSelector) String() string {
	terms := make([]string, len(sel))
	for i, req := range sel {
		switch req.operator {
		case "exists":
			terms[i] = req.key
		case "!":
			terms[i] = "!" + req.key
		case "in", "notin":
			terms[i] = req.key + " " + req.operator + " (" + strings.Join(req.values, ",") + ")"
		default:
			terms[i] = req.key + req.operator + req.values[0]
		}
	}
	return strings.Join(terms, ",")
}

func (sel fieldSelector) String() string {
	terms := make([]string, len(sel))
	for i, req := range sel {
		op := "="
		if req.negate {
			op = "!="
		}
		value := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`).Replace(req.value)
		terms[i] = req.field + op + value
	}
	return strings.Join(terms, ",")
}

// FuzzLabelSelector parses arbitrary label selectors. One that parses must
// read the same when written back, be read by Kubernetes' own parser
// (k8s.io/apimachinery/pkg/labels), and select the same label sets as it;
// one that Kubernetes reads must parse here too, unless it uses the
// operators this server lacks ("<" and ">").
func FuzzLabelSelector(f *testing.F) {
	for _, seed := range []string{
		"app=web", "app==web,tier!=db", "env in (prod, staging)", "env notin (dev),!legacy", "app",
		"example.com/app=x", "a in ()", "a=", "a,b,c", " a = b ", "a in (b),c notin (d,e)", "!a,!b",
		"a=b=c", "a!=", "a in (b", "a in b)", "x'; DROP TABLE pods", "a\x00=b", "é=b", "a>1", "a<1",
		"a in ((b))", ",", "a,,b", strings.Repeat("a", 64) + "=b", "a=" + strings.Repeat("b", 64),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseLabelSelector(s)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("%q: %v is not a BadRequest", s, err)
			}
			// Kubernetes' lexer skips NUL bytes ("a\x00=b" is a=b); here
			// they are not part of any key or value.
			if theirs, err2 := labels.Parse(s); err2 == nil && !strings.ContainsRune(s, 0) {
				reqs, _ := theirs.Requirements()
				if !slices.ContainsFunc(reqs, func(r labels.Requirement) bool {
					return r.Operator() == selection.GreaterThan || r.Operator() == selection.LessThan
				}) {
					t.Fatalf("%q: refused here (%v), Kubernetes reads %v", s, err, theirs)
				}
			}
			return
		}
		again, err := parseLabelSelector(sel.String())
		if err != nil || !reflect.DeepEqual(again, sel) {
			t.Fatalf("%q read as %#v, written as %q, read again as %#v (%v)", s, sel, sel.String(), again, err)
		}
		theirs, err := labels.Parse(s)
		if err != nil {
			t.Fatalf("%q: accepted here, Kubernetes says %v", s, err)
		}
		for _, set := range labelSetsFor(sel) {
			if got, want := sel.matches(set), theirs.Matches(labels.Set(set)); got != want {
				t.Fatalf("%q on %v: matches %v, Kubernetes says %v", s, set, got, want)
			}
		}
	})
}

// labelSetsFor makes label sets that tell a selector's answers apart: no
// labels, every key with each value the selector names, and every key
// with a value it does not name.
func labelSetsFor(sel labelSelector) []map[string]string {
	sets := []map[string]string{{}}
	for i := range 3 {
		set := map[string]string{}
		for _, req := range sel {
			switch {
			case i < len(req.values):
				set[req.key] = req.values[i]
			case i == 2:
				set[req.key] = "not-named"
			default:
				set[req.key] = ""
			}
		}
		sets = append(sets, set)
	}
	return sets
}

// FuzzFieldSelector parses arbitrary field selectors. One that parses reads
// the same when written back, and reads as Kubernetes' parser
// (k8s.io/apimachinery/pkg/fields) reads it; one that Kubernetes' parser
// reads, over fields this server knows, parses here too.
func FuzzFieldSelector(f *testing.F) {
	for _, seed := range []string{
		"metadata.name=a", "metadata.name==a,metadata.namespace!=b", "spec.nodeName=", "metadata.name=a=b",
		"metadata.name!=a!=b", "status.phase", "metadata.name in (a)", ",", "metadata.name=a,", " metadata.name = a ",
		"metadata.name=x'; DROP TABLE pods", "metadata.name=\x00", "metadata.name=a\\,b",
		`metadata.name=a\=b\\`, `metadata.name=a\`, `metadata.name=a\b`, "metadata.name=a,,", "metadata.name= =",
	} {
		f.Add(seed)
	}
	known := []string{"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}
	f.Fuzz(func(t *testing.T, s string) {
		theirs, theirErr := fields.ParseSelector(s)
		sel, err := parseFieldSelector(s, known[2:]...)
		if err != nil {
			if !isBadRequest(err) {
				t.Fatalf("%q: %v is not a BadRequest", s, err)
			}
			if theirErr == nil && !slices.ContainsFunc(theirs.Requirements(), func(r fields.Requirement) bool { return !slices.Contains(known, r.Field) }) {
				t.Fatalf("%q: refused here (%v), Kubernetes reads %v", s, err, theirs)
			}
			return
		}
		again, err := parseFieldSelector(sel.String(), known[2:]...)
		if err != nil || !reflect.DeepEqual(again, sel) {
			t.Fatalf("%q read as %#v, written as %q, read again as %#v (%v)", s, sel, sel.String(), again, err)
		}
		if theirErr != nil {
			t.Fatalf("%q: read here as %#v, Kubernetes says %v", s, sel, theirErr)
		}
		var ours, want []string
		for _, req := range sel {
			ours = append(ours, fmt.Sprintf("%s %v %q", req.field, req.negate, req.value))
		}
		for _, req := range theirs.Requirements() {
			want = append(want, fmt.Sprintf("%s %v %q", req.Field, req.Operator == selection.NotEquals, req.Value))
		}
		slices.Sort(ours)
		slices.Sort(want)
		if !slices.Equal(ours, want) {
			t.Fatalf("%q: read here as %v, by Kubernetes as %v", s, ours, want)
		}
	})
}
