// Exercise 03 (second): the x509 client-certificate authenticator.
//
// kube-apiserver --client-ca-file=ca.crt trusts every client certificate
// that ca.crt signed for client authentication: the certificate's common
// name is the user, its organizations are the user's groups. The TLS
// handshake only asks for the certificate; this authenticator is what
// checks it.
//
// Edit this file. The tests in client_certs_test.go are the specification;
// README.md explains the rules.
package clientcerts

import (
	"crypto/x509"
	"encoding/asn1"
	"net/http"
	"time"
)

// User is who a request is from, as k8s.io/apiserver's user.DefaultInfo.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// CredentialIDKey is the extra key that says which credential authenticated
// the user (it ends up in audit logs): for a certificate, its SHA-256.
const CredentialIDKey = "authentication.kubernetes.io/credential-id"

// UIDOID is the subject attribute a certificate may carry its user's UID
// in: 1.3.6.1.4.1.57683.2, under the CNCF's enterprise number.
var UIDOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57683, 2}

// Authenticator is kube-apiserver's x509 authenticator.
type Authenticator struct {
	// ClientCA is --client-ca-file: the certificates a client certificate
	// must chain to. Nil: the server has no client CA, and no opinion
	// about client certificates.
	ClientCA *x509.CertPool
	// Now is the time certificates are checked at. Nil: time.Now.
	Now func() time.Time
}

// CertificateIdentifier names a certificate in error messages:
// "SN=<serial, decimal>, SKID=<subject key id>, AKID=<authority key id>",
// the key ids in upper-case hexadecimal, a colon between bytes.
func CertificateIdentifier(cert *x509.Certificate) string {
	// TODO: the serial number, then both key ids as "01:AB:CD".
	panic("Please implement CertificateIdentifier")
}

// UserFromCertificate reads the user of a verified certificate: its common
// name, organizations, UID attribute and fingerprint. A certificate without
// a common name names nobody: (nil, false, nil).
func UserFromCertificate(cert *x509.Certificate) (*User, bool, error) {
	// TODO: no common name: nobody.
	// TODO: the UID: the UIDOID attributes among cert.Subject.Names.
	// TODO: name, groups, and the credential id "X509SHA256=<hex of the
	//       SHA-256 of cert.Raw>" under CredentialIDKey.
	panic("Please implement UserFromCertificate")
}

// AuthenticateRequest authenticates a request by its client certificate.
// No certificate, or no client CA: (nil, false, nil), another authenticator
// may take the request. A certificate that does not verify: an error. A
// verified one: its user.
func (a *Authenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	// TODO: no certificate, or no client CA: no opinion.
	// TODO: verify the first certificate against a.ClientCA, at a.Now,
	//       for client authentication, with the others as intermediates;
	//       wrap a failure in "verifying certificate <identifier> failed: ".
	// TODO: the user of the certificate.
	panic("Please implement AuthenticateRequest")
}
