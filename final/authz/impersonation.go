// Impersonation: a user allowed the "impersonate" verb may act as another
// (kubectl --as, --as-group, --as-uid). Each part of the new identity is
// authorized on its own; the request then goes on as that user
// (k8s.io/apiserver/pkg/endpoints/filters/impersonation).

package authz

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// The headers of authentication.k8s.io/v1 that ask for impersonation.
const (
	impersonateUser        = "Impersonate-User"
	impersonateGroup       = "Impersonate-Group"
	impersonateUID         = "Impersonate-Uid"
	impersonateExtraPrefix = "Impersonate-Extra-"
)

// impersonation is one thing a request asks to act as, and the question
// that must be allowed for it: impersonate on users, groups,
// serviceaccounts, uids or userextras.
type impersonation struct {
	attrs Attributes
	apply func(u *request.User)
}

// WithImpersonation runs after authentication and before authorization.
// A request with Impersonate-* headers is served as the user they name,
// if the authenticated user may impersonate every part of it; otherwise it
// is a 403 that names the first part refused.
func WithImpersonation(next http.Handler, a Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked, err := impersonations(r.Header)
		if err != nil {
			apierrors.WriteError(w, err)
			return
		}
		if len(asked) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		requester := request.UserFrom(r.Context())
		if requester == nil {
			apierrors.WriteError(w, apierrors.NewInternalError(errors.New("no user found for request")))
			return
		}
		target := &request.User{Groups: []string{}, Extra: map[string][]string{}}
		for _, imp := range asked {
			imp.attrs.User, imp.attrs.Verb, imp.attrs.ResourceRequest = requester, "impersonate", true
			decision, reason, err := a.Authorize(r.Context(), imp.attrs)
			if err != nil || decision != Allow {
				apierrors.WriteError(w, ForbiddenError(imp.attrs, reason))
				return
			}
			imp.apply(target)
		}
		addDefaultGroup(target)
		if len(target.Extra) == 0 {
			target.Extra = nil
		}
		for header := range r.Header {
			if strings.HasPrefix(header, "Impersonate-") {
				r.Header.Del(header)
			}
		}
		next.ServeHTTP(w, r.WithContext(request.WithUser(r.Context(), target)))
	})
}

// impersonations reads the headers, in Kubernetes' order: the user (or
// service account), the groups, the extra values, the uid. Groups, extra
// or a uid without a user are a 400.
func impersonations(h http.Header) ([]impersonation, error) {
	var asked []impersonation
	name := h.Get(impersonateUser)
	_, groupsGiven := h[impersonateGroup]
	if name != "" {
		asked = append(asked, impersonateName(name, groupsGiven))
	}
	for _, g := range h.Values(impersonateGroup) {
		asked = append(asked, impersonation{Attributes{Resource: "groups", Name: g},
			func(u *request.User) { u.Groups = append(u.Groups, g) }})
	}
	for header, values := range h {
		encoded, ok := strings.CutPrefix(header, impersonateExtraPrefix)
		if !ok {
			continue
		}
		key := strings.ToLower(encoded)
		if unescaped, err := url.PathUnescape(key); err == nil { // keys with "/" arrive %-encoded
			key = unescaped
		}
		for _, v := range values {
			asked = append(asked, impersonation{
				Attributes{APIGroup: "authentication.k8s.io", APIVersion: "v1", Resource: "userextras", Subresource: key, Name: v},
				func(u *request.User) { u.Extra[key] = append(u.Extra[key], v) }})
		}
	}
	if uid := h.Get(impersonateUID); uid != "" {
		asked = append(asked, impersonation{Attributes{APIGroup: "authentication.k8s.io", APIVersion: "v1", Resource: "uids", Name: uid},
			func(u *request.User) { u.UID = uid }})
	}
	if name == "" && len(asked) > 0 {
		return nil, apierrors.NewBadRequest("impersonating groups, a uid or extra fields requires impersonating a user too (Impersonate-User)")
	}
	return asked, nil
}

// impersonateName: system:serviceaccount:<ns>:<name> is impersonating a
// service account (authorized on serviceaccounts, in its namespace), which
// comes with its groups unless groups are given; anything else is a user.
func impersonateName(name string, groupsGiven bool) impersonation {
	if ns, sa, ok := splitServiceAccount(name); ok {
		return impersonation{Attributes{Resource: "serviceaccounts", Namespace: ns, Name: sa},
			func(u *request.User) {
				u.Name = name
				if !groupsGiven {
					u.Groups = append(u.Groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
				}
			}}
	}
	return impersonation{Attributes{Resource: "users", Name: name}, func(u *request.User) { u.Name = name }}
}

// splitServiceAccount reads a service account's user name, as Kubernetes'
// serviceaccount.SplitUsername: exactly a namespace and a name, both valid.
func splitServiceAccount(name string) (namespace, sa string, ok bool) {
	rest, isSA := strings.CutPrefix(name, serviceAccountPrefix)
	parts := strings.Split(rest, ":")
	if !isSA || len(parts) != 2 || object.ValidateDNS1123Label(parts[0]) != "" || object.ValidateDNS1123Subdomain(parts[1]) != "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// addDefaultGroup: as in Kubernetes, system:anonymous is in
// system:unauthenticated, and anyone else in system:authenticated unless
// the groups asked for already say which.
func addDefaultGroup(u *request.User) {
	if u.Name == request.UserAnonymous {
		if !slices.Contains(u.Groups, request.GroupUnauthenticated) {
			u.Groups = append(u.Groups, request.GroupUnauthenticated)
		}
		return
	}
	if !slices.Contains(u.Groups, request.GroupAuthenticated) && !slices.Contains(u.Groups, request.GroupUnauthenticated) {
		u.Groups = append(u.Groups, request.GroupAuthenticated)
	}
}
