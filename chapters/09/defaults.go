// Defaults: the fields Kubernetes fills in when a client leaves them out.
// kube-apiserver applies them while decoding a request (SetDefaults_Pod and
// friends in k8s.io/kubernetes/pkg/apis/core/v1), just before the mutating
// admission plugins; here they are the first step of admit.
package main

import (
	"encoding/json"
	"strings"
)

func applyDefaults(res *resource, obj object) {
	if res.custom != nil {
		// A custom object is pruned to its schema, then defaulted from it.
		res.custom.schema.prune(map[string]any(obj), "", true)
		res.custom.schema.applyDefaults(map[string]any(obj))
		return
	}
	switch res.kind {
	case "CustomResourceDefinition":
		defaultCRD(obj)
	case "APIService":
		// An APIService's service is reached on port 443 unless it says otherwise.
		if spec, ok := obj["spec"].(map[string]any); ok {
			if service, ok := spec["service"].(map[string]any); ok {
				setDefault(service, "port", json.Number("443"))
			}
		}
	case "Pod":
		defaultPod(obj)
	case "Namespace":
		// Every namespace carries its name as a label, so that selectors
		// (a webhook's namespaceSelector) can pick namespaces by name.
		labels, ok := obj.metadata()["labels"].(map[string]any)
		if !ok {
			labels = map[string]any{}
			obj.metadata()["labels"] = labels
		}
		labels["kubernetes.io/metadata.name"] = obj.metaString("name")
	}
}

// defaultPod sets what "kubectl get pod -o yaml" shows on a pod whose manifest
// did not: restart and DNS policy, scheduler, grace period, and per container
// the image pull policy and termination message settings.
func defaultPod(pod object) {
	spec := podSpec(pod)
	setDefault(spec, "restartPolicy", "Always")
	setDefault(spec, "dnsPolicy", "ClusterFirst")
	setDefault(spec, "schedulerName", "default-scheduler")
	setDefault(spec, "terminationGracePeriodSeconds", 30)
	setDefault(spec, "enableServiceLinks", true)
	setDefault(spec, "securityContext", map[string]any{})
	for _, c := range podContainers(pod) {
		setDefault(c, "imagePullPolicy", imagePullPolicy(c))
		setDefault(c, "terminationMessagePath", "/dev/termination-log")
		setDefault(c, "terminationMessagePolicy", "File")
		setDefault(c, "resources", map[string]any{})
	}
	status, ok := pod["status"].(map[string]any)
	if !ok {
		status = map[string]any{}
		pod["status"] = status
	}
	setDefault(status, "phase", "Pending")
}

// imagePullPolicy is Always for ":latest" or an image with neither tag nor
// digest (it may change under the same name), IfNotPresent otherwise. Like
// Kubernetes it looks at the tag: "app:latest@sha256:..." is still Always.
func imagePullPolicy(container map[string]any) string {
	image, _ := container["image"].(string)
	name, digest, _ := strings.Cut(image, "@")
	name = name[strings.LastIndex(name, "/")+1:] // a registry's ":port" is not a tag
	tag := ""
	if i := strings.LastIndex(name, ":"); i >= 0 {
		tag = name[i+1:]
	}
	if tag == "latest" || tag == "" && digest == "" {
		return "Always"
	}
	return "IfNotPresent"
}

func setDefault(m map[string]any, key string, value any) {
	if _, ok := m[key]; !ok {
		m[key] = value
	}
}

// podSpec returns a pod's spec map, creating it if the pod has none.
func podSpec(pod object) map[string]any {
	spec, ok := pod["spec"].(map[string]any)
	if !ok {
		spec = map[string]any{}
		pod["spec"] = spec
	}
	return spec
}

// podContainers returns the pod's containers and init containers.
func podContainers(pod object) []map[string]any {
	var out []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := podSpec(pod)[field].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}
