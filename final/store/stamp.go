// Objects as bytes. A stored value is an object's JSON without its
// resourceVersion (the revision is the truth, see encode). What a client
// reads is the same JSON with metadata.resourceVersion set. Decoding 1 KiB of
// JSON into maps and encoding it again costs some 20 µs; a list of 10,000
// objects paid it 10,000 times, and a watch event once per watcher. Here the
// resourceVersion is spliced into the stored bytes instead: one pass over
// them, no maps. The result is byte for byte what encoding the decoded
// object gives (encoding/json sorts map keys, so the field goes where it
// sorts), which the tests check.
//
// Kubernetes avoids the same cost differently: its watch cache keeps decoded
// objects and caches each event's encoding for all the watchers that want
// the same format (k8s.io/apiserver's cachingObject). Our watch cache shares
// each change's line the same way (storage.Frame, Event.Line), spliced here once.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// AppendJSON appends the object of kv, as a client reads it, to dst.
func AppendJSON(dst []byte, kv storage.KeyValue) ([]byte, error) {
	var field [40]byte
	before, rv, after, err := stamped(kv, field[:0])
	return append(append(append(dst, before...), rv...), after...), err
}

// WriteJSON writes the object of kv, as a client reads it, to w, straight
// from the stored bytes.
func WriteJSON(w io.Writer, kv storage.KeyValue) error {
	var field [40]byte
	before, rv, after, err := stamped(kv, field[:0])
	if err != nil {
		return err
	}
	for _, part := range [][]byte{before, rv, after} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// stamped returns the object of kv as a client reads it, in three parts:
// the stored bytes before the resourceVersion, the resourceVersion field
// (appended to field), and the stored bytes after it. A value that is not
// compact JSON with a metadata object (this server never writes one) is
// decoded and encoded instead, and comes whole in before.
func stamped(kv storage.KeyValue, field []byte) (before, rv, after []byte, err error) {
	value := kv.Value
	start, end, err := resourceVersionSpot(value)
	if err != nil {
		obj, err := decode(kv)
		if err != nil {
			return nil, nil, nil, err
		}
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encoding %s: %w", kv.Key, err)
		}
		return data, nil, nil, nil
	}
	field = strconv.AppendInt(append(field, `"resourceVersion":"`...), kv.ModRevision, 10)
	field = append(field, '"')
	switch {
	case end > start: // replaces the field that was there (its comma stays)
	case value[start] == '}' && value[start-1] != '{': // last, after others
		field = append([]byte{','}, field...)
	case value[start] == '}': // alone in an empty metadata
	default: // before another field
		field = append(field, ',')
	}
	return value[:start], field, value[end:], nil
}

var errNoMetadata = errors.New("the stored value is not an object with metadata")

// resourceVersionSpot finds where metadata.resourceVersion goes in the
// compact JSON of an object: [start, end) is the field to replace, or, if
// start == end, the place to insert it (a quote opening the next field,
// or the closing brace).
func resourceVersionSpot(value []byte) (start, end int, err error) {
	s := scanner{data: value}
	if !s.consume('{') {
		return 0, 0, errNoMetadata
	}
	for !s.consume('}') {
		key, ok := s.key()
		if !ok {
			return 0, 0, errNoMetadata
		}
		if string(key) != "metadata" {
			if !s.skipValue() || !s.comma() {
				return 0, 0, errNoMetadata
			}
			continue
		}
		if !s.consume('{') {
			return 0, 0, errNoMetadata
		}
		for {
			at := s.pos
			if s.consume('}') {
				return at, at, nil
			}
			field, ok := s.key()
			if !ok {
				return 0, 0, errNoMetadata
			}
			switch {
			case string(field) > "resourceVersion":
				return at, at, nil
			case string(field) == "resourceVersion":
				if !s.skipValue() {
					return 0, 0, errNoMetadata
				}
				return at, s.pos, nil
			}
			if !s.skipValue() || !s.comma() {
				return 0, 0, errNoMetadata
			}
		}
	}
	return 0, 0, errNoMetadata
}

// scanner walks compact JSON (as encoding/json writes it: no spaces)
// without decoding it.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) consume(c byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// comma passes the comma after a field, if there is one; at the end of the
// object it leaves the brace for the caller.
func (s *scanner) comma() bool {
	return s.consume(',') || s.pos < len(s.data) && s.data[s.pos] == '}'
}

// key reads a field name and its colon. Names with escapes are compared
// as written, which for metadata's ASCII names is the same.
func (s *scanner) key() ([]byte, bool) {
	from := s.pos + 1
	if !s.skipString() || !s.consume(':') {
		return nil, false
	}
	return s.data[from : s.pos-2], true
}

// skipString passes a string, escapes and all.
func (s *scanner) skipString() bool {
	if !s.consume('"') {
		return false
	}
	for {
		// The next quote, found by bytes.IndexByte's vector loop: values
		// such as a ConfigMap's data are long strings, passed here on
		// every read. An odd run of backslashes before it escapes it.
		i := bytes.IndexByte(s.data[s.pos:], '"')
		if i < 0 {
			s.pos = len(s.data)
			return false
		}
		s.pos += i + 1
		backslashes := 0
		for j := s.pos - 2; j >= 0 && s.data[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return true
		}
	}
}

// skipValue passes one value: a string, an object or array (counting
// brackets outside strings), or a number, true, false or null.
func (s *scanner) skipValue() bool {
	if s.pos >= len(s.data) {
		return false
	}
	switch s.data[s.pos] {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case '"':
				if !s.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				return true
			}
		}
		return false
	}
	for s.pos < len(s.data) && s.data[s.pos] != ',' && s.data[s.pos] != '}' && s.data[s.pos] != ']' {
		s.pos++
	}
	return true
}
