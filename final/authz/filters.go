// The authorization filter and the 403 it answers, worded as kube-apiserver
// words it (k8s.io/apiserver/pkg/endpoints/filters/authorization.go and
// endpoints/handlers/responsewriters/errors.go).

package authz

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// WithAuthorization lets a request through only if a allows it. It runs
// after authentication and impersonation, so the user in the context is
// the one the request acts as, and reads the RequestInfo resolved before them.
func WithAuthorization(next http.Handler, a Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := request.RequestInfoFrom(r.Context())
		if info == (request.RequestInfo{}) { // nothing resolved it: the filters are wired wrong
			apierrors.WriteError(w, apierrors.NewInternalError(errors.New("no RequestInfo found in the context")))
			return
		}
		attrs := withSelectors(AttributesFor(request.UserFrom(r.Context()), info), r.URL.Query())
		decision, reason, err := a.Authorize(r.Context(), attrs)
		// An authorizer may fail on part of its policy and still allow (RBAC
		// does when one binding's role is missing), so the decision comes first.
		switch {
		case decision == Allow:
			next.ServeHTTP(w, r)
		case err != nil:
			apierrors.WriteError(w, apierrors.NewInternalError(err))
		default:
			apierrors.WriteError(w, ForbiddenError(attrs, reason))
		}
	})
}

// withSelectors adds what a collection request's query says about it, as
// kube-apiserver's RequestInfo does: the fieldSelector of a list, watch or
// deletecollection, and for a list or watch of metadata.name=<name> that
// name, so that a rule for one object (RBAC's resourceNames, a kubelet's
// own Node) covers watching that one object.
func withSelectors(a Attributes, query url.Values) Attributes {
	if !a.ResourceRequest || !slices.Contains([]string{"list", "watch", "deletecollection"}, a.Verb) {
		return a
	}
	a.FieldSelector = query.Get("fieldSelector")
	if a.Verb == "deletecollection" || a.Name != "" {
		return a
	}
	for _, req := range equalityRequirements(a.FieldSelector) {
		if name := req[1]; req[0] == "metadata.name" && name != "" && object.ValidatePathSegmentName(name) == "" {
			a.Name = name
			break
		}
	}
	return a
}

// sanitizer keeps a 403 from looking like HTML, whatever the path or the
// user name holds; quotes are fine.
var sanitizer = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;")

// ForbiddenError is the 403 for a request that a was refused, with the
// authorizer's reason (if any) after a colon, as kube-apiserver writes it:
//
//	pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"
//	jobs.batch is forbidden: User "alice" cannot list resource "jobs" in API group "batch" at the cluster scope
//	forbidden: User "alice" cannot get path "/metrics"
func ForbiddenError(a Attributes, reason string) *apierrors.StatusError {
	msg := sanitizer.Replace(forbiddenMessage(a))
	if reason != "" {
		msg += ": " + reason
	}
	if !a.ResourceRequest {
		return apierrors.NewForbidden("", "", "", errors.New(msg))
	}
	return apierrors.NewForbidden(a.APIGroup, a.Resource, a.Name, errors.New(msg))
}

func forbiddenMessage(a Attributes) string {
	username := ""
	if a.User != nil {
		username = a.User.Name
	}
	if !a.ResourceRequest {
		return fmt.Sprintf("User %q cannot %s path %q", username, a.Verb, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", username, a.Verb, resource, a.APIGroup, a.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", username, a.Verb, resource, a.APIGroup)
}
