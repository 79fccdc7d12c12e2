// The generic handler: one set of verbs that serves every resource in the
// registry. Kubernetes does the same: its generic registry store handles
// pods, configmaps and jobs alike, and only small per-resource hooks differ.
// Here the hooks are the namespace rules at the bottom of this file.
package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// verbHandler serves one verb on one resource. It returns what to send, or an
// error that becomes a Status; it never writes an error body itself.
type verbHandler func(res *resource, r *http.Request, namespace, name string) (any, int, error)

func (s *server) list(res *resource, r *http.Request, namespace, _ string) (any, int, error) {
	labels, err := parseLabelSelector(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, 0, err
	}
	fields, err := parseFieldSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		return nil, 0, err
	}
	all, rv := s.store.list(res, namespace)
	items := []object{}
	for _, obj := range all {
		if labels.matches(obj.labels()) && fields.matches(obj) {
			items = append(items, obj)
		}
	}
	return map[string]any{
		"kind":       res.kind + "List",
		"apiVersion": res.groupVersion(),
		"metadata":   map[string]any{"resourceVersion": rv},
		"items":      items,
	}, http.StatusOK, nil
}

func (s *server) get(res *resource, _ *http.Request, namespace, name string) (any, int, error) {
	obj, err := s.store.get(res, namespace, name)
	return obj, http.StatusOK, err
}

func (s *server) create(res *resource, r *http.Request, namespace, _ string) (any, int, error) {
	obj, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(res, obj); err != nil {
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
		created, err := s.store.create(res, obj)
		if err == nil {
			if res.kind == "Namespace" {
				s.createDefaultServiceAccount(obj.metaString("name"))
			}
			s.afterWrite(res, namespace)
			return created, http.StatusCreated, nil
		}
		if !generated || attempt == 8 || !isAlreadyExists(err) {
			return nil, 0, err
		}
	}
}

// update replaces an object with the one in the body (PUT).
func (s *server) update(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	obj, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	updated, err := s.store.update(res, namespace, name, func(current object) (object, error) {
		return obj, s.admitUpdate(r, res, obj, current, namespace, name)
	})
	if err == nil {
		s.afterWrite(res, namespace)
	}
	return updated, http.StatusOK, err
}

// patch applies a patch to the stored object and stores the result.
func (s *server) patch(res *resource, r *http.Request, namespace, name string) (any, int, error) {
	patchType, body, err := readBody(r, patchTypes...)
	if err != nil {
		return nil, 0, err
	}
	updated, err := s.store.update(res, namespace, name, func(current object) (object, error) {
		obj, err := applyPatch(res, patchType, current, body)
		if err != nil {
			return nil, err
		}
		return obj, s.admitUpdate(r, res, obj, current, namespace, name)
	})
	if err == nil {
		s.afterWrite(res, namespace)
	}
	return updated, http.StatusOK, err
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
	if err := refuseDryRun(r); err != nil {
		return nil, 0, err
	}
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
	obj, err := s.store.delete(res, namespace, name)
	if err == nil {
		s.afterWrite(res, namespace)
	}
	return obj, http.StatusOK, err
}

// afterWrite keeps the namespace's quota usage true after a create or delete.
func (s *server) afterWrite(res *resource, namespace string) {
	if res.namespaced && slices.Contains(s.admission.enabled, "ResourceQuota") {
		resourceQuota{s}.refresh(namespace)
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
	obj, err := s.store.delete(s.namespaces, "", name)
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

// refuseDryRun reads a DELETE's DeleteOptions: kubectl delete
// --dry-run=server puts dryRun there, and this server does no dry runs.
func refuseDryRun(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	mediaType, body, err := readBody(r, "application/json", protobufType)
	if err != nil || len(body) == 0 {
		return err
	}
	if mediaType == protobufType {
		if body, err = protobufToJSON(body); err != nil {
			return err
		}
	}
	var options struct {
		DryRun []string `json:"dryRun"`
	}
	if err := json.Unmarshal(body, &options); err != nil {
		return errBadRequest("the body is not DeleteOptions: %v", err)
	}
	if len(options.DryRun) > 0 {
		return errBadRequest("dryRun is not supported by this server")
	}
	return nil
}
