// Package admission is the last word on a write before it is stored. Every
// create, update and delete passes two phases, around the strategy and the
// built-in validation (final/apis):
//
//	apis.Default -> Chain.Admit (mutating plugins) -> strategy -> apis.Validate -> Chain.Validate (validating plugins) -> storage
//
// Mutating plugins may change the object (give a pod the default
// ServiceAccount, apply a webhook's JSON patch) or refuse it; validating
// plugins only refuse (a ServiceAccount that does not exist, a quota that is
// used up). Which plugins run is chosen with kube-apiserver's flags
// --enable-admission-plugins and --disable-admission-plugins; they always run
// in one fixed order, whatever order the flags name them in.
//
// In Kubernetes the chain and its interfaces are k8s.io/apiserver/pkg/admission
// (MutationInterface, ValidationInterface, chainAdmissionHandler), the order is
// AllOrderedPlugins in k8s.io/kubernetes/pkg/kubeapiserver/options/plugins.go,
// and the plugins live in k8s.io/kubernetes/plugin/pkg/admission/*
// (namespace/lifecycle, limitranger, alwayspullimages, serviceaccount,
// resourcequota) and
// k8s.io/apiserver/pkg/admission/plugin/webhook (mutating, validating).
package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Attributes is what a plugin sees of one write, as k8s.io/apiserver's
// admission.Attributes.
type Attributes struct {
	Operation   string // CREATE, UPDATE or DELETE
	Resource    *registry.Resource
	Subresource string // "status", "scale", ...; "" for the object itself
	Namespace   string // "" for cluster-scoped objects
	Name        string
	// Object is the object to be stored: nil on DELETE. Mutating plugins
	// change it in place, so the caller sees what they did.
	Object object.Object
	// OldObject is the stored object: nil on CREATE.
	OldObject object.Object
	User      *request.User
	// DryRun: the write will not be stored. Plugins still decide, but a
	// webhook with side effects is not called.
	DryRun bool
}

// Operations, as Attributes.Operation and an AdmissionReview name them.
const (
	Create = "CREATE"
	Update = "UPDATE"
	Delete = "DELETE"
)

// A plugin implements one or both, as in k8s.io/apiserver's
// admission.MutationInterface and ValidationInterface. A plugin with both
// runs in both phases.
type mutatingPlugin interface {
	admit(ctx context.Context, a *Attributes) error
}

type validatingPlugin interface {
	validate(ctx context.Context, a *Attributes) error
}

// The plugins' names, as kube-apiserver's flags spell them.
const (
	NamespaceLifecycle         = "NamespaceLifecycle"
	LimitRanger                = "LimitRanger"
	AlwaysPullImages           = "AlwaysPullImages"
	ServiceAccount             = "ServiceAccount"
	MutatingAdmissionWebhook   = "MutatingAdmissionWebhook"
	ValidatingAdmissionWebhook = "ValidatingAdmissionWebhook"
	ResourceQuota              = "ResourceQuota"
)

// AllOrderedPlugins lists every plugin this server has, in the order they
// run whatever order the flags name them in. As in kube-apiserver's list of
// the same name, the namespace is checked first, the webhooks see what the
// built-in plugins did, and quota is charged last, for a write nothing else
// refused. (Kubernetes runs ServiceAccount just before AlwaysPullImages;
// they touch different fields, so the two orders admit the same pods.)
func AllOrderedPlugins() []string {
	return []string{NamespaceLifecycle, LimitRanger, AlwaysPullImages, ServiceAccount,
		MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota}
}

// DefaultPlugins are enabled unless --disable-admission-plugins names them:
// all but AlwaysPullImages, as in kube-apiserver.
func DefaultPlugins() []string {
	return []string{NamespaceLifecycle, LimitRanger, ServiceAccount,
		MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota}
}

// Dependencies are what the plugins read: namespaces, ServiceAccounts,
// LimitRanges, webhook configurations and quotas from the store, resources
// from the registry, and their configurations.
type Dependencies struct {
	Store    *store.Store
	Registry *registry.Registry
	// Configs are the plugins' configurations from
	// --admission-control-config-file (ReadAdmissionConfiguration); nil
	// when there is none.
	Configs Configs
}

// Chain runs the enabled plugins. A nil *Chain admits everything.
type Chain struct {
	enabled    []string
	mutating   []mutatingPlugin
	validating []validatingPlugin
	quota      *resourceQuota // nil unless ResourceQuota is enabled
}

// NewChain builds the chain from the comma-separated lists of
// --enable-admission-plugins and --disable-admission-plugins: the defaults,
// plus what enable names, minus what disable names. A plugin this server
// does not have is an error, and so is one named by both flags, as in
// kube-apiserver: neither may silently win. So is a configuration an
// enabled plugin cannot read.
func NewChain(enable, disable string, deps Dependencies) (*Chain, error) {
	enabled, err := enabledPlugins(enable, disable)
	if err != nil {
		return nil, err
	}
	quota := &resourceQuota{deps: deps}
	if slices.Contains(enabled, ResourceQuota) {
		config, err := deps.Configs.configFor(ResourceQuota)
		if err == nil {
			quota.limited, err = quotaConfiguration(config)
		}
		if err != nil {
			return nil, fmt.Errorf("the configuration of ResourceQuota: %w", err)
		}
	}
	webhooks := func(mutating bool) *webhooks { return &webhooks{deps: deps, mutating: mutating} }
	plugins := map[string]any{
		NamespaceLifecycle:         newNamespaceLifecycle(deps),
		LimitRanger:                limitRanger{deps},
		AlwaysPullImages:           alwaysPullImages{},
		ServiceAccount:             serviceAccount{deps},
		MutatingAdmissionWebhook:   mutatingWebhooks{webhooks(true)},
		ValidatingAdmissionWebhook: validatingWebhooks{webhooks(false)},
		ResourceQuota:              quota,
	}
	chain := &Chain{enabled: enabled}
	for _, name := range enabled {
		if m, ok := plugins[name].(mutatingPlugin); ok {
			chain.mutating = append(chain.mutating, m)
		}
		if v, ok := plugins[name].(validatingPlugin); ok {
			chain.validating = append(chain.validating, v)
		}
	}
	if slices.Contains(enabled, ResourceQuota) {
		chain.quota = quota
	}
	return chain, nil
}

// enabledPlugins reads the two flags into the enabled plugins, in order.
func enabledPlugins(enable, disable string) ([]string, error) {
	names := func(list string) ([]string, error) {
		var out []string
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !slices.Contains(AllOrderedPlugins(), name) {
				return nil, fmt.Errorf("admission plugin %q is not implemented (known: %s)", name, strings.Join(AllOrderedPlugins(), ", "))
			}
			out = append(out, name)
		}
		return out, nil
	}
	enabledByFlag, err := names(enable)
	if err != nil {
		return nil, err
	}
	disabledByFlag, err := names(disable)
	if err != nil {
		return nil, err
	}
	var overlap []string
	for _, name := range enabledByFlag {
		if slices.Contains(disabledByFlag, name) && !slices.Contains(overlap, name) {
			overlap = append(overlap, name)
		}
	}
	if len(overlap) > 0 {
		slices.Sort(overlap)
		return nil, fmt.Errorf("%v in enable-admission-plugins and disable-admission-plugins overlapped", overlap)
	}
	var out []string
	for _, name := range AllOrderedPlugins() {
		on := slices.Contains(DefaultPlugins(), name) || slices.Contains(enabledByFlag, name)
		if on && !slices.Contains(disabledByFlag, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Enabled lists the enabled plugins, in the order they run.
func (c *Chain) Enabled() []string {
	if c == nil {
		return []string{}
	}
	return slices.Clone(c.enabled)
}

// Admit runs the mutating plugins, in order, on a.Object in place. The first
// refusal stops the chain and is the request's answer.
func (c *Chain) Admit(ctx context.Context, a *Attributes) error {
	if c == nil {
		return nil
	}
	for _, p := range c.mutating {
		if err := p.admit(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// Validate runs the validating plugins, in order, on the object as it will
// be stored. The first refusal stops the chain.
func (c *Chain) Validate(ctx context.Context, a *Attributes) error {
	if c == nil {
		return nil
	}
	for _, p := range c.validating {
		if err := p.validate(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// forbidden is a plugin's "no": 403 naming the object, as
// k8s.io/apiserver's admission.NewForbidden.
func forbidden(a *Attributes, reason error) *apierrors.StatusError {
	return apierrors.NewForbidden(a.Resource.Group, a.Resource.Name, a.Name, reason)
}

// lookup finds a built-in resource a plugin reads. Every server this package
// runs in serves them; a missing one is the server's bug, not the client's.
func lookup(reg *registry.Registry, group, name string) (*registry.Resource, error) {
	if reg != nil {
		if res := reg.Lookup(group, name); res != nil {
			return res, nil
		}
	}
	return nil, apierrors.NewInternalError(errors.New("admission needs the " + name + " resource, which is not served"))
}

// isBuiltin tells whether res is the built-in kind group/kind (a custom
// resource may call its kind Pod too).
func isBuiltin(res *registry.Resource, group, kind string) bool {
	return res.Custom == nil && res.Group == group && res.Kind == kind
}
