// AlwaysPullImages: every container pulls its image, whatever the pod says,
// so that a pod cannot run an image another tenant pulled onto the node
// without the registry's say-so. Off by default.

package admission

import (
	"context"
	"fmt"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

type alwaysPullImages struct{}

// admit sets imagePullPolicy Always on every container.
func (alwaysPullImages) admit(_ context.Context, a *Attributes) error {
	if !handlesPod(a) {
		return nil
	}
	visitContainers(a.Object, func(_ string, c map[string]any) error {
		c["imagePullPolicy"] = "Always"
		return nil
	})
	return nil
}

// validate refuses a pod that is not Always after all: a mutating webhook
// that ran later may have changed it back.
func (alwaysPullImages) validate(_ context.Context, a *Attributes) error {
	if !handlesPod(a) {
		return nil
	}
	return visitContainers(a.Object, func(path string, c map[string]any) error {
		if policy := c["imagePullPolicy"]; policy != "Always" {
			return forbidden(a, fmt.Errorf(`%s.imagePullPolicy: Unsupported value: %q: supported values: "Always"`, path, object.JSONString(policy)))
		}
		return nil
	})
}

// handlesPod: a pod being created or replaced, not one of its subresources
// (a status update does not choose images).
func handlesPod(a *Attributes) bool {
	return isBuiltin(a.Resource, "", "Pod") && a.Subresource == "" && a.Object != nil
}

// visitContainers calls visit on a pod's init containers and containers that
// are objects, with their field path, until visit returns an error.
func visitContainers(pod object.Object, visit func(path string, c map[string]any) error) error {
	spec, _ := pod["spec"].(map[string]any)
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for i, item := range list {
			if c, ok := item.(map[string]any); ok {
				if err := visit(fmt.Sprintf("spec.%s[%d]", field, i), c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
