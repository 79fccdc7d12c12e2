// Custom resources: the objects of a CustomResourceDefinition. The generic
// handler of final/apiserver serves them like pods; what differs is here, in
// each served version's CustomResource: the move between that version and the
// storage version, and its schema (unknown fields dropped, defaults filled
// in, values validated).

package crd

import (
	"context"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/schema"
)

// customResource is what the registry entry of one served version carries,
// as its Custom and as its Converter: the CRD's converter between versions,
// and the version's schema.
type customResource struct {
	converter      *converter
	groupVersion   string        // the served version: "example.com/v1beta1"
	schema         *schema.Props // its openAPIV3Schema
	rawSchema      any           // the same, as the CRD holds it (for /openapi/v3)
	storageVersion string        // the version objects are stored in: "example.com/v1"
	storageSchema  *schema.Props // and its schema
	columns        []printerColumn
}

var (
	_ apiserver.CustomResource = (*customResource)(nil)
	_ apiserver.PrinterColumns = (*customResource)(nil)
	_ registry.Converter       = (*customResource)(nil)
)

// PrinterColumns are what kubectl get prints: Name, the version's
// additionalPrinterColumns, and Age unless the CRD names its own columns
// (as Kubernetes' CRD table convertor does). A column's jsonPath is read as
// a simple .a.b.c path; the full JSONPath language is left out.
func (c *customResource) PrinterColumns() []apiserver.Column {
	columns := []apiserver.Column{{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace.",
		Cell: func(o object.Object) any { return o.MetaString("name") }}}
	if len(c.columns) == 0 {
		return append(columns, apiserver.Column{Name: "Age", Type: "date", Description: "The time since the object was created.",
			Cell: func(o object.Object) any { return apiserver.Age(o.MetaString("creationTimestamp")) }})
	}
	for _, pc := range c.columns {
		path := strings.Split(strings.Trim(pc.JSONPath, "."), ".")
		columns = append(columns, apiserver.Column{Name: pc.Name, Type: pc.Type, Format: pc.Format, Description: pc.Description,
			Priority: pc.Priority, Cell: func(o object.Object) any {
				var v any = map[string]any(o)
				for _, p := range path {
					m, _ := v.(map[string]any)
					v = m[p]
				}
				if s, ok := v.(string); ok && pc.Type == "date" {
					return apiserver.Age(s) // dates print as ages, as kubectl shows them
				}
				return v
			}})
	}
	return columns
}

// FromStorage turns stored objects into what a client of this version
// reads: converted to it, the fields its schema does not know dropped, its
// defaults filled in. Kubernetes prunes and defaults on every read, so a
// change to the schema shows at once. The results are copies: a stored
// object may also be in a watch event, which every watcher reads at the
// same time.
func (c *customResource) FromStorage(ctx context.Context, objs []object.Object) ([]object.Object, error) {
	out, err := c.converter.convert(ctx, objs, c.groupVersion)
	if err != nil {
		return nil, asReadError(err)
	}
	for _, obj := range out {
		c.PruneAndDefault(obj)
	}
	return out, nil
}

// ToStorage converts an object, as it is written, to the storage version:
// what that version's schema does not know is not stored.
func (c *customResource) ToStorage(ctx context.Context, obj object.Object) (object.Object, error) {
	out, err := c.converter.convert(ctx, []object.Object{obj}, c.storageVersion)
	if err != nil {
		return nil, asWriteError(err)
	}
	c.storageSchema.Prune(out[0], "", true)
	return out[0], nil
}

// UnknownFields lists the fields of obj the schema does not know (for the
// fieldValidation parameter: Strict refuses them, Warn names them).
func (c *customResource) UnknownFields(obj object.Object) []string {
	return c.schema.Prune(object.DeepCopy(map[string]any(obj)), "", true)
}

// PruneAndDefault drops what the schema does not know and fills in its
// defaults, in place, as Kubernetes does while it decodes a request.
func (c *customResource) PruneAndDefault(obj object.Object) {
	c.schema.Prune(obj, "", true)
	c.schema.ApplyDefaults(obj)
}

// Validate checks obj against the schema: every violation, each with its
// field path. Name and labels are checked with every other object's.
func (c *customResource) Validate(obj object.Object) []apierrors.Cause {
	return c.schema.Validate(obj, "")
}

// OpenAPISchema is a copy of the schema as the CRD author wrote it, which
// /openapi/v3 publishes for kubectl explain.
func (c *customResource) OpenAPISchema() map[string]any {
	raw, _ := object.DeepCopy(c.rawSchema).(map[string]any)
	return raw
}
