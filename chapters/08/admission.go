// Admission: the last word before storage. Every create, update and delete
// passes, in this order (the seeds' drawing, and kube-apiserver's):
//
//	defaults -> mutating plugins -> strategy -> object schema validation -> validating plugins -> storage
//
// Mutating plugins may change the object (set a default service account,
// apply a webhook's patch); validating plugins may only say no (a namespace
// that does not exist, a quota that is used up). --enable-admission-plugins
// and --disable-admission-plugins choose which plugins run.
package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// admissionAttributes is what a plugin sees: the operation, the object (nil
// on DELETE) and the object before (nil on CREATE), and who asks.
type admissionAttributes struct {
	operation string // CREATE, UPDATE or DELETE
	resource  *resource
	namespace string
	name      string
	object    object
	oldObject object
	user      *userInfo
}

// A plugin implements one or both of these, as in k8s.io/apiserver's
// admission.MutationInterface and ValidationInterface.
type mutatingPlugin interface {
	admit(a *admissionAttributes) error
}

type validatingPlugin interface {
	validate(a *admissionAttributes) error
}

// pluginOrder is the order plugins run in, whatever order the flags name them.
var pluginOrder = []string{"NamespaceLifecycle", "AlwaysPullImages", "ServiceAccount",
	"MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"}

// defaultPlugins are enabled unless --disable-admission-plugins says otherwise.
var defaultPlugins = []string{"NamespaceLifecycle", "ServiceAccount",
	"MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"}

type admissionChain struct {
	enabled    []string
	mutating   []mutatingPlugin
	validating []validatingPlugin
}

// newAdmissionChain builds the chain from the flags' comma-separated lists.
func (s *server) newAdmissionChain(enable, disable string) (*admissionChain, error) {
	plugins := map[string]any{
		"NamespaceLifecycle":         namespaceLifecycle{s},
		"AlwaysPullImages":           alwaysPullImages{},
		"ServiceAccount":             serviceAccountPlugin{s},
		"MutatingAdmissionWebhook":   mutatingWebhooks{&webhooks{s: s, mutating: true}},
		"ValidatingAdmissionWebhook": validatingWebhooks{&webhooks{s: s}},
		"ResourceQuota":              resourceQuota{s},
	}
	enabled := slices.Clone(defaultPlugins)
	enabledByFlag := map[string]bool{}
	for _, list := range []struct {
		names string
		add   bool
	}{{enable, true}, {disable, false}} {
		for _, name := range strings.Split(list.names, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if _, known := plugins[name]; !known {
				return nil, fmt.Errorf("admission plugin %q is not implemented (known: %s)", name, strings.Join(pluginOrder, ", "))
			}
			if !list.add && enabledByFlag[name] { // kube-apiserver refuses this too
				return nil, fmt.Errorf("[%s] in enable-admission-plugins and disable-admission-plugins overlapped", name)
			}
			enabledByFlag[name] = list.add
			enabled = slices.DeleteFunc(enabled, func(n string) bool { return n == name })
			if list.add {
				enabled = append(enabled, name)
			}
		}
	}
	chain := &admissionChain{}
	for _, name := range pluginOrder {
		if !slices.Contains(enabled, name) {
			continue
		}
		chain.enabled = append(chain.enabled, name)
		if m, ok := plugins[name].(mutatingPlugin); ok {
			chain.mutating = append(chain.mutating, m)
		}
		if v, ok := plugins[name].(validatingPlugin); ok {
			chain.validating = append(chain.validating, v)
		}
	}
	return chain, nil
}

// admit runs the whole pipeline on one write. obj is changed in place by
// defaults and mutating plugins; on DELETE it is nil.
func (s *server) admit(r *http.Request, operation string, res *resource, obj, old object) error {
	a := &admissionAttributes{operation: operation, resource: res, object: obj, oldObject: old, user: userFrom(r.Context())}
	for _, o := range []object{obj, old} {
		if o != nil {
			a.namespace, a.name = o.metaString("namespace"), o.metaString("name")
			break
		}
	}
	if obj != nil {
		applyDefaults(res, obj)
	}
	for _, p := range s.admission.mutating {
		if err := p.admit(a); err != nil {
			return err
		}
	}
	if obj != nil {
		// The resource's strategy has the last word on what may change
		// (strategy.go), then the object is validated as it will be stored.
		if old == nil {
			prepareForCreate(res, obj)
		} else {
			prepareForUpdate(res, obj, old, requestInfoFrom(r.Context()).Subresource)
		}
		if err := validateObject(res, obj, old); err != nil {
			return err
		}
	}
	for _, p := range s.admission.validating {
		if err := p.validate(a); err != nil {
			return err
		}
	}
	return nil
}

// errAdmissionForbidden is a plugin's "no": 403 naming the object.
func errAdmissionForbidden(a *admissionAttributes, reason string) error {
	return errForbidden(a.resource, a.name, reason)
}

// namespaceLifecycle: nothing is created in a namespace that does not exist,
// and the namespaces every cluster needs cannot be deleted.
type namespaceLifecycle struct{ s *server }

func (p namespaceLifecycle) validate(a *admissionAttributes) error {
	if a.operation == "DELETE" && a.resource.kind == "Namespace" && slices.Contains(protectedNamespaces, a.name) {
		return errAdmissionForbidden(a, "this namespace may not be deleted")
	}
	if a.operation != "CREATE" || !a.resource.namespaced {
		return nil
	}
	_, err := p.s.store.get(p.s.namespaces, "", a.namespace)
	return err
}

// alwaysPullImages makes every container pull its image, so a pod cannot use
// an image another tenant pulled onto the node. Off by default.
type alwaysPullImages struct{}

func (alwaysPullImages) admit(a *admissionAttributes) error {
	if a.resource.kind != "Pod" || a.object == nil {
		return nil
	}
	for _, c := range podContainers(a.object) {
		c["imagePullPolicy"] = "Always"
	}
	return nil
}

// serviceAccountPlugin gives a pod the namespace's default ServiceAccount
// when it names none, and refuses a pod whose ServiceAccount does not exist.
type serviceAccountPlugin struct{ s *server }

func (p serviceAccountPlugin) admit(a *admissionAttributes) error {
	if a.operation != "CREATE" || a.resource.kind != "Pod" {
		return nil
	}
	spec := podSpec(a.object)
	if name, _ := spec["serviceAccountName"].(string); name == "" {
		spec["serviceAccountName"] = "default"
	}
	return nil
}

func (p serviceAccountPlugin) validate(a *admissionAttributes) error {
	if a.operation != "CREATE" || a.resource.kind != "Pod" {
		return nil
	}
	name, _ := podSpec(a.object)["serviceAccountName"].(string)
	if _, err := p.s.store.get(p.s.registry.lookup("", "serviceaccounts"), a.namespace, name); err != nil {
		return errAdmissionForbidden(a, fmt.Sprintf("error looking up service account %s/%s: %v", a.namespace, name, err))
	}
	return nil
}
