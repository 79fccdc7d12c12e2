// Walking objects with a schema: the set of fields an object sets, the
// fields two objects differ in, merging an applied configuration into an
// object, and removing fields from one. Objects are decoded JSON
// (map[string]any, []any, strings, json.Number, booleans, nil). In
// structured-merge-diff these are typed.TypedValue's ToFieldSet, Compare,
// Merge and RemoveItems.
package fieldmanager

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// FieldSet is the set of fields obj sets: every scalar, every atomic list,
// map or struct, every item of a granular list, and every key of a map (but
// not a struct's field that holds something: its contents say it). Two
// items of a granular list with the same key are an error: an applied
// configuration must say which one it means.
func FieldSet(obj map[string]any, s *Schema) (*Set, error) {
	set := NewSet()
	return set, fieldSet(set, nil, obj, s)
}

func fieldSet(set *Set, path []string, v any, s *Schema) error {
	switch v := v.(type) {
	case map[string]any:
		if s.atomic() {
			set.Insert(path...)
			return nil
		}
		for k, child := range v {
			cs, named := s.field(k)
			p := with(path, fieldElement(k))
			if err := fieldSet(set, p, child, cs); err != nil {
				return err
			}
			if m, isMap := child.(map[string]any); child == nil || isMap && len(m) == 0 || !named {
				set.Insert(p...)
			}
		}
	case []any:
		if s.listType() == Atomic {
			set.Insert(path...)
			return nil
		}
		items, order, err := indexItems(path, v, s)
		if err != nil {
			return err
		}
		for _, pe := range order {
			if len(items[pe]) > 1 {
				return fmt.Errorf("%s: duplicate entries for key %s", PathString(path), PathString([]string{pe}))
			}
			p := with(path, pe)
			if err := fieldSet(set, p, items[pe][0], s.elem()); err != nil {
				return err
			}
			set.Insert(p...)
		}
	default:
		set.Insert(path...)
	}
	return nil
}

// with is path with one more element, in a slice of its own.
func with(path []string, pe string) []string {
	return append(path[:len(path):len(path)], pe)
}

// itemElement names a list item: by its keys in a map list, by its value
// in a set.
func itemElement(path []string, item any, s *Schema) (string, error) {
	switch s.listType() {
	case MapList:
		m, ok := item.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%s: the items of a list keyed by %v must be objects", PathString(path), s.Keys)
		}
		keys := map[string]any{}
		for _, k := range s.Keys {
			if v, ok := m[k]; ok {
				keys[k] = v
			} else if d, ok := s.KeyDefaults[k]; ok {
				keys[k] = d
			}
		}
		if len(keys) == 0 {
			return "", fmt.Errorf("%s: an item has none of the list's keys %v", PathString(path), s.Keys)
		}
		return keyElement(keys), nil
	case SetList:
		switch item.(type) {
		case map[string]any, []any, nil:
			return "", fmt.Errorf("%s: the items of a set must be scalars", PathString(path))
		}
		return valueElement(item), nil
	}
	return "", fmt.Errorf("%s: an atomic list has no items of its own", PathString(path))
}

// indexItems groups a granular list's items by their path element, in the
// order they first appear.
func indexItems(path []string, list []any, s *Schema) (map[string][]any, []string, error) {
	items := map[string][]any{}
	var order []string
	for _, item := range list {
		pe, err := itemElement(path, item, s)
		if err != nil {
			return nil, nil, err
		}
		if _, seen := items[pe]; !seen {
			order = append(order, pe)
		}
		items[pe] = append(items[pe], item)
	}
	return items, order, nil
}

// Comparison is how a new object differs from an old one, as field sets.
// Added and Removed hold every path of what appeared or went, the nodes
// above the leaves too; Modified holds the leaves whose values changed.
type Comparison struct {
	Added, Modified, Removed *Set
}

// Compare finds the fields old and new differ in.
func Compare(old, new map[string]any, s *Schema) (*Comparison, error) {
	c := &Comparison{NewSet(), NewSet(), NewSet()}
	return c, c.walk(nil, s, old, new, true, true)
}

// walk compares one node. hasL and hasR say whether each side has it at
// all (a null is there).
func (c *Comparison) walk(path []string, s *Schema, l, r any, hasL, hasR bool) error {
	switch {
	case !hasL:
		return c.subtree(c.Added, path, s, r)
	case !hasR:
		return c.subtree(c.Removed, path, s, l)
	}
	// A null is an empty map or list, when the other side is one.
	lm, lIsMap := l.(map[string]any)
	rm, rIsMap := r.(map[string]any)
	ll, lIsList := l.([]any)
	rl, rIsList := r.([]any)
	switch {
	case l == nil && rIsMap || r == nil && lIsMap:
		lIsMap, rIsMap = true, true
	case l == nil && rIsList || r == nil && lIsList:
		lIsList, rIsList = true, true
	}
	switch {
	case lIsMap && rIsMap && !s.atomic() && len(lm)+len(rm) > 0:
		// Every key of either side, each once: l's, then those only r has.
		for k, lv := range lm {
			rv, inR := rm[k]
			cs, _ := s.field(k)
			if err := c.walk(with(path, fieldElement(k)), cs, lv, rv, true, inR); err != nil {
				return err
			}
		}
		for k, rv := range rm {
			if _, inL := lm[k]; inL {
				continue
			}
			cs, _ := s.field(k)
			if err := c.walk(with(path, fieldElement(k)), cs, nil, rv, false, true); err != nil {
				return err
			}
		}
	case lIsList && rIsList && s.listType() != Atomic && len(ll)+len(rl) > 0:
		return c.walkList(path, s, ll, rl)
	default:
		if !reflect.DeepEqual(l, r) {
			c.Modified.Insert(path...)
		}
	}
	return nil
}

// walkList compares two granular lists item by item, matched by element.
func (c *Comparison) walkList(path []string, s *Schema, l, r []any) error {
	lItems, lOrder, err := indexItems(path, l, s)
	if err != nil {
		return err
	}
	rItems, rOrder, err := indexItems(path, r, s)
	if err != nil {
		return err
	}
	for _, pe := range append(lOrder, rOrder...) {
		lg, rg := lItems[pe], rItems[pe]
		if lg == nil && rg == nil {
			continue // seen already
		}
		delete(lItems, pe)
		delete(rItems, pe)
		p := with(path, pe)
		switch {
		case len(lg) <= 1 && len(rg) <= 1:
			err = c.walk(p, s.elem(), first(lg), first(rg), len(lg) == 1, len(rg) == 1)
		case len(lg) > 1 && len(rg) > 1: // duplicates on both sides are one value
			if !reflect.DeepEqual(lg, rg) {
				c.Modified.Insert(p...)
			}
		case len(lg) > 1:
			c.Removed.Insert(p...)
			if len(rg) == 1 {
				err = c.walk(p, s.elem(), nil, rg[0], false, true)
			}
		default:
			c.Added.Insert(p...)
			if len(lg) == 1 {
				err = c.walk(p, s.elem(), lg[0], nil, true, false)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// subtree adds a node that is on one side only to set, with all it holds.
func (c *Comparison) subtree(set *Set, path []string, s *Schema, v any) error {
	switch v := v.(type) {
	case map[string]any:
		if !s.atomic() {
			for k, child := range v {
				cs, _ := s.field(k)
				if err := c.subtree(set, with(path, fieldElement(k)), cs, child); err != nil {
					return err
				}
			}
		}
	case []any:
		if s.listType() != Atomic {
			items, order, err := indexItems(path, v, s)
			if err != nil {
				return err
			}
			for _, pe := range order {
				if len(items[pe]) == 1 {
					if err := c.subtree(set, with(path, pe), s.elem(), items[pe][0]); err != nil {
						return err
					}
				}
				set.Insert(with(path, pe)...)
			}
		}
	}
	set.Insert(path...)
	return nil
}

func first(items []any) any {
	if len(items) == 0 {
		return nil
	}
	return items[0]
}

// Merge returns live with config merged in: maps and structs merge field by
// field, granular lists item by item (live's items keep their places, new
// ones go at the end), and everything atomic is replaced. A field config
// sets to null is removed. Neither argument is changed, and the result
// shares nothing with them.
func Merge(live, config map[string]any, s *Schema) (map[string]any, error) {
	out, err := merge(nil, object.DeepCopy(live), config, s)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m, nil
}

// merge merges r into l, a copy of its own that it may reuse.
func merge(path []string, l, r any, s *Schema) (any, error) {
	lm, lIsMap := l.(map[string]any)
	rm, rIsMap := r.(map[string]any)
	if lIsMap && rIsMap && !s.atomic() {
		out := make(map[string]any, len(lm)+len(rm))
		for k, v := range lm {
			out[k] = v
		}
		for k, rv := range rm {
			cs, _ := s.field(k)
			lv, inL := lm[k]
			switch {
			case rv == nil:
				delete(out, k)
			case inL:
				merged, err := merge(with(path, fieldElement(k)), lv, rv, cs)
				if err != nil {
					return nil, err
				}
				out[k] = merged
			default:
				out[k] = object.DeepCopy(rv)
			}
		}
		return out, nil
	}
	ll, lIsList := l.([]any)
	rl, rIsList := r.([]any)
	if lIsList && rIsList && s.listType() != Atomic {
		rItems, rOrder, err := indexItems(path, rl, s)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(ll)+len(rl))
		inLive := map[string]bool{}
		for _, item := range ll {
			pe, err := itemElement(path, item, s)
			if err != nil {
				return nil, err
			}
			inLive[pe] = true
			if ri := rItems[pe]; len(ri) > 0 {
				if item, err = merge(with(path, pe), item, ri[0], s.elem()); err != nil {
					return nil, err
				}
			}
			out = append(out, item)
		}
		for _, pe := range rOrder {
			if !inLive[pe] {
				out = append(out, object.DeepCopy(rItems[pe][0]))
			}
		}
		return out, nil
	}
	return object.DeepCopy(r), nil
}

// keepOwnedFields returns remove without the struct fields that hold
// something owned: a struct's field stays while anyone owns a field inside
// it, even when the manager that set it as a whole lets it go (in
// structured-merge-diff, EnsureNamedFieldsAreMembers does this). A list item
// or a map key has no such protection.
func keepOwnedFields(remove, owned *Set, s *Schema) *Set {
	out := &Set{member: remove.member}
	for pe, child := range remove.children {
		var below *Set
		if owned != nil {
			below = owned.children[pe]
		}
		cs, named := s.elem(), false
		name, isField := fieldName(pe)
		if isField {
			cs, named = s.field(name)
		}
		kept := keepOwnedFields(child, below, cs)
		if isField && named && below != nil && len(below.children) > 0 {
			kept.member = false
		}
		if kept.member || len(kept.children) > 0 {
			if out.children == nil {
				out.children = map[string]*Set{}
			}
			out.children[pe] = kept
		}
	}
	return out
}

// Remove deletes the paths of set from obj, in place: a member path goes
// with all it holds.
func Remove(obj map[string]any, set *Set, s *Schema) {
	remove(nil, obj, set, s)
}

func remove(path []string, v any, set *Set, s *Schema) any {
	switch v := v.(type) {
	case map[string]any:
		for pe, child := range set.children {
			name, ok := fieldName(pe)
			if !ok {
				continue
			}
			cur, ok := v[name]
			if !ok {
				continue
			}
			if child.member {
				delete(v, name)
				continue
			}
			cs, _ := s.field(name)
			v[name] = remove(with(path, pe), cur, child, cs)
		}
		return v
	case []any:
		out := make([]any, 0, len(v))
		for i, item := range v {
			pe, err := itemElement(path, item, s)
			if err != nil {
				pe = "i:" + strconv.Itoa(i)
			}
			child := set.children[pe]
			switch {
			case child == nil:
			case child.member:
				continue
			default:
				item = remove(with(path, pe), item, child, s.elem())
			}
			out = append(out, item)
		}
		return out
	}
	return v
}
