// The handler chain, in kube-apiserver's order (DefaultBuildHandlerChain in
// k8s.io/apiserver/pkg/server/config.go), outermost first:
//
//	grown stack -> panic recovery -> RequestInfo -> metrics -> timeout -> CORS -> authentication
//	  -> audit -> impersonation -> max in flight -> authorization -> aggregator
//	  -> services/proxy -> routes
//
// Health and metrics are routes like the API's: RBAC's bootstrap policy lets
// anyone read /healthz, /livez and /readyz, and only admins /metrics.
package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/audit"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authz"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/filters"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/healthz"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/metrics"
)

// routes are the API's routes and the server's own endpoints.
func (s *Server) routes(m *metrics.Metrics) http.Handler {
	r := s.api.Routes()
	storageCheck := healthz.Check{Name: "etcd", Fn: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // a store that does not answer fails the check
		defer cancel()
		if _, err := s.backend.Revision(ctx); err != nil {
			return fmt.Errorf("the store does not answer: %w", err)
		}
		return nil
	}}
	live := []healthz.Check{healthz.Ping, storageCheck}
	ready := append(live, healthz.Shutdown(s.stopping))
	for path, checks := range map[string][]healthz.Check{"/healthz": live, "/livez": live, "/readyz": ready} {
		h := healthz.Handler(path, checks...)
		r.Handle(path, h).Methods(http.MethodGet)
		r.PathPrefix(path + "/").Handler(h).Methods(http.MethodGet)
	}
	r.Handle("/metrics", m.Handler()).Methods(http.MethodGet)
	if s.opts.Profiling {
		// Go's own profiles: /debug/pprof/profile?seconds=N for CPU, /heap,
		// /goroutine?debug=2. Long-running, like a watch (filters.LongRunning).
		r.HandleFunc("/debug/pprof/profile", pprof.Profile)
		r.HandleFunc("/debug/pprof/trace", pprof.Trace)
		r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		r.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index) // the index and the named profiles
		if s.opts.ContentionProfiling {
			runtime.SetBlockProfileRate(1)
			runtime.SetMutexProfileFraction(1)
		}
	}
	return r
}

// filters wraps the routes in the chain.
func (s *Server) filters(routes http.Handler, authenticator authn.Authenticator, authorizer authz.Authorizer,
	m *metrics.Metrics, policy *audit.Policy, sink audit.Sink) http.Handler {
	o := s.opts
	// The aggregator and the services/proxy subresource proxy only what
	// authorization allowed.
	h := authz.WithAuthorization(s.aggregator.Handler(s.serviceProxy.Handler(routes)), authorizer)
	h = filters.WithMaxInFlightLimit(h, o.MaxRequestsInflight, o.MaxMutatingRequestsInflight, filters.LongRunning)
	h = audit.WithImpersonatedUser(h)
	h = authz.WithImpersonation(h, authorizer)
	h = audit.WithAudit(h, policy, sink)
	h = authn.WithAuthentication(h, authenticator, o.AnonymousAuth)
	cors, _ := filters.CompileCORSOrigins(o.CORSAllowedOrigins) // ParseOptions checked them
	h = filters.WithCORS(h, cors)                               // a preflight carries no credentials
	h = filters.WithTimeout(h, o.RequestTimeout, filters.LongRunning)
	h = metrics.WithMetrics(h, m) // outside authentication, the limit and the timeout: 401, 429 and 504 count too
	h = filters.WithRequestInfo(h)
	h = filters.WithPanicRecovery(h)
	return filters.WithGrownStack(h)
}
