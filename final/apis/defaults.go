// Defaults: the fields Kubernetes fills in when a client leaves them out, so
// that "kubectl get -o yaml" shows what the object will really do.

package apis

import (
	"encoding/json"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// Default fills in the defaults of a built-in kind, in place: a pod's
// policies and per-container settings, a namespace's
// kubernetes.io/metadata.name label, an APIService's service port. Other
// kinds, custom resources included, are left as they are. A field of the
// wrong type is left too, for Validate to report.
func Default(res *registry.Resource, obj object.Object) {
	switch builtinKind(res) {
	case "Pod":
		defaultPod(obj)
	case "Namespace":
		defaultNamespace(obj)
	case "Secret":
		setDefault(obj, "type", "Opaque")
	case "Service":
		defaultService(obj)
	case "LimitRange":
		defaultLimitRange(obj)
	case "ResourceQuota":
		if spec, ok := obj["spec"].(map[string]any); ok {
			canonicalize(spec["hard"])
		}
	case "Deployment.apps", "ReplicaSet.apps", "StatefulSet.apps":
		// One replica unless asked otherwise (pkg/apis/apps/v1/defaults.go).
		if spec, ok := obj["spec"].(map[string]any); ok {
			setDefault(spec, "replicas", json.Number("1"))
		}
	case "APIService.apiregistration.k8s.io":
		// An APIService's service is reached on port 443 unless it says
		// otherwise (kube-aggregator's SetDefaults_ServiceReference).
		if spec, ok := obj["spec"].(map[string]any); ok {
			if service, ok := spec["service"].(map[string]any); ok {
				setDefault(service, "port", json.Number("443"))
			}
		}
	}
}

// defaultPod sets what "kubectl get pod -o yaml" shows on a pod whose
// manifest did not: restart and DNS policy, scheduler, grace period, and per
// container the image pull policy, termination message settings and
// requests (its limits, when it names only those).
func defaultPod(pod object.Object) {
	spec, ok := pod["spec"].(map[string]any)
	if pod["spec"] == nil {
		spec, ok = map[string]any{}, true
		pod["spec"] = spec
	}
	if ok {
		setDefault(spec, "restartPolicy", "Always")
		setDefault(spec, "dnsPolicy", "ClusterFirst")
		setDefault(spec, "schedulerName", "default-scheduler")
		setDefault(spec, "terminationGracePeriodSeconds", json.Number("30"))
		setDefault(spec, "enableServiceLinks", true)
		setDefault(spec, "securityContext", map[string]any{})
		// serviceAccount is the deprecated name of serviceAccountName:
		// either one names the account, and Kubernetes writes both back.
		name, _ := spec["serviceAccountName"].(string)
		if name == "" {
			name, _ = spec["serviceAccount"].(string)
		}
		if name != "" {
			spec["serviceAccountName"], spec["serviceAccount"] = name, name
		}
	}
	for _, c := range podContainers(pod) {
		image, _ := c["image"].(string)
		setDefault(c, "imagePullPolicy", imagePullPolicy(image))
		setDefault(c, "terminationMessagePath", "/dev/termination-log")
		setDefault(c, "terminationMessagePolicy", "File")
		setDefault(c, "resources", map[string]any{})
	}
	defaultPodResources(pod)
	// A new pod is Pending until a kubelet reports otherwise (the pod
	// strategy's PrepareForCreate sets this in Kubernetes).
	status, ok := pod["status"].(map[string]any)
	if pod["status"] == nil {
		status, ok = map[string]any{}, true
		pod["status"] = status
	}
	if ok {
		setDefault(status, "phase", "Pending")
	}
}

// imagePullPolicy is the default pull policy of a container's image: Always
// for ":latest" or an image with neither tag nor digest (it may change under
// the same name), IfNotPresent otherwise. Like Kubernetes it looks at the
// tag: "app:latest@sha256:..." is still Always.
func imagePullPolicy(image string) string {
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

// defaultNamespace puts the namespace's name in the label
// kubernetes.io/metadata.name, whatever the client sent, so that selectors
// (a webhook's namespaceSelector, a NetworkPolicy's) can pick namespaces by
// name. Labels that are not an object are left for Validate to refuse.
func defaultNamespace(ns object.Object) {
	meta := ns.Metadata()
	labels, ok := meta["labels"].(map[string]any)
	if meta["labels"] == nil {
		labels, ok = map[string]any{}, true
		meta["labels"] = labels
	}
	if ok {
		labels["kubernetes.io/metadata.name"] = ns.MetaString("name")
	}
	// The namespace controller's finalizer, and the phase a namespace has
	// until it is deleted (pkg/registry/core/namespace/strategy.go).
	if spec, ok := ns["spec"].(map[string]any); ok || ns["spec"] == nil {
		if spec == nil {
			spec = map[string]any{}
			ns["spec"] = spec
		}
		setDefault(spec, "finalizers", []any{"kubernetes"})
	}
	if status, ok := ns["status"].(map[string]any); ok || ns["status"] == nil {
		if status == nil {
			status = map[string]any{}
			ns["status"] = status
		}
		setDefault(status, "phase", "Active")
	}
}

// setDefault sets m[key] unless the client set it. A null counts as not set,
// as it does when Kubernetes decodes into its Go types.
func setDefault(m map[string]any, key string, value any) {
	if m[key] == nil {
		m[key] = value
	}
}
