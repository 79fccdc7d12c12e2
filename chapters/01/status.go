// Errors, the Kubernetes way: every failure leaves the server as a metav1.Status
// object with an HTTP code and a machine-readable reason. Clients (kubectl,
// client-go) read the reason, not the message, to decide what happened.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// statusError is an error that knows how to become a metav1.Status.
type statusError struct {
	code    int
	reason  string // NotFound, AlreadyExists, Invalid, BadRequest, ...
	message string
	details map[string]any // name, kind and, for Invalid, causes
}

func (e *statusError) Error() string { return e.message }

func errNotFound(resource, name string) error {
	return &statusError{http.StatusNotFound, "NotFound",
		fmt.Sprintf("%s %q not found", resource, name),
		map[string]any{"name": name, "kind": resource}}
}

func errAlreadyExists(resource, name string) error {
	return &statusError{http.StatusConflict, "AlreadyExists",
		fmt.Sprintf("%s %q already exists", resource, name),
		map[string]any{"name": name, "kind": resource}}
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
// The message repeats each cause, as the real apiserver's does.
func errInvalid(kind, name string, causes []cause) error {
	msg := fmt.Sprintf("%s %q is invalid: ", kind, name)
	for i, c := range causes {
		if i > 0 {
			msg += ", "
		}
		msg += c.Field + ": " + c.Message
	}
	return &statusError{http.StatusUnprocessableEntity, "Invalid", msg,
		map[string]any{"name": name, "kind": kind, "causes": causes}}
}

func errMethodNotAllowed() error {
	return &statusError{http.StatusMethodNotAllowed, "MethodNotAllowed",
		"the server does not allow this method on the requested resource", nil}
}

func errUnsupportedMediaType(contentType string) error {
	return &statusError{http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		fmt.Sprintf("the body of the request was in an unknown format (%q) - accepted media types include: application/json", contentType), nil}
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
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing more to do
}
