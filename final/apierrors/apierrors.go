// Package apierrors is how the API server fails: every error a handler
// returns leaves the server as a metav1.Status object with an HTTP code and a
// machine-readable reason. Clients (kubectl, client-go) read the reason, not
// the message, to decide what happened.
//
// Kubernetes keeps the constructors in k8s.io/apimachinery/pkg/api/errors
// (NewNotFound, NewConflict, NewInvalid, ...) and writes them in
// k8s.io/apiserver/pkg/endpoints/handlers/responsewriters; the names and the
// messages here are theirs. Where Kubernetes takes a schema.GroupResource,
// these take the group and the resource as two strings.
package apierrors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// StatusError is an error that knows how to become a metav1.Status.
type StatusError struct {
	Code    int            // the HTTP status code
	Reason  string         // NotFound, AlreadyExists, Invalid, BadRequest, ...
	Message string         // for people; clients decide on Reason
	Details map[string]any // name, group, kind and, for some reasons, causes and retryAfterSeconds
}

// Error returns the message, so a StatusError prints like the Status it becomes.
func (e *StatusError) Error() string { return e.Message }

// Cause is one field-level problem inside an Invalid error (metav1.StatusCause).
type Cause struct {
	Reason  string `json:"reason,omitempty"` // FieldValueInvalid, FieldValueRequired, ...
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"` // a field path: "metadata.name", "spec.containers[0].image"
}

// qualified is how Kubernetes names a resource or a kind in messages: "pods",
// "jobs.batch", "Pod", "Job.batch".
func qualified(name, group string) string {
	if group == "" {
		return name
	}
	return name + "." + group
}

// details names the object an error is about, leaving out what is empty, as
// metav1.StatusDetails does. For the errors about a resource, "kind" holds the
// resource ("pods"), as in Kubernetes; for Invalid, the kind ("Pod").
func details(group, kind, name string) map[string]any {
	d := map[string]any{}
	for k, v := range map[string]string{"group": group, "kind": kind, "name": name} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// NewNotFound is the 404 for an object that does not exist: pods "web" not found.
func NewNotFound(group, resource, name string) *StatusError {
	return &StatusError{http.StatusNotFound, "NotFound",
		fmt.Sprintf("%s %q not found", qualified(resource, group), name), details(group, resource, name)}
}

// NewPathNotFound is the 404 for a path that names no resource at all.
func NewPathNotFound() *StatusError {
	return &StatusError{http.StatusNotFound, "NotFound", "the server could not find the requested resource", nil}
}

// NewAlreadyExists is the 409 for a create whose name is taken.
func NewAlreadyExists(group, resource, name string) *StatusError {
	return &StatusError{http.StatusConflict, "AlreadyExists",
		fmt.Sprintf("%s %q already exists", qualified(resource, group), name), details(group, resource, name)}
}

// OptimisticLockErrorMsg is the reason of the Conflict a write gets when its
// resourceVersion is no longer the stored one (the name and the words are
// k8s.io/apiserver/pkg/registry/generic/registry's).
const OptimisticLockErrorMsg = "the object has been modified; please apply your changes to the latest version and try again"

// NewConflict is the 409 for a write that cannot be done as asked, err saying
// why: a stale resourceVersion (OptimisticLockErrorMsg), a failed precondition.
func NewConflict(group, resource, name string, err error) *StatusError {
	return &StatusError{http.StatusConflict, "Conflict",
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: %v", qualified(resource, group), name, err),
		details(group, resource, name)}
}

// NewInvalid is the 422 for an object that fails validation: Pod "web" is
// invalid: ... The message repeats each cause, as the real apiserver's does:
// one as is, several in brackets.
func NewInvalid(group, kind, name string, causes []Cause) *StatusError {
	var list []string
	for _, c := range causes {
		list = append(list, c.Field+": "+c.Message)
	}
	message := fmt.Sprintf("%s %q is invalid", qualified(kind, group), name)
	switch {
	case len(list) == 1:
		message += ": " + list[0]
	case len(list) > 1:
		message += ": [" + strings.Join(list, ", ") + "]"
	}
	d := details(group, kind, name)
	if len(causes) > 0 {
		d["causes"] = causes
	}
	return &StatusError{http.StatusUnprocessableEntity, "Invalid", message, d}
}

// NewBadRequest is the 400 for a request the server cannot read.
func NewBadRequest(format string, args ...any) *StatusError {
	return &StatusError{http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...), nil}
}

// NewForbidden is the 403 for a request the user may not make, err saying
// why. With no resource it is about a path: forbidden: User "alice" cannot get path "/logs".
func NewForbidden(group, resource, name string, err error) *StatusError {
	var message string
	switch {
	case group == "" && resource == "":
		message = fmt.Sprintf("forbidden: %v", err)
	case name == "":
		message = fmt.Sprintf("%s is forbidden: %v", qualified(resource, group), err)
	default:
		message = fmt.Sprintf("%s %q is forbidden: %v", qualified(resource, group), name, err)
	}
	return &StatusError{http.StatusForbidden, "Forbidden", message, details(group, resource, name)}
}

// NewUnauthorized is the 401 for a request whose credentials are wrong. It is
// deliberately vague, as Kubernetes' is: it tells an attacker nothing about
// which part of a credential was wrong.
func NewUnauthorized() *StatusError {
	return &StatusError{http.StatusUnauthorized, "Unauthorized", "Unauthorized", nil}
}

// NewMethodNotAllowed is the 405 for a verb the resource does not serve.
func NewMethodNotAllowed() *StatusError {
	return &StatusError{http.StatusMethodNotAllowed, "MethodNotAllowed",
		"the server does not allow this method on the requested resource", nil}
}

// NewUnsupportedMediaType is the 415 for a body in a format the server does not read.
func NewUnsupportedMediaType(contentType string, accepted ...string) *StatusError {
	return &StatusError{http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		fmt.Sprintf("the body of the request was in an unknown format (%q) - accepted media types include: %s",
			contentType, strings.Join(accepted, ", ")), nil}
}

// NewRequestEntityTooLarge is the 413 for a body over limit bytes.
func NewRequestEntityTooLarge(limit int64) *StatusError {
	return &StatusError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		fmt.Sprintf("Request entity too large: limit is %d", limit), nil}
}

// NewExpired is the 410 for a read or a watch at a revision that compaction
// removed (Kubernetes' NewResourceExpired): the client must list again.
func NewExpired(message string) *StatusError {
	return &StatusError{http.StatusGone, "Expired", message, nil}
}

// NewTooLargeResourceVersion is the 504 for a read at a resourceVersion newer
// than the store's. client-go's reflector recognises it by its cause and
// retries after retryAfterSeconds, as with a store that lags behind.
func NewTooLargeResourceVersion(requested, current int64) *StatusError {
	return &StatusError{http.StatusGatewayTimeout, "Timeout",
		fmt.Sprintf("Too large resource version: %d, current: %d", requested, current),
		map[string]any{"causes": []Cause{{Reason: "ResourceVersionTooLarge", Message: "Too large resource version"}}, "retryAfterSeconds": 1}}
}

// NewTooManyRequests is the 429 of the in-flight limit; WriteError turns
// retryAfterSeconds into a Retry-After header.
func NewTooManyRequests(retryAfterSeconds int) *StatusError {
	return &StatusError{http.StatusTooManyRequests, "TooManyRequests", "Too many requests, please try again later.",
		map[string]any{"retryAfterSeconds": retryAfterSeconds}}
}

// NewServiceUnavailable is the 503 for a request the server cannot serve now,
// such as one for an extension API server that is not available.
func NewServiceUnavailable(message string) *StatusError {
	return &StatusError{http.StatusServiceUnavailable, "ServiceUnavailable", message, nil}
}

// NewTimeout is the 504 for a request that did not finish in time. The
// request may still take effect; the client may retry after retryAfterSeconds (0: no advice).
func NewTimeout(message string, retryAfterSeconds int) *StatusError {
	d := map[string]any{}
	if retryAfterSeconds > 0 {
		d["retryAfterSeconds"] = retryAfterSeconds
	}
	return &StatusError{http.StatusGatewayTimeout, "Timeout", "Timeout: " + message, d}
}

// NewInternalError is the 500 for a failure that is the server's, not the client's.
func NewInternalError(err error) *StatusError {
	return &StatusError{http.StatusInternalServerError, "InternalError",
		fmt.Sprintf("Internal error occurred: %v", err), map[string]any{"causes": []Cause{{Message: err.Error()}}}}
}

// ReasonForError returns the reason of a StatusError (however wrapped), or ""
// for any other error.
func ReasonForError(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

// IsNotFound tells whether err is a NotFound StatusError.
func IsNotFound(err error) bool { return ReasonForError(err) == "NotFound" }

// IsAlreadyExists tells whether err is an AlreadyExists StatusError.
func IsAlreadyExists(err error) bool { return ReasonForError(err) == "AlreadyExists" }

// asStatusError finds the StatusError in err; any other error is the server's fault.
func asStatusError(err error) *StatusError {
	var se *StatusError
	if !errors.As(err, &se) {
		se = NewInternalError(err)
	}
	return se
}

// ToStatus returns err as a metav1.Status object: what WriteError sends, and
// what a watch sends in an ERROR event.
func ToStatus(err error) map[string]any {
	se := asStatusError(err)
	status := map[string]any{
		"kind":       "Status",
		"apiVersion": "v1",
		"metadata":   map[string]any{},
		"status":     "Failure",
		"message":    se.Message,
		"reason":     se.Reason,
		"code":       se.Code,
	}
	if se.Details != nil {
		status["details"] = se.Details
	}
	return status
}

// WriteError is the one place where an error becomes a response. Like
// kube-apiserver, it sets Retry-After when the Status advises a delay.
func WriteError(w http.ResponseWriter, err error) {
	se := asStatusError(err)
	if seconds, _ := se.Details["retryAfterSeconds"].(int); seconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
	}
	WriteJSON(w, se.Code, ToStatus(se))
}

// WriteJSON writes v as a JSON response with the given code. A value that
// is JSON already, a json.RawMessage or an io.WriterTo (a list written
// from the stored bytes of its items), is sent as it is, ended by the
// newline json.Encoder would add.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The client may be gone; nothing more to do.
	switch v := v.(type) {
	case json.RawMessage:
		_, _ = w.Write(v)
		_, _ = w.Write(newline)
	case io.WriterTo:
		_, _ = v.WriteTo(w)
	default:
		_ = json.NewEncoder(w).Encode(v)
	}
}

var newline = []byte{'\n'}
