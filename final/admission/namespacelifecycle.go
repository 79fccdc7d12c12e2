// NamespaceLifecycle: nothing is written into a namespace that does not
// exist, nothing is created in one being deleted, and the namespaces every
// cluster needs cannot be deleted.

package admission

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// ProtectedNamespaces exist from the start and may not be deleted
// (Kubernetes' "immortal" namespaces).
func ProtectedNamespaces() []string { return []string{"default", "kube-system", "kube-public"} }

// namespaceLifecycle is a mutating plugin, as in Kubernetes, although it
// changes nothing: it runs first, so a write into a missing namespace is
// refused before any webhook hears of it.
type namespaceLifecycle struct {
	deps Dependencies
	seen *namespacesSeen
}

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
	kv, err := p.deps.Store.GetStoredOwnWrites(ctx, namespaces, "", a.Namespace)
	if err != nil {
		return err // namespaces "team" not found, as in Kubernetes
	}
	if a.Operation != Create {
		return nil
	}
	if yes, err := p.isTerminating(kv, a.Namespace); err != nil || !yes {
		return err
	}
	se := forbidden(a, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	se.Details["causes"] = []apierrors.Cause{{Reason: "NamespaceTerminating",
		Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace), Field: "metadata.namespace"}}
	return se
}

func newNamespaceLifecycle(deps Dependencies) namespaceLifecycle {
	return namespaceLifecycle{deps, &namespacesSeen{terminating: map[namespaceAt]bool{}}}
}

// namespacesSeen remembers whether a namespace was terminating at a
// revision: every write into a namespace asks, and decoding the namespace
// each time was 3% of a create's CPU. A namespace's revision changes with
// every write to it, so nothing stale is ever found; the map starts over
// when it is full.
type namespacesSeen struct {
	mu          sync.Mutex
	terminating map[namespaceAt]bool
}

type namespaceAt struct {
	name     string
	revision int64
}

// namespacesRemembered is how many answers namespacesSeen keeps.
const namespacesRemembered = 1024

// isTerminating tells whether the namespace stored as kv is terminating.
func (p namespaceLifecycle) isTerminating(kv storage.KeyValue, name string) (bool, error) {
	at := namespaceAt{name, kv.ModRevision}
	p.seen.mu.Lock()
	yes, ok := p.seen.terminating[at]
	p.seen.mu.Unlock()
	if ok {
		return yes, nil
	}
	ns, err := store.Decode(kv)
	if err != nil {
		return false, err
	}
	yes = terminating(ns)
	p.seen.mu.Lock()
	if len(p.seen.terminating) >= namespacesRemembered {
		clear(p.seen.terminating)
	}
	p.seen.terminating[at] = yes
	p.seen.mu.Unlock()
	return yes, nil
}

// terminating tells whether a namespace is being deleted: the namespace
// controller is removing its objects, and new ones would be orphaned.
func terminating(ns object.Object) bool {
	status, _ := ns["status"].(map[string]any)
	return status["phase"] == "Terminating" || ns.MetaString("deletionTimestamp") != ""
}
