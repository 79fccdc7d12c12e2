// The handler: the URL is parsed by hand into the parts Kubernetes puts in a
// resource path, and the HTTP method picks the verb. This is the whole API of
// chapter 01:
//
//	GET    /api/v1/pods                                  list across namespaces
//	GET    /api/v1/namespaces/{namespace}/pods           list
//	POST   /api/v1/namespaces/{namespace}/pods           create
//	GET    /api/v1/namespaces/{namespace}/pods/{name}    get
//	PUT    /api/v1/namespaces/{namespace}/pods/{name}    replace
//	DELETE /api/v1/namespaces/{namespace}/pods/{name}    delete
package main

import (
	"net/http"
	"strings"
)

// requestPath is what a pod URL says: which namespace (empty for the
// all-namespaces list) and which pod (empty for the collection).
type requestPath struct {
	namespace string
	name      string
}

// parsePath understands exactly the paths listed above; anything else is not found.
func parsePath(path string) (requestPath, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" || parts[1] != "v1" {
		return requestPath{}, false
	}
	switch {
	case len(parts) == 3 && parts[2] == "pods":
		return requestPath{}, true
	case len(parts) == 5 && parts[2] == "namespaces" && parts[4] == "pods" && parts[3] != "":
		return requestPath{namespace: parts[3]}, true
	case len(parts) == 6 && parts[2] == "namespaces" && parts[4] == "pods" && parts[3] != "" && parts[5] != "":
		return requestPath{namespace: parts[3], name: parts[5]}, true
	}
	return requestPath{}, false
}

type server struct {
	store *store
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, code, err := s.serve(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, body)
}

// serve picks the verb from the method and the path; it returns what to send.
func (s *server) serve(r *http.Request) (any, int, error) {
	p, ok := parsePath(r.URL.Path)
	if !ok {
		return nil, 0, errPathNotFound()
	}
	if p.namespace != "" {
		if msg := validateLabel(p.namespace); msg != "" {
			return nil, 0, errBadRequest("invalid namespace %q: %s", p.namespace, msg)
		}
	}
	switch {
	case p.name == "" && r.Method == http.MethodGet:
		return s.list(p)
	case p.name == "" && p.namespace != "" && r.Method == http.MethodPost:
		return s.create(r, p)
	case p.name != "" && r.Method == http.MethodGet:
		obj, err := s.store.get(p.namespace, p.name)
		return obj, http.StatusOK, err
	case p.name != "" && r.Method == http.MethodPut:
		return s.update(r, p)
	case p.name != "" && r.Method == http.MethodDelete:
		obj, err := s.store.delete(p.namespace, p.name)
		return obj, http.StatusOK, err
	}
	return nil, 0, errMethodNotAllowed()
}

func (s *server) list(p requestPath) (any, int, error) {
	items, rv := s.store.list(p.namespace)
	return map[string]any{
		"kind":       "PodList",
		"apiVersion": "v1",
		"metadata":   map[string]any{"resourceVersion": rv},
		"items":      items,
	}, http.StatusOK, nil
}

func (s *server) create(r *http.Request, p requestPath) (any, int, error) {
	obj, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(obj); err != nil {
		return nil, 0, err
	}
	meta := obj.metadata()
	if ns := obj.metaString("namespace"); ns != "" && ns != p.namespace {
		return nil, 0, errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	meta["namespace"] = p.namespace
	meta["uid"] = newUID()
	meta["creationTimestamp"] = now()
	delete(meta, "resourceVersion") // the store sets it

	// With generateName and no name, the server picks the name. A random
	// suffix can collide; Kubernetes then tries again a few times.
	generated := obj.metaString("name") == "" && obj.metaString("generateName") != ""
	for attempt := 1; ; attempt++ {
		if generated {
			meta["name"] = generateName(obj.metaString("generateName"))
		}
		if err := validatePod(obj); err != nil {
			return nil, 0, err
		}
		created, err := s.store.create(obj)
		if err == nil {
			return created, http.StatusCreated, nil
		}
		if !generated || attempt == 8 || !isAlreadyExists(err) {
			return nil, 0, err
		}
	}
}

func (s *server) update(r *http.Request, p requestPath) (any, int, error) {
	obj, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTypeMeta(obj); err != nil {
		return nil, 0, err
	}
	if name := obj.metaString("name"); name != p.name {
		return nil, 0, errBadRequest("the name of the object (%s) does not match the name on the URL (%s)", name, p.name)
	}
	if ns := obj.metaString("namespace"); ns != "" && ns != p.namespace {
		return nil, 0, errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	obj.metadata()["namespace"] = p.namespace
	if err := validatePod(obj); err != nil {
		return nil, 0, err
	}
	updated, err := s.store.update(obj)
	return updated, http.StatusOK, err
}

func isAlreadyExists(err error) bool {
	se, ok := err.(*statusError)
	return ok && se.reason == "AlreadyExists"
}
