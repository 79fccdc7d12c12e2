// The scale subresource: {name}/scale reads and writes an object's
// spec.replicas as an autoscaling/v1 Scale, the one shape every scalable
// kind shares, so that kubectl scale and the HorizontalPodAutoscaler need
// not know the kind. In Kubernetes each scalable kind has a ScaleREST
// (pkg/registry/apps/deployment/storage/storage.go).
package apiserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/patch"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func (s *APIServer) getScale(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	obj, err := s.Store.Get(r.Context(), res, namespace, name)
	if err != nil {
		return nil, 0, err
	}
	return scaleOf(obj), http.StatusOK, nil
}

// updateScale takes a Scale (PUT) or a patch to one (PATCH) and writes its
// spec.replicas into the object, through the same pipeline as any update.
func (s *APIServer) updateScale(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	var body []byte
	var patchType string
	var err error
	if r.Method == http.MethodPatch {
		patchType, body, err = object.ReadBody(r, patch.PatchTypes...)
	} else {
		var scale object.Object
		if scale, err = ReadObject(r); err == nil {
			body, err = json.Marshal(scale)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	updated, _, err := s.writeObject(res, r, namespace, name, func(stored object.Object) (object.Object, error) {
		current := object.Object(object.DeepCopy(map[string]any(stored)).(map[string]any)) // stored is the old object too
		scale := scaleOf(current)
		if patchType != "" {
			if scale, err = patch.Apply("Scale", patchType, scale, body); err != nil {
				return nil, err
			}
		} else if err := json.Unmarshal(body, &scale); err != nil {
			return nil, apierrors.NewBadRequest("the body is not a Scale: %v", err)
		}
		replicas, err := strconv.ParseInt(object.JSONString(stringMap(scale, "spec")["replicas"]), 10, 32)
		if err != nil || replicas < 0 {
			return nil, apierrors.NewInvalid("autoscaling", "Scale", name, []apierrors.Cause{{Reason: "FieldValueInvalid",
				Message: "Invalid value: " + object.JSONString(stringMap(scale, "spec")["replicas"]) + ": must be greater than or equal to 0",
				Field:   "spec.replicas"}})
		}
		if rv := object.Object(scale).MetaString("resourceVersion"); rv != "" {
			current.Metadata()["resourceVersion"] = rv // "only if unchanged" still applies
		}
		spec, _ := current["spec"].(map[string]any)
		if spec == nil {
			spec = map[string]any{}
			current["spec"] = spec
		}
		spec["replicas"] = json.Number(strconv.FormatInt(replicas, 10))
		return current, nil
	})
	if err == nil {
		updated, err = present(r.Context(), res, updated)
	}
	if err != nil {
		return nil, 0, err
	}
	return scaleOf(updated), http.StatusOK, nil
}

// scaleOf is an object's Scale: its replicas wanted and seen, and its
// selector as a string.
func scaleOf(obj object.Object) map[string]any {
	meta := map[string]any{}
	for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "creationTimestamp"} {
		if v, ok := obj.Metadata()[k]; ok {
			meta[k] = v
		}
	}
	spec := stringMap(obj, "spec")
	replicas := spec["replicas"]
	if replicas == nil {
		replicas = json.Number("1")
	}
	status := map[string]any{"replicas": json.Number("0")}
	if n, ok := stringMap(obj, "status")["replicas"]; ok {
		status["replicas"] = n
	}
	if labels, ok := stringMap(spec, "selector")["matchLabels"].(map[string]any); ok {
		var parts []string
		for k, v := range labels {
			parts = append(parts, k+"="+object.JSONString(v))
		}
		status["selector"] = strings.Join(sortedStrings(parts), ",")
	}
	return map[string]any{"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
		"spec": map[string]any{"replicas": replicas}, "status": status}
}
