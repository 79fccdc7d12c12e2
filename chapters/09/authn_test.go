package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadTokenFile(t *testing.T) {
	tokens, err := loadTokenFile(writeTokens(t, "# comment\nt1,alice,uid-1,\"dev,ops\"\nt2,bob,uid-2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u := tokens["t1"]; u.Name != "alice" || u.UID != "uid-1" || !slices.Equal(u.Groups, []string{"dev", "ops"}) {
		t.Errorf("alice = %+v", u)
	}
	if u := tokens["t2"]; u.Name != "bob" || u.Groups != nil {
		t.Errorf("bob = %+v", u)
	}
	_, err = loadTokenFile(writeTokens(t, "# c\n\ngood,carol,uid\nbad,dave\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("error should name line 4 of the file: %v", err)
	}
	for _, bad := range []string{"only-a-token\n", "t,,uid\n", "t,\"unterminated\n"} {
		if _, err := loadTokenFile(writeTokens(t, bad)); err == nil {
			t.Errorf("token file %q: want an error", bad)
		}
	}
}

// A credential nobody recognises is refused even when anonymous requests are
// allowed (as in Kubernetes); no credential at all is anonymous. A malformed
// Authorization header is refused too: Kubernetes would treat it as no
// credential, this chapter is stricter (docs/03 says so).
func TestAuthenticate(t *testing.T) {
	chain := union{x509Authenticator{}, bearerToken{tokenAuthenticators{tokenFile{"good": {Name: "alice", Groups: []string{"dev"}}}}}}
	cases := []struct {
		name, header string
		anonymous    bool
		wantUser     string
		wantGroups   []string
		wantErr      bool
	}{
		{"known token", "Bearer good", true, "alice", []string{"dev", "system:authenticated"}, false},
		{"scheme is case-insensitive", "bearer good", false, "alice", []string{"dev", "system:authenticated"}, false},
		{"unknown token", "Bearer bad", true, "", nil, true},
		{"malformed header", "Basic Zm9vOmJhcg==", true, "", nil, true},
		{"empty bearer", "Bearer ", true, "", nil, true},
		{"no credential, anonymous allowed", "", true, "system:anonymous", []string{"system:unauthenticated"}, false},
		{"no credential, anonymous refused", "", false, "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			user, err := authenticate(chain, c.anonymous, r)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (user.Name != c.wantUser || !slices.Equal(user.Groups, c.wantGroups)) {
				t.Errorf("user = %+v, want %s %v", user, c.wantUser, c.wantGroups)
			}
		})
	}
}

// Adding system:authenticated must not write into the token file's user.
func TestAuthenticatedDoesNotShareGroups(t *testing.T) {
	stored := &userInfo{Name: "alice", Groups: make([]string, 1, 4)}
	stored.Groups[0] = "dev"
	_ = authenticated(stored)
	if len(stored.Groups) != 1 || stored.Groups[:2][1] != "" {
		t.Errorf("stored groups changed: %v", stored.Groups[:2])
	}
}

func TestX509Authenticator(t *testing.T) {
	ca, err := loadOrCreateCA(t.TempDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, _, err := ca.ensureCert(dir, "alice", clientCertTemplate("alice", "dev", "ops"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := loadKeyPair(certPath, filepath.Join(dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert, ca.cert}}}
	user, ok, err := x509Authenticator{}.authenticateRequest(r)
	if !ok || err != nil || user.Name != "alice" || !slices.Equal(user.Groups, []string{"dev", "ops"}) {
		t.Errorf("verified certificate: %+v %v %v", user, ok, err)
	}
	r.TLS.VerifiedChains = nil
	if _, ok, err := (x509Authenticator{}).authenticateRequest(r); ok || err == nil {
		t.Errorf("unverified certificate: ok=%v err=%v", ok, err)
	}
	r.TLS = nil
	if _, ok, err := (x509Authenticator{}).authenticateRequest(r); ok || err != nil {
		t.Errorf("no certificate: ok=%v err=%v, want not mine", ok, err)
	}
}
