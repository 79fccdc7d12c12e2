// Impersonation: a caller allowed the "impersonate" verb may act as another
// user (kubectl --as, --as-group). The Impersonate-* headers name who; each
// part of the new identity is authorized separately, and the request then
// goes on as that user.
package main

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// withImpersonation runs after authentication and before authorization.
func withImpersonation(next http.Handler, a authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get("Impersonate-User")
		groups := r.Header.Values("Impersonate-Group")
		uid := r.Header.Get("Impersonate-Uid")
		extra := map[string][]string{}
		for header, values := range r.Header {
			if key, ok := strings.CutPrefix(header, "Impersonate-Extra-"); ok {
				extra[strings.ToLower(key)] = values
			}
		}
		if name == "" {
			if len(groups) > 0 || uid != "" || len(extra) > 0 {
				writeError(w, errBadRequest("impersonating groups, a uid or extra fields requires impersonating a user too"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}

		requester := userFrom(r.Context())
		check := func(info requestInfo) bool {
			info.IsResourceRequest, info.Verb = true, "impersonate"
			if a.authorize(attributes{user: requester, requestInfo: info}) == allow {
				return true
			}
			writeError(w, errForbiddenRequest(attributes{user: requester, requestInfo: info}, ""))
			return false
		}
		target := &userInfo{Name: name, UID: uid, Extra: extra}
		if ns, sa, ok := strings.Cut(strings.TrimPrefix(name, "system:serviceaccount:"), ":"); ok && strings.HasPrefix(name, "system:serviceaccount:") {
			if !check(requestInfo{Resource: "serviceaccounts", Namespace: ns, Name: sa}) {
				return
			}
			target.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
		} else if !check(requestInfo{Resource: "users", Name: name}) {
			return
		}
		for _, g := range groups {
			if !check(requestInfo{Resource: "groups", Name: g}) {
				return
			}
			target.Groups = append(target.Groups, g)
		}
		if uid != "" && !check(requestInfo{APIGroup: "authentication.k8s.io", Resource: "uids", Name: uid}) {
			return
		}
		for key, values := range extra {
			for _, v := range values {
				if !check(requestInfo{APIGroup: "authentication.k8s.io", Resource: "userextras", Subresource: key, Name: v}) {
					return
				}
			}
		}
		// As in kube-apiserver: system:anonymous is in system:unauthenticated,
		// anyone else in system:authenticated unless asked to be unauthenticated.
		switch {
		case name == userAnonymous:
			if !slices.Contains(target.Groups, groupUnauthenticated) {
				target.Groups = append(target.Groups, groupUnauthenticated)
			}
		case !slices.Contains(target.Groups, groupUnauthenticated):
			target = authenticated(target)
		}
		for header := range r.Header {
			if strings.HasPrefix(header, "Impersonate-") {
				r.Header.Del(textproto.CanonicalMIMEHeaderKey(header))
			}
		}
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), target)))
	})
}
