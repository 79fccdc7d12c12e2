// Server-side apply and managed fields. Every write records who changed
// which fields in metadata.managedFields (final/fieldmanager keeps the
// books); PATCH with application/apply-patch+yaml sends the fields a manager
// wants to own and is merged into the object by ownership, or creates it.
// In Kubernetes this is the apply patcher of
// k8s.io/apiserver/pkg/endpoints/handlers/patch.go and the field manager
// every handler calls (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager).
package apiserver

import (
	"net/http"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/fieldmanager"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// ApplyPatchType is the media type of a server-side apply.
const ApplyPatchType = "application/apply-patch+yaml"

// fieldManager reads the write's options that concern field ownership
// (fieldManager, and force, which only an apply may send) and returns the
// operation to record. The errors are Kubernetes' 422s for CreateOptions,
// UpdateOptions and PatchOptions.
func (s *APIServer) fieldManager(r *http.Request, res *registry.Resource) (*fieldmanager.Operation, error) {
	query := r.URL.Query()
	manager := query.Get("fieldManager")
	causes := fieldmanager.ValidateManager(manager)
	if r.Method == http.MethodPatch {
		switch {
		case !isApply(r) && query.Has("force"):
			causes = append([]apierrors.Cause{{Reason: "FieldValueForbidden", Field: "force",
				Message: "Forbidden: may not be specified for non-apply patch"}}, causes...)
		case isApply(r) && manager == "":
			causes = append([]apierrors.Cause{{Reason: "FieldValueRequired", Field: "fieldManager",
				Message: "Required value: is required for apply patch"}}, causes...)
		}
	}
	if len(causes) > 0 {
		options := map[string]string{http.MethodPost: "CreateOptions", http.MethodPut: "UpdateOptions", http.MethodPatch: "PatchOptions"}[r.Method]
		return nil, apierrors.NewInvalid("meta.k8s.io", options, "", causes)
	}
	if manager == "" {
		manager = fieldmanager.ManagerFromUserAgent(r.UserAgent())
	}
	op := &fieldmanager.Operation{Manager: manager, APIVersion: res.GroupVersion(), Schema: s.schemas.lookup(res),
		Subresource: request.RequestInfoFrom(r.Context()).Subresource}
	switch {
	case op.Subresource == "status":
		op.Writable = func(field string) bool { return field == "status" }
	case op.Subresource == "" && res.StatusSubresource:
		op.Writable = func(field string) bool { return field != "status" }
	}
	return op, nil
}

// isApply says whether the request is a server-side apply.
func isApply(r *http.Request) bool {
	mediaType, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return r.Method == http.MethodPatch && strings.TrimSpace(mediaType) == ApplyPatchType
}

// apply serves a server-side apply: the body (YAML or JSON) is the
// configuration its manager wants. When the object does not exist, the
// apply creates it, through the create path; otherwise it is an update
// whose new object the field manager merges.
func (s *APIServer) apply(res *registry.Resource, r *http.Request, namespace, name string, body []byte) (any, int, error) {
	op, err := s.fieldManager(r, res)
	if err != nil {
		return nil, 0, err
	}
	data, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, 0, apierrors.NewBadRequest("error decoding patch: %v", err)
	}
	config, err := object.Decode(data)
	if err != nil {
		return nil, 0, err
	}
	if err := checkApplyType(config); err != nil {
		return nil, 0, err
	}
	if config.MetaString("name") == "" {
		return nil, 0, apierrors.NewBadRequest("the name of the object (%s based on URL) was undeterminable: name must be provided", name)
	}
	if err := sameObject(config, namespace, name); err != nil {
		return nil, 0, err
	}
	if err := checkFieldValidation(r, res, config); err != nil {
		return nil, 0, err
	}
	force := r.URL.Query().Get("force") == "true"
	// An apply creates a missing object, but not through a subresource.
	_, err = s.Store.Get(r.Context(), res, namespace, name)
	if apierrors.IsNotFound(err) && op.Subresource == "" {
		obj, err := op.Apply(nil, config, force)
		if err != nil {
			return nil, 0, err
		}
		body, code, err := s.createObject(res, r, namespace, obj)
		if !apierrors.IsAlreadyExists(err) {
			return body, code, err
		}
		// Created meanwhile: apply to that one.
	}
	return s.write(res, r, namespace, name, func(current object.Object) (object.Object, error) {
		obj, err := op.Apply(current, object.DeepCopy(map[string]any(config)).(map[string]any), force)
		return object.Object(obj), err
	})
}

// checkApplyType refuses a configuration without its apiVersion and kind,
// in Kubernetes' words.
func checkApplyType(config object.Object) error {
	version, _ := config["apiVersion"].(string)
	kind, _ := config["kind"].(string)
	if version != "" && kind != "" {
		return nil
	}
	group, version, found := strings.Cut(version, "/")
	if !found {
		group, version = "", group
	}
	return apierrors.NewBadRequest("invalid object type: %s/%s, Kind=%s", group, version, kind)
}

// fieldSchemas keeps what the field manager knows of each resource's
// fields: a built-in kind's Go type in k8s.io/api, read by reflection once
// per kind; a custom resource's structural schema, once per registry entry
// (entries are replaced whenever a CRD changes, so the cache is emptied
// when it grows past maxCustomSchemas rather than keep old ones forever).
type fieldSchemas struct {
	mu      sync.Mutex
	builtin map[string]*fieldmanager.Schema
	custom  map[*registry.Resource]*fieldmanager.Schema
}

const maxCustomSchemas = 512

// lookup returns a resource's schema; of a kind neither a Go type nor a
// CRD describes, only metadata is known.
func (c *fieldSchemas) lookup(res *registry.Resource) *fieldmanager.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if custom, ok := res.Custom.(CustomResource); ok {
		if s, ok := c.custom[res]; ok {
			return s
		}
		if c.custom == nil || len(c.custom) >= maxCustomSchemas {
			c.custom = map[*registry.Resource]*fieldmanager.Schema{}
		}
		s := fieldmanager.SchemaFromOpenAPI(custom.OpenAPISchema())
		c.custom[res] = s
		return s
	}
	gvk := schema.GroupVersionKind{Group: res.Group, Version: res.Version, Kind: res.Kind}
	if s, ok := c.builtin[gvk.String()]; ok {
		return s
	}
	s := &fieldmanager.Schema{Fields: map[string]*fieldmanager.Schema{"metadata": fieldmanager.ObjectMetaSchema()}}
	if scheme, err := protobufScheme(); err == nil {
		if typed, err := scheme.New(gvk); err == nil {
			s = fieldmanager.SchemaOf(reflect.TypeOf(typed))
		}
	}
	if c.builtin == nil {
		c.builtin = map[string]*fieldmanager.Schema{}
	}
	c.builtin[gvk.String()] = s
	return s
}
