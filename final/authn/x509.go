// Client certificates: the user a CA vouches for (X509), and the check both
// certificate authenticators start with.
package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// credentialIDKey is the extra Kubernetes puts on a user to say which
// credential authenticated it (user.CredentialIDKey), so that audit logs can
// tell two certificates or two tokens of the same user apart.
const credentialIDKey = "authentication.kubernetes.io/credential-id"

// X509 authenticates the user of a client certificate signed by a CA in
// Roots (--client-ca-file): the common name is the user, the organizations
// are the groups. It is k8s.io/apiserver's request/x509 Authenticator with
// CommonNameUserConversion.
//
// It verifies the chain against its own Roots rather than trusting the TLS
// handshake's r.TLS.VerifiedChains: the listener also accepts certificates of
// the front-proxy CA (for RequestHeader), and a front proxy's certificate must
// never log in as its common name.
type X509 struct {
	Roots *x509.CertPool
}

// AuthenticateRequest implements Authenticator. No client certificate is not
// its business; one that does not verify is an error. A verified certificate
// with no common name is an error too, where Kubernetes would have no opinion
// and could let the request through as anonymous.
func (a X509) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	leaf, ok, err := verifyClientCert(r, a.Roots)
	if !ok || err != nil {
		return nil, false, err
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, errors.New("client certificate has no common name")
	}
	fingerprint := sha256.Sum256(leaf.Raw)
	return &request.User{
		Name:   leaf.Subject.CommonName,
		Groups: slices.Clone(leaf.Subject.Organization),
		Extra:  map[string][]string{credentialIDKey: {"X509SHA256=" + hex.EncodeToString(fingerprint[:])}},
	}, true, nil
}

// verifyClientCert checks the request's client certificate against roots, for
// client authentication, with the other certificates the client sent as
// intermediates. ok=false, no error: there is no certificate to check, or no
// CA to check it with (with nil roots, Verify would use the system's CAs,
// which vouch for web sites, not for users).
func verifyClientCert(r *http.Request, roots *x509.CertPool) (*x509.Certificate, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || roots == nil {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, c := range r.TLS.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, false, fmt.Errorf("verifying client certificate %q (serial %s): %w", leaf.Subject.CommonName, leaf.SerialNumber, err)
	}
	return leaf, true, nil
}
