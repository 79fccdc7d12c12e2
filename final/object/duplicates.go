// Duplicate fields: JSON allows an object to name a field twice, and
// encoding/json keeps the last value. Kubernetes' strict decoding reports
// them instead (an error with fieldValidation=Strict, a warning with Warn).
package object

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DuplicateFields lists the fields that a JSON document names twice in one
// object, by path as Kubernetes words them ("spec.replicas",
// "spec.ports[0].name"). A document that does not parse has none.
func DuplicateFields(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a number beyond float64 is no error here, as in Decode
	var dups []string
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := tok.(string) // an object's keys are strings
				field := key
				if path != "" {
					field = path + "." + key
				}
				if seen[key] {
					dups = append(dups, field)
				}
				seen[key] = true
				if err := walk(field); err != nil {
					return err
				}
			}
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		default:
			return nil // a value
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	if walk("") != nil {
		return nil
	}
	return dups
}
