// Pruning: the fields a schema does not specify are dropped before an object is stored
// (apiextensions-apiserver's pkg/apiserver/schema/pruning).

package schema

import "sort"

// Prune removes, in place, the fields the schema does not specify, and returns their paths
// (sorted), e.g. ["spec.bogus", "spec.template.extra"]. path is the value's own path ("" for
// the whole object); root says the value is a whole object, where (as at
// x-kubernetes-embedded-resource nodes) apiVersion, kind and metadata are kept.
//
// Like Kubernetes before defaulting, it also drops a null whose schema is neither nullable nor
// defaulted; that field is specified, so its path is not returned.
func (s *Props) Prune(value any, path string, root bool) []string {
	var pruned []string
	pruneValue(value, s, path, root, false, &pruned)
	sort.Strings(pruned)
	return pruned
}

// pruneValue follows pruning/algorithm.go: preserve-unknown-fields keeps the unknown fields of its
// node and of array items below it, while each specified property is pruned by its own schema.
// additionalProperties specifies every key, even when `true`, and prunes values by its schema.
func pruneValue(value any, s *Props, path string, keepMeta, preserve bool, pruned *[]string) {
	if s != nil {
		preserve = preserve || s.preserves()
		keepMeta = keepMeta || s.XEmbeddedResource
	}
	if s == nil && preserve {
		return
	}
	if m, ok := asMap(value); ok {
		for k, v := range m {
			child, specified := s.fieldSchema(k)
			switch {
			case keepMeta && isMetaField(k):
				// TypeMeta and ObjectMeta have their own rules
			case specified && v == nil && child != nil && !child.Nullable && child.Default == nil:
				delete(m, k) // defaulting/prunenulls.go
			case specified:
				pruneValue(v, child, childPath(path, k), false, false, pruned)
			case !preserve:
				delete(m, k)
				*pruned = append(*pruned, childPath(path, k))
			}
		}
	}
	if l, ok := value.([]any); ok {
		for i, item := range l {
			pruneValue(item, s.itemSchema(), itemPath(path, i), false, preserve, pruned)
		}
	}
}
