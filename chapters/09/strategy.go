// Strategies: what a write may change, per resource. Kubernetes gives each
// resource a strategy with PrepareForCreate and PrepareForUpdate; here two
// flags on the resource decide: a status subresource (status is written only
// through {name}/status) and a generation (metadata.generation counts changes
// to everything but metadata and status). CRDs and custom resources have both.
package main

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// prepareForCreate drops the status (a client creates the spec; controllers
// report status afterwards) and starts the generation at 1.
func prepareForCreate(res *resource, obj object) {
	if res.statusSubresource {
		delete(obj, "status")
	}
	if res.tracksGeneration {
		obj.metadata()["generation"] = json.Number("1")
	}
}

// prepareForUpdate makes obj the object to store, given the stored one. On
// {name}/status only the status comes from the request; on the main endpoint
// everything but the status does.
func prepareForUpdate(res *resource, obj, old object, subresource string) {
	if subresource == "status" {
		status, hasStatus := obj["status"]
		rv := obj.metaString("resourceVersion") // kept: "only if unchanged" still applies
		clear(obj)
		for k, v := range deepCopy(map[string]any(old)).(map[string]any) {
			obj[k] = v
		}
		delete(obj, "status")
		if hasStatus {
			obj["status"] = status
		}
		obj.metadata()["resourceVersion"] = rv
		return
	}
	if res.statusSubresource {
		delete(obj, "status")
		if status, ok := old["status"]; ok {
			obj["status"] = status
		}
	}
	if res.tracksGeneration {
		generation := generationOf(old)
		if specChanged(obj, old, res.statusSubresource) {
			generation++
		}
		obj.metadata()["generation"] = json.Number(strconv.FormatInt(generation, 10))
	}
}

func generationOf(obj object) int64 {
	n, _ := strconv.ParseInt(jsonString(obj.metadata()["generation"]), 10, 64)
	return n
}

// specChanged compares two objects without their metadata (and status, when
// it has its own endpoint): what a controller must act on again.
func specChanged(obj, old object, ignoreStatus bool) bool {
	strip := func(o object) map[string]any {
		out := map[string]any{}
		for k, v := range o {
			if k != "metadata" && k != "apiVersion" && !(ignoreStatus && k == "status") {
				out[k] = v
			}
		}
		return out
	}
	return !reflect.DeepEqual(strip(obj), strip(old))
}

// jsonString prints a decoded JSON scalar: "3" for json.Number("3") or 3.
func jsonString(v any) string {
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

// deepCopy copies decoded JSON, so that a change to the copy never reaches a
// stored object or a schema's default.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case object:
		return deepCopy(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}
