// The notes API: one namespaced resource, notes.example.com/v1alpha1 Note,
// kept in memory. Health and discovery are open; notes need an identity
// (requestheader.go), and the server uses it: a note's author is whoever
// created it, and only the author (or system:masters) may delete it.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	group        = "notes.example.com"
	version      = "v1alpha1"
	groupVersion = group + "/" + version
	apiPath      = "/apis/" + groupVersion
	maxBodyBytes = 3 << 20 // kube-apiserver's limit on a request body
)

// note is a Note. Being a Go type, it keeps only the fields it knows, as a
// built-in Kubernetes type does.
type note struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       noteSpec   `json:"spec"`
}

type objectMeta struct {
	Name              string            `json:"name,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
}

type noteSpec struct {
	Text   string `json:"text"`
	Author string `json:"author"` // set by the server, never by the client
}

// notesAPI is the storage and the handlers: a map guarded by a mutex, and a
// counter that every write bumps, which is the resourceVersion.
type notesAPI struct {
	mu    sync.Mutex
	rv    int64
	notes map[string]note // by namespace/name
}

func newNotesAPI() *notesAPI { return &notesAPI{notes: map[string]note{}} }

func (api *notesAPI) routes() http.Handler {
	mux := http.NewServeMux()
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "ok")
		})
	}
	versionEntry := map[string]any{"groupVersion": groupVersion, "version": version}
	apiGroup := map[string]any{"name": group, "versions": []any{versionEntry}, "preferredVersion": versionEntry}
	mux.HandleFunc("/apis", serveDocument(map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{apiGroup}}))
	mux.HandleFunc("/apis/"+group, serveDocument(map[string]any{"kind": "APIGroup", "apiVersion": "v1",
		"name": group, "versions": []any{versionEntry}, "preferredVersion": versionEntry}))
	mux.HandleFunc(apiPath, serveDocument(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVersion,
		"resources": []any{map[string]any{"name": "notes", "singularName": "note", "namespaced": true, "kind": "Note",
			"verbs": []string{"create", "delete", "get", "list"}, "shortNames": []string{"nt"}}}}))
	// OpenAPI, as little as kubectl needs: before it creates an object it
	// looks, on the PATCH operation of the object's kind, for the
	// fieldValidation parameter, and leaves checking fields to the server
	// when it finds it. This server checks them (readNote) but serves no
	// PATCH: the entry is there for that question only.
	openAPIPath := "/openapi/v3/apis/" + groupVersion
	mux.HandleFunc("/openapi/v3", serveDocument(map[string]any{"paths": map[string]any{
		"apis/" + groupVersion: map[string]any{"serverRelativeURL": openAPIPath}}}))
	mux.HandleFunc(openAPIPath, serveDocument(map[string]any{"openapi": "3.0.0",
		"info": map[string]any{"title": "notes", "version": version}, "components": map[string]any{},
		"paths": map[string]any{apiPath + "/namespaces/{namespace}/notes/{name}": map[string]any{"patch": map[string]any{
			"x-kubernetes-group-version-kind": map[string]any{"group": group, "version": version, "kind": "Note"},
			"parameters":                      []any{map[string]any{"name": "fieldValidation", "in": "query", "schema": map[string]any{"type": "string"}}},
		}}}}))

	mux.HandleFunc(apiPath+"/notes", serveVerbs(map[string]verb{"GET": api.list}))
	mux.HandleFunc(apiPath+"/namespaces/{namespace}/notes", serveVerbs(map[string]verb{"GET": api.list, "POST": api.create}))
	mux.HandleFunc(apiPath+"/namespaces/{namespace}/notes/{name}", serveVerbs(map[string]verb{"GET": api.get, "DELETE": api.delete}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, errPathNotFound()) })
	return mux
}

// serveDocument answers GET with a fixed JSON document.
func serveDocument(doc any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, errMethodNotAllowed())
			return
		}
		writeJSON(w, http.StatusOK, doc)
	}
}

// verb serves one verb for an authenticated user. It returns what to send,
// or an error that becomes a Status; it never writes an error body itself.
type verb func(r *http.Request, user *userInfo) (any, int, error)

func serveVerbs(verbs map[string]verb) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, code, err := dispatch(verbs, r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, code, body)
	}
}

// dispatch refuses what no verb here can serve (no identity, a method or a
// watch this resource does not offer, options it would not honour), then
// calls the verb for the method.
func dispatch(verbs map[string]verb, r *http.Request) (any, int, error) {
	user, q := userFrom(r.Context()), r.URL.Query()
	if user == nil {
		return nil, 0, errUnauthorized()
	}
	v, ok := verbs[r.Method]
	if watch, _ := strconv.ParseBool(q.Get("watch")); !ok || watch {
		return nil, 0, errMethodNotAllowed()
	}
	for _, option := range []string{"dryRun", "labelSelector", "fieldSelector"} {
		if q.Get(option) != "" {
			return nil, 0, errBadRequest("%s is not supported by this server", option)
		}
	}
	return v(r, user)
}

// list answers for one namespace, or for all of them on /apis/.../notes.
func (api *notesAPI) list(r *http.Request, _ *userInfo) (any, int, error) {
	namespace := r.PathValue("namespace")
	api.mu.Lock()
	defer api.mu.Unlock()
	items := []note{}
	for _, n := range api.notes {
		if namespace == "" || n.Metadata.Namespace == namespace {
			items = append(items, n)
		}
	}
	slices.SortFunc(items, func(a, b note) int {
		return strings.Compare(a.Metadata.Namespace+"/"+a.Metadata.Name, b.Metadata.Namespace+"/"+b.Metadata.Name)
	})
	return map[string]any{
		"kind":       "NoteList",
		"apiVersion": groupVersion,
		"metadata":   map[string]any{"resourceVersion": strconv.FormatInt(api.rv, 10)},
		"items":      items,
	}, http.StatusOK, nil
}

func (api *notesAPI) get(r *http.Request, _ *userInfo) (any, int, error) {
	api.mu.Lock()
	defer api.mu.Unlock()
	n, ok := api.notes[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		return nil, 0, errNotFound(r.PathValue("name"))
	}
	return n, http.StatusOK, nil
}

func (api *notesAPI) create(r *http.Request, user *userInfo) (any, int, error) {
	n, err := readNote(r)
	if err != nil {
		return nil, 0, err
	}
	namespace := r.PathValue("namespace")
	if n.Metadata.Namespace != "" && n.Metadata.Namespace != namespace {
		return nil, 0, errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	n.Metadata.Namespace = namespace
	if n.Metadata.Name == "" && n.Metadata.GenerateName != "" {
		// A collision answers AlreadyExists; with 27^5 suffixes, rarely.
		n.Metadata.Name = generateName(n.Metadata.GenerateName)
	}
	if err := validateNote(n); err != nil {
		return nil, 0, err
	}
	n.Metadata.UID = newUID()
	n.Metadata.CreationTimestamp = time.Now().UTC().Format(time.RFC3339)
	// The point of this server: the author is whoever the main server says
	// is calling, whatever the body claims.
	n.Spec.Author = user.Name

	api.mu.Lock()
	defer api.mu.Unlock()
	key := namespace + "/" + n.Metadata.Name
	if _, exists := api.notes[key]; exists {
		return nil, 0, errAlreadyExists(n.Metadata.Name)
	}
	api.rv++
	n.Metadata.ResourceVersion = strconv.FormatInt(api.rv, 10)
	api.notes[key] = n
	return n, http.StatusCreated, nil
}

// delete is where this server authorizes on its own. The main server's RBAC
// decided the caller may delete notes at all; which notes, only the server
// that knows who wrote them can say.
func (api *notesAPI) delete(r *http.Request, user *userInfo) (any, int, error) {
	name := r.PathValue("name")
	key := r.PathValue("namespace") + "/" + name
	api.mu.Lock()
	defer api.mu.Unlock()
	n, ok := api.notes[key]
	if !ok {
		return nil, 0, errNotFound(name)
	}
	if user.Name != n.Spec.Author && !slices.Contains(user.Groups, "system:masters") {
		return nil, 0, errForbidden(name, "only its author ("+n.Spec.Author+") or a member of system:masters may delete it")
	}
	delete(api.notes, key)
	api.rv++
	return n, http.StatusOK, nil
}

// readNote reads a JSON Note from the body, filling in apiVersion and kind
// when the client left them out and refusing other types.
func readNote(r *http.Request) (note, error) {
	var n note
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return n, errTooLarge()
	} else if err != nil {
		return n, errBadRequest("reading the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if r.URL.Query().Get("fieldValidation") == "Strict" { // kubectl's default
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&n); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return n, errBadRequest("Note in version %q cannot be handled as a Note: strict decoding error: %s", version, strings.TrimPrefix(err.Error(), "json: "))
		}
		return n, errBadRequest("the request body is not a valid Note: %v", err)
	}
	if n.APIVersion != "" && n.APIVersion != groupVersion {
		return n, errBadRequest("the API version in the data (%s) does not match the expected API version (%s)", n.APIVersion, groupVersion)
	}
	if n.Kind != "" && n.Kind != "Note" {
		return n, errBadRequest("the kind in the data (%s) does not match the expected kind (Note)", n.Kind)
	}
	n.APIVersion, n.Kind = groupVersion, "Note"
	return n, nil
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// validateNote reports every problem at once, each with its field, as one 422.
func validateNote(n note) error {
	var causes []cause
	switch name := n.Metadata.Name; {
	case name == "":
		causes = append(causes, cause{"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"})
	case len(name) > 253 || !dns1123Subdomain.MatchString(name):
		causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')", name), "metadata.name"})
	}
	if ns := n.Metadata.Namespace; len(ns) > 63 || !dns1123Label.MatchString(ns) {
		causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')", ns), "metadata.namespace"})
	}
	if n.Spec.Text == "" {
		causes = append(causes, cause{"FieldValueRequired", "Required value", "spec.text"})
	}
	if len(causes) > 0 {
		return errInvalid(n.Metadata.Name, causes)
	}
	return nil
}

// generateName appends five random characters from Kubernetes' alphabet (no
// vowels, so no accidental words), cutting the prefix to fit in 63.
func generateName(prefix string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	suffix := make([]byte, 5)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	return prefix[:min(len(prefix), 63-5)] + string(suffix)
}

// newUID returns a random RFC 4122 version 4 UUID, like metadata.uid.
func newUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Errors, the Kubernetes way: a metav1.Status with an HTTP code and a
// reason, which is what kubectl and client-go read to decide what happened.

type statusError struct {
	code    int
	reason  string
	message string
	details map[string]any
}

func (e *statusError) Error() string { return e.message }

// cause is one field-level problem inside an Invalid error.
type cause struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Errors about one note name the resource and the note, as Kubernetes'
// do: notes.notes.example.com "hello" not found.
func errNotFound(name string) error {
	return noteError(http.StatusNotFound, "NotFound", name, "not found")
}

func errAlreadyExists(name string) error {
	return noteError(http.StatusConflict, "AlreadyExists", name, "already exists")
}

func errForbidden(name, why string) error {
	return noteError(http.StatusForbidden, "Forbidden", name, "is forbidden: "+why)
}

func noteError(code int, reason, name, what string) error {
	return &statusError{code, reason, fmt.Sprintf("notes.%s %q %s", group, name, what),
		map[string]any{"name": name, "group": group, "kind": "notes"}}
}

// errInvalid repeats each cause in its message, as kube-apiserver's does.
func errInvalid(name string, causes []cause) error {
	msgs := make([]string, len(causes))
	for i, c := range causes {
		msgs[i] = c.Field + ": " + c.Message
	}
	return &statusError{http.StatusUnprocessableEntity, "Invalid",
		fmt.Sprintf("Note.%s %q is invalid: %s", group, name, strings.Join(msgs, ", ")),
		map[string]any{"name": name, "group": group, "kind": "Note", "causes": causes}}
}

func errBadRequest(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...), nil}
}

// errUnauthorized says nothing about what was wrong, as Kubernetes' does not.
func errUnauthorized() error {
	return &statusError{http.StatusUnauthorized, "Unauthorized", "Unauthorized", nil}
}

func errMethodNotAllowed() error {
	return &statusError{http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil}
}

func errTooLarge() error {
	return &statusError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Request entity too large: limit is %d", maxBodyBytes), nil}
}

func errPathNotFound() error {
	return &statusError{http.StatusNotFound, "NotFound", "the server could not find the requested resource", nil}
}

// writeError is the one place where an error becomes a response.
func writeError(w http.ResponseWriter, err error) {
	var se *statusError
	if !errors.As(err, &se) {
		se = &statusError{http.StatusInternalServerError, "InternalError", "Internal error occurred: " + err.Error(), nil}
	}
	status := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": se.message, "reason": se.reason, "code": se.code}
	if se.details != nil {
		status["details"] = se.details
	}
	writeJSON(w, se.code, status)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing more to do
}
