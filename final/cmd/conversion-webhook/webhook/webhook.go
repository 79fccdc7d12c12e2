// Package webhook is a CRD conversion webhook: the server POSTs it a
// ConversionReview (apiextensions.k8s.io/v1) with objects and the version
// it wants them in, and it answers with the same objects converted. It
// knows one kind, Backend in example.com (the CRD backends.example.com of
// docs/final.md), whose versions say the same thing two ways:
//
//	v1: spec.size: "3"     (a string)
//	v2: spec.replicas: 3   (an integer)
//
// Everything else in an object is kept as it is; a webhook may not change
// metadata but for labels and annotations, which the server checks.
package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

const (
	V1 = "example.com/v1"
	V2 = "example.com/v2"
)

// review is a ConversionReview, as much of it as a webhook needs.
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID               string           `json:"uid"`
		DesiredAPIVersion string           `json:"desiredAPIVersion"`
		Objects           []map[string]any `json:"objects"`
	} `json:"request,omitempty"`
	Response *response `json:"response,omitempty"`
}

type response struct {
	UID              string           `json:"uid"`
	ConvertedObjects []map[string]any `json:"convertedObjects"`
	Result           result           `json:"result"`
}

type result struct {
	Status  string `json:"status"` // Success or Failure
	Message string `json:"message,omitempty"`
}

// Handler serves conversion requests at any path.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in review
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 3<<20)).Decode(&in); err != nil || in.Request == nil {
			http.Error(w, "expected a ConversionReview with a request", http.StatusBadRequest)
			return
		}
		out := &response{UID: in.Request.UID, Result: result{Status: "Success"}, ConvertedObjects: []map[string]any{}}
		for _, obj := range in.Request.Objects {
			converted, err := Convert(obj, in.Request.DesiredAPIVersion)
			if err != nil { // one object fails: the whole review does
				out.ConvertedObjects, out.Result = nil, result{Status: "Failure", Message: err.Error()}
				break
			}
			out.ConvertedObjects = append(out.ConvertedObjects, converted)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review{APIVersion: "apiextensions.k8s.io/v1", Kind: "ConversionReview", Response: out})
	})
}

// Convert returns obj in version, changing it in place.
func Convert(obj map[string]any, version string) (map[string]any, error) {
	from, _ := obj["apiVersion"].(string)
	spec, _ := obj["spec"].(map[string]any)
	switch {
	case from == version:
	case from == V1 && version == V2 && spec != nil:
		if size, ok := spec["size"]; ok {
			s, _ := size.(string)
			n, err := strconv.Atoi(s)
			if err != nil {
				meta, _ := obj["metadata"].(map[string]any)
				name, _ := meta["name"].(string)
				return nil, fmt.Errorf("spec.size %q of %s is not a number of replicas", s, name)
			}
			delete(spec, "size")
			spec["replicas"] = n
		}
	case from == V2 && version == V1 && spec != nil:
		if replicas, ok := spec["replicas"].(float64); ok {
			delete(spec, "replicas")
			spec["size"] = strconv.Itoa(int(replicas))
		}
	case (from == V1 || from == V2) && (version == V1 || version == V2): // no spec: nothing to convert
	default:
		return nil, fmt.Errorf("cannot convert from %q to %q", from, version)
	}
	obj["apiVersion"] = version
	return obj, nil
}
