// The services/proxy subresource: /api/v1/namespaces/{ns}/services/{id}/proxy/{path}
// forwards the request to an endpoint of the Service, and the answer back.
// {id} is "name", "name:port" or "scheme:name:port", the port a number or a
// port name, the scheme http (the default) or https. It runs after
// authentication and authorization, which see the verb of the HTTP method
// (get, create, update, patch, delete) on services/proxy, as in Kubernetes.
//
// What the backend gets: the request with its path below /proxy, its query
// and body; never the caller's credentials or identity headers; X-Forwarded-*
// saying where it came from. Hop-by-hop headers (Connection and the headers
// it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) are
// not forwarded, except that an Upgrade request (WebSocket, over HTTP/1.1)
// is passed on and, if the backend switches protocols, the two connections
// are joined. What the client gets: the backend's answer, with a redirect's
// Location rewritten to stay below the proxy path, and without the backend's
// CORS headers (this server's own CORS filter decides those).

package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// proxyMethods are the methods the subresource serves (Kubernetes'
// ProxyREST.ConnectMethods); any other is 405.
var proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// ServiceProxy serves the services/proxy subresource.
type ServiceProxy struct {
	resolver  *Resolver
	transport *http.Transport
}

// NewServiceProxy returns the subresource's handler, resolving Services
// with r. Its connections to backends are kept alive for reuse.
func NewServiceProxy(r *Resolver) *ServiceProxy {
	return &ServiceProxy{resolver: r, transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		// Endpoints are IP addresses, which a backend's certificate seldom
		// names: kube-apiserver's proxy transport does not verify them either.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as kube-apiserver's CreateProxyTransport
	}}
}

// Close closes the idle connections to backends.
func (p *ServiceProxy) Close() { p.transport.CloseIdleConnections() }

// Handler sends requests for services/proxy to the Service and every other
// request to next. It belongs after authorization: only what was allowed
// leaves this server.
func (p *ServiceProxy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := request.RequestInfoFrom(r.Context())
		if !info.IsResourceRequest || info.APIPrefix != "api" || info.APIVersion != "v1" || info.Resource != "services" ||
			info.Subresource != "proxy" || info.Namespace == "" {
			next.ServeHTTP(w, r)
			return
		}
		if err := p.serve(w, r, info); err != nil {
			apierrors.WriteError(w, err)
		}
	})
}

// serve resolves the Service and proxies the request to it.
func (p *ServiceProxy) serve(w http.ResponseWriter, r *http.Request, info request.RequestInfo) error {
	if !slices.Contains(proxyMethods, r.Method) {
		return apierrors.NewMethodNotAllowed()
	}
	scheme, name, port, ok := splitSchemeNamePort(info.Name)
	if !ok {
		return apierrors.NewBadRequest("invalid service request %q", info.Name)
	}
	hostPort, err := p.resolver.ResolveEndpoint(r.Context(), info.Namespace, name, port)
	if err != nil {
		return serviceError(err, name, port)
	}
	// The proxy's own path and what follows it, as the client escaped them:
	// "", api, v1, namespaces, {ns}, services, {id}, proxy, and the rest.
	// (A path RequestInfo reads the same but that is spelled otherwise,
	// "//api/..." say, is not served.)
	segments := strings.SplitN(r.URL.EscapedPath(), "/", 9)
	if len(segments) < 8 || segments[0] != "" || segments[1] != "api" || segments[7] != "proxy" {
		return apierrors.NewPathNotFound()
	}
	prefix, rest := strings.Join(segments[:8], "/"), ""
	if len(segments) == 9 {
		rest = "/" + segments[8]
	}
	if rest == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// A page's relative links work only below a path ending in "/".
		target := r.URL.EscapedPath() + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
		return nil
	}
	p.reverseProxy(scheme, hostPort, prefix, rest).ServeHTTP(w, r)
	return nil
}

// splitSchemeNamePort reads "name", "name:port" or "scheme:name:port"
// (k8s.io/apimachinery's SplitSchemeNamePort); the scheme is http or https.
func splitSchemeNamePort(id string) (scheme, name, port string, ok bool) {
	parts := strings.Split(id, ":")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		name, port = parts[0], parts[1]
	case 3:
		scheme, name, port = parts[0], parts[1], parts[2]
	default:
		return "", "", "", false
	}
	if name == "" || scheme != "" && scheme != "http" && scheme != "https" {
		return "", "", "", false
	}
	if scheme == "" {
		scheme = "http"
	}
	return scheme, name, port, true
}

// serviceError words a failed resolution as Kubernetes' service proxy does:
// a port number names a Service that must exist (404) and have that port
// (503); then there must be an address (503).
func serviceError(err error, name, port string) error {
	var re *ResolveError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case re.Reason == ServiceNotFound && apierrors.IsNotFound(re.Err):
		return apierrors.NewNotFound("", "services", name)
	case re.Reason == ServicePortError:
		return apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %s found for service %q", port, name))
	case re.Err != nil && !apierrors.IsNotFound(re.Err):
		return fmt.Errorf("resolving service %q: %w", name, re.Err)
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
}

// reverseProxy forwards to scheme://hostPort/rest. prefix is the proxy's
// own path, which redirects are rewritten to stay below.
func (p *ServiceProxy) reverseProxy(scheme, hostPort, prefix, rest string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = scheme, hostPort
			pr.Out.URL.RawPath = rest
			pr.Out.URL.Path, _ = url.PathUnescape(rest) // rest came from EscapedPath: it unescapes
			pr.Out.Host = ""                            // the backend's address, not this server's name
			StripIdentity(pr.Out.Header)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Uri", pr.In.URL.EscapedPath()) // the path the client sees
		},
		Transport:     p.transport,
		FlushInterval: -1, // streams (server-sent events, long polls) go through at once
		ModifyResponse: func(resp *http.Response) error {
			for name := range resp.Header {
				if strings.HasPrefix(name, "Access-Control-") {
					delete(resp.Header, name)
				}
			}
			if location := resp.Header.Get("Location"); location != "" {
				resp.Header.Set("Location", rewriteLocation(location, hostPort, prefix))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			apierrors.WriteError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", err)))
		},
	}
}

// rewriteLocation keeps a backend's redirect to itself below the proxy
// path: "/login" becomes "{prefix}/login", as does http://{backend}/login.
// A relative location is relative to the proxied path already, and one to
// another host is left alone (k8s.io/apimachinery's proxy Transport).
func rewriteLocation(location, backend, prefix string) string {
	u, err := url.Parse(location)
	if err != nil || u.Host != "" && u.Host != backend || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, prefix+"/") {
		return location
	}
	rewritten := prefix + u.EscapedPath()
	if u.RawQuery != "" {
		rewritten += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		rewritten += "#" + u.EscapedFragment()
	}
	return rewritten
}

// StripIdentity removes what only this server may act on: the caller's
// credentials (Authorization, which authentication has already removed,
// and Proxy-Authorization), impersonation requests, and X-Remote-* identity
// headers, which a backend behind a front proxy would believe. Names are
// compared in lower case: a client may send a name Go did not canonicalise.
func StripIdentity(h http.Header) {
	for name := range h {
		lower := strings.ToLower(name)
		if lower == "authorization" || lower == "proxy-authorization" ||
			strings.HasPrefix(lower, "x-remote-") || strings.HasPrefix(lower, "impersonate-") {
			delete(h, name) // as sent: Del would canonicalise the name
		}
	}
}
