// NamespaceLifecycle: nothing is written into a namespace that does not
// exist, nothing is created in one being deleted, and the namespaces every
// cluster needs cannot be deleted.

package admission

import (
	"context"
	"fmt"
	"slices"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// ProtectedNamespaces exist from the start and may not be deleted
// (Kubernetes' "immortal" namespaces).
func ProtectedNamespaces() []string { return []string{"default", "kube-system", "kube-public"} }

// namespaceLifecycle is a mutating plugin, as in Kubernetes, although it
// changes nothing: it runs first, so a write into a missing namespace is
// refused before any webhook hears of it.
type namespaceLifecycle struct{ deps Dependencies }

func (p namespaceLifecycle) admit(ctx context.Context, a *Attributes) error {
	if isBuiltin(a.Resource, "", "Namespace") {
		if a.Operation == Delete && slices.Contains(ProtectedNamespaces(), a.Name) {
			return forbidden(a, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil // namespaces themselves come and go freely
	}
	// Cluster-scoped objects have no namespace to check; deletes are
	// always allowed, so that a namespace can be emptied. A
	// LocalSubjectAccessReview is an answer, not a write: saying the
	// namespace is missing would tell the asker more than it may know.
	if a.Namespace == "" || a.Operation == Delete ||
		a.Resource.Group == "authorization.k8s.io" && a.Resource.Name == "localsubjectaccessreviews" {
		return nil
	}
	namespaces, err := lookup(p.deps.Registry, "", "namespaces")
	if err != nil {
		return err
	}
	ns, err := p.deps.Store.GetOwnWrites(ctx, namespaces, "", a.Namespace)
	if err != nil {
		return err // namespaces "team" not found, as in Kubernetes
	}
	if a.Operation == Create && terminating(ns) {
		se := forbidden(a, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
		se.Details["causes"] = []apierrors.Cause{{Reason: "NamespaceTerminating",
			Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace), Field: "metadata.namespace"}}
		return se
	}
	return nil
}

// terminating tells whether a namespace is being deleted: the namespace
// controller is removing its objects, and new ones would be orphaned.
func terminating(ns object.Object) bool {
	status, _ := ns["status"].(map[string]any)
	return status["phase"] == "Terminating" || ns.MetaString("deletionTimestamp") != ""
}
