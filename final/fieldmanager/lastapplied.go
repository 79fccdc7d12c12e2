// kubectl's client-side apply keeps the configuration it applied last in an
// annotation, and owns the fields it set as an Update manager
// ("kubectl-client-side-apply"). So that `kubectl apply --server-side` can
// take over such an object, Kubernetes treats the annotation as kubectl's
// word: an apply by the manager "kubectl" may change the fields the
// annotation names and still holds the values of, without a conflict, and
// such an apply keeps the annotation up to date. In Kubernetes this is
// lastappliedmanager.go and lastappliedupdater.go in
// k8s.io/apimachinery/pkg/util/managedfields/internal.
package fieldmanager

import (
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// LastAppliedAnnotation is where client-side apply keeps its configuration.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// lastApplier is the manager the annotation speaks for.
const lastApplier = "kubectl"

// withoutLastApplied drops the conflicts over fields that live's
// last-applied annotation names with the values live still has.
func (o *Operation) withoutLastApplied(live map[string]any, conflicts []conflict) []conflict {
	if o.Manager != lastApplier {
		return conflicts
	}
	meta, _ := live["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	raw, _ := annotations[LastAppliedAnnotation].(string)
	if raw == "" {
		return conflicts
	}
	lastApplied, err := object.Decode([]byte(raw))
	if err != nil || lastApplied["apiVersion"] != o.APIVersion {
		return conflicts
	}
	fields, err := FieldSet(lastApplied, o.Schema)
	if err != nil {
		return conflicts
	}
	c, err := Compare(lastApplied, live, o.Schema)
	if err != nil {
		return conflicts
	}
	allowed := fields.Difference(c.Modified).Difference(c.Added).Difference(c.Removed)
	var left []conflict
	for _, cf := range conflicts {
		if !allowed.Has(cf.path...) {
			left = append(left, cf)
		}
	}
	return left
}

// syncLastApplied writes config into obj's last-applied annotation, when
// the manager is kubectl and obj has one.
func (o *Operation) syncLastApplied(obj, config map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if o.Manager != lastApplier || annotations[LastAppliedAnnotation] == nil || annotations[LastAppliedAnnotation] == "" {
		return
	}
	applied := object.DeepCopy(config).(map[string]any)
	appliedMeta, _ := applied["metadata"].(map[string]any)
	if a, ok := appliedMeta["annotations"].(map[string]any); ok {
		delete(a, LastAppliedAnnotation)
	}
	annotations[LastAppliedAnnotation] = jsonString(applied) + "\n"
}
