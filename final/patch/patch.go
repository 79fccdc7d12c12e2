// Package patch applies a PATCH request's body to the stored object.
// Kubernetes accepts three formats, named by the request's Content-Type:
//
//   - application/merge-patch+json (RFC 7386): a partial object; maps merge,
//     null deletes a field, and any list is replaced whole.
//   - application/json-patch+json (RFC 6902): a list of operations
//     (add, remove, replace, move, copy, test) on JSON pointers.
//   - application/strategic-merge-patch+json: a merge patch that knows, per
//     field, that some lists are keyed (containers by name, ports by
//     containerPort) and merges them element by element. kubectl apply sends
//     this for built-in types, with directives such as $patch: delete,
//     $setElementOrder and $retainKeys. Kubernetes reads the keys from struct
//     tags in k8s.io/api (k8s.io/apimachinery/pkg/util/strategicpatch); this
//     package keeps them in a table.
//
// The patch handler of k8s.io/apiserver/pkg/endpoints/handlers (patch.go)
// is where Kubernetes does this.
package patch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// The patch types, by their media types (k8s.io/apimachinery/pkg/types).
const (
	JSONPatchType           = "application/json-patch+json"
	MergePatchType          = "application/merge-patch+json"
	StrategicMergePatchType = "application/strategic-merge-patch+json"
)

// PatchTypes are the media types a PATCH body may have; read it with
// object.ReadBody(r, patch.PatchTypes...). Do not change the list.
var PatchTypes = []string{JSONPatchType, MergePatchType, StrategicMergePatchType}

// Apply returns a new object: current with the patch applied. kind (Pod,
// Service, ...) decides which lists a strategic merge patch merges by key;
// current itself is never changed. A patch that does not parse is a 400, a
// JSON patch that does not fit the object a 422.
func Apply(kind, patchType string, current map[string]any, patch []byte) (map[string]any, error) {
	doc, err := json.Marshal(current)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", kind, err)
	}
	switch patchType {
	case JSONPatchType:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			// Kubernetes reads a list of operations first (400 if the body
			// is not one), and finds a bad operation in it (an unknown op,
			// a missing path) only applying it: a 422.
			var shape []struct{ Op, Path, From string }
			if json.Unmarshal(patch, &shape) != nil {
				return nil, apierrors.NewBadRequest("invalid JSON patch: %v", err)
			}
			return nil, notApplicable(err)
		}
		for _, op := range ops {
			// A "test" without a value tests for null. Said outright, since
			// the library dereferences the missing value when the path is
			// the whole document ("") and panics.
			if op.Kind() == "test" && op["value"] == nil {
				null := json.RawMessage("null")
				op["value"] = &null
			}
		}
		if doc, err = ops.Apply(doc); err != nil {
			return nil, notApplicable(err)
		}
		return decode(doc)
	case MergePatchType, StrategicMergePatchType:
	default:
		return nil, apierrors.NewUnsupportedMediaType(patchType, PatchTypes...)
	}

	// Both merge patches work on decoded JSON: decode a fresh copy of current
	// (stored objects are never changed in place) and merge the patch into it.
	target, err := decode(doc)
	if err != nil {
		return nil, err
	}
	p, err := decode(patch)
	if err != nil {
		return nil, err
	}
	if patchType == MergePatchType {
		return mergePatch(target, p).(map[string]any), nil
	}
	merged, err := strategicMerge(target, p, "", strategicMergeKeys(kind))
	if err == nil && merged == nil {
		err = apierrors.NewBadRequest("a strategic merge patch cannot delete the whole object; use DELETE")
	}
	return merged, err
}

// notApplicable is the answer to a JSON patch that does not fit the object
// (a failed "test", a missing path): 422 Invalid in Kubernetes, not 400.
func notApplicable(err error) error {
	return &apierrors.StatusError{Code: http.StatusUnprocessableEntity, Reason: "Invalid",
		Message: fmt.Sprintf("the JSON patch could not be applied: %v", err)}
}

// decode reads one JSON object, numbers as json.Number, as the server keeps them.
func decode(data []byte) (map[string]any, error) {
	obj, err := object.Decode(data)
	return obj, err
}

// mergePatch is RFC 7386: maps merge recursively, null removes, anything else replaces.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

// strategicMergeKeys lists, for one kind, the lists that merge by a key,
// by dotted field path. An empty key marks a list of plain values that
// merges as a set (metadata.finalizers). Every other list is replaced.
func strategicMergeKeys(kind string) map[string]string {
	keys := map[string]string{"metadata.finalizers": "", "metadata.ownerReferences": "uid"}
	podSpec := func(prefix string) {
		for field, key := range map[string]string{"volumes": "name", "imagePullSecrets": "name",
			"hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "schedulingGates": "name", "resourceClaims": "name"} {
			keys[prefix+field] = key
		}
		for _, c := range []string{"containers", "initContainers", "ephemeralContainers"} {
			keys[prefix+c] = "name"
			for field, key := range map[string]string{"ports": "containerPort", "env": "name",
				"volumeMounts": "mountPath", "volumeDevices": "devicePath"} {
				keys[prefix+c+"."+field] = key
			}
		}
	}
	switch kind {
	case "Pod":
		podSpec("spec.")
	case "Job":
		podSpec("spec.template.spec.")
	case "Service":
		keys["spec.ports"] = "port"
	case "ServiceAccount":
		keys["secrets"], keys["imagePullSecrets"] = "name", "name"
	}
	return keys
}

// strategicMerge merges patch into original (a map at the dotted path), and
// returns nil when the patch says "$patch: delete".
func strategicMerge(original, patch map[string]any, path string, keys map[string]string) (map[string]any, error) {
	switch patch["$patch"] {
	case nil, "merge":
	case "replace":
		return strategicMerge(map[string]any{}, without(patch, "$patch"), path, keys)
	case "delete":
		return nil, nil
	default:
		return nil, apierrors.NewBadRequest("unknown patch directive $patch: %v", patch["$patch"])
	}
	// The directives that name lists must hold lists.
	for k, v := range patch {
		if _, isList := v.([]any); !isList && (k == "$retainKeys" || strings.HasPrefix(k, "$setElementOrder/")) {
			return nil, apierrors.NewBadRequest("invalid %s directive: %v is not a list", k, v)
		}
	}
	if original == nil {
		original = map[string]any{}
	}
	for k, v := range patch {
		field := join(path, k)
		switch {
		case k == "$patch", k == "$retainKeys", strings.HasPrefix(k, "$setElementOrder/"):
			// read below, once the fields are merged
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			name := strings.TrimPrefix(k, "$deleteFromPrimitiveList/")
			remove, _ := v.([]any)
			if list, ok := original[name].([]any); ok { // a missing list stays missing
				original[name] = slices.DeleteFunc(slices.Clone(list), func(x any) bool {
					return slices.ContainsFunc(remove, func(r any) bool { return sameValue(r, x) })
				})
			}
		case strings.HasPrefix(k, "$"):
			return nil, apierrors.NewBadRequest("unknown patch directive %s", k)
		case v == nil:
			delete(original, k)
		default:
			merged, err := mergeValue(original[k], v, field, keys)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				delete(original, k)
			} else {
				original[k] = merged
			}
		}
	}
	for k, v := range patch {
		if name, ok := strings.CutPrefix(k, "$setElementOrder/"); ok {
			order, _ := v.([]any)
			if list, ok := original[name].([]any); ok { // a missing list stays missing
				original[name] = orderList(list, order, keys[join(path, name)])
			}
		}
	}
	if retain, ok := patch["$retainKeys"].([]any); ok {
		for k := range original {
			if !slices.ContainsFunc(retain, func(r any) bool { return r == k }) {
				delete(original, k)
			}
		}
	}
	return original, nil
}

// mergeValue merges one field: maps recurse, keyed lists merge, the rest replaces.
func mergeValue(original, patch any, path string, keys map[string]string) (any, error) {
	switch p := patch.(type) {
	case map[string]any:
		o, _ := original.(map[string]any)
		merged, err := strategicMerge(o, p, path, keys)
		if merged == nil {
			return nil, err // an untyped nil, so the caller sees "delete this field"
		}
		return merged, err
	case []any:
		key, keyed := keys[path]
		o, _ := original.([]any)
		switch {
		case !keyed:
			return p, nil
		case key == "":
			return mergeSet(o, p), nil
		default:
			return mergeList(o, p, path, key, keys)
		}
	}
	return patch, nil
}

// mergeList merges a list of maps element by element, matching on key.
func mergeList(original, patch []any, path, key string, keys map[string]string) ([]any, error) {
	out := slices.Clone(original)
	for _, item := range patch {
		p, ok := item.(map[string]any)
		if !ok {
			return nil, apierrors.NewBadRequest("%s: expected a list of objects merged by %q", path, key)
		}
		if p["$patch"] == "replace" { // the whole list is replaced by the other elements
			rest := slices.DeleteFunc(slices.Clone(patch), func(x any) bool { return sameValue(x, item) })
			return mergeList(nil, rest, path, key, keys)
		}
		i := slices.IndexFunc(out, func(x any) bool {
			m, _ := x.(map[string]any)
			return m != nil && sameValue(m[key], p[key])
		})
		var current map[string]any
		if i >= 0 {
			current, _ = out[i].(map[string]any)
		}
		merged, err := strategicMerge(current, p, path, keys)
		switch {
		case err != nil:
			return nil, err
		case merged == nil && i >= 0: // $patch: delete
			out = slices.Delete(out, i, i+1)
		case merged == nil:
		case i >= 0:
			out[i] = merged
		default:
			out = append(out, merged)
		}
	}
	return out, nil
}

// mergeSet adds the patch's values that the list lacks.
func mergeSet(original, patch []any) []any {
	out := slices.Clone(original)
	for _, v := range patch {
		if !slices.ContainsFunc(out, func(x any) bool { return sameValue(x, v) }) {
			out = append(out, v)
		}
	}
	return out
}

// orderList sorts list by $setElementOrder: elements named in order come
// first, in that order; the others keep their place after them.
func orderList(list, order []any, key string) []any {
	id := func(x any) any {
		if m, ok := x.(map[string]any); ok && key != "" {
			return m[key]
		}
		return x
	}
	out := make([]any, 0, len(list))
	for _, o := range order {
		for _, x := range list {
			if sameValue(id(x), id(o)) {
				out = append(out, x)
			}
		}
	}
	for _, x := range list {
		if !slices.ContainsFunc(order, func(o any) bool { return sameValue(id(x), id(o)) }) {
			out = append(out, x)
		}
	}
	return out
}

func sameValue(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func without(m map[string]any, key string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
