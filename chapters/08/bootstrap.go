// Bootstrap: on first start, the credentials a new cluster hands its users.
// A CA, the serving certificate, an admin client certificate (group
// system:masters), a token file with admin, alice and bob, the key that signs
// service-account tokens, and a kubeconfig for each user. Files that exist
// are reused, so restarting the server does not invalidate any of them.
package main

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

// credentials are the paths and tokens bootstrap produced.
type credentials struct {
	caCert, servingCert, servingKey, adminCert, adminKey string
	tokenFile, saKey                                     string            // tokenFile: the one in use
	userTokens                                           map[string]string // user name -> token, from tokenFile
}

func bootstrapCredentials(o *options) (*credentials, error) {
	dir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, err
	}
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	c := &credentials{caCert: filepath.Join(dir, "ca.crt"), tokenFile: o.tokenAuthFile, saKey: filepath.Join(dir, "sa.key")}
	if c.servingCert, c.servingKey, err = ca.ensureCert(dir, "serving", servingCertTemplate(o.bindAddress)); err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	if c.adminCert, c.adminKey, err = ca.ensureCert(dir, "admin", clientCertTemplate("admin", "system:masters")); err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	if c.tokenFile == "" { // no --token-auth-file: the data directory's own
		c.tokenFile = filepath.Join(dir, "tokens.csv")
		if err := ensureTokenFile(c.tokenFile); err != nil {
			return nil, err
		}
	}
	tokens, err := loadTokenFile(c.tokenFile)
	if err != nil {
		return nil, err
	}
	c.userTokens = map[string]string{}
	for token, user := range tokens {
		c.userTokens[user.Name] = token
	}
	return c, nil
}

// ensureTokenFile writes tokens.csv with three random tokens the first time.
func ensureTokenFile(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var lines string
	for _, u := range []struct{ name, uid, groups string }{
		{"admin", "uid-admin", "system:masters"},
		{"alice", "uid-alice", "developers"},
		{"bob", "uid-bob", ""},
	} {
		token := make([]byte, 24)
		if _, err := rand.Read(token); err != nil {
			return err
		}
		lines += fmt.Sprintf("%s,%s,%s,%q\n", hex.EncodeToString(token), u.name, u.uid, u.groups)
	}
	return os.WriteFile(path, []byte(lines), 0o600)
}

// serviceAccountKeys returns the signing key and the verifying public keys.
func serviceAccountKeys(o *options, c *credentials) (crypto.Signer, []crypto.PublicKey, error) {
	signingPath := o.saSigningKeyFile
	if signingPath == "" {
		signingPath = c.saKey
	} else if _, err := os.Stat(signingPath); err != nil {
		return nil, nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
	}
	signing, err := loadOrCreateRSAKey(signingPath)
	if err != nil {
		return nil, nil, err
	}
	if o.saKeyFile == "" {
		return signing, []crypto.PublicKey{signing.Public()}, nil
	}
	data, err := os.ReadFile(o.saKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-account-key-file: %w", err)
	}
	keys, err := parsePublicKeys(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-account-key-file %s: %w", o.saKeyFile, err)
	}
	// Tokens this server signs must verify here too, whatever else is trusted.
	return signing, append(keys, signing.Public()), nil
}

// writeKubeconfigs writes kubeconfig (admin, by client certificate) and
// kubeconfig-alice, kubeconfig-bob (by token).
func writeKubeconfigs(dataDir, url string, c *credentials) error {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	admin := fmt.Sprintf("    client-certificate: %s\n    client-key: %s\n", c.adminCert, c.adminKey)
	if err := writeKubeconfig(filepath.Join(dir, "kubeconfig"), url, c.caCert, "admin", admin); err != nil {
		return err
	}
	for _, name := range []string{"alice", "bob"} {
		token, ok := c.userTokens[name]
		if !ok {
			log.Printf("no token for %s in the token file: kubeconfig-%s not written", name, name)
			continue
		}
		if err := writeKubeconfig(filepath.Join(dir, "kubeconfig-"+name), url, c.caCert, name, "    token: "+token+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func writeKubeconfig(path, url, caFile, user, userFields string) error {
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: scratch
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
%scontexts:
- name: scratch
  context:
    cluster: scratch
    user: %s
    namespace: default
current-context: scratch
`, url, caFile, user, userFields, user)
	return os.WriteFile(path, []byte(config), 0o600)
}

// createDefaultServiceAccount gives a namespace its "default" ServiceAccount,
// the job of Kubernetes' serviceaccounts controller.
func (s *server) createDefaultServiceAccount(namespace string) {
	sa := object{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "default", "namespace": namespace, "uid": newUID(), "creationTimestamp": now()}}
	if _, err := s.store.create(s.registry.lookup("", "serviceaccounts"), sa); err != nil && !isAlreadyExists(err) {
		log.Printf("creating the default ServiceAccount in %s: %v", namespace, err)
	}
}
