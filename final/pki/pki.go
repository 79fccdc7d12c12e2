// Package pki makes and loads the certificates and keys a cluster runs on:
// the cluster CA and the front-proxy CA, the serving certificate, client
// certificates (common name = user, organizations = groups, which is how
// Kubernetes reads them), and the RSA key that signs service-account tokens.
// Files that exist are reused, so a restart invalidates nothing. kubeadm does
// the same for a real cluster (k8s.io/kubernetes/cmd/kubeadm/app/phases/certs).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA signs the serving and client certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadOrCreateCA reads name.crt and name.key from dir, creating them the
// first time. A cluster has two: the CA of its users and servers ("ca"), and
// the front proxy's ("front-proxy-ca"), which vouches only for this server's
// identity headers to extension servers.
func LoadOrCreateCA(dir, name string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if cert, key, err := LoadKeyPair(certPath, keyPath); err == nil {
		return &CA{cert, key}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	template := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "apiserver-from-scratch-" + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	certDER, err := createCertificate(template, template, key.Public(), key)
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(certPath, keyPath, certDER, key); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(certDER)
	return &CA{cert, key}, err
}

// EnsureCert makes sure name.crt and name.key exist in dir, issuing them from
// the CA with the template's subject, usage and addresses if they do not.
func (ca *CA) EnsureCert(dir, name string, template *x509.Certificate) (certPath, keyPath string, err error) {
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if _, _, err := LoadKeyPair(certPath, keyPath); err == nil {
		return certPath, keyPath, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generating the %s key: %w", name, err)
	}
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().AddDate(1, 0, 0)
	template.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	certDER, err := createCertificate(template, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return "", "", err
	}
	return certPath, keyPath, writeKeyPair(certPath, keyPath, certDER, key)
}

// ServingCertTemplate is for the server: valid for localhost and the bind address.
func ServingCertTemplate(bindAddress string) *x509.Certificate {
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() && !ip.Equal(net.ParseIP("127.0.0.1")) && !ip.Equal(net.IPv6loopback) {
		t.IPAddresses = append(t.IPAddresses, ip)
	}
	return t
}

// ClientCertTemplate is for a user: the common name is the user name, the
// organizations are the groups. That is how Kubernetes reads client certificates.
func ClientCertTemplate(user string, groups ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// LoadOrCreateRSAKey reads an RSA private key, creating it the first time.
// Service-account tokens are RS256 JWTs, so this key must be RSA.
func LoadOrCreateRSAKey(path string) (*rsa.PrivateKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		key, err := ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rsaKey, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", path)
		}
		return rsaKey, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the service-account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// createCertificate signs template with parent's key, under a random serial.
func createCertificate(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing a certificate for %q: %w", template.Subject.CommonName, err)
	}
	return der, nil
}

// writeKeyPair writes a certificate and its key as PEM; the key is private to its owner.
func writeKeyPair(certPath, keyPath string, certDER []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644)
}

// LoadKeyPair reads a PEM certificate and its private key.
func LoadKeyPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a signing key", keyPath)
	}
	return cert, signer, nil
}

// ParsePrivateKey reads the PEM private key formats openssl writes.
func ParsePrivateKey(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	default:
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	}
}

// ParsePublicKeys reads every public key in a PEM file. Like kube-apiserver's
// --service-account-key-file, it accepts public keys, private keys (their
// public half is used) and certificates.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "PUBLIC KEY":
			key, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, key)
		case "RSA PUBLIC KEY":
			key, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, key)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, cert.PublicKey)
		default:
			key, err := ParsePrivateKey(pem.EncodeToMemory(block))
			if err != nil {
				return nil, err
			}
			signer, ok := key.(crypto.Signer)
			if !ok {
				return nil, errors.New("not a signing key")
			}
			keys = append(keys, signer.Public())
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM keys found")
	}
	return keys, nil
}
