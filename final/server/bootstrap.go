// Bootstrap: on first start, the credentials a new cluster hands its users
// (as chapter 03 made them): the cluster CA and the front-proxy CA, the
// serving certificate, an admin client certificate (system:masters), the
// front proxy's client certificate, a token file with admin, alice and bob,
// the service-account signing key, and a kubeconfig for each user. Files
// that exist are reused, so a restart invalidates nothing.
package server

import (
	"crypto"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

// credentials are the paths and tokens bootstrap produced or the flags named.
type credentials struct {
	dir                                                  string
	caCert, servingCert, servingKey, adminCert, adminKey string
	clientCA                                             string
	frontProxyCA, proxyClientCert, proxyClientKey        string
	tokenFile, saKey                                     string
	tokens                                               authn.TokenFile
}

func bootstrapCredentials(o *Options) (*credentials, error) {
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	ca, err := pki.LoadOrCreateCA(dir, "ca")
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	frontProxy, err := pki.LoadOrCreateCA(dir, "front-proxy-ca")
	if err != nil {
		return nil, fmt.Errorf("front-proxy CA: %w", err)
	}
	c := &credentials{dir: dir, caCert: filepath.Join(dir, "ca.crt"), saKey: filepath.Join(dir, "sa.key"),
		clientCA: o.ClientCAFile, frontProxyCA: o.RequestHeaderClientCAFile, tokenFile: o.TokenAuthFile}
	bind := o.BindAddress
	if o.AdvertiseAddress != "" {
		bind = o.AdvertiseAddress
	}
	if c.servingCert, c.servingKey, err = ca.EnsureCert(dir, "serving", pki.ServingCertTemplate(bind)); err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	if o.TLSCertFile != "" {
		c.servingCert, c.servingKey = o.TLSCertFile, o.TLSPrivateKeyFile
	}
	if c.adminCert, c.adminKey, err = ca.EnsureCert(dir, "admin", pki.ClientCertTemplate("admin", "system:masters")); err != nil {
		return nil, fmt.Errorf("admin certificate: %w", err)
	}
	if c.clientCA == "" {
		c.clientCA = c.caCert
	}
	if c.frontProxyCA == "" {
		c.frontProxyCA = filepath.Join(dir, "front-proxy-ca.crt")
	}
	if c.proxyClientCert, c.proxyClientKey, err = frontProxy.EnsureCert(dir, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client")); err != nil {
		return nil, fmt.Errorf("front-proxy client certificate: %w", err)
	}
	if o.ProxyClientCertFile != "" {
		c.proxyClientCert, c.proxyClientKey = o.ProxyClientCertFile, o.ProxyClientKeyFile
	}
	if c.tokenFile == "" { // no --token-auth-file: the data directory's own
		c.tokenFile = filepath.Join(dir, "tokens.csv")
		if err := authn.EnsureTokenFile(c.tokenFile); err != nil {
			return nil, err
		}
	}
	if c.tokens, err = authn.LoadTokenFile(c.tokenFile); err != nil {
		return nil, err
	}
	return c, nil
}

// serviceAccountKeys returns the signing key and the verifying public keys.
func serviceAccountKeys(o *Options, c *credentials) (crypto.Signer, []crypto.PublicKey, error) {
	signingPath := o.ServiceAccountSigningKeyFile
	if signingPath == "" {
		signingPath = c.saKey
	} else if _, err := os.Stat(signingPath); err != nil {
		return nil, nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
	}
	signing, err := pki.LoadOrCreateRSAKey(signingPath)
	if err != nil {
		return nil, nil, err
	}
	keys := []crypto.PublicKey{signing.Public()} // tokens this server signs verify here too
	for _, file := range o.ServiceAccountKeyFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-key-file: %w", err)
		}
		more, err := pki.ParsePublicKeys(data)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-account-key-file %s: %w", file, err)
		}
		keys = append(keys, more...)
	}
	return signing, keys, nil
}

// writeKubeconfigs writes kubeconfig (admin, by client certificate) and
// kubeconfig-alice, kubeconfig-bob (by token).
func writeKubeconfigs(url string, c *credentials) error {
	admin := fmt.Sprintf("    client-certificate: %s\n    client-key: %s\n", c.adminCert, c.adminKey)
	if err := writeKubeconfig(filepath.Join(c.dir, "kubeconfig"), url, c.caCert, "admin", admin); err != nil {
		return err
	}
	for _, name := range []string{"alice", "bob"} {
		token := ""
		for t, u := range c.tokens {
			if u.Name == name {
				token = t
			}
		}
		if token == "" {
			log.Printf("no token for %s in the token file: kubeconfig-%s not written", name, name)
			continue
		}
		if err := writeKubeconfig(filepath.Join(c.dir, "kubeconfig-"+name), url, c.caCert, name, "    token: "+token+"\n"); err != nil {
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
