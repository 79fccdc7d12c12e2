// Errors, the Kubernetes way: every failure leaves the server as a metav1.Status
// object with an HTTP code and a machine-readable reason. Clients (kubectl,
// client-go) read the reason, not the message, to decide what happened.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// statusError is an error that knows how to become a metav1.Status.
type statusError struct {
	code    int
	reason  string // NotFound, AlreadyExists, Invalid, BadRequest, ...
	message string
	details map[string]any // name, kind and, for Invalid, causes
}

func (e *statusError) Error() string { return e.message }

func errNotFound(res *resource, name string) error {
	return &statusError{http.StatusNotFound, "NotFound",
		fmt.Sprintf("%s %q not found", res.qualifiedName(), name),
		map[string]any{"name": name, "group": res.group, "kind": res.name}}
}

func errAlreadyExists(res *resource, name string) error {
	return &statusError{http.StatusConflict, "AlreadyExists",
		fmt.Sprintf("%s %q already exists", res.qualifiedName(), name),
		map[string]any{"name": name, "group": res.group, "kind": res.name}}
}

func errForbidden(res *resource, name, reason string) error {
	return &statusError{http.StatusForbidden, "Forbidden",
		fmt.Sprintf("%s %q is forbidden: %s", res.qualifiedName(), name, reason),
		map[string]any{"name": name, "group": res.group, "kind": res.name}}
}

func errBadRequest(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...), nil}
}

// cause is one field-level problem inside an Invalid error.
type cause struct {
	Reason  string `json:"reason"` // FieldValueInvalid, FieldValueRequired, ...
	Message string `json:"message"`
	Field   string `json:"field"`
}

// errInvalid is the 422 Kubernetes returns when an object fails validation.
// The message repeats each cause, as the real apiserver's does: one as is,
// several in brackets.
func errInvalid(res *resource, name string, causes []cause) error {
	var list []string
	for _, c := range causes {
		list = append(list, c.Field+": "+c.Message)
	}
	all := strings.Join(list, ", ")
	if len(list) > 1 {
		all = "[" + all + "]"
	}
	return &statusError{http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("%s %q is invalid: %s", res.qualifiedKind(), name, all),
		map[string]any{"name": name, "group": res.group, "kind": res.kind, "causes": causes}}
}

// errUnauthorized is deliberately vague, as Kubernetes' is: it tells an
// attacker nothing about which part of a credential was wrong.
func errUnauthorized() error {
	return &statusError{http.StatusUnauthorized, "Unauthorized", "Unauthorized", nil}
}

func errMethodNotAllowed() error {
	return &statusError{http.StatusMethodNotAllowed, "MethodNotAllowed",
		"the server does not allow this method on the requested resource", nil}
}

func errUnsupportedMediaType(contentType string, accepted ...string) error {
	return &statusError{http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		fmt.Sprintf("the body of the request was in an unknown format (%q) - accepted media types include: %s",
			contentType, strings.Join(accepted, ", ")), nil}
}

func errTooLarge(limit int64) error {
	return &statusError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		fmt.Sprintf("Request entity too large: limit is %d", limit), nil}
}

func errPathNotFound() error {
	return &statusError{http.StatusNotFound, "NotFound", "the server could not find the requested resource", nil}
}

// writeError is the one place where an error becomes a response.
func writeError(w http.ResponseWriter, err error) {
	var se *statusError
	if !errors.As(err, &se) {
		se = &statusError{http.StatusInternalServerError, "InternalError",
			fmt.Sprintf("Internal error occurred: %v", err), nil}
	}
	status := map[string]any{
		"kind":       "Status",
		"apiVersion": "v1",
		"metadata":   map[string]any{},
		"status":     "Failure",
		"message":    se.message,
		"reason":     se.reason,
		"code":       se.code,
	}
	if se.details != nil {
		status["details"] = se.details
	}
	writeJSON(w, se.code, status)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	writeBody(w, v)
}

func writeBody(w http.ResponseWriter, v any) {
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing more to do
}
