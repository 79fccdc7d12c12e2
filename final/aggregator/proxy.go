// The proxy: requests for a remote APIService go to its extension server,
// with the caller's identity, after this server authenticated and authorized
// them (kube-aggregator's pkg/apiserver/handler_proxy.go).

package aggregator

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/proxy"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// Handler sends the requests of remote APIServices to their servers and
// everything else to local, this server's own routes. It belongs after
// authentication and authorization: an extension sees only requests this
// server allowed. It answers /apis/{group} itself for the extensions' groups.
func (a *Aggregator) Handler(local http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if group, ok := strings.CutPrefix(r.URL.Path, "/apis/"); ok && group != "" && !strings.Contains(group, "/") && r.Method == http.MethodGet {
			if versions := a.remoteVersions(group); len(versions) > 0 {
				apierrors.WriteJSON(w, http.StatusOK, apiGroupOf(group, versions))
				return
			}
		}
		svc := a.lookup(r.URL.Path)
		if svc == nil {
			local.ServeHTTP(w, r)
			return
		}
		if !svc.available {
			apierrors.WriteError(w, apierrors.NewServiceUnavailable(
				fmt.Sprintf("the APIService %s is not available: %s: %s", svc.name, svc.reason, svc.message)))
			return
		}
		a.proxy(svc).ServeHTTP(w, r)
	})
}

// lookup finds the remote APIService that serves a path, if any:
// /apis/{group}/{version} and everything below it, and the OpenAPI document
// of that group version, /openapi/v3/apis/{group}/{version}.
func (a *Aggregator) lookup(path string) *apiService {
	if rest, ok := strings.CutPrefix(path, "/openapi/v3/"); ok {
		path = "/" + rest
	}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if len(parts) < 3 || parts[0] != "apis" {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if svc := a.served[parts[1]+"/"+parts[2]]; svc != nil && !svc.local {
		return svc
	}
	return nil
}

// proxy forwards one request to the extension. Whatever identity headers the
// client sent are dropped; the ones set here are the only ones the extension
// sees, and our client certificate is what makes it believe them.
func (a *Aggregator) proxy(svc *apiService) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "https", svc.endpoint, ""
			proxy.StripIdentity(pr.Out.Header)
			user := request.UserFrom(pr.In.Context())
			if user == nil {
				return // no identity: the extension will refuse the request
			}
			pr.Out.Header.Set("X-Remote-User", user.Name)
			if user.UID != "" && a.Features.Enabled(features.RemoteRequestHeaderUID) {
				pr.Out.Header.Set("X-Remote-Uid", user.UID)
			}
			for _, g := range user.Groups {
				pr.Out.Header.Add("X-Remote-Group", g)
			}
			for key, values := range user.Extra {
				for _, v := range values {
					pr.Out.Header.Add("X-Remote-Extra-"+escapeHeaderKey(key), v)
				}
			}
		},
		Transport:     svc.transport,
		FlushInterval: -1, // watches stream through at once
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			apierrors.WriteError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", err)))
		},
	}
}

// escapeHeaderKey percent-encodes what may not appear in a header name (and
// "%" itself), so that an extra key such as "example.com/scopes" can travel
// in one; the extension URL-unescapes it (Kubernetes' headerKeyEscape).
func escapeHeaderKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c != '%' && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&'*+-.^_`|~", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
