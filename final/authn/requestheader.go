// Front-proxy authentication: an authenticating proxy in front of the server
// (or this server, in front of an extension server) has already found out who
// the caller is, and says so in X-Remote-User, X-Remote-Group and
// X-Remote-Extra-* headers. Anyone can send those headers, so they are
// believed only over a client certificate of the front-proxy CA.
package authn

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// RequestHeader is kube-apiserver's --requestheader-* authenticator:
// k8s.io/apiserver's request/x509 Verifier (the certificate check) around
// request/headerrequest (the header reading). The usual configuration names
// X-Remote-User, X-Remote-Group and X-Remote-Extra-, and allows the CN of the
// proxy's client certificate (front-proxy-client).
type RequestHeader struct {
	// Roots is --requestheader-client-ca-file: the CA of the proxies.
	Roots *x509.CertPool
	// AllowedNames is --requestheader-allowed-names: the common names a
	// proxy's certificate may have. Empty: any the CA signed.
	AllowedNames []string
	// UsernameHeaders is --requestheader-username-headers; the first with a
	// non-empty value names the user.
	UsernameHeaders []string
	// GroupHeaders is --requestheader-group-headers; every value of every one
	// is a group.
	GroupHeaders []string
	// ExtraHeaderPrefixes is --requestheader-extra-headers-prefix: a header
	// X-Remote-Extra-Scopes: a is the extra "scopes": ["a"].
	ExtraHeaderPrefixes []string
}

// AuthenticateRequest implements Authenticator.
//
// No client certificate: not its business, and the identity headers are not
// believed (another authenticator may know the caller; the headers then mean
// nothing). A certificate that does not verify against Roots, or has a common
// name not allowed: an error. A proxy that names no user: not its business,
// as in Kubernetes, so that the proxy's own certificate is judged by the
// next authenticator (X509 refuses it). Once believed, the identity headers
// are removed from the request, so that nothing after this sees them twice.
func (a RequestHeader) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	leaf, ok, err := verifyClientCert(r, a.Roots)
	if !ok || err != nil {
		return nil, false, err
	}
	// Every certificate the front-proxy CA signed passes the chain check; the
	// allowed names narrow it to the proxy's own.
	if len(a.AllowedNames) > 0 && !slices.Contains(a.AllowedNames, leaf.Subject.CommonName) {
		return nil, false, fmt.Errorf("x509: subject with cn=%s is not in the allowed list", leaf.Subject.CommonName)
	}
	name := firstHeaderValue(r.Header, a.UsernameHeaders)
	if name == "" {
		return nil, false, nil
	}
	user := &request.User{
		Name:   name,
		Groups: allHeaderValues(r.Header, a.GroupHeaders),
		Extra:  extraHeaders(r.Header, a.ExtraHeaderPrefixes),
	}
	a.clearHeaders(r.Header)
	return user, true, nil
}

// Header names are case-insensitive (RFC 9110). net/http's server
// canonicalises them, but an http.Header built by hand may hold any spelling,
// so every reading and every removal below compares names with EqualFold:
// what is read as identity is exactly what is removed.

// headerKeys lists the keys of h that are the header name (any spelling),
// sorted so that the order of values never depends on map iteration.
func headerKeys(h http.Header, name string) []string {
	var keys []string
	for k := range h {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// firstHeaderValue is the first non-empty value of the first header, in
// names' order, that has one.
func firstHeaderValue(h http.Header, names []string) string {
	for _, name := range names {
		for _, k := range headerKeys(h, name) {
			for _, v := range h[k] {
				if v != "" {
					return v
				}
			}
		}
	}
	return ""
}

// allHeaderValues is every value of every named header, each as it is: a
// repeated header is several groups, and a comma belongs to a group's name.
// Empty values are skipped, as Kubernetes does.
func allHeaderValues(h http.Header, names []string) []string {
	var out []string
	for _, name := range names {
		for _, k := range headerKeys(h, name) {
			for _, v := range h[k] {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// prefixedKeys lists the keys of h that start with prefix (any spelling),
// sorted. An empty prefix matches nothing: it is a configuration mistake
// (Kubernetes refuses it), and would otherwise take every header for an extra.
func prefixedKeys(h http.Header, prefix string) []string {
	if prefix == "" {
		return nil
	}
	var keys []string
	for k := range h {
		if len(k) >= len(prefix) && strings.EqualFold(k[:len(prefix)], prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// extraHeaders reads the extra headers. A header name may not hold every
// character an extra's key may, and loses its case on the way, so the key is
// lowercased and then URL-unescaped: X-Remote-Extra-Example.com%2fScope is
// "example.com/scope". A malformed escape is kept as sent, as Kubernetes does.
func extraHeaders(h http.Header, prefixes []string) map[string][]string {
	out := map[string][]string{}
	for _, prefix := range prefixes {
		for _, k := range prefixedKeys(h, prefix) {
			key := strings.ToLower(k[len(prefix):])
			if unescaped, err := url.PathUnescape(key); err == nil {
				key = unescaped
			}
			out[key] = append(out[key], h[k]...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// clearHeaders removes every identity header, in any spelling.
func (a RequestHeader) clearHeaders(h http.Header) {
	for _, name := range slices.Concat(a.UsernameHeaders, a.GroupHeaders) {
		for _, k := range headerKeys(h, name) {
			delete(h, k)
		}
	}
	for _, prefix := range a.ExtraHeaderPrefixes {
		for _, k := range prefixedKeys(h, prefix) {
			delete(h, k)
		}
	}
}
