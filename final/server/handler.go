// The handler chain, in kube-apiserver's order (DefaultBuildHandlerChain in
// k8s.io/apiserver/pkg/server/config.go), outermost first:
//
//	panic recovery -> RequestInfo -> timeout -> authentication -> audit
//	  -> impersonation -> max in flight -> authorization -> aggregator -> routes
package server

import (
	"net/http"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authz"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// routes are the API's routes and the server's own endpoints.
func (s *Server) routes() http.Handler {
	r := s.api.Routes()
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		r.Handle(path, http.HandlerFunc(s.serveHealth)).Methods(http.MethodGet)
	}
	return r
}

// filters wraps the routes in the chain.
func (s *Server) filters(routes http.Handler, authenticator authn.Authenticator, authorizer authz.Authorizer) http.Handler {
	// The aggregator proxies only what authorization allowed.
	h := authz.WithAuthorization(s.aggregator.Handler(routes), authorizer)
	h = authz.WithImpersonation(h, authorizer)
	h = authn.WithAuthentication(h, authenticator, s.opts.AnonymousAuth)
	return withRequestInfo(h)
}

func withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), request.Resolve(r))))
	})
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.backend.Revision(r.Context()); err != nil {
		http.Error(w, "storage: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}
