// Reading a request's options: selectors, list options (limit, continue,
// resourceVersion, resourceVersionMatch), delete preconditions, dryRun,
// fieldValidation, and the body itself (JSON, or protobuf from kubectl).
//
// A list is consistent: every item is as of one revision, the list's
// resourceVersion. resourceVersion "" reads the latest; "0" any (the watch
// cache's revision, whole, or without a cache the latest); N "not older
// than N" (with limit and no match, exactly N: the legacy rule); N with
// resourceVersionMatch=Exact exactly N. With limit, a list comes in pages;
// the continue token names the revision of the first page and the key to go
// on after, so every page is read at that same revision, however many writes
// happen in between.
package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/selectors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

var errOptimisticLock = errors.New(apierrors.OptimisticLockErrorMsg)

// selectableFields are the fields a field selector may name besides
// metadata.name and metadata.namespace, per kind, as Kubernetes' field
// label conversion functions allow them (kubectl describe selects events by
// involvedObject).
var selectableFields = map[string][]string{
	"Pod":       {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP"},
	"Event":     {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "source", "type"},
	"Secret":    {"type"},
	"Namespace": {"status.phase"},
}

// parseSelectors reads labelSelector and fieldSelector into one predicate.
func parseSelectors(r *http.Request, res *registry.Resource) (func(object.Object) bool, error) {
	q := r.URL.Query()
	sel, err := selectors.Parse(q.Get("labelSelector"), q.Get("fieldSelector"), selectableFields[res.Kind]...)
	if err != nil {
		return nil, err
	}
	return func(o object.Object) bool { return sel.Matches(o) }, nil
}

func parseResourceVersion(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest("invalid resource version %q: a resourceVersion is a non-negative integer", rv)
	}
	return n, nil
}

// parseListOptions reads limit, continue, resourceVersion and resourceVersionMatch.
func (s *APIServer) parseListOptions(r *http.Request) (store.ListOptions, error) {
	query := r.URL.Query()
	var opts store.ListOptions
	if l := query.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return opts, apierrors.NewBadRequest("invalid limit %q: must be an integer", l)
		}
		opts.Limit = max(n, 0) // Kubernetes ignores a negative limit
	}
	rv, match, token := query.Get("resourceVersion"), query.Get("resourceVersionMatch"), query.Get("continue")
	if token != "" {
		if rv != "" || match != "" {
			return opts, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		rev, after, err := decodeContinue(token)
		if err != nil {
			return opts, err
		}
		opts.Revision, opts.After = rev, after
		return opts, nil
	}
	if match != "" && rv == "" {
		return opts, invalidListOptions("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if match != "" && match != "Exact" && match != "NotOlderThan" {
		return opts, invalidListOptions("FieldValueNotSupported",
			fmt.Sprintf(`Unsupported value: %q: supported values: "Exact", "NotOlderThan", ""`, match))
	}
	if rv == "" || rv == "0" {
		if match == "Exact" {
			return opts, invalidListOptions("FieldValueForbidden",
				fmt.Sprintf(`Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion %q`, rv))
		}
		opts.Any = rv == "0" // the watch cache's, if there is one
		return opts, nil     // the latest
	}
	n, err := parseResourceVersion(rv)
	if err != nil {
		return opts, err
	}
	switch {
	case match == "Exact" || match == "" && opts.Limit > 0:
		opts.Revision = n
	default: // not older than n: the latest, if the store has reached n
		if now, err := s.Store.Revision(r.Context()); err == nil && n > now {
			return opts, apierrors.NewTooLargeResourceVersion(n, now)
		}
	}
	return opts, nil
}

// invalidListOptions is the 422 for list options that do not go together,
// which Kubernetes finds validating the ListOptions object.
func invalidListOptions(reason, message string) error {
	return apierrors.NewInvalid("meta.k8s.io", "ListOptions", "", []apierrors.Cause{{Reason: reason, Message: message, Field: "resourceVersionMatch"}})
}

func errContinueExpired() error {
	return apierrors.NewExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
}

// continueToken is what a continue parameter holds: the revision of the
// first page and the last key returned. Like Kubernetes, base64 JSON.
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	After      string `json:"start"`
}

func encodeContinue(rev int64, after string) string {
	data, _ := json.Marshal(continueToken{"meta.k8s.io/v1", rev, after})
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(token string) (int64, string, error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	var c continueToken
	if err != nil || json.Unmarshal(data, &c) != nil || c.APIVersion != "meta.k8s.io/v1" || c.Revision <= 0 || !strings.HasPrefix(c.After, "/registry/") {
		return 0, "", apierrors.NewBadRequest("invalid continue token: it must be one returned by a previous list")
	}
	return c.Revision, c.After, nil
}

// checkRequest checks what every verb's request may carry: the dryRun
// parameter, the Accept header, and the name in the path.
func checkRequest(r *http.Request, name string) error {
	if err := checkDryRun(r, r.URL.Query()["dryRun"]); err != nil {
		return err
	}
	if err := checkAccept(r); err != nil {
		return err
	}
	return checkPathName(name)
}

// checkDryRun accepts dryRun=All (the write goes through everything but the
// store) and refuses anything else, as Kubernetes does.
func checkDryRun(r *http.Request, values []string) error {
	for _, v := range values {
		if v != "All" {
			return apierrors.NewInvalid("meta.k8s.io", optionsKind(r), "", []apierrors.Cause{{Reason: "FieldValueNotSupported",
				Message: fmt.Sprintf(`Unsupported value: %q: supported values: "All"`, values), Field: "dryRun"}})
		}
	}
	return nil
}

// optionsKind names the options a request's parameters are, as Kubernetes
// names them in its errors.
func optionsKind(r *http.Request) string {
	return map[string]string{http.MethodPost: "CreateOptions", http.MethodPut: "UpdateOptions",
		http.MethodPatch: "PatchOptions", http.MethodDelete: "DeleteOptions"}[r.Method]
}

// checkPathName refuses names that cannot be one segment of a path (the
// name of a stored object never is one of them): Kubernetes'
// IsValidPathSegmentName.
func checkPathName(name string) error {
	var problem string
	switch {
	case name == "." || name == "..":
		problem = fmt.Sprintf("may not be '%s'", name)
	case strings.Contains(name, "/"):
		problem = "may not contain '/'"
	case strings.Contains(name, "%"):
		problem = "may not contain '%'"
	default:
		return nil
	}
	return apierrors.NewBadRequest("Name parameter invalid: %q: %s", name, problem)
}

// checkAccept refuses a request whose Accept header admits no JSON answer
// (406). Answers are always JSON; YAML and protobuf are let through too,
// answered in JSON, since clients that ask for them read JSON as well.
func checkAccept(r *http.Request) error {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return nil
	}
	for _, part := range strings.Split(strings.Join(accept, ","), ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && slices.Contains([]string{"*/*", "application/*", "application/json", "application/yaml", protobufType}, mediaType) {
			return nil
		}
	}
	return &apierrors.StatusError{Code: http.StatusNotAcceptable, Reason: "NotAcceptable",
		Message: "406: Not Acceptable\n\nAvailable representations: application/json"}
}

type dryRunKey struct{}

// IsDryRun reports whether a request is a dry run: ?dryRun=All, or a
// DeleteOptions body that says so.
func IsDryRun(r *http.Request) bool { return isDryRun(r) }

func isDryRun(r *http.Request) bool {
	if on, _ := r.Context().Value(dryRunKey{}).(bool); on {
		return true
	}
	return slices.Contains(r.URL.Query()["dryRun"], "All")
}

// ReadObject reads a JSON or protobuf request body into an object (kubectl
// sends protobuf for built-in kinds).
func ReadObject(r *http.Request) (object.Object, error) {
	mediaType, body, err := object.ReadBody(r, "application/json", protobufType)
	if err != nil {
		return nil, err
	}
	if mediaType == protobufType {
		if body, err = protobufToJSON(body); err != nil {
			return nil, err
		}
	}
	obj, dups, err := object.DecodeWithDuplicates(body)
	if err != nil || mediaType == protobufType { // protobuf names no field twice
		return obj, err
	}
	return obj, checkDuplicateFields(r, obj, dups)
}

// checkDuplicateFields applies the fieldValidation parameter to the fields
// a JSON body names twice (the last value is kept): Strict refuses them
// (400), Warn (the default) warns of each, Ignore lets them be.
func checkDuplicateFields(r *http.Request, obj object.Object, dups []string) error {
	if len(dups) == 0 {
		return nil
	}
	quoted := make([]string, len(dups))
	for i, f := range dups {
		quoted[i] = fmt.Sprintf("duplicate field %q", f)
	}
	switch r.URL.Query().Get("fieldValidation") {
	case "Ignore":
	case "Strict":
		kind, _ := obj["kind"].(string)
		apiVersion, _ := obj["apiVersion"].(string)
		version := apiVersion[strings.LastIndex(apiVersion, "/")+1:]
		return apierrors.NewBadRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s",
			kind, version, kind, strings.Join(quoted, ", "))
	default:
		for _, q := range quoted {
			addWarning(r.Context(), q)
		}
	}
	return nil
}

// ReadPreconditions reads DeleteOptions (JSON or protobuf): the delete
// happens only if the object still has the preconditions' uid and
// resourceVersion (409 otherwise); dryRun ["All"] makes it a dry run.
func ReadPreconditions(r *http.Request, res *registry.Resource, name string) (func(object.Object) error, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	mediaType, body, err := object.ReadBody(r, "application/json", protobufType)
	if err != nil || len(body) == 0 {
		return nil, err
	}
	if mediaType == protobufType {
		if body, err = protobufToJSON(body); err != nil {
			return nil, err
		}
	}
	var options struct {
		DryRun        []string `json:"dryRun"`
		Preconditions *struct {
			UID             *string `json:"uid"`
			ResourceVersion *string `json:"resourceVersion"`
		} `json:"preconditions"`
	}
	if err := json.Unmarshal(body, &options); err != nil {
		return nil, apierrors.NewBadRequest("the body is not DeleteOptions: %v", err)
	}
	if err := checkDryRun(r, options.DryRun); err != nil { // kubectl delete --dry-run=server puts it here
		return nil, err
	}
	if len(options.DryRun) > 0 {
		*r = *r.WithContext(context.WithValue(r.Context(), dryRunKey{}, true))
	}
	if options.Preconditions == nil {
		return nil, nil
	}
	p := options.Preconditions
	return func(current object.Object) error {
		if p.UID != nil && *p.UID != current.MetaString("uid") {
			return apierrors.NewConflict(res.Group, res.Name, name,
				fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *p.UID, current.MetaString("uid")))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != current.MetaString("resourceVersion") {
			return apierrors.NewConflict(res.Group, res.Name, name,
				fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *p.ResourceVersion, current.MetaString("resourceVersion")))
		}
		return nil
	}, nil
}

// checkFieldValidation applies the fieldValidation parameter to the fields
// of obj a custom resource's schema does not know: Strict refuses them (400),
// Warn (the default) drops them with a warning each, Ignore drops them
// silently. Built-in objects are stored as sent, so for them only the
// parameter itself is checked.
func checkFieldValidation(r *http.Request, res *registry.Resource, obj object.Object) error {
	directive := r.URL.Query().Get("fieldValidation")
	switch directive {
	case "", "Ignore", "Warn", "Strict":
	default:
		return apierrors.NewInvalid("meta.k8s.io", optionsKind(r), "", []apierrors.Cause{{Reason: "FieldValueNotSupported",
			Message: fmt.Sprintf(`Unsupported value: %q: supported values: "", "Ignore", "Strict", "Warn"`, directive), Field: "fieldValidation"}})
	}
	custom, ok := res.Custom.(CustomResource)
	if !ok || directive == "Ignore" {
		return nil
	}
	unknown := custom.UnknownFields(obj)
	if len(unknown) == 0 {
		return nil
	}
	if directive == "Strict" {
		quoted := make([]string, len(unknown))
		for i, f := range unknown {
			quoted[i] = fmt.Sprintf("unknown field %q", f)
		}
		return apierrors.NewBadRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s",
			res.Kind, res.Version, res.Kind, strings.Join(quoted, ", "))
	}
	for _, f := range unknown {
		addWarning(r.Context(), fmt.Sprintf("unknown field %q", f))
	}
	return nil
}

// Warnings travel in the request's context to the response's Warning
// headers, which kubectl prints as "Warning: ...".
type warningsKey struct{}

func withWarnings(ctx context.Context) (context.Context, *[]string) {
	list := &[]string{}
	return context.WithValue(ctx, warningsKey{}, list), list
}

func addWarning(ctx context.Context, message string) {
	if list, ok := ctx.Value(warningsKey{}).(*[]string); ok {
		*list = append(*list, message)
	}
}

func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}
