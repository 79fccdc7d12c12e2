// Field paths and sets of them, in the spelling metadata.managedFields uses
// (FieldsV1). A path is a list of elements, one per step into the object:
//
//	f:spec               the field "spec" of a map or struct
//	k:{"name":"web"}     the item of a list of maps whose keys have these values
//	v:"example.com"      the item of a list of scalars (a set) with this value
//	i:3                  the item at index 3 of a list that has neither
//
// A set is a tree of such elements. A node is a member when the path that
// leads to it is itself in the set; FieldsV1 writes that as "." when the node
// also has children, and a member without children as {}. In Kubernetes this
// is sigs.k8s.io/structured-merge-diff's fieldpath package (Set, Path,
// PathElement) and k8s.io/apimachinery/pkg/util/managedfields/internal's
// fields.go and pathelement.go, which read and write FieldsV1.
package fieldmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Set is a set of field paths, as a tree keyed by path elements.
type Set struct {
	member   bool
	children map[string]*Set
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Empty says whether the set holds no path at all.
func (s *Set) Empty() bool {
	if s == nil {
		return true
	}
	if s.member {
		return false
	}
	for _, c := range s.children {
		if !c.Empty() {
			return false
		}
	}
	return true
}

// Insert adds a path.
func (s *Set) Insert(path ...string) {
	for _, pe := range path {
		s = s.child(pe)
	}
	s.member = true
}

// Has says whether the set holds path.
func (s *Set) Has(path ...string) bool {
	for _, pe := range path {
		if s == nil {
			return false
		}
		s = s.children[pe]
	}
	return s != nil && s.member
}

func (s *Set) child(pe string) *Set {
	if s.children == nil {
		s.children = map[string]*Set{}
	}
	c := s.children[pe]
	if c == nil {
		c = &Set{}
		s.children[pe] = c
	}
	return c
}

// Union is every path in s or in o.
func (s *Set) Union(o *Set) *Set {
	return combine(s, o, func(a, b bool) bool { return a || b })
}

// Difference is every path in s and not in o.
func (s *Set) Difference(o *Set) *Set {
	return combine(s, o, func(a, b bool) bool { return a && !b })
}

// Intersection is every path in both s and o.
func (s *Set) Intersection(o *Set) *Set {
	return combine(s, o, func(a, b bool) bool { return a && b })
}

// combine builds a new set node by node: a node is a member when keep says
// so of its membership in a and b. Empty nodes are left out.
func combine(a, b *Set, keep func(inA, inB bool) bool) *Set {
	out := &Set{member: keep(a != nil && a.member, b != nil && b.member)}
	add := func(pe string, ca, cb *Set) {
		if c := combine(ca, cb, keep); c.member || len(c.children) > 0 { // it has no empty children
			if out.children == nil { // sized for the common case, a and b alike
				out.children = make(map[string]*Set, max(childCount(a), childCount(b)))
			}
			out.children[pe] = c
		}
	}
	if a != nil {
		for pe, ca := range a.children {
			var cb *Set
			if b != nil {
				cb = b.children[pe]
			}
			add(pe, ca, cb)
		}
	}
	if b != nil {
		for pe, cb := range b.children {
			if a == nil || a.children[pe] == nil {
				add(pe, nil, cb)
			}
		}
	}
	return out
}

func childCount(s *Set) int {
	if s == nil {
		return 0
	}
	return len(s.children)
}

// Paths lists the set's paths, each as its elements, in
// structured-merge-diff's order: at each level the members first, then
// what lies below each element, elements sorted.
func (s *Set) Paths() [][]string {
	var out [][]string
	var walk func(s *Set, prefix []string)
	walk = func(s *Set, prefix []string) {
		names := slices.Sorted(maps.Keys(s.children))
		for _, pe := range names {
			if s.children[pe].member {
				out = append(out, with(prefix, pe))
			}
		}
		for _, pe := range names {
			walk(s.children[pe], with(prefix, pe))
		}
	}
	if s != nil {
		if s.member {
			out = append(out, nil)
		}
		walk(s, nil)
	}
	return out
}

// FieldsV1 is the set as metadata.managedFields holds it.
func (s *Set) FieldsV1() map[string]any {
	out := make(map[string]any, len(s.children)+1)
	if s.member && len(s.children) > 0 {
		out["."] = map[string]any{}
	}
	for pe, c := range s.children {
		out[pe] = c.FieldsV1()
	}
	return out
}

// ParseFieldsV1 reads a set from its FieldsV1 form (decoded JSON).
func ParseFieldsV1(v any) (*Set, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected a JSON object of path elements, got %s", jsonString(v))
	}
	s := &Set{member: len(m) == 0}
	for pe, c := range m {
		if pe == "." {
			s.member = true
			continue
		}
		if err := checkElement(pe); err != nil {
			return nil, err
		}
		child, err := ParseFieldsV1(c)
		if err != nil {
			return nil, err
		}
		if s.children == nil {
			s.children = map[string]*Set{}
		}
		s.children[pe] = child
	}
	return s, nil
}

// checkElement refuses what is not a path element.
func checkElement(pe string) error {
	kind, rest, ok := strings.Cut(pe, ":")
	var err error
	switch {
	case !ok:
		err = fmt.Errorf("no type prefix")
	case kind == "f":
	case kind == "k":
		var keys map[string]any
		err = json.Unmarshal([]byte(rest), &keys)
	case kind == "v":
		var value any
		err = json.Unmarshal([]byte(rest), &value)
	case kind == "i":
		_, err = strconv.Atoi(rest)
	default:
		err = fmt.Errorf("unknown type prefix %q", kind)
	}
	if err != nil {
		return fmt.Errorf("invalid path element %q: %v", pe, err)
	}
	return nil
}

func fieldElement(name string) string { return "f:" + name }

func keyElement(keys map[string]any) string { return "k:" + jsonString(keys) }

func valueElement(v any) string { return "v:" + jsonString(v) }

// fieldName is the field an "f:" element names.
func fieldName(pe string) (string, bool) { return strings.CutPrefix(pe, "f:") }

// PathString writes a path the way conflict messages show it:
// .spec.containers[name="web"].image, .metadata.finalizers[="a"], .items[2].
func PathString(path []string) string {
	var b strings.Builder
	for _, pe := range path {
		kind, rest, _ := strings.Cut(pe, ":")
		switch kind {
		case "f":
			b.WriteString("." + rest)
		case "k":
			var keys map[string]any
			_ = json.Unmarshal([]byte(rest), &keys)
			parts := make([]string, 0, len(keys))
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				parts = append(parts, k+"="+valueString(keys[k]))
			}
			b.WriteString("[" + strings.Join(parts, ",") + "]")
		case "v":
			var v any
			_ = json.Unmarshal([]byte(rest), &v)
			b.WriteString("[=" + valueString(v) + "]")
		case "i":
			b.WriteString("[" + rest + "]")
		}
	}
	return b.String()
}

// valueString writes a scalar as structured-merge-diff does: strings quoted,
// numbers and booleans bare.
func valueString(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return jsonString(v)
}

// jsonString encodes decoded JSON compactly, keys in order, without
// escaping <, > and &.
func jsonString(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
