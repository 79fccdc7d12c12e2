// The resources the server serves on its own, as data: the registry's
// built-in table. CustomResourceDefinitions add to it at run time.
package server

import (
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis/autoscaling"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// BuiltinResources is what kube-apiserver serves that this server serves too.
func BuiltinResources() []*registry.Resource {
	return []*registry.Resource{
		{Group: "", Version: "v1", Name: "namespaces", Singular: "namespace", Kind: "Namespace", ShortNames: []string{"ns"}, ValidateName: object.ValidateDNS1123Label},
		{Group: "", Version: "v1", Name: "pods", Singular: "pod", Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"}},
		{Group: "", Version: "v1", Name: "configmaps", Singular: "configmap", Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"}},
		{Group: "", Version: "v1", Name: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true},
		{Group: "", Version: "v1", Name: "serviceaccounts", Singular: "serviceaccount", Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"},
			Subresources: []registry.Subresource{{Name: "token", Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest", Verbs: []string{"create"}}}},
		{Group: "", Version: "v1", Name: "services", Singular: "service", Kind: "Service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"}, ValidateName: object.ValidateDNS1035Label,
			Subresources: []registry.Subresource{{Name: "proxy", Group: "", Version: "v1", Kind: "ServiceProxyOptions", Verbs: []string{"create", "delete", "get", "patch", "update"}}}},
		{Group: "", Version: "v1", Name: "events", Singular: "event", Kind: "Event", Namespaced: true, ShortNames: []string{"ev"}},
		{Group: "", Version: "v1", Name: "resourcequotas", Singular: "resourcequota", Kind: "ResourceQuota", Namespaced: true, ShortNames: []string{"quota"}},
		{Group: "", Version: "v1", Name: "limitranges", Singular: "limitrange", Kind: "LimitRange", Namespaced: true, ShortNames: []string{"limits"}},
		{Group: "batch", Version: "v1", Name: "jobs", Singular: "job", Kind: "Job", Namespaced: true, Categories: []string{"all"}},
		{Group: "authentication.k8s.io", Version: "v1", Name: "tokenreviews", Singular: "tokenreview", Kind: "TokenReview", Verbs: []string{"create"}, Virtual: true},
		{Group: "authentication.k8s.io", Version: "v1", Name: "selfsubjectreviews", Singular: "selfsubjectreview", Kind: "SelfSubjectReview", Verbs: []string{"create"}, Virtual: true},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "roles", Singular: "role", Kind: "Role", Namespaced: true, ValidateName: object.ValidatePathSegmentName},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "rolebindings", Singular: "rolebinding", Kind: "RoleBinding", Namespaced: true, ValidateName: object.ValidatePathSegmentName},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "clusterroles", Singular: "clusterrole", Kind: "ClusterRole", ValidateName: object.ValidatePathSegmentName},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "clusterrolebindings", Singular: "clusterrolebinding", Kind: "ClusterRoleBinding", ValidateName: object.ValidatePathSegmentName},
		{Group: "authorization.k8s.io", Version: "v1", Name: "selfsubjectaccessreviews", Singular: "selfsubjectaccessreview", Kind: "SelfSubjectAccessReview", Verbs: []string{"create"}, Virtual: true},
		{Group: "authorization.k8s.io", Version: "v1", Name: "subjectaccessreviews", Singular: "subjectaccessreview", Kind: "SubjectAccessReview", Verbs: []string{"create"}, Virtual: true},
		{Group: "admissionregistration.k8s.io", Version: "v1", Name: "mutatingwebhookconfigurations", Singular: "mutatingwebhookconfiguration", Kind: "MutatingWebhookConfiguration", Categories: []string{"api-extensions"}},
		{Group: "admissionregistration.k8s.io", Version: "v1", Name: "validatingwebhookconfigurations", Singular: "validatingwebhookconfiguration", Kind: "ValidatingWebhookConfiguration", Categories: []string{"api-extensions"}},
		{Group: "authorization.k8s.io", Version: "v1", Name: "selfsubjectrulesreviews", Singular: "selfsubjectrulesreview", Kind: "SelfSubjectRulesReview", Verbs: []string{"create"}, Virtual: true},
		{Group: "apiextensions.k8s.io", Version: "v1", Name: "customresourcedefinitions", Singular: "customresourcedefinition", Kind: "CustomResourceDefinition",
			ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"}, StatusSubresource: true, TracksGeneration: true},
		{Group: "", Version: "v1", Name: "endpoints", Singular: "endpoints", Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"}},
		{Group: "discovery.k8s.io", Version: "v1", Name: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice", Namespaced: true},
		// The cluster IPs taken (final/ipalloc) and the range they come from.
		{Group: "networking.k8s.io", Version: "v1", Name: "ipaddresses", Singular: "ipaddress", Kind: "IPAddress", ShortNames: []string{"ip"},
			ValidateName: apis.ValidateIPAddressName},
		{Group: "networking.k8s.io", Version: "v1", Name: "servicecidrs", Singular: "servicecidr", Kind: "ServiceCIDR", StatusSubresource: true},
		{Group: "apiregistration.k8s.io", Version: "v1", Name: "apiservices", Singular: "apiservice", Kind: "APIService",
			Categories: []string{"api-extensions"}, StatusSubresource: true, ValidateName: object.ValidatePathSegmentName},
		{Group: "coordination.k8s.io", Version: "v1", Name: "leases", Singular: "lease", Kind: "Lease", Namespaced: true},
		// The workloads' objects are served; no controller acts on them
		// here (kube-controller-manager's job), so nothing runs.
		{Group: "apps", Version: "v1", Name: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true,
			ShortNames: []string{"deploy"}, Categories: []string{"all"}, StatusSubresource: true, ScaleSubresource: true, TracksGeneration: true},
		{Group: "apps", Version: "v1", Name: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true,
			ShortNames: []string{"rs"}, Categories: []string{"all"}, StatusSubresource: true, ScaleSubresource: true, TracksGeneration: true},
		{Group: "apps", Version: "v1", Name: "statefulsets", Singular: "statefulset", Kind: "StatefulSet", Namespaced: true,
			ShortNames: []string{"sts"}, Categories: []string{"all"}, StatusSubresource: true, ScaleSubresource: true, TracksGeneration: true},
		{Group: "apps", Version: "v1", Name: "daemonsets", Singular: "daemonset", Kind: "DaemonSet", Namespaced: true,
			ShortNames: []string{"ds"}, Categories: []string{"all"}, StatusSubresource: true, TracksGeneration: true},
		{Group: "", Version: "v1", Name: "nodes", Singular: "node", Kind: "Node", ShortNames: []string{"no"}, StatusSubresource: true},
		// One resource in two versions, stored in v2; each version converts
		// to and from it through the hub type of final/apis/autoscaling.
		// The preferred version comes first.
		hpa("v2"), hpa("v1"),
	}
}

// hpa is the HorizontalPodAutoscaler in one of its versions.
func hpa(version string) *registry.Resource {
	return &registry.Resource{Group: autoscaling.Group, Version: version, Name: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler",
		Kind: autoscaling.Kind, Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"},
		StatusSubresource: true, TracksGeneration: true, Converter: autoscaling.Converter{Version: autoscaling.Group + "/" + version}}
}
