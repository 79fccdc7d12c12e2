// LimitRanger: a namespace's LimitRange objects give its containers default
// requests and limits, and bound what a container or a pod may ask for.
//
//	spec:
//	  limits:
//	  - type: Container
//	    default: {cpu: 500m}         # the limit of a container that sets none
//	    defaultRequest: {cpu: 100m}  # the request of a container that sets none
//	    min: {cpu: 50m}              # no request (or limit) below
//	    max: {cpu: "1"}              # no limit (or request) above; a limit is required
//	    maxLimitRequestRatio: {cpu: "4"}
//	  - type: Pod                    # the same bounds on the pod's totals
//	    max: {memory: 2Gi}
//
// The mutating phase fills in the defaults (and says so in the pod's
// kubernetes.io/limit-ranger annotation); the validating phase refuses a pod
// outside the bounds, after the webhooks had their say. Only pods being
// created are checked: their containers' resources cannot change later.
//
// In Kubernetes: plugin/pkg/admission/limitranger. Left out: the
// PersistentVolumeClaim limits (this server serves no claims) and pods'
// resize subresource.

package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// LimitRangerAnnotation tells which requests and limits LimitRanger set.
const LimitRangerAnnotation = "kubernetes.io/limit-ranger"

type limitRanger struct{ deps Dependencies }

// handles: pods being created, not their subresources.
func (limitRanger) handles(a *Attributes) bool {
	return a.Operation == Create && isBuiltin(a.Resource, "", "Pod") && a.Subresource == "" && a.Object != nil
}

// limitRanges are the namespace's LimitRange objects.
func (p limitRanger) limitRanges(ctx context.Context, namespace string) ([]object.Object, error) {
	res, err := lookup(p.deps.Registry, "", "limitranges")
	if err != nil {
		return nil, err
	}
	items, _, _, err := p.deps.Store.List(ctx, res, namespace, store.ListOptions{OwnWrites: true})
	return items, err
}

// limitItems are a LimitRange's spec.limits of one type.
func limitItems(lr object.Object, typ string) []map[string]any {
	var out []map[string]any
	for _, item := range objects(spec(lr)["limits"]) {
		if item["type"] == typ {
			out = append(out, item)
		}
	}
	return out
}

// admit gives each container the requests and limits it leaves out, from
// each LimitRange's Container defaults.
func (p limitRanger) admit(ctx context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	ranges, err := p.limitRanges(ctx, a.Namespace)
	if err != nil {
		return err
	}
	for _, lr := range ranges {
		defaultRequests, defaultLimits := resourceList{}, resourceList{}
		for _, item := range limitItems(lr, apis.LimitTypeContainer) {
			for name, q := range apis.ResourceList(item["defaultRequest"]) {
				defaultRequests[name] = q
			}
			for name, q := range apis.ResourceList(item["default"]) {
				defaultLimits[name] = q
			}
		}
		setDefaultResources(a.Object, defaultRequests, defaultLimits)
	}
	return nil
}

// setDefaultResources fills in a pod's containers (then its init
// containers) and notes what it set in the annotation, replacing what an
// earlier LimitRange noted, as Kubernetes does.
func setDefaultResources(pod object.Object, requests, limits resourceList) {
	if len(requests) == 0 && len(limits) == 0 {
		return
	}
	spec, _ := pod["spec"].(map[string]any)
	var notes []string
	for _, list := range []struct{ field, kind string }{{"containers", "container"}, {"initContainers", "init container"}} {
		for _, c := range objects(spec[list.field]) {
			resources, ok := c["resources"].(map[string]any)
			if c["resources"] == nil {
				resources, ok = map[string]any{}, true
			}
			if !ok {
				continue // not an object: validation refuses the pod
			}
			name, _ := c["name"].(string)
			setRequests := fill(resources, "requests", requests)
			setLimits := fill(resources, "limits", limits)
			if len(resources) > 0 {
				c["resources"] = resources
			}
			if len(setRequests) > 0 {
				notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(setRequests, ", "), list.kind, name))
			}
			if len(setLimits) > 0 {
				notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(setLimits, ", "), list.kind, name))
			}
		}
	}
	if len(notes) == 0 {
		return
	}
	meta := pod.Metadata()
	annotations, ok := meta["annotations"].(map[string]any)
	if meta["annotations"] == nil {
		annotations, ok = map[string]any{}, true
		meta["annotations"] = annotations
	}
	if ok {
		annotations[LimitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

// fill sets resources[field][name] for each default the container lacks,
// and returns the names it set, sorted.
func fill(resources map[string]any, field string, defaults resourceList) []string {
	if len(defaults) == 0 {
		return nil
	}
	m, ok := resources[field].(map[string]any)
	if resources[field] == nil {
		m, ok = map[string]any{}, true
	}
	if !ok {
		return nil
	}
	var set []string
	for name, q := range defaults {
		if _, has := m[name]; !has {
			m[name] = q.String()
			set = append(set, name)
		}
	}
	if len(set) > 0 {
		resources[field] = m
	}
	slices.Sort(set)
	return set
}

// validate refuses a pod that one of the namespace's LimitRanges does not
// allow, with every problem that LimitRange finds.
func (p limitRanger) validate(ctx context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	ranges, err := p.limitRanges(ctx, a.Namespace)
	if err != nil {
		return err
	}
	for _, lr := range ranges {
		var problems []string
		for _, item := range limitItems(lr, apis.LimitTypeContainer) {
			spec, _ := a.Object["spec"].(map[string]any)
			for _, field := range []string{"containers", "initContainers"} {
				for _, c := range objects(spec[field]) {
					requests, limits := containerResources(c)
					problems = append(problems, checkLimits(apis.LimitTypeContainer, item, requests, limits)...)
				}
			}
		}
		for _, item := range limitItems(lr, apis.LimitTypePod) {
			problems = append(problems, checkLimits(apis.LimitTypePod, item, podRequests(a.Object, false), podLimits(a.Object, false))...)
		}
		if len(problems) > 0 {
			return forbidden(a, aggregate(problems))
		}
	}
	return nil
}

// checkLimits compares requests and limits (a container's or a pod's) with
// one LimitRange item: min, then max, then the limit-to-request ratio, each
// resource in name order. Values are compared in thousandths, rounded up, as
// Kubernetes does.
func checkLimits(typ string, item map[string]any, requests, limits resourceList) []string {
	var problems []string
	min, max, ratio := apis.ResourceList(item["min"]), apis.ResourceList(item["max"]), apis.ResourceList(item["maxLimitRequestRatio"])
	for _, name := range sortedNames(min) {
		enforced := min[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasReq:
			problems = append(problems, fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", name, typ, enforced))
		case req.MilliValue().Cmp(enforced.MilliValue()) < 0:
			problems = append(problems, fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", name, typ, enforced, req))
		case hasLim && lim.MilliValue().Cmp(enforced.MilliValue()) < 0:
			problems = append(problems, fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", name, typ, enforced, lim))
		}
	}
	for _, name := range sortedNames(max) {
		enforced := max[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasLim:
			problems = append(problems, fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", name, typ, enforced))
		case lim.MilliValue().Cmp(enforced.MilliValue()) > 0:
			problems = append(problems, fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", name, typ, enforced, lim))
		case hasReq && req.MilliValue().Cmp(enforced.MilliValue()) > 0:
			problems = append(problems, fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", name, typ, enforced, req))
		}
	}
	for _, name := range sortedNames(ratio) {
		enforced := ratio[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasReq || req.MilliValue().Sign() == 0:
			problems = append(problems, fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, typ, enforced))
		case !hasLim || lim.MilliValue().Sign() == 0:
			problems = append(problems, fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, typ, enforced))
		default:
			observed := milliFloat(lim) / milliFloat(req)
			if observed*1000 > milliFloat(enforced) {
				problems = append(problems, fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, typ, enforced, observed))
			}
		}
	}
	return problems
}

func milliFloat(q apis.Quantity) float64 {
	f, _ := q.MilliValue().Float64()
	return f
}

// aggregate joins messages as k8s.io/apimachinery's utilerrors.NewAggregate
// does: repeats dropped, one message alone, several in brackets.
func aggregate(messages []string) error {
	var unique []string
	for _, m := range messages {
		if !slices.Contains(unique, m) {
			unique = append(unique, m)
		}
	}
	if len(unique) == 1 {
		return fmt.Errorf("%s", unique[0])
	}
	return fmt.Errorf("[%s]", strings.Join(unique, ", "))
}

func sortedNames(l resourceList) []string {
	names := make([]string, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
