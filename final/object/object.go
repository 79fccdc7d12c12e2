// Package object is how the server holds Kubernetes objects: as decoded
// JSON, the shape Kubernetes calls "unstructured"
// (k8s.io/apimachinery/pkg/apis/meta/v1/unstructured). The server looks
// inside metadata and leaves every other field as the client sent it.
//
// It reads request bodies into objects, copies them, makes the values the
// server owns (uid, creationTimestamp, names from generateName), and checks
// names and labels the way k8s.io/apimachinery/pkg/util/validation does.
package object

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
	"slices"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Object is one Kubernetes object: {"apiVersion", "kind", "metadata", "spec", ...}.
// Numbers are json.Number, so that int64 values survive the round trip.
type Object map[string]any

// Metadata returns the object's metadata map, creating it if the client left it out.
func (o Object) Metadata() map[string]any {
	m, ok := o["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		o["metadata"] = m
	}
	return m
}

// MetaString returns the string metadata[key], or "". Unlike Metadata it
// never writes, so it is safe on an object other goroutines read too.
func (o Object) MetaString(key string) string {
	m, _ := o["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

// Labels returns metadata.labels as strings (values of other types are
// ignored). Like MetaString, it never writes.
func (o Object) Labels() map[string]string {
	out := map[string]string{}
	m, _ := o["metadata"].(map[string]any)
	raw, _ := m["labels"].(map[string]any)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// MaxBodyBytes is kube-apiserver's limit on a request body (3 MiB).
const MaxBodyBytes = 3 << 20

// ReadBody reads a request body whose Content-Type is one of accepted (an
// empty Content-Type counts as application/json) and returns its media type.
// A body in another format is a 415, one over MaxBodyBytes a 413.
func ReadBody(r *http.Request, accepted ...string) (mediaType string, body []byte, err error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	mediaType, _, err = mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(accepted, mediaType) {
		return "", nil, apierrors.NewUnsupportedMediaType(ct, accepted...)
	}
	body, err = io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", nil, apierrors.NewRequestEntityTooLarge(MaxBodyBytes)
		}
		return "", nil, apierrors.NewBadRequest("reading the request body: %v", err)
	}
	return mediaType, body, nil
}

// Decode parses one JSON object; anything else is a 400 BadRequest. Numbers
// stay json.Number, and metadata, when present, must be an object.
func Decode(body []byte) (Object, error) {
	obj, _, err := decode(body)
	return obj, err
}

// DecodeWithDuplicates is Decode that also lists the fields the body names
// twice (see DuplicateFields), for the fieldValidation parameter.
func DecodeWithDuplicates(body []byte) (Object, []string, error) {
	obj, dup, err := decode(body)
	if err != nil || !dup {
		return obj, nil, err
	}
	return obj, DuplicateFields(body), nil
}

// decode is Decode, and whether some field may be named twice.
func decode(body []byte) (Object, bool, error) {
	if obj, dup, ok := parse(body); ok {
		if err := checkMetadata(obj); err != nil {
			return nil, false, err
		}
		return obj, dup, nil
	}
	obj, err := decodeJSON(body)
	return obj, true, err // the slow path does not tell: look
}

func checkMetadata(obj Object) error {
	if m, ok := obj["metadata"]; ok {
		if _, isMap := m.(map[string]any); !isMap {
			return apierrors.NewBadRequest("metadata must be a JSON object")
		}
	}
	return nil
}

// decodeJSON is Decode by encoding/json, for what parse leaves to it.
func decodeJSON(body []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj Object
	if err := dec.Decode(&obj); err != nil {
		return nil, apierrors.NewBadRequest("the request body is not a valid JSON object: %v", err)
	}
	// Nothing may follow the value but white space: not a second value,
	// and not a stray "}" or "]" (which dec.More does not see).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apierrors.NewBadRequest("the request body holds more than one JSON value")
	}
	if obj == nil {
		return nil, apierrors.NewBadRequest("the request body is not a valid JSON object: null")
	}
	if err := checkMetadata(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// DeepCopy copies decoded JSON, so that a change to the copy never reaches a
// stored object or a schema's default. An Object comes back as a map[string]any.
func DeepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = DeepCopy(x)
		}
		return out
	case Object:
		return DeepCopy(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = DeepCopy(x)
		}
		return out
	default:
		return v
	}
}

// JSONString prints a decoded JSON scalar: "3" for json.Number("3") or 3,
// "" for null, a string as is.
func JSONString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return string(mustMarshal(v))
	}
}

// GenerateName appends five random characters to metadata.generateName, from
// the alphabet Kubernetes uses (no vowels, so no accidental words). Like
// Kubernetes, it cuts a long prefix so that the name fits in 63 characters.
func GenerateName(prefix string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	prefix = prefix[:min(len(prefix), 63-5)]
	suffix := make([]byte, 5)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	return prefix + string(suffix)
}

// NewUID returns a random RFC 4122 version 4 UUID, like metadata.uid.
func NewUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Now is a timestamp as Kubernetes writes them (metav1.Time): RFC 3339, in
// seconds, in UTC.
func Now() string { return time.Now().UTC().Format(time.RFC3339) }

// mustMarshal encodes values that always encode (decoded JSON).
func mustMarshal(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // a programming error, never user input
	}
	return data
}
