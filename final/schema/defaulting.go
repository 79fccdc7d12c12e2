// Defaulting: a missing field takes its schema's default when an object is read or written
// (apiextensions-apiserver's pkg/apiserver/schema/defaulting).

package schema

// ApplyDefaults sets, in place, every missing field that has a default, where its parent
// object exists (recursively, into array items and additionalProperties values too).
//
// As in defaulting/algorithm.go, a null that is not nullable takes the default too, and a
// default just set is then defaulted inside.
func (s *Props) ApplyDefaults(value any) {
	if s == nil {
		return
	}
	if m, ok := asMap(value); ok {
		for k, p := range s.Properties {
			if _, found := m[k]; !found && p.Default != nil {
				m[k] = copyJSON(p.Default)
			}
		}
		for k, v := range m {
			if child, _ := s.fieldSchema(k); child != nil {
				m[k] = child.defaultNull(v)
				child.ApplyDefaults(m[k])
			}
		}
	}
	if l, ok := value.([]any); ok {
		for i := range l {
			l[i] = s.Items.defaultNull(l[i])
			s.Items.ApplyDefaults(l[i])
		}
	}
}

// defaultNull turns a null into the default, unless null is allowed.
func (s *Props) defaultNull(v any) any {
	if v == nil && s != nil && !s.Nullable && s.Default != nil {
		return copyJSON(s.Default)
	}
	return v
}
