// Package authntest runs, on loopback, the services the authenticators and
// authorizers of final/authn and final/authz talk to: an OpenID Connect
// provider (discovery and keys) and a webhook answering reviews. Tests of
// several packages share them.
package authntest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientID is the audience the Issuer's tokens are for.
const ClientID = "kubernetes"

// Issuer is an OpenID Connect provider over TLS on loopback: it serves
// /.well-known/openid-configuration and /keys, and signs ID tokens.
type Issuer struct {
	URL    string // the issuer, https://127.0.0.1:<port>
	CAFile string // the serving certificate, PEM, for --oidc-ca-file
	Client *http.Client

	// DiscoveryIssuer, if set, is the issuer discovery claims instead of URL.
	DiscoveryIssuer atomic.Pointer[string]

	mu          sync.Mutex
	key         *rsa.PrivateKey
	kid         string
	generation  int
	keyFetches  atomic.Int64
	discoveries atomic.Int64
}

// NewIssuer starts a provider with one RSA key; it stops when t ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	i.Rotate()
	srv := httptest.NewTLSServer(http.HandlerFunc(i.serve))
	t.Cleanup(srv.Close)
	i.URL, i.Client = srv.URL, srv.Client()
	i.CAFile = filepath.Join(t.TempDir(), "oidc-ca.crt")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(i.CAFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return i
}

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		i.discoveries.Add(1)
		issuer := i.URL
		if p := i.DiscoveryIssuer.Load(); p != nil {
			issuer = *p
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": i.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	case "/keys":
		i.keyFetches.Add(1)
		i.mu.Lock()
		pub, kid := i.key.PublicKey, i.kid
		i.mu.Unlock()
		b64 := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())},
			{"kty": "oct", "kid": "ignored-symmetric", "k": "c2VjcmV0"}, // not a public key: skipped
		}})
	default:
		http.NotFound(w, r)
	}
}

// Rotate replaces the signing key: the old one leaves the key set.
func (i *Issuer) Rotate() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.generation++
	i.key, i.kid = key, fmt.Sprintf("key-%d", i.generation)
}

// Key is the current signing key and its id.
func (i *Issuer) Key() (*rsa.PrivateKey, string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.key, i.kid
}

// KeyFetches is how many times the key set was fetched.
func (i *Issuer) KeyFetches() int { return int(i.keyFetches.Load()) }

// Claims are a valid ID token's claims for sub, valid for an hour; mutate
// changes them.
func (i *Issuer) Claims(sub string, mutate func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": i.URL, "aud": ClientID, "sub": sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// Sign signs claims with the current key, RS256, naming its kid.
func (i *Issuer) Sign(claims jwt.MapClaims) string {
	key, kid := i.Key()
	return SignWith(jwt.SigningMethodRS256, key, kid, claims)
}

// SignWith signs claims with any method and key, naming kid ("" for none):
// for forgeries.
func SignWith(method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	token := jwt.NewWithClaims(method, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	s, err := token.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

// Webhook is a TokenReview or SubjectAccessReview webhook over TLS on
// loopback. Answer gets each review as decoded JSON and returns the status
// code and the review to answer with.
type Webhook struct {
	URL        string
	Kubeconfig string // a kubeconfig naming it, for the --*-webhook-config-file flags
	calls      atomic.Int64
}

// NewWebhook starts a webhook that answers with answer; it stops when t ends.
func NewWebhook(t testing.TB, answer func(review map[string]any) (int, any)) *Webhook {
	t.Helper()
	w := &Webhook{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer webhook-secret" { // the kubeconfig's user
			http.Error(rw, "Unauthorized", http.StatusUnauthorized)
			return
		}
		var review map[string]any
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		code, out := answer(review)
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(code)
		_ = json.NewEncoder(rw).Encode(out)
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/review"
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	w.Kubeconfig = filepath.Join(t.TempDir(), "webhook.kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: webhook
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: apiserver
  user:
    token: webhook-secret
contexts:
- name: webhook
  context:
    cluster: webhook
    user: apiserver
current-context: webhook
`, w.URL, ca)
	if err := os.WriteFile(w.Kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// Calls is how many reviews the webhook was sent.
func (w *Webhook) Calls() int { return int(w.calls.Load()) }
