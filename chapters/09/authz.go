// Authorization: may this user do what the RequestInfo says? Authorizers
// answer allow, deny or "no opinion"; --authorization-mode lists them in
// order and the first decisive answer wins, as in kube-apiserver. With no
// decision the answer is no. Members of system:masters are allowed
// everything before any authorizer is asked.
package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

type decision int

const (
	noOpinion decision = iota
	allow
	deny
)

type authorizer interface {
	authorize(attr attributes) decision
}

type alwaysAllow struct{}

func (alwaysAllow) authorize(attributes) decision { return allow }

type alwaysDeny struct{}

func (alwaysDeny) authorize(attributes) decision { return deny }

// authorizers is the --authorization-mode chain.
type authorizers []authorizer

func (as authorizers) authorize(attr attributes) decision {
	if slices.Contains(attr.user.Groups, "system:masters") {
		return allow
	}
	for _, a := range as {
		if d := a.authorize(attr); d != noOpinion {
			return d
		}
	}
	return deny
}

// newAuthorizers reads --authorization-mode, refusing modes it does not know.
func newAuthorizers(modes string, rbac *rbacAuthorizer) (authorizers, error) {
	var as authorizers
	for _, mode := range strings.Split(modes, ",") {
		switch strings.TrimSpace(mode) {
		case "RBAC":
			as = append(as, rbac)
		case "AlwaysAllow":
			as = append(as, alwaysAllow{})
		case "AlwaysDeny":
			as = append(as, alwaysDeny{})
		default:
			return nil, fmt.Errorf("--authorization-mode: %q is not implemented (use RBAC, AlwaysAllow, AlwaysDeny)", mode)
		}
	}
	return as, nil
}

// withRequestInfoFilter resolves the RequestInfo once, for every later filter.
func withRequestInfoFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withRequestInfo(r.Context(), resolveRequestInfo(r))))
	})
}

// withAuthorization answers 403 unless the authorizers allow the request.
func withAuthorization(next http.Handler, a authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attr := attributes{user: userFrom(r.Context()), requestInfo: requestInfoFrom(r.Context())}
		if a.authorize(attr) != allow {
			writeError(w, errForbiddenRequest(attr, ""))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errForbiddenRequest words a 403 the way kube-apiserver does, e.g.
// pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default".
func errForbiddenRequest(attr attributes, reason string) error {
	if !attr.IsResourceRequest {
		msg := fmt.Sprintf("forbidden: User %q cannot %s path %q", attr.user.Name, attr.Verb, attr.Path)
		return &statusError{http.StatusForbidden, "Forbidden", withReason(msg, reason), map[string]any{}}
	}
	resource := attr.Resource
	if attr.Subresource != "" {
		resource += "/" + attr.Subresource
	}
	what := attr.Resource
	if attr.APIGroup != "" {
		what += "." + attr.APIGroup
	}
	if attr.Name != "" {
		what += fmt.Sprintf(" %q", attr.Name)
	}
	scope := "at the cluster scope"
	if attr.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", attr.Namespace)
	}
	msg := fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q %s",
		what, attr.user.Name, attr.Verb, resource, attr.APIGroup, scope)
	return &statusError{http.StatusForbidden, "Forbidden", withReason(msg, reason),
		map[string]any{"name": attr.Name, "group": attr.APIGroup, "kind": attr.Resource}}
}

func withReason(msg, reason string) string {
	if reason == "" {
		return msg
	}
	return msg + ": " + reason
}
