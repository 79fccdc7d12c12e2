// What a pod asks for and may use, summed over its containers: the numbers
// LimitRanger's Pod limits and ResourceQuota's compute quotas compare. As
// in Kubernetes (k8s.io/component-helpers/resource PodRequests and
// PodLimits), containers run together and add up; init containers run one
// at a time before them, so only the largest counts, except sidecars (init
// containers with restartPolicy Always), which keep running and add up with
// everything after them.

package admission

import (
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// resourceList is a map of resource names to quantities.
type resourceList map[string]apis.Quantity

// add adds other into l.
func (l resourceList) add(other resourceList) {
	for name, q := range other {
		l[name] = l[name].Add(q)
	}
}

// max raises each of l's quantities to other's where other's is larger.
func (l resourceList) max(other resourceList) {
	for name, q := range other {
		if current, ok := l[name]; !ok || q.Cmp(current) > 0 {
			l[name] = q
		}
	}
}

func (l resourceList) clone() resourceList {
	out := resourceList{}
	out.add(l)
	return out
}

// containerResources reads a container's requests and limits.
func containerResources(c map[string]any) (requests, limits resourceList) {
	resources, _ := c["resources"].(map[string]any)
	return apis.ResourceList(resources["requests"]), apis.ResourceList(resources["limits"])
}

// podRequests and podLimits are the pod's totals. A pod's own
// spec.resources (pod-level resources, on by default since Kubernetes 1.34)
// replace the containers' sum for cpu and memory. withOverhead adds
// spec.overhead, as quota does and LimitRanger does not.
func podRequests(pod object.Object, withOverhead bool) resourceList {
	return podTotal(pod, "requests", withOverhead)
}

func podLimits(pod object.Object, withOverhead bool) resourceList {
	return podTotal(pod, "limits", withOverhead)
}

func podTotal(pod object.Object, which string, withOverhead bool) resourceList {
	pick := func(c map[string]any) resourceList {
		requests, limits := containerResources(c)
		if which == "limits" {
			return limits
		}
		return requests
	}
	spec, _ := pod["spec"].(map[string]any)
	total := resourceList{}
	for _, c := range objects(spec["containers"]) {
		total.add(pick(c))
	}
	sidecars, initMax := resourceList{}, resourceList{}
	for _, c := range objects(spec["initContainers"]) {
		own := pick(c)
		if c["restartPolicy"] == "Always" {
			total.add(own)
			sidecars.add(own)
			initMax.max(sidecars)
			continue
		}
		during := own.clone()
		during.add(sidecars)
		initMax.max(during)
	}
	total.max(initMax)
	if podLevel, ok := spec["resources"].(map[string]any); ok {
		for name, q := range apis.ResourceList(podLevel[which]) {
			if name == "cpu" || name == "memory" {
				total[name] = q
			}
		}
	}
	if withOverhead {
		total.add(apis.ResourceList(spec["overhead"]))
	}
	return total
}

// objects returns the elements of a JSON list that are objects.
func objects(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
