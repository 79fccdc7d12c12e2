// CORS: a web page served from another origin may call the API only if its
// origin matches --cors-allowed-origins (k8s.io/apiserver's
// pkg/server/filters/cors.go). The filter sits just outside authentication,
// as in DefaultBuildHandlerChain: a browser sends its preflight OPTIONS
// without credentials, so it must be answered before they are asked for.

package filters

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The answers kube-apiserver gives an allowed origin: it passes no lists of
// its own to WithCORS, so these are k8s.io/apiserver's defaults.
const (
	corsAllowMethods  = "POST, GET, OPTIONS, PUT, DELETE, PATCH"
	corsAllowHeaders  = "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, X-Requested-With, If-Modified-Since"
	corsExposeHeaders = "Date"
)

// CompileCORSOrigins compiles --cors-allowed-origins. Like kube-apiserver, it
// refuses an expression that cannot be pinned to the start of the host ("^"
// or "//") and to its end ("$" or ":"): an unpinned "example.com" would also
// allow https://example.com.evil.test (CVE-2022-1996). A pattern matches
// anywhere in the Origin header, so the pins are the caller's to write.
func CompileCORSOrigins(patterns []string) ([]*regexp.Regexp, error) {
	var res []*regexp.Regexp
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("empty value in --cors-allowed-origins")
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("--cors-allowed-origins has an invalid regular expression: %w", err)
		}
		pinStart := strings.Contains(p, "^") || strings.Contains(p, "//")
		pinEnd := strings.Contains(p, "$") || strings.Contains(p, ":")
		if !pinStart || !pinEnd {
			return nil, fmt.Errorf("--cors-allowed-origins has an invalid regular expression: %s: regular expression does not pin to start/end of host in the origin header (pin it with ^ or //, and $ or :, as in //example\\.com(:|$))", p)
		}
		res = append(res, re)
	}
	return res, nil
}

// WithCORS sets the CORS headers on responses to requests whose Origin
// matches one of allowed, and answers their preflight OPTIONS with 204 at
// once. Any other request passes through untouched: a browser then sees no
// Access-Control-Allow-Origin and hides the response from the page. With no
// patterns there is no filter at all, as in Kubernetes.
func WithCORS(next http.Handler, allowed []*regexp.Regexp) http.Handler {
	if len(allowed) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !originAllowed(origin, allowed) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin) // the origin itself: "*" forbids credentials
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions { // the preflight: nothing more to do
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originAllowed(origin string, allowed []*regexp.Regexp) bool {
	for _, re := range allowed {
		if re.MatchString(origin) {
			return true
		}
	}
	return false
}
