// Package filters holds the filters that protect the server itself, each a
// func(http.Handler) http.Handler named as k8s.io/apiserver names it: the
// RequestInfo resolved once for every filter after it, CORS for web pages of
// other origins, the in-flight limit (429), the request timeout (504) and
// panic recovery (500). Kubernetes keeps them in
// k8s.io/apiserver/pkg/server/filters and pkg/endpoints/filters.
package filters

import (
	"net/http"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// WithRequestInfo resolves what the request asks for (a verb on a resource,
// or on a path) and puts it in the context, for every filter and handler
// after it.
func WithRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), request.Resolve(r))))
	})
}

// kube-apiserver's long-running requests (pkg/controlplane/apiserver/config.go:
// BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"),
// sets.NewString("attach", "exec", "proxy", "log", "portforward"))).
var (
	longRunningVerbs        = []string{"watch", "proxy"}
	longRunningSubresources = []string{"attach", "exec", "proxy", "log", "portforward"}
)

// LongRunning tells whether a request may stay open for as long as the client
// wants: a watch, a proxied connection, exec, attach, port forwarding or a
// pod's log (kube-apiserver counts every log request, followed or not).
// Long-running requests are exempt from the in-flight limit and the timeout.
func LongRunning(r *http.Request) bool {
	info := request.RequestInfoFrom(r.Context())
	if info.Verb == "" { // called before WithRequestInfo
		info = request.Resolve(r)
	}
	if slices.Contains(longRunningVerbs, info.Verb) {
		return true
	}
	if info.IsResourceRequest && slices.Contains(longRunningSubresources, info.Subresource) {
		return true
	}
	return !info.IsResourceRequest && strings.HasPrefix(info.Path, "/debug/pprof/")
}
