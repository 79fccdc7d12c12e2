// Chapter 03's checks: who is calling. Client certificates, static tokens,
// service-account JWTs (and every way to forge one), anonymous requests, and
// the authentication APIs kubectl uses.
package chapters_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func chapter03Checks() []check {
	return []check{
		{3, "kubectl auth whoami for admin and alice", checkWhoami},
		{3, "kubectl create token, then the token authenticates", checkCreateToken},
		{3, "a deleted service account's tokens stop working", checkTokenRevocation},
		{3, "forged and stale service-account tokens are 401", checkForgedTokens},
		{3, "no credentials is anonymous, bad credentials are 401", checkAnonymousAndBadCredentials},
		{3, "a client certificate from another CA does not authenticate", checkForeignClientCert},
		{3, "TokenReview answers for tokens", checkTokenReview},
		{3, "--anonymous-auth=false and --token-auth-file", checkAuthFlags},
	}
}

const selfSubjectReviews = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

// whoami asks the server who the client is.
func whoami(t *testing.T, s *server) (code int, user string, groups []string) {
	t.Helper()
	r := s.post(t, selfSubjectReviews, `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	if r.code != http.StatusCreated {
		return r.code, "", nil
	}
	for _, g := range field(r.obj, "status", "userInfo", "groups").([]any) {
		groups = append(groups, g.(string))
	}
	return r.code, str(r.obj, "status", "userInfo", "username"), groups
}

func checkWhoami(t *testing.T, s *server) {
	out := s.mustKubectl(t, "", "auth", "whoami")
	if !strings.Contains(out, "admin") || !strings.Contains(out, "system:masters") {
		t.Errorf("kubectl auth whoami as admin:\n%s", out)
	}
	out = s.mustKubectl(t, "", "--kubeconfig", filepath.Join(s.dataDir, "kubeconfig-alice"), "auth", "whoami")
	if !strings.Contains(out, "alice") || strings.Contains(out, "system:masters") {
		t.Errorf("kubectl auth whoami as alice:\n%s", out)
	}
	_, user, groups := whoami(t, s.as(s.clientFor(t, filepath.Join(s.dataDir, "kubeconfig-bob"))))
	if user != "bob" || !slices.Contains(groups, "system:authenticated") {
		t.Errorf("bob is %q in %v", user, groups)
	}
}

func checkCreateToken(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "serviceaccount", "token-check")
	token := strings.TrimSpace(s.mustKubectl(t, "", "create", "token", "token-check", "--duration=15m"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("kubectl create token printed %q, not a JWT", token)
	}
	code, user, groups := whoami(t, s.as(s.httpsClient(t, token)))
	if code != http.StatusCreated || user != "system:serviceaccount:default:token-check" ||
		!slices.Contains(groups, "system:serviceaccounts:default") {
		t.Errorf("the token is %d %q %v", code, user, groups)
	}
	r := s.post(t, "/api/v1/namespaces/default/serviceaccounts/token-check/token", `{"spec":{"expirationSeconds":60}}`)
	expect(t, r, http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.post(t, "/api/v1/namespaces/default/serviceaccounts/nobody/token", `{}`), http.StatusNotFound, "NotFound")
}

func checkTokenRevocation(t *testing.T, s *server) {
	const sa = "/api/v1/namespaces/default/serviceaccounts"
	expect(t, s.post(t, sa, `{"metadata":{"name":"short-lived"}}`), http.StatusCreated, "")
	r := s.post(t, sa+"/short-lived/token", `{}`)
	expect(t, r, http.StatusCreated, "")
	token := str(r.obj, "status", "token")
	holder := s.as(s.httpsClient(t, token))
	if code, _, _ := whoami(t, holder); code != http.StatusCreated {
		t.Fatalf("a fresh token gets HTTP %d", code)
	}
	expect(t, s.do(t, http.MethodDelete, sa+"/short-lived", "", nil), http.StatusOK, "")
	expect(t, holder.get(t, "/api/v1/namespaces"), http.StatusUnauthorized, "Unauthorized")
	// An account created again with the same name is another account.
	expect(t, s.post(t, sa, `{"metadata":{"name":"short-lived"}}`), http.StatusCreated, "")
	expect(t, holder.get(t, "/api/v1/namespaces"), http.StatusUnauthorized, "Unauthorized")
}

// saClaims are the claims the chapter's tokens carry, for forging.
func saClaims(s *server, uid string, mutate func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"sub": "system:serviceaccount:default:default",
		"aud": []string{"https://kubernetes.default.svc.cluster.local"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "default",
			"serviceaccount": map[string]any{"name": "default", "uid": uid}},
	}
	if mutate != nil {
		mutate(claims)
	}
	return claims
}

func checkForgedTokens(t *testing.T, s *server) {
	uid := str(s.get(t, "/api/v1/namespaces/default/serviceaccounts/default").obj, "metadata", "uid")
	keyPEM, err := os.ReadFile(filepath.Join(s.dataDir, "sa.key"))
	if err != nil {
		t.Fatalf("the chapter keeps its signing key in sa.key: %v", err)
	}
	signingKey, err := jwt.ParseRSAPrivateKeyFromPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(signingKey)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// A token the server would accept proves the forgeries below fail for
	// the one reason each was given.
	genuine := sign(saClaims(s, uid, nil))
	if code, user, _ := whoami(t, s.as(s.httpsClient(t, genuine))); code != http.StatusCreated || user != "system:serviceaccount:default:default" {
		t.Fatalf("a correctly signed token is refused: %d %q", code, user)
	}

	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherSigned, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, saClaims(s, uid, nil)).SignedString(otherKey)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, saClaims(s, uid, nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubDER, _ := x509.MarshalPKIXPublicKey(&signingKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWithPublicKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, saClaims(s, uid, nil)).SignedString(pubPEM)
	tampered := genuine[:strings.LastIndex(genuine, ".")] + ".AAAA" + genuine[strings.LastIndex(genuine, ".")+5:]

	forgeries := map[string]string{
		"signed by another key":     otherSigned,
		"alg none":                  none,
		"HS256 with the public key": hmacWithPublicKey,
		"tampered signature":        tampered,
		"expired":                   sign(saClaims(s, uid, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
		"not yet valid":             sign(saClaims(s, uid, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })),
		"no expiry":                 sign(saClaims(s, uid, func(c jwt.MapClaims) { delete(c, "exp") })),
		"wrong issuer":              sign(saClaims(s, uid, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"wrong audience":            sign(saClaims(s, uid, func(c jwt.MapClaims) { c["aud"] = []string{"vault"} })),
		"unknown account": sign(saClaims(s, uid, func(c jwt.MapClaims) {
			c["kubernetes.io"].(map[string]any)["serviceaccount"].(map[string]any)["name"] = "ghost"
		})),
		"another account's uid": sign(saClaims(s, "00000000-0000-4000-8000-000000000000", nil)),
		"not a JWT":             "definitely-not-a-token",
	}
	for name, token := range forgeries {
		t.Run(name, func(t *testing.T) {
			expect(t, s.as(s.httpsClient(t, token)).get(t, "/api/v1/namespaces"), http.StatusUnauthorized, "Unauthorized")
		})
	}
}

func checkAnonymousAndBadCredentials(t *testing.T, s *server) {
	// Who the server thinks an anonymous caller is shows in the review, or,
	// once authorization arrives (chapter 04), in the 403 that refuses it.
	anonymous := s.as(s.httpsClient(t, ""))
	r := anonymous.post(t, selfSubjectReviews, `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	switch r.code {
	case http.StatusCreated:
		if str(r.obj, "status", "userInfo", "username") != "system:anonymous" || fmt.Sprint(field(r.obj, "status", "userInfo", "groups")) != "[system:unauthenticated]" {
			t.Errorf("anonymous: %s", r.raw)
		}
	case http.StatusForbidden:
		if !strings.Contains(str(r.obj, "message"), `User "system:anonymous"`) {
			t.Errorf("anonymous 403 does not name system:anonymous: %s", r.raw)
		}
	default:
		t.Errorf("anonymous SelfSubjectReview: HTTP %d %s", r.code, r.raw)
	}
	for _, header := range []string{"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer two words", "Token abc"} {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/namespaces", nil)
		req.Header.Set("Authorization", header)
		resp, err := s.httpsClient(t, "").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: HTTP %d, want 401", header, resp.StatusCode)
		}
	}
}

func checkForeignClientCert(t *testing.T, s *server) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTemplate := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	template := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, template, ca, key.Public(), caKey)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}

	// Present the certificate whatever CAs the server says it trusts (Go's
	// client would otherwise quietly send none and be anonymous).
	client := s.httpsClient(t, "")
	transport := client.Transport.(*http.Transport)
	transport.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	resp, err := client.Get(s.url + "/api/v1/namespaces")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a certificate from another CA got HTTP %d, want the handshake refused", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake error does not mention the certificate: %v", err)
	}
}

func checkTokenReview(t *testing.T, s *server) {
	const reviews = "/apis/authentication.k8s.io/v1/tokenreviews"
	bob := s.post(t, reviews, `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"`+kubeconfigToken(t, s, "bob")+`"}}`)
	expect(t, bob, http.StatusCreated, "")
	if field(bob.obj, "status", "authenticated") != true || str(bob.obj, "status", "user", "username") != "bob" {
		t.Errorf("TokenReview of bob's token: %s", bob.raw)
	}
	bad := s.post(t, reviews, `{"spec":{"token":"nope"}}`)
	expect(t, bad, http.StatusCreated, "")
	if field(bad.obj, "status", "authenticated") != false || str(bad.obj, "status", "error") == "" {
		t.Errorf("TokenReview of a bad token: %s", bad.raw)
	}
	expect(t, s.post(t, reviews, `{"spec":{}}`), http.StatusBadRequest, "BadRequest")
}

// kubeconfigToken reads a user's token from the kubeconfig the chapter wrote.
func kubeconfigToken(t *testing.T, s *server, user string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dataDir, "kubeconfig-"+user))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "token: "); ok {
			return v
		}
	}
	t.Fatalf("kubeconfig-%s has no token", user)
	return ""
}

func checkAuthFlags(t *testing.T, s *server) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("s3cr3t-token-value,carol,uid-carol,\"qa,ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := start(t, s.exe, s.chapter, "--anonymous-auth=false", "--token-auth-file="+tokens)
	expect(t, other.as(other.httpsClient(t, "")).get(t, "/api/v1/namespaces"), http.StatusUnauthorized, "Unauthorized")
	_, user, groups := whoami(t, other.as(other.httpsClient(t, "s3cr3t-token-value")))
	if user != "carol" || !slices.Equal(groups, []string{"qa", "ops", "system:authenticated"}) {
		t.Errorf("carol from --token-auth-file is %q %v", user, groups)
	}
	if code, _, _ := whoami(t, other); code != http.StatusCreated {
		t.Errorf("the admin client certificate still works: HTTP %d", code)
	}
}
