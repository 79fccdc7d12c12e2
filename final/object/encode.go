// A fast path for encoding objects. Every write encodes the object it
// stores, and encoding/json reaches every value of a map[string]any through
// reflection. Marshal writes the types Decode makes (maps, lists, strings,
// json.Number, booleans, null) directly, by encoding/json's rules, and hands
// any other value to encoding/json: the output is the same, byte for byte
// (FuzzMarshal checks it).

package object

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Marshal encodes v as json.Marshal does.
func Marshal(v any) ([]byte, error) {
	return appendValue(make([]byte, 0, 1024), v)
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case map[string]any:
		return appendMap(b, v)
	case Object:
		return appendMap(b, v)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, item := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, item); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case string:
		return appendString(b, v), nil
	case json.Number:
		if v == "" {
			return append(b, '0'), nil
		}
		if validNumber(string(v)) {
			return append(b, v...), nil
		}
	case bool:
		if v {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case nil:
		return append(b, "null"...), nil
	}
	// Anything else (numbers of Go types, structs, typed maps and slices, a
	// json.Number that is not a number) as encoding/json encodes it, errors
	// included.
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, data...), nil
}

// appendMap writes a map with its keys sorted, as encoding/json does; a nil
// map is null.
func appendMap(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var room [32]string // most objects' maps have fewer keys: no allocation
	keys := room[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// plain marks the ASCII bytes a string holds as they are: not a control
// character, not a quote or backslash, and not <, > or &, which
// encoding/json escapes so that JSON embedded in HTML cannot close a tag.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaped as encoding/json escapes
// it: \" \\ \b \f \n \r \t, other control characters and <, >, & as \u00XX,
// U+2028 and U+2029 as \u2028 and \u2029, and each byte that is not UTF-8 as
// \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// validNumber tells whether s (not empty) is a JSON number, by the
// parser's grammar.
func validNumber(s string) bool {
	p := parser{data: s}
	_, ok := p.number()
	return ok && p.i == len(s)
}
