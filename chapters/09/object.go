// Objects are kept as decoded JSON, the shape Kubernetes calls "unstructured":
// the server looks inside metadata and leaves every other field as the client
// sent it. This file reads request bodies and fills in the metadata the server
// owns: uid, creationTimestamp, resourceVersion, and names from generateName.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// object is one Kubernetes object: {"apiVersion", "kind", "metadata", "spec", ...}.
type object map[string]any

// metadata returns the object's metadata map, creating it if the client left it out.
func (o object) metadata() map[string]any {
	m, ok := o["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		o["metadata"] = m
	}
	return m
}

func (o object) metaString(key string) string {
	s, _ := o.metadata()[key].(string)
	return s
}

// labels returns metadata.labels as strings (values of other types are ignored).
func (o object) labels() map[string]string {
	out := map[string]string{}
	raw, _ := o.metadata()["labels"].(map[string]any)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// maxBodyBytes is kube-apiserver's limit on a request body (3 MiB).
const maxBodyBytes = 3 << 20

// readBody reads a request body whose Content-Type is one of accepted (an
// empty Content-Type counts as application/json) and returns its media type.
func readBody(r *http.Request, accepted ...string) (string, []byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(accepted, mediaType) {
		return "", nil, errUnsupportedMediaType(ct, accepted...)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", nil, errTooLarge(maxBodyBytes)
		}
		return "", nil, errBadRequest("reading the request body: %v", err)
	}
	return mediaType, body, nil
}

// decodeObject parses JSON into an object. Numbers stay json.Number so that
// int64 values survive the round trip unchanged.
func decodeObject(body []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj object
	if err := dec.Decode(&obj); err != nil {
		return nil, errBadRequest("the request body is not a valid JSON object: %v", err)
	}
	if dec.More() {
		return nil, errBadRequest("the request body holds more than one JSON value")
	}
	if obj == nil {
		return nil, errBadRequest("the request body is not a valid JSON object: null")
	}
	if m, ok := obj["metadata"]; ok {
		if _, isMap := m.(map[string]any); !isMap {
			return nil, errBadRequest("metadata must be a JSON object")
		}
	}
	return obj, nil
}

// readObject reads a JSON (or protobuf, see protobuf.go) request body into an object.
func readObject(r *http.Request) (object, error) {
	mediaType, body, err := readBody(r, "application/json", protobufType)
	if err != nil {
		return nil, err
	}
	if mediaType == protobufType {
		if body, err = protobufToJSON(body); err != nil {
			return nil, err
		}
	}
	return decodeObject(body)
}

// checkTypeMeta fills in apiVersion and kind when the client left them out,
// and refuses a body that names another type than the URL does.
func checkTypeMeta(res *resource, obj object) error {
	if v, ok := obj["apiVersion"]; ok && v != res.groupVersion() {
		return errBadRequest("the API version in the data (%v) does not match the expected API version (%s)", v, res.groupVersion())
	}
	if k, ok := obj["kind"]; ok && k != res.kind {
		return errBadRequest("the kind in the data (%v) does not match the expected kind (%s)", k, res.kind)
	}
	obj["apiVersion"], obj["kind"] = res.groupVersion(), res.kind
	return nil
}

// Names, as Kubernetes validates them: most are DNS-1123 subdomains (up to
// 253 characters, dots allowed); namespaces are DNS-1123 labels (up to 63, no
// dots) and services DNS-1035 labels (also starting with a letter), because
// their names end up in DNS names.
var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1035Label     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

func validateSubdomain(name string) string {
	switch {
	case len(name) > 253:
		return "must be no more than 253 characters"
	case !dns1123Subdomain.MatchString(name):
		return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
	}
	return ""
}

// validatePathSegmentName is the rule for RBAC objects, whose names may be
// anything that fits in a URL path segment ("system:discovery").
func validatePathSegmentName(name string) string {
	switch {
	case name == "." || name == "..":
		return fmt.Sprintf("may not be '%s'", name)
	case strings.ContainsAny(name, "/%"):
		return "may not contain '/' or '%'"
	}
	return ""
}

func validateLabel(name string) string {
	switch {
	case len(name) > 63:
		return "must be no more than 63 characters"
	case !dns1123Label.MatchString(name):
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')"
	}
	return ""
}

func validateDNS1035(name string) string {
	switch {
	case len(name) > 63:
		return "must be no more than 63 characters"
	case !dns1035Label.MatchString(name):
		return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name')"
	}
	return ""
}

// generateName appends five random characters to metadata.generateName, from
// the alphabet Kubernetes uses (no vowels, so no accidental words). Like
// Kubernetes, it cuts a long prefix so that the name fits in 63 characters.
func generateName(prefix string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	prefix = prefix[:min(len(prefix), 63-5)]
	suffix := make([]byte, 5)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	return prefix + string(suffix)
}

// newUID returns a random RFC 4122 version 4 UUID, like metadata.uid.
func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// mustMarshal encodes values that always encode (maps of strings and numbers).
func mustMarshal(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // a programming error, never user input
	}
	return data
}
