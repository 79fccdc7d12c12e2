// The authentication filter. Filters wrap the router, each a plain
// func(http.Handler) http.Handler; main.go's filters puts them in
// kube-apiserver's order (authz.go and impersonation.go hold the others).
package main

import (
	"log"
	"net/http"
)

// withAuthentication finds out who is calling, puts the user in the request
// context, and answers 401 to a request whose credentials do not check out.
func withAuthentication(next http.Handler, chain requestAuthenticator, anonymous bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := authenticate(chain, anonymous, r)
		if err != nil {
			log.Printf("authentication failed for %s %s: %v", r.Method, r.URL.Path, err)
			writeError(w, errUnauthorized())
			return
		}
		// The credential has done its job; handlers never see it.
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
	})
}
