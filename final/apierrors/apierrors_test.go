package apierrors

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// Each constructor gives Kubernetes' code, reason and message, and names the
// object in the details the way metav1.StatusDetails does.
func TestConstructors(t *testing.T) {
	tests := []struct {
		err     *StatusError
		code    int
		reason  string
		message string
		details map[string]any
	}{
		{NewNotFound("", "pods", "web"), 404, "NotFound", `pods "web" not found`,
			map[string]any{"kind": "pods", "name": "web"}},
		{NewNotFound("batch", "jobs", "nightly"), 404, "NotFound", `jobs.batch "nightly" not found`,
			map[string]any{"group": "batch", "kind": "jobs", "name": "nightly"}},
		{NewPathNotFound(), 404, "NotFound", "the server could not find the requested resource", nil},
		{NewAlreadyExists("", "configmaps", "settings"), 409, "AlreadyExists", `configmaps "settings" already exists`,
			map[string]any{"kind": "configmaps", "name": "settings"}},
		{NewConflict("", "configmaps", "settings", errors.New(OptimisticLockErrorMsg)), 409, "Conflict",
			`Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again`,
			map[string]any{"kind": "configmaps", "name": "settings"}},
		{NewBadRequest("invalid limit %q", "x"), 400, "BadRequest", `invalid limit "x"`, nil},
		{NewForbidden("", "pods", "web", errors.New(`User "alice" cannot get resource "pods"`)), 403, "Forbidden",
			`pods "web" is forbidden: User "alice" cannot get resource "pods"`, map[string]any{"kind": "pods", "name": "web"}},
		{NewForbidden("rbac.authorization.k8s.io", "roles", "", errors.New("no")), 403, "Forbidden",
			`roles.rbac.authorization.k8s.io is forbidden: no`, map[string]any{"group": "rbac.authorization.k8s.io", "kind": "roles"}},
		{NewForbidden("", "", "", errors.New(`User "alice" cannot get path "/logs"`)), 403, "Forbidden",
			`forbidden: User "alice" cannot get path "/logs"`, map[string]any{}},
		{NewUnauthorized(), 401, "Unauthorized", "Unauthorized", nil},
		{NewMethodNotAllowed(), 405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil},
		{NewUnsupportedMediaType("text/plain", "application/json", "application/yaml"), 415, "UnsupportedMediaType",
			`the body of the request was in an unknown format ("text/plain") - accepted media types include: application/json, application/yaml`, nil},
		{NewRequestEntityTooLarge(3 << 20), 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728", nil},
		{NewExpired("too old resource version: 3 (7)"), 410, "Expired", "too old resource version: 3 (7)", nil},
		{NewTooLargeResourceVersion(7, 5), 504, "Timeout", "Too large resource version: 7, current: 5",
			map[string]any{"causes": []Cause{{Reason: "ResourceVersionTooLarge", Message: "Too large resource version"}}, "retryAfterSeconds": 1}},
		{NewTooManyRequests(1), 429, "TooManyRequests", "Too many requests, please try again later.", map[string]any{"retryAfterSeconds": 1}},
		{NewServiceUnavailable("the APIService v1.example.com is not available"), 503, "ServiceUnavailable",
			"the APIService v1.example.com is not available", nil},
		{NewTimeout("request did not complete within requested timeout - context deadline exceeded", 0), 504, "Timeout",
			"Timeout: request did not complete within requested timeout - context deadline exceeded", map[string]any{}},
		{NewInternalError(errors.New("disk full")), 500, "InternalError", "Internal error occurred: disk full",
			map[string]any{"causes": []Cause{{Message: "disk full"}}}},
	}
	for _, tt := range tests {
		se := tt.err
		if se.Code != tt.code || se.Reason != tt.reason || se.Message != tt.message || se.Error() != tt.message {
			t.Errorf("got %d %s %q; want %d %s %q", se.Code, se.Reason, se.Message, tt.code, tt.reason, tt.message)
		}
		if !reflect.DeepEqual(se.Details, tt.details) {
			t.Errorf("%s: details = %#v, want %#v", tt.message, se.Details, tt.details)
		}
	}
}

// An Invalid error lists its causes in the message: one as is, several in brackets.
func TestNewInvalid(t *testing.T) {
	required := Cause{Reason: "FieldValueRequired", Message: "Required value", Field: "spec.containers[0].image"}
	duplicate := Cause{Reason: "FieldValueDuplicate", Message: `Duplicate value: "web"`, Field: "spec.containers[1].name"}
	tests := []struct {
		group, kind string
		causes      []Cause
		want        string
	}{
		{"", "Pod", []Cause{required}, `Pod "web" is invalid: spec.containers[0].image: Required value`},
		{"", "Pod", []Cause{required, duplicate},
			`Pod "web" is invalid: [spec.containers[0].image: Required value, spec.containers[1].name: Duplicate value: "web"]`},
		{"batch", "Job", nil, `Job.batch "web" is invalid`},
	}
	for _, tt := range tests {
		se := NewInvalid(tt.group, tt.kind, "web", tt.causes)
		if se.Code != 422 || se.Reason != "Invalid" || se.Message != tt.want {
			t.Errorf("got %d %s %q; want 422 Invalid %q", se.Code, se.Reason, se.Message, tt.want)
		}
		if causes, _ := se.Details["causes"].([]Cause); se.Details["kind"] != tt.kind || se.Details["name"] != "web" || !reflect.DeepEqual(causes, tt.causes) {
			t.Errorf("details = %v", se.Details)
		}
	}
}

func TestReasonForError(t *testing.T) {
	wrapped := fmt.Errorf("reading: %w", NewNotFound("", "pods", "web"))
	if !IsNotFound(wrapped) || IsAlreadyExists(wrapped) || ReasonForError(wrapped) != "NotFound" {
		t.Errorf("a wrapped NotFound: IsNotFound %v, IsAlreadyExists %v, reason %q",
			IsNotFound(wrapped), IsAlreadyExists(wrapped), ReasonForError(wrapped))
	}
	if !IsAlreadyExists(NewAlreadyExists("", "pods", "web")) || ReasonForError(errors.New("x")) != "" {
		t.Error("IsAlreadyExists or ReasonForError is wrong for a plain error")
	}
}

// writeError writes err through a recorder and decodes the Status it sent.
func writeError(t *testing.T, err error) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	WriteError(rec, err)
	var status map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil {
		t.Fatalf("the response is not JSON: %v\n%s", err, rec.Body)
	}
	return rec, status
}

func TestWriteError(t *testing.T) {
	rec, status := writeError(t, NewNotFound("", "pods", "web"))
	want := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": `pods "web" not found`, "reason": "NotFound", "code": 404.0,
		"details": map[string]any{"kind": "pods", "name": "web"}}
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" || !reflect.DeepEqual(status, want) {
		t.Errorf("got %d %s %v\nwant 404 application/json %v", rec.Code, rec.Header().Get("Content-Type"), status, want)
	}
	if rec.Header().Get("Retry-After") != "" {
		t.Errorf("Retry-After = %q on a NotFound", rec.Header().Get("Retry-After"))
	}
}

// Any error that is not a StatusError is the server's fault: a 500.
func TestWriteErrorOfAPlainError(t *testing.T) {
	rec, status := writeError(t, errors.New("disk full"))
	if rec.Code != 500 || status["reason"] != "InternalError" || status["message"] != "Internal error occurred: disk full" {
		t.Errorf("got %d %v; want a 500 InternalError", rec.Code, status)
	}
	rec, status = writeError(t, fmt.Errorf("creating: %w", NewBadRequest("no")))
	if rec.Code != 400 || status["reason"] != "BadRequest" || status["message"] != "no" {
		t.Errorf("a wrapped StatusError: got %d %v; want it as is", rec.Code, status)
	}
}

// A Status that advises a delay also says so in Retry-After, as kube-apiserver's responses do.
func TestWriteErrorSetsRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{NewTooManyRequests(1), "1"},
		{NewTimeout("slow", 5), "5"},
		{NewTooLargeResourceVersion(7, 5), "1"},
		{NewTimeout("slow", 0), ""},
	} {
		rec, status := writeError(t, tt.err)
		if got := rec.Header().Get("Retry-After"); got != tt.want {
			t.Errorf("%v: Retry-After = %q, want %q", tt.err, got, tt.want)
		}
		if details, _ := status["details"].(map[string]any); tt.want != "" && fmt.Sprint(details["retryAfterSeconds"]) != tt.want {
			t.Errorf("%v: details = %v", tt.err, details)
		}
	}
}

func TestCauseJSON(t *testing.T) {
	got, _ := json.Marshal([]Cause{{Reason: "FieldValueRequired", Message: "Required value", Field: "metadata.name"}, {Message: "disk full"}})
	const want = `[{"reason":"FieldValueRequired","message":"Required value","field":"metadata.name"},{"message":"disk full"}]`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestToStatus(t *testing.T) {
	status := ToStatus(NewExpired("too old resource version: 3 (7)"))
	if status["kind"] != "Status" || status["code"] != 410 || status["reason"] != "Expired" || status["details"] != nil {
		t.Errorf("ToStatus = %v", status)
	}
}
