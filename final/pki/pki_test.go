package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCAIssuesAndReuses(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	if ca.Cert.Subject.CommonName != "apiserver-from-scratch-front-proxy-ca" || !ca.Cert.IsCA {
		t.Errorf("CA: %v", ca.Cert.Subject)
	}
	certPath, keyPath, err := ca.EnsureCert(dir, "alice", ClientCertTemplate("alice", "dev", "ops"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := LoadKeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "alice" || !slices.Equal(cert.Subject.Organization, []string{"dev", "ops"}) {
		t.Errorf("client certificate: %v", cert.Subject)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the client certificate does not chain to its CA: %v", err)
	}

	// Again: the same files, untouched.
	before, _ := os.ReadFile(certPath)
	again, err := LoadOrCreateCA(dir, "front-proxy-ca")
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("the CA was not reused: %v", err)
	}
	if _, _, err := again.EnsureCert(dir, "alice", ClientCertTemplate("alice")); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(certPath); string(after) != string(before) {
		t.Error("an existing certificate was issued again")
	}

	serving, _, err := ca.EnsureCert(dir, "serving", ServingCertTemplate("10.0.0.5"))
	if err != nil {
		t.Fatal(err)
	}
	sc, _, _ := LoadKeyPair(serving, filepath.Join(dir, "serving.key"))
	if err := sc.VerifyHostname("10.0.0.5"); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
	if err := sc.VerifyHostname("kubernetes.default.svc"); err != nil {
		t.Errorf("serving certificate: %v", err)
	}
}

func TestRSAKeyAndPublicKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sa.key")
	key, err := LoadOrCreateRSAKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateRSAKey(path)
	if err != nil || !again.Equal(key) {
		t.Fatalf("the key was not reused: %v", err)
	}
	data, _ := os.ReadFile(path)
	keys, err := ParsePublicKeys(data)
	if err != nil || len(keys) != 1 || !key.PublicKey.Equal(keys[0]) {
		t.Errorf("public keys of the private key file: %v %v", keys, err)
	}
	if _, err := ParsePublicKeys([]byte("not PEM")); err == nil {
		t.Error("garbage parsed as keys")
	}
}
