// A fast path for Decode. Every request body and every stored object a write
// reads is decoded, and encoding/json spends most of that time scanning each
// byte twice (once to find the value's end, once to build it) through a
// general state machine. parse reads the common case in one pass: valid
// UTF-8, no control characters in strings, no lone surrogates, a moderate
// depth. Anything else it refuses, and encoding/json decodes the body as
// before, with its own error messages: the fast path never decides what an
// error says. FuzzParse checks that both give the same objects.

package object

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxParseDepth is the nesting the fast path reads; deeper documents go to
// encoding/json, whose limit is 10,000.
const maxParseDepth = 500

// parse decodes a JSON object as encoding/json with UseNumber would, and
// tells whether some object in it names a field twice (the last value wins,
// as in encoding/json). ok is false if parse leaves the body to
// encoding/json.
func parse(body []byte) (obj Object, dup, ok bool) {
	if !utf8.Valid(body) {
		return nil, false, false
	}
	p := parser{data: string(body)} // one copy: every string in the object is a slice of it
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, false, false
	}
	m, ok := p.object()
	if !ok {
		return nil, false, false
	}
	p.space()
	if p.i != len(p.data) {
		return nil, false, false
	}
	return m, p.dup, true
}

type parser struct {
	data  string
	i     int
	depth int
	dup   bool
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() (any, bool) {
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		m, ok := p.object()
		return m, ok
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *parser) literal(word string) bool {
	if len(p.data)-p.i < len(word) || p.data[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

// object reads {...}; p.data[p.i] is '{'.
func (p *parser) object() (map[string]any, bool) {
	empty, ok := p.open('}')
	if !ok {
		return nil, false
	}
	defer func() { p.depth-- }()
	m := map[string]any{}
	for !empty {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		key, ok := p.string()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		if _, seen := m[key]; seen {
			p.dup = true
		}
		m[key] = v
		if empty, ok = p.next('}'); !ok {
			return nil, false
		}
	}
	return m, true
}

// array reads [...]; p.data[p.i] is '['.
func (p *parser) array() (any, bool) {
	empty, ok := p.open(']')
	if !ok {
		return nil, false
	}
	defer func() { p.depth-- }()
	list := []any{}
	for !empty {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		list = append(list, v)
		if empty, ok = p.next(']'); !ok {
			return nil, false
		}
	}
	return list, true
}

// open passes the opening bracket of an object or array, one level deeper
// (the caller goes back up), and tells whether closing follows at once.
func (p *parser) open(closing byte) (empty, ok bool) {
	if p.depth++; p.depth > maxParseDepth {
		p.depth--
		return false, false
	}
	p.i++
	p.space()
	if p.i < len(p.data) && p.data[p.i] == closing {
		p.i++
		return true, true
	}
	return false, true
}

// next passes what follows a member: a comma, or the closing bracket,
// which ends the object or array.
func (p *parser) next(closing byte) (end, ok bool) {
	p.space()
	if p.i >= len(p.data) {
		return false, false
	}
	switch p.data[p.i] {
	case ',':
		p.i++
		p.space()
		return false, true
	case closing:
		p.i++
		return true, true
	}
	return false, false
}

// string reads "..."; p.data[p.i] is '"'. A string without escapes is a
// slice of the document.
func (p *parser) string() (string, bool) {
	p.i++
	start := p.i
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			return p.data[start : p.i-1], true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		default:
			p.i++
		}
	}
	return "", false
}

// escaped reads the rest of a string that has escapes, from start.
func (p *parser) escaped(start int) (string, bool) {
	buf := []byte(p.data[start:p.i])
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.data) {
			return "", false
		}
		switch e := p.data[p.i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4(p.i + 2)
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) { // only a high surrogate followed by a low one
				low, ok := p.hex4(p.i + 8)
				if !ok || p.data[p.i+6] != '\\' || p.data[p.i+7] != 'u' {
					return "", false
				}
				if r = utf16.DecodeRune(r, low); r == utf8.RuneError {
					return "", false
				}
				p.i += 6
			}
			buf = utf8.AppendRune(buf, r)
			p.i += 4
		default:
			return "", false
		}
		p.i += 2
	}
	return "", false
}

// hex4 reads the four hex digits at i.
func (p *parser) hex4(i int) (rune, bool) {
	if i+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.data[i:i+4], 16, 32)
	return rune(n), err == nil
}

// number reads a JSON number, kept as its text (json.Number).
func (p *parser) number() (any, bool) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return nil, false
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return json.Number(p.data[start:p.i]), true
}

func (p *parser) digits() int {
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}
