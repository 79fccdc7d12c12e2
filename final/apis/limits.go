// Compute resources: a container's requests and limits, a pod's own, the
// LimitRange objects that bound and default them and a ResourceQuota's
// spec.hard, all maps of resource names to quantities. Kubernetes reads them
// into resource.Quantity while decoding, so a quantity that does not parse
// is a 400, and every quantity is written back in its canonical form ("0.5"
// comes back as "500m").
//
// In Kubernetes: SetDefaults_Pod and SetDefaults_LimitRangeItem in
// pkg/apis/core/v1/defaults.go; validateResourceRequirements and
// ValidateLimitRange in pkg/apis/core/validation/validation.go.

package apis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// The LimitRange types Kubernetes knows (others must be qualified names).
const (
	LimitTypePod                   = "Pod"
	LimitTypeContainer             = "Container"
	LimitTypePersistentVolumeClaim = "PersistentVolumeClaim"
)

// ResourceList reads a map of quantities from decoded JSON ("requests",
// "limits", "hard"...). Entries that do not parse are left out: validation
// reports them.
func ResourceList(v any) map[string]Quantity {
	m, _ := v.(map[string]any)
	out := make(map[string]Quantity, len(m))
	for name, value := range m {
		if q, ok := QuantityOf(value); ok {
			out[name] = q
		}
	}
	return out
}

// canonicalize rewrites each quantity of a resource map in its canonical
// form, as a round trip through Kubernetes' types does. What does not parse
// is left for validation.
func canonicalize(v any) {
	m, _ := v.(map[string]any)
	for name, value := range m {
		if q, ok := QuantityOf(value); ok {
			m[name] = q.String()
		}
	}
}

// defaultPodResources canonicalizes every container's requests and limits
// (and the pod's own), and defaults a container's requests to its limits:
// a container that says only how much it may use is taken to ask for that
// much.
func defaultPodResources(pod object.Object) {
	spec, _ := pod["spec"].(map[string]any)
	if resources, ok := spec["resources"].(map[string]any); ok {
		canonicalize(resources["requests"])
		canonicalize(resources["limits"])
	}
	for _, c := range podContainers(pod) {
		resources, ok := c["resources"].(map[string]any)
		if !ok {
			continue
		}
		canonicalize(resources["requests"])
		canonicalize(resources["limits"])
		limits, ok := resources["limits"].(map[string]any)
		if !ok {
			continue
		}
		requests, ok := resources["requests"].(map[string]any)
		if resources["requests"] == nil {
			requests, ok = map[string]any{}, true
			resources["requests"] = requests
		}
		if !ok {
			continue
		}
		for name, limit := range limits {
			if _, set := requests[name]; !set {
				requests[name] = limit
			}
		}
	}
}

// defaultLimitRange canonicalizes the quantities and, for Container limits,
// fills the defaults in as Kubernetes does: the default limit is the max, the
// default request is the default limit, or else the min.
func defaultLimitRange(lr object.Object) {
	spec, _ := lr["spec"].(map[string]any)
	limits, _ := spec["limits"].([]any)
	for _, item := range limits {
		limit, ok := item.(map[string]any)
		if !ok {
			continue
		}
		for _, field := range []string{"max", "min", "default", "defaultRequest", "maxLimitRequestRatio"} {
			canonicalize(limit[field])
		}
		if limit["type"] != LimitTypeContainer {
			continue
		}
		fill := func(field, from string) {
			source, _ := limit[from].(map[string]any)
			if len(source) == 0 {
				return
			}
			target, ok := limit[field].(map[string]any)
			if limit[field] == nil {
				target, ok = map[string]any{}, true
				limit[field] = target
			}
			if !ok {
				return
			}
			for name, q := range source {
				if _, set := target[name]; !set {
					target[name] = q
				}
			}
		}
		fill("default", "max")
		fill("defaultRequest", "default")
		fill("defaultRequest", "min")
	}
}

// badQuantity is the 400 Kubernetes' decoder answers for a quantity that
// does not parse, nil if every quantity in the maps parses.
func badQuantity(kind string, maps ...any) error {
	for _, v := range maps {
		m, _ := v.(map[string]any)
		for _, value := range m {
			s, isString := value.(string)
			if _, ok := QuantityOf(value); ok {
				continue
			}
			err := ErrQuantityFormat
			if isString {
				_, err = ParseQuantity(strings.TrimSpace(s))
			}
			return apierrors.NewBadRequest("%s in version \"v1\" cannot be handled as a %s: %v", kind, kind, err)
		}
	}
	return nil
}

// validatePodResources checks each container's requests and limits: every
// quantity parses (else a 400), none is negative, and no request is above
// its limit.
func validatePodResources(pod object.Object) ([]apierrors.Cause, error) {
	spec, _ := pod["spec"].(map[string]any)
	if resources, ok := spec["resources"].(map[string]any); ok {
		if err := badQuantity("Pod", resources["requests"], resources["limits"]); err != nil {
			return nil, err
		}
	}
	var causes []apierrors.Cause
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for i, item := range list {
			c, _ := item.(map[string]any)
			resources, _ := c["resources"].(map[string]any)
			if err := badQuantity("Pod", resources["requests"], resources["limits"]); err != nil {
				return nil, err
			}
			path := fmt.Sprintf("spec.%s[%d].resources", field, i)
			requests, limits := ResourceList(resources["requests"]), ResourceList(resources["limits"])
			for _, kind := range []struct {
				name string
				list map[string]Quantity
			}{{"limits", limits}, {"requests", requests}} {
				for _, name := range sortedKeys(kind.list) {
					if q := kind.list[name]; q.Sign() < 0 {
						causes = append(causes, invalid(fmt.Sprintf("%s.%s[%s]", path, kind.name, name), q.String(), "must be greater than or equal to 0"))
					}
				}
			}
			for _, name := range sortedKeys(requests) {
				if limit, ok := limits[name]; ok && requests[name].Cmp(limit) > 0 {
					causes = append(causes, invalid(path+".requests", requests[name].String(),
						fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit)))
				}
			}
		}
	}
	return causes, nil
}

// validateLimitRange checks a LimitRange as Kubernetes does: each limit has
// a standard or qualified type, no type twice, quantities that parse, a Pod
// limit has no defaults, a PersistentVolumeClaim limit bounds storage, and
// per resource min <= defaultRequest <= default <= max, with a
// maxLimitRequestRatio of at least 1 that max/min allows.
func validateLimitRange(lr object.Object) ([]apierrors.Cause, error) {
	spec, _ := lr["spec"].(map[string]any)
	limits, _ := spec["limits"].([]any)
	var causes []apierrors.Cause
	seen := map[string]bool{}
	for i, item := range limits {
		path := fmt.Sprintf("spec.limits[%d]", i)
		limit, ok := item.(map[string]any)
		if !ok {
			return nil, apierrors.NewBadRequest("LimitRange in version \"v1\" cannot be handled as a LimitRange: %s must be an object", path)
		}
		if err := badQuantity("LimitRange", limit["max"], limit["min"], limit["default"], limit["defaultRequest"], limit["maxLimitRequestRatio"]); err != nil {
			return nil, err
		}
		typ, _ := limit["type"].(string)
		switch {
		case typ == "":
			causes = append(causes, invalid(path+".type", "", "name part must be non-empty"))
		case !strings.Contains(typ, "/") && !slices.Contains([]string{LimitTypePod, LimitTypeContainer, LimitTypePersistentVolumeClaim}, typ):
			causes = append(causes, invalid(path+".type", typ, "must be a standard limit type or fully qualified"))
		}
		if seen[typ] {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueDuplicate", Message: fmt.Sprintf("Duplicate value: %q", typ), Field: path + ".type"})
		}
		seen[typ] = true

		max, min := ResourceList(limit["max"]), ResourceList(limit["min"])
		def, defReq, ratio := ResourceList(limit["default"]), ResourceList(limit["defaultRequest"]), ResourceList(limit["maxLimitRequestRatio"])
		if typ == LimitTypePod {
			if len(def) > 0 {
				causes = append(causes, apierrors.Cause{Reason: "FieldValueForbidden", Message: "Forbidden: may not be specified when `type` is 'Pod'", Field: path + ".default"})
			}
			if len(defReq) > 0 {
				causes = append(causes, apierrors.Cause{Reason: "FieldValueForbidden", Message: "Forbidden: may not be specified when `type` is 'Pod'", Field: path + ".defaultRequest"})
			}
			def, defReq = nil, nil
		}
		if typ == LimitTypePersistentVolumeClaim {
			if _, hasMin := min["storage"]; !hasMin {
				if _, hasMax := max["storage"]; !hasMax {
					causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired",
						Message: "Required value: either minimum or maximum storage value is required, but neither was provided", Field: path + ".limits"})
				}
			}
		}
		names := map[string]bool{}
		for _, list := range []map[string]Quantity{max, min, def, defReq, ratio} {
			for name := range list {
				names[name] = true
			}
		}
		for _, name := range sortedKeys(names) {
			causes = append(causes, limitRangeItemCauses(path, name, max, min, def, defReq, ratio)...)
		}
	}
	return causes, nil
}

// limitRangeItemCauses are the checks between one resource's quantities in
// one limit.
func limitRangeItemCauses(path, name string, max, min, def, defReq, ratio map[string]Quantity) []apierrors.Cause {
	var causes []apierrors.Cause
	at := func(field string) string { return fmt.Sprintf("%s.%s[%s]", path, field, name) }
	mx, hasMax := max[name]
	mn, hasMin := min[name]
	d, hasDef := def[name]
	dr, hasDefReq := defReq[name]
	r, hasRatio := ratio[name]
	if hasMin && hasMax && mn.Cmp(mx) > 0 {
		causes = append(causes, invalid(at("min"), mn.String(), fmt.Sprintf("min value %s is greater than max value %s", mn, mx)))
	}
	if hasDefReq && hasMin && mn.Cmp(dr) > 0 {
		causes = append(causes, invalid(at("defaultRequest"), dr.String(), fmt.Sprintf("min value %s is greater than default request value %s", mn, dr)))
	}
	if hasDefReq && hasMax && dr.Cmp(mx) > 0 {
		causes = append(causes, invalid(at("defaultRequest"), dr.String(), fmt.Sprintf("default request value %s is greater than max value %s", dr, mx)))
	}
	if hasDefReq && hasDef && dr.Cmp(d) > 0 {
		causes = append(causes, invalid(at("defaultRequest"), dr.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", dr, d)))
	}
	if hasDef && hasMin && mn.Cmp(d) > 0 {
		causes = append(causes, invalid(at("default"), mn.String(), fmt.Sprintf("min value %s is greater than default value %s", mn, d)))
	}
	if hasDef && hasMax && d.Cmp(mx) > 0 {
		causes = append(causes, invalid(at("default"), mx.String(), fmt.Sprintf("default value %s is greater than max value %s", d, mx)))
	}
	if hasRatio && r.Cmp(MustParseQuantity("1")) < 0 {
		causes = append(causes, invalid(at("maxLimitRequestRatio"), r.String(), fmt.Sprintf("ratio %s is less than 1", r)))
	}
	if hasRatio && hasMin && hasMax && mn.Sign() > 0 {
		if allowed := mx.Float64() / mn.Float64(); r.Float64() > allowed {
			causes = append(causes, invalid(at("maxLimitRequestRatio"), r.String(), fmt.Sprintf("ratio %s is greater than max/min = %f", r, allowed)))
		}
	}
	return causes
}

// invalid is a FieldValueInvalid cause, worded as Kubernetes' field.Invalid.
func invalid(field, value, detail string) apierrors.Cause {
	return apierrors.Cause{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %s", value, detail), Field: field}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
