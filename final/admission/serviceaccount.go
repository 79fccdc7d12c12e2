// ServiceAccount: every pod runs as a ServiceAccount of its namespace, the
// "default" one unless it names another, and that account must exist. The
// ServiceAccount controller's part, giving each namespace its "default"
// account, is here too: the plugin is useless without it.

package admission

import (
	"context"
	"fmt"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// DefaultServiceAccountName is the account a pod runs as when it names none.
const DefaultServiceAccountName = "default"

type serviceAccount struct{ deps Dependencies }

// admit gives a new pod the default ServiceAccount when it names none.
func (p serviceAccount) admit(_ context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	spec, ok := a.Object["spec"].(map[string]any)
	if !ok {
		return nil // not a pod validation will accept
	}
	if name, _ := spec["serviceAccountName"].(string); name == "" {
		spec["serviceAccountName"] = DefaultServiceAccountName
	}
	return nil
}

// validate refuses a pod whose ServiceAccount does not exist, after the
// mutating webhooks, which may have named another.
func (p serviceAccount) validate(ctx context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	spec, _ := a.Object["spec"].(map[string]any)
	name, _ := spec["serviceAccountName"].(string)
	accounts, err := lookup(p.deps.Registry, "", "serviceaccounts")
	if err != nil {
		return err
	}
	if _, err := p.deps.Store.Get(ctx, accounts, a.Namespace, name); err != nil {
		if apierrors.IsNotFound(err) {
			// Kubernetes reads the account from an informer's lister, whose
			// NotFound names the resource in the singular.
			err = fmt.Errorf("serviceaccount %q not found", name)
		}
		return forbidden(a, fmt.Errorf("error looking up service account %s/%s: %v", a.Namespace, name, err))
	}
	return nil
}

// handles: pods being created. A pod's ServiceAccount cannot change later.
func (serviceAccount) handles(a *Attributes) bool {
	return a.Operation == Create && isBuiltin(a.Resource, "", "Pod") && a.Subresource == "" && a.Object != nil
}

// CreateDefaultServiceAccount gives a namespace its "default" ServiceAccount,
// the job of Kubernetes' ServiceAccount controller
// (pkg/controller/serviceaccount): the server calls it when a namespace is
// created. An account that exists already is left as it is.
func CreateDefaultServiceAccount(ctx context.Context, st *store.Store, reg *registry.Registry, namespace string) error {
	accounts, err := lookup(reg, "", "serviceaccounts")
	if err != nil {
		return err
	}
	sa := object.Object{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{
		"name": DefaultServiceAccountName, "namespace": namespace, "uid": object.NewUID(), "creationTimestamp": object.Now()}}
	if _, err := st.Create(ctx, accounts, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default ServiceAccount in %s: %w", namespace, err)
	}
	return nil
}
