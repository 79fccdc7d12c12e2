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
	"net/http"
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
	// TODO: delete every header whose name starts with X-Remote- or
	//       Impersonate-, in any case: look at the keys h really holds.
	// TODO: set X-Remote-User; add one X-Remote-Group per group; add one
	//       X-Remote-Extra-<key, escaped> per extra value.
	panic("Please implement SetIdentityHeaders")
}

// Authenticate returns who the request's identity headers say it is for,
// if a verified front-proxy client certificate sent them. No certificate:
// not for this authenticator, (User{}, false, nil). A certificate it cannot
// trust: an error. A trusted one without a user name: (User{}, false, nil).
func Authenticate(r *http.Request, opts Options) (User, bool, error) {
	// TODO: no client certificate in r.TLS: not ours.
	// TODO: verify the first certificate against opts.CA, for client
	//       authentication, with the others as intermediates; then its
	//       common name against opts.AllowedNames.
	// TODO: read the user name (the first header that has one), the groups
	//       (every value of every header) and the extra (every header with
	//       a prefix: the rest of its name, lower case and unescaped), with
	//       the default header names where opts has none.
	// TODO: remove the headers you believed from r.
	panic("Please implement Authenticate")
}
