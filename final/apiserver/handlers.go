// The generic handler: one set of verbs for every stored resource. Kubernetes
// does the same: its generic registry store handles pods, configmaps and
// custom resources alike, and only small per-resource strategies differ.
package apiserver

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/patch"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

func (s *APIServer) list(res *registry.Resource, r *http.Request, namespace, _ string) (any, int, error) {
	match, err := parseSelectors(r, res)
	if err != nil {
		return nil, 0, err
	}
	opts, err := s.parseListOptions(r)
	if err != nil {
		return nil, 0, err
	}
	listError := func(err error) error {
		if opts.After != "" && apierrors.ReasonForError(err) == "Expired" {
			return errContinueExpired()
		}
		return err
	}
	listMeta := func(rev int64, next string) map[string]any {
		meta := map[string]any{"resourceVersion": strconv.FormatInt(rev, 10)}
		if next != "" {
			meta["continue"] = encodeContinue(rev, next)
		}
		return meta
	}
	if sendsStored(res, r) { // the items' stored bytes, undecoded (stored.go)
		if noSelectors(r) {
			match = nil
		}
		opts.Match = match
		kvs, rev, next, err := s.Store.ListStored(r.Context(), res, namespace, opts)
		if err != nil {
			return nil, 0, listError(err)
		}
		return storedList{apiVersion: res.GroupVersion(), kind: res.ListKindOrDefault(), metadata: listMeta(rev, next), items: kvs},
			http.StatusOK, nil
	}
	opts.Match = match
	items, rev, next, err := s.Store.List(r.Context(), res, namespace, opts)
	if err != nil {
		return nil, 0, listError(err)
	}
	if items, err = presentAll(r.Context(), res, items); err != nil {
		return nil, 0, err
	}
	meta := listMeta(rev, next)
	if wantsTable(r) {
		return table(r, res, items, meta), http.StatusOK, nil
	}
	return map[string]any{"kind": res.ListKindOrDefault(), "apiVersion": res.GroupVersion(), "metadata": meta, "items": items},
		http.StatusOK, nil
}

// get reads the latest object. A resourceVersion asks for "at least this
// new": the latest always is, unless the client names a revision this store
// has not reached.
func (s *APIServer) get(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	if rv := r.URL.Query().Get("resourceVersion"); rv != "" {
		n, err := parseResourceVersion(rv)
		if err != nil {
			return nil, 0, err
		}
		if now, err := s.Store.Revision(r.Context()); err == nil && n > now {
			return nil, 0, apierrors.NewTooLargeResourceVersion(n, now)
		}
	}
	if sendsStored(res, r) { // the stored bytes, undecoded (stored.go)
		kv, err := s.Store.GetStored(r.Context(), res, namespace, name)
		if err != nil {
			return nil, 0, err
		}
		return storedAnswer(kv, http.StatusOK)
	}
	obj, err := s.Store.Get(r.Context(), res, namespace, name)
	if err != nil {
		return nil, 0, err
	}
	if obj, err = present(r.Context(), res, obj); err != nil {
		return nil, 0, err
	}
	if wantsTable(r) {
		return table(r, res, []object.Object{obj}, nil), http.StatusOK, nil
	}
	return obj, http.StatusOK, nil
}

func (s *APIServer) create(res *registry.Resource, r *http.Request, namespace, _ string) (any, int, error) {
	obj, err := ReadObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(res, obj); err != nil {
		return nil, 0, err
	}
	if err := checkFieldValidation(r, res, obj); err != nil {
		return nil, 0, err
	}
	if err := checkNamespace(obj, namespace); err != nil {
		return nil, 0, err
	}
	op, err := s.fieldManager(r, res)
	if err != nil {
		return nil, 0, err
	}
	s.defaults(res, obj) // fields are recorded with their defaults, as Kubernetes decodes them
	op.Update(nil, obj)
	return s.createObject(res, r, namespace, obj)
}

// createObject stores a new object, made by a create or by an apply to an
// object that does not exist yet.
func (s *APIServer) createObject(res *registry.Resource, r *http.Request, namespace string, obj object.Object) (any, int, error) {
	meta := obj.Metadata()
	meta["uid"], meta["creationTimestamp"] = object.NewUID(), object.Now()
	delete(meta, "resourceVersion") // the store sets it

	// With generateName and no name, the server picks the name. A random
	// suffix can collide; Kubernetes then tries again a few times.
	generated := obj.MetaString("name") == "" && obj.MetaString("generateName") != ""
	for attempt := 1; ; attempt++ {
		if generated {
			meta["name"] = object.GenerateName(obj.MetaString("generateName"))
		}
		name := obj.MetaString("name")
		if err := s.admit(r, "CREATE", res, obj, nil); err != nil {
			return nil, 0, err
		}
		// A mutating webhook may change the object, not rename or move it.
		if n := obj.MetaString("name"); n != name {
			return nil, 0, apierrors.NewBadRequest("admission changed the name of the object from %s to %s", name, n)
		}
		if err := checkNamespace(obj, namespace); err != nil {
			return nil, 0, err
		}
		finish, err := s.beginWrite(r, res, obj, nil)
		if err != nil {
			return nil, 0, err
		}
		stored, err := toStorage(r, res, obj, nil)
		if err != nil || isDryRun(r) {
			finish(false)
			if err != nil {
				return nil, 0, err
			}
			return presented(r.Context(), res, stored, http.StatusCreated)
		}
		created, kv, err := s.Store.CreateStored(r.Context(), res, stored)
		finish(err == nil)
		if err == nil {
			s.afterWrite(r.Context(), res, Created, created)
			if sendsStored(res, r) { // the stored bytes, not the object encoded again
				return storedAnswer(kv, http.StatusCreated)
			}
			return presented(r.Context(), res, created, http.StatusCreated)
		}
		if !generated || attempt == 8 || !apierrors.IsAlreadyExists(err) {
			return nil, 0, err
		}
	}
}

// update replaces an object with the one in the body (PUT).
func (s *APIServer) update(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	body, err := ReadObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(res, body); err != nil {
		return nil, 0, err
	}
	if err := checkFieldValidation(r, res, body); err != nil {
		return nil, 0, err
	}
	return s.write(res, r, namespace, name, func(object.Object) (object.Object, error) {
		return object.Object(object.DeepCopy(map[string]any(body)).(map[string]any)), nil // each attempt starts from the request
	})
}

// patch applies a patch to the stored object and stores the result.
func (s *APIServer) patch(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	accepted := patch.PatchTypes
	if res.Custom != nil {
		// Strategic merge needs each list's merge key, which Kubernetes
		// reads from Go types; custom resources have none.
		accepted = []string{patch.JSONPatchType, patch.MergePatchType}
	}
	patchType, body, err := object.ReadBody(r, append(slices.Clip(accepted), ApplyPatchType)...)
	if err != nil {
		return nil, 0, err
	}
	if patchType == ApplyPatchType {
		return s.apply(res, r, namespace, name, body)
	}
	return s.write(res, r, namespace, name, func(current object.Object) (object.Object, error) {
		patched, err := patch.Apply(res.Kind, patchType, current, body)
		if err != nil {
			return nil, err
		}
		obj := object.Object(patched)
		return obj, checkFieldValidation(r, res, obj)
	})
}

// write is an update however the new object is made: from the current one
// (as the client sees it), through admission, then stored if nobody wrote
// meanwhile. A dry run stops before the store. The answer is the object
// as stored: its stored bytes when the client reads those (stored.go).
func (s *APIServer) write(res *registry.Resource, r *http.Request, namespace, name string,
	build func(current object.Object) (object.Object, error)) (any, int, error) {
	updated, kv, err := s.writeObject(res, r, namespace, name, build)
	if err != nil {
		return nil, 0, err
	}
	if !isDryRun(r) && sendsStored(res, r) { // the stored bytes, not the object encoded again
		return storedAnswer(kv, http.StatusOK)
	}
	return presented(r.Context(), res, updated, http.StatusOK)
}

// writeObject is write's work: it returns the object as stored (not yet
// presented in the request's version) and, unless this was a dry run, its
// stored form.
func (s *APIServer) writeObject(res *registry.Resource, r *http.Request, namespace, name string,
	build func(current object.Object) (object.Object, error)) (object.Object, storage.KeyValue, error) {
	ctx := r.Context()
	op, err := s.fieldManager(r, res)
	if err != nil {
		return nil, storage.KeyValue{}, err
	}
	finish := func(bool) {} // what the latest attempt took, to keep or give back
	prepare := func(stored object.Object) (object.Object, error) {
		finish(false) // an earlier attempt lost the compare-and-swap
		current, err := present(ctx, res, stored)
		if err != nil {
			return nil, err
		}
		obj, err := build(current)
		if err != nil {
			return nil, err
		}
		if !isApply(r) { // an apply's new object has its managed fields already
			s.defaults(res, obj)
			op.Update(current, obj)
		}
		if err := s.admitUpdate(r, res, obj, current, namespace, name); err != nil {
			return nil, err
		}
		if finish, err = s.beginWrite(r, res, obj, current); err != nil {
			return nil, err
		}
		return obj, nil
	}
	if isDryRun(r) {
		stored, err := s.Store.Get(ctx, res, namespace, name)
		if err != nil {
			return nil, storage.KeyValue{}, err
		}
		obj, err := prepare(stored)
		finish(false)
		if err != nil {
			return nil, storage.KeyValue{}, err
		}
		if rv := obj.MetaString("resourceVersion"); rv != "" && rv != stored.MetaString("resourceVersion") {
			return nil, storage.KeyValue{}, apierrors.NewConflict(res.Group, res.Name, name, errOptimisticLock)
		}
		obj, err = toStorage(r, res, obj, stored)
		return obj, storage.KeyValue{}, err
	}
	updated, kv, err := s.Store.UpdateStored(ctx, res, namespace, name, func(stored object.Object) (object.Object, error) {
		obj, err := prepare(stored)
		if err != nil {
			return nil, err
		}
		return toStorage(r, res, obj, stored)
	})
	finish(err == nil)
	if err != nil {
		return nil, storage.KeyValue{}, err
	}
	s.afterWrite(ctx, res, Updated, updated)
	return updated, kv, nil
}

// admitUpdate is what an updated object must pass, however it was built:
// it must still be the object of the URL, then admission.
func (s *APIServer) admitUpdate(r *http.Request, res *registry.Resource, obj, current object.Object, namespace, name string) error {
	if err := checkTypeMeta(res, obj); err != nil {
		return err
	}
	if err := sameObject(obj, namespace, name); err != nil {
		return err
	}
	if err := s.admit(r, "UPDATE", res, obj, current); err != nil {
		return err
	}
	return sameObject(obj, namespace, name) // a webhook may have renamed or moved it
}

// sameObject checks that obj is still the object of the URL.
func sameObject(obj object.Object, namespace, name string) error {
	if n := obj.MetaString("name"); n != name {
		return apierrors.NewBadRequest("the name of the object (%s) does not match the name on the URL (%s)", n, name)
	}
	return checkNamespace(obj, namespace)
}

func (s *APIServer) delete(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
	if deleter := s.Deleters[res.QualifiedName()]; deleter != nil {
		return deleter(res, r, namespace, name)
	}
	check, err := ReadPreconditions(r, res, name)
	if err != nil {
		return nil, 0, err
	}
	obj, err := s.DeleteObject(r, res, namespace, name, check)
	if err != nil {
		return nil, 0, err
	}
	return presented(r.Context(), res, obj, http.StatusOK)
}

// DeleteObject deletes one object through admission (and, unless it is a dry
// run, the store and the hooks). Deleters use it too.
func (s *APIServer) DeleteObject(r *http.Request, res *registry.Resource, namespace, name string, check func(object.Object) error) (object.Object, error) {
	ctx := r.Context()
	current, err := s.Store.Get(ctx, res, namespace, name)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(current); err != nil {
			return nil, err
		}
	}
	old, err := present(ctx, res, current) // admission sees the client's version
	if err != nil {
		return nil, err
	}
	if err := s.admit(r, "DELETE", res, nil, old); err != nil {
		return nil, err
	}
	if isDryRun(r) {
		return current, nil
	}
	obj, err := s.Store.Delete(ctx, res, namespace, name, check)
	if err != nil {
		return nil, err
	}
	s.afterWrite(ctx, res, Deleted, obj)
	return obj, nil
}

// deleteCollection deletes every object the selectors match, one by one,
// each through admission, and returns them as a list.
func (s *APIServer) deleteCollection(res *registry.Resource, r *http.Request, namespace, _ string) (any, int, error) {
	match, err := parseSelectors(r, res)
	if err != nil {
		return nil, 0, err
	}
	items, rev, _, err := s.Store.List(r.Context(), res, namespace, store.ListOptions{Match: match})
	if err != nil {
		return nil, 0, err
	}
	deleted := []object.Object{}
	for _, item := range items {
		obj, err := s.DeleteObject(r, res, item.MetaString("namespace"), item.MetaString("name"), nil)
		if apierrors.IsNotFound(err) {
			continue // gone meanwhile
		}
		if err == nil {
			obj, err = present(r.Context(), res, obj)
		}
		if err != nil {
			return nil, 0, err
		}
		deleted = append(deleted, obj)
	}
	return map[string]any{"kind": res.ListKindOrDefault(), "apiVersion": res.GroupVersion(),
		"metadata": map[string]any{"resourceVersion": strconv.FormatInt(rev, 10)}, "items": deleted}, http.StatusOK, nil
}

// Admit runs the admission pipeline for a Deleter or another handler of
// its own: the same as the generic handler's writes go through.
func (s *APIServer) Admit(r *http.Request, operation string, res *registry.Resource, obj, old object.Object) error {
	return s.admit(r, operation, res, obj, old)
}

// admit runs the whole pipeline on one write. obj is changed in place by
// defaults, mutating plugins and the strategy; on DELETE it is nil.
func (s *APIServer) admit(r *http.Request, operation string, res *registry.Resource, obj, old object.Object) error {
	ctx := r.Context()
	info := request.RequestInfoFrom(ctx)
	a := &admission.Attributes{Operation: operation, Resource: res, Subresource: info.Subresource,
		Object: obj, OldObject: old, User: request.UserFrom(ctx), DryRun: isDryRun(r)}
	for _, o := range []object.Object{obj, old} {
		if o != nil {
			a.Namespace, a.Name = o.MetaString("namespace"), o.MetaString("name")
			break
		}
	}
	if obj != nil {
		s.defaults(res, obj)
	}
	if err := s.Admission.Admit(ctx, a); err != nil {
		return err
	}
	if obj != nil {
		// The resource's strategy has the last word on what may change,
		// then the object is validated as it will be stored.
		if old == nil {
			prepareForCreate(res, obj)
		} else {
			prepareForUpdate(res, obj, old, info.Subresource)
		}
		if err := s.validate(res, obj, old); err != nil {
			return err
		}
		if s.Escalation != nil {
			if err := s.Escalation(ctx, request.UserFrom(ctx), res, obj); err != nil {
				return err
			}
		}
	}
	return s.Admission.Validate(ctx, a)
}

func (s *APIServer) defaults(res *registry.Resource, obj object.Object) {
	if custom, ok := res.Custom.(CustomResource); ok {
		custom.PruneAndDefault(obj)
		return
	}
	if s.Default != nil {
		s.Default(res, obj)
	}
}

func (s *APIServer) validate(res *registry.Resource, obj, old object.Object) error {
	var causes []apierrors.Cause
	if s.Validate != nil {
		c, err := s.Validate(res, obj, old)
		if err != nil {
			return err
		}
		causes = c
	}
	if custom, ok := res.Custom.(CustomResource); ok {
		causes = append(causes, custom.Validate(obj)...)
	}
	if len(causes) > 0 {
		return apierrors.NewInvalid(res.Group, res.Kind, obj.MetaString("name"), causes)
	}
	return nil
}

// checkNamespace sets metadata.namespace from the URL, refusing a body that
// names another one, and clears it for cluster-scoped objects.
func checkNamespace(obj object.Object, namespace string) error {
	if ns := obj.MetaString("namespace"); ns != "" && ns != namespace {
		if namespace == "" {
			delete(obj.Metadata(), "namespace") // Kubernetes ignores it on cluster-scoped objects
			return nil
		}
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if namespace != "" {
		obj.Metadata()["namespace"] = namespace
	}
	return nil
}

// checkTypeMeta fills in apiVersion and kind when the client left them out,
// and refuses a body that names another type than the URL does.
func checkTypeMeta(res *registry.Resource, obj object.Object) error {
	if v, ok := obj["apiVersion"]; ok && v != res.GroupVersion() {
		return apierrors.NewBadRequest("the API version in the data (%v) does not match the expected API version (%s)", v, res.GroupVersion())
	}
	if k, ok := obj["kind"]; ok && k != res.Kind {
		return apierrors.NewBadRequest("the kind in the data (%v) does not match the expected kind (%s)", k, res.Kind)
	}
	obj["apiVersion"], obj["kind"] = res.GroupVersion(), res.Kind
	return nil
}
