// The generic handler: one set of verbs that serves every resource in the
// registry. Kubernetes does the same: its generic registry store handles
// pods, configmaps and jobs alike, and only small per-resource hooks differ.
// Here the hooks are the namespace rules at the bottom of this file.
package main

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// verbHandler serves one verb on one resource. It returns what to send, or an
// error that becomes a Status; it never writes an error body itself.
type verbHandler func(res *resource, r *http.Request, namespace, name string) (any, int, error)

func (s *server) list(res *resource, r *http.Request, namespace, _ string) (any, int, error) {
	match, err := parseSelectors(r)
	if err != nil {
		return nil, 0, err
	}
	q, err := s.parseListOptions(r)
	if err != nil {
		return nil, 0, err
	}
	q.match = match
	items, rev, next, err := s.store.listPage(res, namespace, q)
	if err != nil {
		return nil, 0, err
	}
	for i, item := range items {
		items[i] = present(res, item)
	}
	meta := map[string]any{"resourceVersion": strconv.FormatInt(rev, 10)}
	if next != "" {
		meta["continue"] = encodeContinue(rev, next)
	}
	return map[string]any{
		"kind":       res.listKind(),
		"apiVersion": res.groupVersion(),
		"metadata":   meta,
		"items":      items,
	}, http.StatusOK, nil
}

// get reads the latest object. A resourceVersion asks for "at least this
// new": the latest always is, unless the client names a revision this
// store has not reached.
func (s *server) get(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	if rv := r.URL.Query().Get("resourceVersion"); rv != "" {
		n, err := parseResourceVersion(rv)
		if err != nil {
			return nil, 0, err
		}
		if now := s.store.revision(); n > now {
			return nil, 0, errTooLargeResourceVersion(n, now)
		}
	}
	obj, err := s.store.get(res, namespace, name)
	return present(res, obj), http.StatusOK, err
}

func (s *server) create(res *resource, r *http.Request, namespace, _ string) (any, int, error) {
	obj, err := readObject(r)
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
	meta := obj.metadata()
	meta["uid"] = newUID()
	meta["creationTimestamp"] = now()
	delete(meta, "resourceVersion") // the store sets it
	if res.kind == "Namespace" {
		obj["status"] = map[string]any{"phase": "Active"}
	}

	// With generateName and no name, the server picks the name. A random
	// suffix can collide; Kubernetes then tries again a few times.
	generated := obj.metaString("name") == "" && obj.metaString("generateName") != ""
	for attempt := 1; ; attempt++ {
		if generated {
			meta["name"] = generateName(obj.metaString("generateName"))
		}
		name := obj.metaString("name")
		if err := s.admit(r, "CREATE", res, obj, nil); err != nil {
			return nil, 0, err
		}
		// A mutating webhook may change the object, not rename or move it.
		if n := obj.metaString("name"); n != name {
			return nil, 0, errBadRequest("admission changed the name of the object from %s to %s", name, n)
		}
		if err := checkNamespace(obj, namespace); err != nil {
			return nil, 0, err
		}
		if err := s.checkRBACWrite(r, res, obj); err != nil {
			return nil, 0, err
		}
		created, err := s.store.create(res, toStorage(res, obj))
		if err == nil {
			if res.kind == "Namespace" {
				s.createDefaultServiceAccount(obj.metaString("name"))
			}
			s.afterWrite(res, namespace)
			return present(res, created), http.StatusCreated, nil
		}
		if !generated || attempt == 8 || !isAlreadyExists(err) {
			return nil, 0, err
		}
	}
}

// update replaces an object with the one in the body (PUT).
func (s *server) update(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	body, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(res, body); err != nil {
		return nil, 0, err
	}
	if err := checkFieldValidation(r, res, body); err != nil {
		return nil, 0, err
	}
	updated, err := s.store.update(res, namespace, name, func(current object) (object, error) {
		obj := object(deepCopy(map[string]any(body)).(map[string]any)) // each attempt starts from the request
		if err := s.admitUpdate(r, res, obj, present(res, current), namespace, name); err != nil {
			return nil, err
		}
		return toStorage(res, obj), nil
	})
	if err == nil {
		s.afterWrite(res, namespace)
	}
	return present(res, updated), http.StatusOK, err
}

// patch applies a patch to the stored object and stores the result.
func (s *server) patch(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	accepted := patchTypes
	if res.custom != nil {
		// Strategic merge needs to know each list's merge key, which
		// Kubernetes reads from Go types; custom resources have none.
		accepted = []string{"application/json-patch+json", "application/merge-patch+json"}
	}
	patchType, body, err := readBody(r, accepted...)
	if err != nil {
		return nil, 0, err
	}
	updated, err := s.store.update(res, namespace, name, func(current object) (object, error) {
		current = present(res, current)
		obj, err := applyPatch(res, patchType, current, body)
		if err != nil {
			return nil, err
		}
		if err := checkFieldValidation(r, res, obj); err != nil {
			return nil, err
		}
		if err := s.admitUpdate(r, res, obj, current, namespace, name); err != nil {
			return nil, err
		}
		return toStorage(res, obj), nil
	})
	if err == nil {
		s.afterWrite(res, namespace)
	}
	return present(res, updated), http.StatusOK, err
}

// admitUpdate is what an updated object must pass, however it was built:
// it must still be the object of the URL, then admission, then the RBAC checks.
func (s *server) admitUpdate(r *http.Request, res *resource, obj, current object, namespace, name string) error {
	if err := checkTypeMeta(res, obj); err != nil {
		return err
	}
	if n := obj.metaString("name"); n != name {
		return errBadRequest("the name of the object (%s) does not match the name on the URL (%s)", n, name)
	}
	if err := checkNamespace(obj, namespace); err != nil {
		return err
	}
	if err := s.admit(r, "UPDATE", res, obj, current); err != nil {
		return err
	}
	if n := obj.metaString("name"); n != name { // a webhook may have renamed or moved it
		return errBadRequest("the name of the object (%s) does not match the name on the URL (%s)", n, name)
	}
	if err := checkNamespace(obj, namespace); err != nil {
		return err
	}
	return s.checkRBACWrite(r, res, obj)
}

func (s *server) delete(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	current, err := s.store.get(res, namespace, name)
	if err != nil {
		return nil, 0, err
	}
	if err := s.admit(r, "DELETE", res, nil, current); err != nil {
		return nil, 0, err
	}
	if res.kind == "Namespace" {
		return s.deleteNamespace(name)
	}
	check, err := readPreconditions(r, res, name)
	if err != nil {
		return nil, 0, err
	}
	obj, err := s.store.delete(res, namespace, name, check)
	if err != nil {
		return nil, 0, err
	}
	s.afterWrite(res, namespace)
	if res == s.crds.resource {
		s.crds.deleteObjects(obj)
	}
	return present(res, obj), http.StatusOK, nil
}

// afterWrite keeps what depends on a write true: the namespace's quota
// usage, and the resources the CRDs serve.
func (s *server) afterWrite(res *resource, namespace string) {
	if res.namespaced && slices.Contains(s.admission.enabled, "ResourceQuota") {
		resourceQuota{s}.refresh(namespace)
	}
	if res == s.crds.resource {
		s.crds.sync()
	}
	if s.aggregator != nil && (res == s.aggregator.resource || res.group == "" && (res.name == "services" || res.name == "endpoints")) {
		s.aggregator.changed() // the APIServices' availability may have changed
	}
}

// checkNamespace sets metadata.namespace from the URL, refusing a body that
// names another one, and clears it for cluster-scoped objects.
func checkNamespace(obj object, namespace string) error {
	if ns := obj.metaString("namespace"); ns != "" && ns != namespace {
		if namespace == "" {
			delete(obj.metadata(), "namespace") // Kubernetes ignores it on cluster-scoped objects
			return nil
		}
		return errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if namespace != "" {
		obj.metadata()["namespace"] = namespace
	}
	return nil
}

// Namespaces that exist from the start and may not be deleted, as in
// Kubernetes (the NamespaceLifecycle admission plugin refuses).
var protectedNamespaces = []string{"default", "kube-system", "kube-public"}

// namespaceCleanupDelay is how long the objects of a deleted namespace
// linger before the namespace controller removes them.
const namespaceCleanupDelay = 2 * time.Second

// deleteNamespace removes the namespace at once and its objects shortly
// after, as a namespace controller would. The delay matters to clients:
// "kubectl delete -f" often deletes a manifest's namespace before the objects
// in it, and expects those deletes to succeed.
func (s *server) deleteNamespace(name string) (any, int, error) {
	obj, err := s.store.delete(s.namespaces, "", name, nil)
	if err != nil {
		return nil, 0, err
	}
	// Only what existed at this moment goes: a namespace of the same name
	// created in the meantime keeps its new objects.
	doomed := s.store.objectsIn(name)
	time.AfterFunc(namespaceCleanupDelay, func() { s.store.deleteObjects(doomed) })
	return obj, http.StatusOK, nil
}

func isAlreadyExists(err error) bool {
	se, ok := err.(*statusError)
	return ok && se.reason == "AlreadyExists"
}
