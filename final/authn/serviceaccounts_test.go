package authn

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

const testIssuer = "https://kubernetes.default.svc.cluster.local"

var serviceaccounts = &registry.Resource{Version: "v1", Name: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true}

// RSA keys are slow to make; the tests share two.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = key
	}
	return keys
})

// newServiceAccounts is the server's token issuer over a fresh SQLite store.
func newServiceAccounts(t *testing.T) *ServiceAccounts {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	return &ServiceAccounts{Issuer: testIssuer, SigningKey: testKeys()[0], Store: store.New(backend), Accounts: serviceaccounts}
}

// createSA stores a ServiceAccount with a new uid and returns it as stored.
func createSA(t *testing.T, s *ServiceAccounts, namespace, name string) object.Object {
	t.Helper()
	sa, err := s.Store.Create(context.Background(), s.Accounts, object.Object{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": name, "namespace": namespace, "uid": object.NewUID(), "creationTimestamp": object.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

func TestServiceAccountToken(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	sa := createSA(t, s, "default", "builder")
	token, expires, err := s.Issue(sa, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(expires); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expires in %v, want an hour", d)
	}
	user, ok, err := s.AuthenticateToken(ctx, token)
	if !ok || err != nil {
		t.Fatalf("a fresh token: %v %v", ok, err)
	}
	if user.Name != "system:serviceaccount:default:builder" || user.UID != sa.MetaString("uid") ||
		!slices.Equal(user.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:default"}) {
		t.Errorf("user = %+v", user)
	}
	if id := user.Extra[credentialIDKey]; len(id) != 1 || !strings.HasPrefix(id[0], "JTI=") {
		t.Errorf("credential id = %v", id)
	}

	// The claims are Kubernetes' (kubectl and client libraries read them).
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	k8s, _ := claims["kubernetes.io"].(map[string]any)
	account, _ := k8s["serviceaccount"].(map[string]any)
	if claims["iss"] != testIssuer || claims["sub"] != "system:serviceaccount:default:builder" ||
		k8s["namespace"] != "default" || account["name"] != "builder" || account["uid"] != sa.MetaString("uid") {
		t.Errorf("claims = %v", claims)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != testIssuer {
		t.Errorf("aud = %v, want the issuer (the default API audience)", claims["aud"])
	}
}

// A token from another issuer, or no JWT at all, is another authenticator's
// business; every other problem is an error.
func TestServiceAccountTokenNotOurs(t *testing.T) {
	s := newServiceAccounts(t)
	sa := createSA(t, s, "default", "default")
	other := *s
	other.Issuer = "https://other.example"
	foreign, _, err := other.Issue(sa, []string{testIssuer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"not a JWT": "definitely-not-a-token", "another issuer": foreign, "empty": ""} {
		if _, ok, err := s.AuthenticateToken(context.Background(), token); ok || err != nil {
			t.Errorf("%s: ok=%v err=%v, want not mine", name, ok, err)
		}
	}
}

// forgedClaims are the claims this package's tokens carry, for forging.
func forgedClaims(uid string, mutate func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": testIssuer,
		"sub": "system:serviceaccount:default:default",
		"aud": []string{testIssuer},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "default",
			"serviceaccount": map[string]any{"name": "default", "uid": uid}},
	}
	if mutate != nil {
		mutate(claims)
	}
	return claims
}

func TestForgedServiceAccountTokens(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	uid := createSA(t, s, "default", "default").MetaString("uid")
	signingKey := testKeys()[0]
	sign := func(c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(signingKey)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// A token the authenticator accepts proves the forgeries below fail for
	// the one reason each was given.
	genuine := sign(forgedClaims(uid, nil))
	if user, ok, err := s.AuthenticateToken(ctx, genuine); !ok || err != nil || user.Name != "system:serviceaccount:default:default" {
		t.Fatalf("a correctly signed token is refused: %v %v %v", user, ok, err)
	}

	otherSigned, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, forgedClaims(uid, nil)).SignedString(testKeys()[1])
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, forgedClaims(uid, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubDER, _ := x509.MarshalPKIXPublicKey(&signingKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWithPublicKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, forgedClaims(uid, nil)).SignedString(pubPEM)
	dot := strings.LastIndex(genuine, ".")
	tampered := genuine[:dot] + ".AAAA" + genuine[dot+5:]

	forgeries := map[string]string{
		"signed by another key":     otherSigned,
		"alg none":                  none,
		"HS256 with the public key": hmacWithPublicKey,
		"tampered signature":        tampered,
		"expired":                   sign(forgedClaims(uid, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
		"not yet valid":             sign(forgedClaims(uid, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })),
		"issued in the future":      sign(forgedClaims(uid, func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })),
		"no expiry":                 sign(forgedClaims(uid, func(c jwt.MapClaims) { delete(c, "exp") })),
		"wrong audience":            sign(forgedClaims(uid, func(c jwt.MapClaims) { c["aud"] = []string{"vault"} })),
		"no audience":               sign(forgedClaims(uid, func(c jwt.MapClaims) { delete(c, "aud") })),
		"no kubernetes.io claims":   sign(forgedClaims(uid, func(c jwt.MapClaims) { delete(c, "kubernetes.io") })),
		"unknown account": sign(forgedClaims(uid, func(c jwt.MapClaims) {
			c["kubernetes.io"].(map[string]any)["serviceaccount"].(map[string]any)["name"] = "ghost"
		})),
		"another namespace": sign(forgedClaims(uid, func(c jwt.MapClaims) {
			c["kubernetes.io"].(map[string]any)["namespace"] = "kube-system"
		})),
		"another account's uid": sign(forgedClaims("00000000-0000-4000-8000-000000000000", nil)),
	}
	for name, token := range forgeries {
		t.Run(name, func(t *testing.T) {
			if user, ok, err := s.AuthenticateToken(ctx, token); ok || err == nil {
				t.Errorf("accepted as %+v (ok=%v err=%v)", user, ok, err)
			}
		})
	}

	// A token of another issuer is not looked at, even signed with our key:
	// another authenticator may know that issuer.
	wrongIssuer := sign(forgedClaims(uid, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))
	if _, ok, err := s.AuthenticateToken(ctx, wrongIssuer); ok || err != nil {
		t.Errorf("wrong issuer: ok=%v err=%v, want not mine", ok, err)
	}
	// Through the bearer authenticator, "not mine" from everyone is a 401 all the same.
	if _, err := Authenticate(BearerToken{s}, true, bearerRequest(wrongIssuer)); err == nil {
		t.Errorf("wrong issuer through the chain: want an error, not anonymous")
	}

	// The name comes from the kubernetes.io claims, not from sub.
	subLies := sign(forgedClaims(uid, func(c jwt.MapClaims) { c["sub"] = "system:serviceaccount:kube-system:admin" }))
	if user, ok, err := s.AuthenticateToken(ctx, subLies); !ok || err != nil || user.Name != "system:serviceaccount:default:default" {
		t.Errorf("sub and claims disagree: %+v %v %v", user, ok, err)
	}
}

func TestServiceAccountTokenAudiences(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	s.Audiences = []string{"https://api.example", "kubernetes"}
	sa := createSA(t, s, "default", "default")
	for _, auds := range [][]string{nil, {"kubernetes"}, {"vault", "https://api.example"}} {
		token, _, err := s.Issue(sa, auds, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.AuthenticateToken(ctx, token); !ok || err != nil {
			t.Errorf("audiences %v: ok=%v err=%v", auds, ok, err)
		}
	}
	for _, auds := range [][]string{{"vault"}, {testIssuer}} {
		token, _, _ := s.Issue(sa, auds, time.Hour)
		if _, ok, err := s.AuthenticateToken(ctx, token); ok || err == nil {
			t.Errorf("audiences %v: ok=%v err=%v, want refused", auds, ok, err)
		}
	}
}

func TestServiceAccountTokenRevocation(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	sa := createSA(t, s, "team-a", "short-lived")
	token, _, err := s.Issue(sa, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.AuthenticateToken(ctx, token); !ok || err != nil {
		t.Fatalf("a fresh token: ok=%v err=%v", ok, err)
	}

	if _, err := s.Store.Delete(ctx, s.Accounts, "team-a", "short-lived", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.AuthenticateToken(ctx, token); ok || err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("deleted account: ok=%v err=%v", ok, err)
	}

	// An account created again with the same name is another account.
	again := createSA(t, s, "team-a", "short-lived")
	if _, ok, err := s.AuthenticateToken(ctx, token); ok || err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("recreated account: ok=%v err=%v", ok, err)
	}
	fresh, _, _ := s.Issue(again, nil, time.Hour)
	if user, ok, err := s.AuthenticateToken(ctx, fresh); !ok || err != nil || user.UID != again.MetaString("uid") {
		t.Errorf("the new account's token: %+v %v %v", user, ok, err)
	}
}

// --service-account-key-file adds keys to verify with (a previous signing
// key, during a rotation); the signing key's own half is always trusted.
func TestServiceAccountVerificationKeys(t *testing.T) {
	ctx := context.Background()
	old := newServiceAccounts(t)
	sa := createSA(t, old, "default", "default")
	old.SigningKey = testKeys()[1]
	oldToken, _, err := old.Issue(sa, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	rotated := *old
	rotated.SigningKey = testKeys()[0]
	if _, ok, err := rotated.AuthenticateToken(ctx, oldToken); ok || err == nil {
		t.Errorf("the old key is not trusted yet: ok=%v err=%v", ok, err)
	}
	rotated.PublicKeys = []crypto.PublicKey{testKeys()[1].Public()}
	if _, ok, err := rotated.AuthenticateToken(ctx, oldToken); !ok || err != nil {
		t.Errorf("an old token, old key listed: ok=%v err=%v", ok, err)
	}
	newToken, _, _ := rotated.Issue(sa, nil, time.Hour)
	if _, ok, err := rotated.AuthenticateToken(ctx, newToken); !ok || err != nil {
		t.Errorf("a new token, signing key not listed: ok=%v err=%v", ok, err)
	}
}

// The token file and service-account tokens together, as the server chains them.
func TestTokenChain(t *testing.T) {
	s := newServiceAccounts(t)
	sa := createSA(t, s, "default", "default")
	token, _, _ := s.Issue(sa, nil, time.Hour)
	chain := Union{X509{}, BearerToken{TokenAuthenticators{TokenFile{"static": {Name: "alice"}}, s}}}
	for tok, want := range map[string]string{"static": "alice", token: "system:serviceaccount:default:default"} {
		if user, err := Authenticate(chain, false, bearerRequest(tok)); err != nil || user.Name != want {
			t.Errorf("%s: %+v %v", want, user, err)
		}
	}
	if _, err := Authenticate(chain, true, bearerRequest("nope")); err == nil {
		t.Errorf("an unknown token: want an error")
	}
	expired, _, _ := s.Issue(sa, nil, -time.Minute)
	if _, err := Authenticate(chain, true, bearerRequest(expired)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token: %v", err)
	}
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
