package main

// A watcher of the watch phase needs two things of an event: its type and
// its object's name. Decoding the whole object with encoding/json costs
// about as much CPU as the server spends sending it, and the tool shares
// the machine with the server, so 100,000 full decodes would measure the
// client. eventHead reads just those two fields from the event's JSON,
// skipping everything else without building it; whatever it does not
// understand (an escaped string where it needs the value, a malformed
// line) makes it give up, and the caller decodes the line in full.

// eventHead returns an event's "type" and its object's "metadata.name"
// ("" when the object has none, as a bookmark). ok is false when the line
// is not one JSON object it can read that way.
func eventHead(line []byte) (typ, name string, ok bool) {
	s := scanner{b: line}
	ok = s.object(func(key string) bool {
		switch key {
		case "type":
			typ, ok = s.plainString()
			return ok
		case "object":
			return s.object(func(key string) bool {
				if key != "metadata" {
					return s.skip()
				}
				return s.object(func(key string) bool {
					if key != "name" {
						return s.skip()
					}
					name, ok = s.plainString()
					return ok
				})
			})
		}
		return s.skip()
	})
	s.space()
	return typ, name, ok && typ != "" && s.i == len(s.b)
}

// scanner walks JSON text; every method returns false on what it does
// not expect, leaving i wherever it stopped.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, calling member after each key and its colon to
// read (or skip) the value.
func (s *scanner) object(member func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.next(':') || !member(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// plainString reads a string without escapes; one with escapes is left to
// encoding/json, which knows how to unquote it.
func (s *scanner) plainString() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	for j := s.i; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			return "", false
		case '"':
			v := string(s.b[s.i:j])
			s.i = j + 1
			return v, true
		}
	}
	return "", false
}

// skip passes over one value of any kind: strings (escapes included) and
// brackets are tracked, so that a ',' or '}' inside them does not end it.
// It does not check the value, only finds its end.
func (s *scanner) skip() bool {
	s.space()
	start, depth := s.i, 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if !s.skipString() {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // a number or literal, ended by its container
				return s.i > start
			}
			if depth--; depth == 0 {
				s.i++
				return true
			}
		case ',':
			if depth == 0 {
				return s.i > start
			}
		}
		s.i++
	}
	return false // the line ended inside the value
}

// skipString passes over the string starting at i, escapes included.
func (s *scanner) skipString() bool {
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return true
		}
	}
	return false
}
