// Exercise 03 (second): the x509 client-certificate authenticator.
// Reference solution.
//
// kube-apiserver --client-ca-file=ca.crt trusts every client certificate
// that ca.crt signed for client authentication: the certificate's common
// name is the user, its organizations are the user's groups. The TLS
// handshake only asks for the certificate; this authenticator is what
// checks it.
package clientcerts

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	return fmt.Sprintf("SN=%d, SKID=%s, AKID=%s",
		cert.SerialNumber, columnSeparatedHex(cert.SubjectKeyId), columnSeparatedHex(cert.AuthorityKeyId))
}

func columnSeparatedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// UserFromCertificate reads the user of a verified certificate: its common
// name, organizations, UID attribute and fingerprint. A certificate without
// a common name names nobody: (nil, false, nil).
func UserFromCertificate(cert *x509.Certificate) (*User, bool, error) {
	if cert.Subject.CommonName == "" {
		return nil, false, nil
	}
	uid, err := uidFrom(cert)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(cert.Raw)
	return &User{
		Name:   cert.Subject.CommonName,
		UID:    uid,
		Groups: cert.Subject.Organization,
		Extra:  map[string][]string{CredentialIDKey: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}, true, nil
}

// uidFrom reads the UID attribute of the subject: none is no UID, one is
// the UID, more than one or an empty one is an error. cert.Subject.Names
// holds every attribute of the subject, also those Go has no field for.
func uidFrom(cert *x509.Certificate) (string, error) {
	var uids []string
	for _, name := range cert.Subject.Names {
		if !name.Type.Equal(UIDOID) {
			continue
		}
		uid, ok := name.Value.(string)
		if !ok {
			return "", errors.New("unable to parse UID into a string")
		}
		uids = append(uids, uid)
	}
	switch {
	case len(uids) == 0:
		return "", nil
	case len(uids) > 1:
		return "", fmt.Errorf("expected 1 UID, but found multiple: %v", uids)
	case uids[0] == "":
		return "", errors.New("UID cannot be an empty string")
	}
	return uids[0], nil
}

// AuthenticateRequest authenticates a request by its client certificate.
// No certificate, or no client CA: (nil, false, nil), another authenticator
// may take the request. A certificate that does not verify: an error. A
// verified one: its user.
func (a *Authenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || a.ClientCA == nil {
		return nil, false, nil
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	// The client sends its own certificate first, then the intermediates
	// that link it to the CA; the CA itself the server must already have.
	leaf := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.ClientCA,
		Intermediates: intermediates,
		CurrentTime:   now(),
		// A certificate the CA issued to a server is not a client's.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, false, fmt.Errorf("verifying certificate %s failed: %w", CertificateIdentifier(leaf), err)
	}
	return UserFromCertificate(leaf)
}
