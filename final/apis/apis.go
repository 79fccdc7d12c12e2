// Package apis is what the server knows about its built-in kinds beyond their
// names: the fields Kubernetes fills in when a client leaves them out
// (Default), and the checks an object must pass before it is stored
// (Validate). The server calls Default while it reads a create or an update,
// before the mutating admission plugins, and Validate after them and after
// the resource's strategy, before the validating plugins:
//
//	decode -> apis.Default -> mutating admission -> strategy -> apis.Validate -> validating admission -> storage
//
// Kubernetes keeps the defaults in k8s.io/kubernetes/pkg/apis/core/v1/defaults.go
// (SetDefaults_Pod, SetDefaults_PodSpec, SetDefaults_Container,
// SetDefaults_Namespace) and k8s.io/kube-aggregator's
// pkg/apis/apiregistration/v1/defaults.go; the checks in
// pkg/apis/core/validation/validation.go (ValidatePod,
// ValidateObjectMeta) and, for APIServices,
// k8s.io/kube-aggregator/pkg/apis/apiregistration/validation. Each of those is
// thousands of lines over typed structs; here the objects stay decoded JSON and
// only the fields this project teaches are looked at.
//
// Custom resources are not this package's: the crd package prunes, defaults
// and validates them against their CustomResourceDefinition's schema, and
// checks CustomResourceDefinitions themselves. Default leaves them alone and
// Validate checks only their name and labels.
package apis

import (
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// builtinKind is the qualified kind ("Pod", "APIService.apiregistration.k8s.io")
// of a built-in resource, "" for a custom one: a CRD may well name its kind
// Pod, and must not get a pod's defaults and checks for that.
func builtinKind(res *registry.Resource) string {
	if res.Custom != nil {
		return ""
	}
	return res.QualifiedKind()
}

// podContainers returns a pod's init containers and containers, the ones that
// are objects, in that order: the maps are the pod's own, for defaults to
// fill in. It never writes: a pod without a spec has none.
func podContainers(pod object.Object) []map[string]any {
	spec, _ := pod["spec"].(map[string]any)
	var out []map[string]any
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}
