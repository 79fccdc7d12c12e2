// Front-proxy authentication, as k8s.io/apiserver's request-header
// authenticator does it. The main server says who the caller is in X-Remote-*
// headers; anyone can send those, so they are believed only over a client
// certificate signed by the front-proxy CA, with an allowed common name.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
)

// userInfo is the caller, as k8s.io/apiserver's user.Info.
type userInfo struct {
	Name   string
	Groups []string
	Extra  map[string][]string
}

// requestHeaderAuthenticator mirrors kube-apiserver's: the certificate check
// of k8s.io/apiserver/pkg/authentication/request/x509 (NewVerifier) around
// the header reading of .../request/headerrequest.
type requestHeaderAuthenticator struct {
	clientCA        *x509.CertPool
	allowedNames    []string // empty: any common name the CA signed
	usernameHeaders []string
	groupHeaders    []string
	extraPrefixes   []string
}

func newRequestHeaderAuthenticator(o *options) (*requestHeaderAuthenticator, error) {
	data, err := os.ReadFile(o.clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("--requestheader-client-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--requestheader-client-ca-file: %s holds no PEM certificate", o.clientCAFile)
	}
	return &requestHeaderAuthenticator{
		clientCA:        pool,
		allowedNames:    splitList(o.allowedNames),
		usernameHeaders: splitList(o.usernameHeaders),
		groupHeaders:    splitList(o.groupHeaders),
		extraPrefixes:   splitList(o.extraHeadersPrefix),
	}, nil
}

// authenticate returns the identity the request carries, or why it carries none.
func (a *requestHeaderAuthenticator) authenticate(r *http.Request) (*userInfo, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errors.New("no client certificate: identity headers are not believed")
	}
	// The TLS handshake has checked the chain already. Checking again keeps
	// this authenticator right on its own, whatever the TLS config accepts
	// (kube-apiserver's accepts its --client-ca-file users as well).
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: a.clientCA, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, err
	}
	// Any client certificate the front-proxy CA signed would pass the chain
	// check; the allowed names narrow it down to the proxy's own.
	if len(a.allowedNames) > 0 && !slices.Contains(a.allowedNames, leaf.Subject.CommonName) {
		return nil, fmt.Errorf("x509: subject with cn=%s is not in the allowed list", leaf.Subject.CommonName)
	}
	name := firstValue(r.Header, a.usernameHeaders)
	if name == "" {
		return nil, fmt.Errorf("no user name in %s", strings.Join(a.usernameHeaders, ", "))
	}
	return &userInfo{Name: name, Groups: allValues(r.Header, a.groupHeaders), Extra: extra(r.Header, a.extraPrefixes)}, nil
}

// firstValue is the first value of the first header that has a non-empty one.
func firstValue(h http.Header, names []string) string {
	for _, name := range names {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// allValues is every value of every named header, each as it is: a repeated
// header is several groups, and a comma is part of a group's name. Empty
// values are skipped, as Kubernetes does.
func allValues(h http.Header, names []string) []string {
	var out []string
	for _, name := range names {
		for _, v := range h.Values(name) {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// extra reads X-Remote-Extra-<key> headers. Header names are case-insensitive
// and limited in what they may hold, so the key is lowercased and
// URL-unescaped: X-Remote-Extra-Example.com%2fscope is "example.com/scope".
func extra(h http.Header, prefixes []string) map[string][]string {
	out := map[string][]string{}
	for _, prefix := range prefixes {
		for name, values := range h {
			if !strings.HasPrefix(strings.ToLower(name), strings.ToLower(prefix)) {
				continue
			}
			key := strings.ToLower(name[len(prefix):])
			if unescaped, err := url.PathUnescape(key); err == nil {
				key = unescaped // a malformed escape is kept as sent, as Kubernetes does
			}
			out[key] = append(out[key], values...)
		}
	}
	return out
}

// splitList reads a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

type userKey struct{}

// withAuthentication puts the request's identity, if it has one, in its
// context. It refuses nothing itself: health and discovery are open to any
// TLS client, and the notes handlers answer 401 when there is no one to act for.
func withAuthentication(h http.Handler, a *requestHeaderAuthenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, err := a.authenticate(r); err == nil {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, user))
		}
		h.ServeHTTP(w, r)
	})
}

func userFrom(ctx context.Context) *userInfo {
	user, _ := ctx.Value(userKey{}).(*userInfo)
	return user
}
