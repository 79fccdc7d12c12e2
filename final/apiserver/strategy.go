// Strategies: what a write may change, per resource. Kubernetes gives each
// resource a strategy with PrepareForCreate and PrepareForUpdate; here two
// flags on the resource decide: a status subresource (status is written only
// through {name}/status) and a generation (metadata.generation counts changes
// to everything but metadata and status). CRDs and custom resources have both.
package apiserver

import (
	"encoding/json"
	"reflect"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// prepareForCreate drops the status (a client creates the spec; controllers
// report status afterwards) and starts the generation at 1.
func prepareForCreate(res *registry.Resource, obj object.Object) {
	if res.StatusSubresource {
		delete(obj, "status")
	}
	if res.TracksGeneration {
		obj.Metadata()["generation"] = json.Number("1")
	}
}

// prepareForUpdate makes obj the object to store, given the stored one. On
// {name}/status only the status comes from the request; on the main endpoint
// everything but the status does.
func prepareForUpdate(res *registry.Resource, obj, old object.Object, subresource string) {
	if subresource == "status" {
		status, hasStatus := obj["status"]
		rv := obj.MetaString("resourceVersion") // kept: "only if unchanged" still applies
		// The status writer's managedFields, recorded already, are kept too.
		managed, hasManaged := obj.Metadata()["managedFields"]
		clear(obj)
		for k, v := range object.DeepCopy(map[string]any(old)).(map[string]any) {
			obj[k] = v
		}
		delete(obj, "status")
		if hasStatus {
			obj["status"] = status
		}
		obj.Metadata()["resourceVersion"] = rv
		delete(obj.Metadata(), "managedFields")
		if hasManaged {
			obj.Metadata()["managedFields"] = managed
		}
		return
	}
	if res.StatusSubresource {
		delete(obj, "status")
		if status, ok := old["status"]; ok {
			obj["status"] = status
		}
	}
	if res.TracksGeneration {
		generation := generationOf(old)
		if specChanged(obj, old, res.StatusSubresource) {
			generation++
		}
		obj.Metadata()["generation"] = json.Number(strconv.FormatInt(generation, 10))
	}
}

func generationOf(obj object.Object) int64 {
	n, _ := strconv.ParseInt(object.JSONString(obj.Metadata()["generation"]), 10, 64)
	return n
}

// specChanged compares two objects without their metadata (and status, when
// it has its own endpoint): what a controller must act on again.
func specChanged(obj, old object.Object, ignoreStatus bool) bool {
	strip := func(o object.Object) map[string]any {
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
