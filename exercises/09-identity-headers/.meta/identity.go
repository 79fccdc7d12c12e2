// Exercise 09: the identity headers between an aggregator and an extension.
//
// The main server authenticates a caller, then proxies the request to an
// extension API server and says who the caller is in X-Remote-* headers.
// Anyone can send a header, so the extension believes them only from a
// client that proves, with a certificate from the front-proxy CA, that it
// is the main server.
//
// Edit this file. The tests in identity_test.go are the specification;
// README.md explains the rules.
package identityheaders

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// User is who a request is for, as k8s.io/apiserver's user.Info.
type User struct {
	Name   string
	Groups []string
	Extra  map[string][]string
}

// The headers kube-apiserver's aggregator sets, and the ones an extension
// server reads when it is not told otherwise.
const (
	HeaderUser        = "X-Remote-User"
	HeaderGroup       = "X-Remote-Group"
	HeaderExtraPrefix = "X-Remote-Extra-"
)

// Options are an extension server's --requestheader-* flags.
type Options struct {
	// CA is the front-proxy CA (--requestheader-client-ca-file): only a
	// client certificate it signed may assert an identity.
	CA *x509.CertPool
	// AllowedNames are the common names such a certificate may have
	// (--requestheader-allowed-names). Empty: any the CA signed.
	AllowedNames []string
	// The headers to read (--requestheader-username-headers,
	// --requestheader-group-headers, --requestheader-extra-headers-prefix).
	// Empty: X-Remote-User, X-Remote-Group, X-Remote-Extra-.
	UsernameHeaders     []string
	GroupHeaders        []string
	ExtraHeaderPrefixes []string
}

// SetIdentityHeaders makes h say that the request is u's, and nothing else:
// every identity header the client sent is removed first.
func SetIdentityHeaders(h http.Header, u User) {
	for name := range h {
		// The raw key, compared without case: a key set as h["x-remote-user"]
		// escapes h.Del("X-Remote-User"), goes out as it is, and the
		// extension's server canonicalises it into the header we set.
		if hasPrefixFold(name, "X-Remote-") || hasPrefixFold(name, "Impersonate-") {
			delete(h, name)
		}
	}
	h.Set(HeaderUser, u.Name)
	for _, g := range u.Groups {
		h.Add(HeaderGroup, g) // one value each: a comma is part of a group's name
	}
	for key, values := range u.Extra {
		// A header name cannot hold "/" (extra keys are often domain/path
		// shaped), so the key is escaped; the reader unescapes it.
		name := HeaderExtraPrefix + url.PathEscape(key)
		for _, v := range values {
			h.Add(name, v)
		}
	}
}

// Authenticate returns who the request's identity headers say it is for,
// if a verified front-proxy client certificate sent them. No certificate:
// not for this authenticator, (User{}, false, nil). A certificate it cannot
// trust: an error. A trusted one without a user name: (User{}, false, nil).
func Authenticate(r *http.Request, opts Options) (User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Anyone can write X-Remote-User; without a certificate it means
		// nothing, and another authenticator may take the request.
		return User{}, false, nil
	}
	if opts.CA == nil {
		// With no roots, Verify would trust the system's: any public CA.
		return User{}, false, errors.New("no front-proxy CA: nobody may assert an identity")
	}
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	// The TLS handshake may have checked the chain against another pool
	// (the client CA of ordinary users); this check is against the
	// front-proxy CA, and for client authentication.
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         opts.CA,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return User{}, false, err
	}
	// The CA may sign other clients too; only the proxy's names may speak
	// for others.
	if len(opts.AllowedNames) > 0 && !slices.Contains(opts.AllowedNames, leaf.Subject.CommonName) {
		return User{}, false, fmt.Errorf("x509: subject with cn=%s is not in the allowed list", leaf.Subject.CommonName)
	}

	userHeaders := orDefault(opts.UsernameHeaders, HeaderUser)
	groupHeaders := orDefault(opts.GroupHeaders, HeaderGroup)
	extraPrefixes := orDefault(opts.ExtraHeaderPrefixes, HeaderExtraPrefix)

	var u User
	for _, name := range userHeaders {
		if u.Name = r.Header.Get(name); u.Name != "" {
			break
		}
	}
	if u.Name == "" {
		return User{}, false, nil
	}
	for _, name := range groupHeaders {
		for _, g := range r.Header.Values(name) {
			if g != "" {
				u.Groups = append(u.Groups, g)
			}
		}
	}
	u.Extra = map[string][]string{}
	for _, prefix := range extraPrefixes {
		for name, values := range r.Header {
			if !hasPrefixFold(name, prefix) {
				continue
			}
			// Canonicalisation changed the key's case on the way; Kubernetes'
			// extra keys are lower case.
			key := strings.ToLower(name[len(prefix):])
			if unescaped, err := url.PathUnescape(key); err == nil {
				key = unescaped // a malformed escape is kept as it came
			}
			u.Extra[key] = append(u.Extra[key], values...)
		}
	}

	// Believed and used up: nothing after this may read them again as if a
	// client had just sent them.
	for _, name := range slices.Concat(userHeaders, groupHeaders) {
		r.Header.Del(name)
	}
	for name := range r.Header {
		for _, prefix := range extraPrefixes {
			if hasPrefixFold(name, prefix) {
				delete(r.Header, name)
			}
		}
	}
	return u, true, nil
}

func orDefault(names []string, def string) []string {
	if len(names) == 0 {
		return []string{def}
	}
	return names
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
