package authn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
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
	tokens, err := LoadTokenFile(writeTokens(t, "# comment\nt1,alice,uid-1,\"dev,ops\"\nt2,bob,uid-2\nt3,carol,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u := tokens["t1"]; u.Name != "alice" || u.UID != "uid-1" || !slices.Equal(u.Groups, []string{"dev", "ops"}) {
		t.Errorf("alice = %+v", u)
	}
	if u := tokens["t2"]; u.Name != "bob" || u.Groups != nil {
		t.Errorf("bob = %+v", u)
	}
	if u := tokens["t3"]; u.Name != "carol" || u.UID != "" || u.Groups != nil {
		t.Errorf("carol = %+v", u)
	}

	_, err = LoadTokenFile(writeTokens(t, "# c\n\ngood,carol,uid\nbad,dave\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("error should name line 4 of the file: %v", err)
	}
	_, err = LoadTokenFile(writeTokens(t, "same,carol,uid\nsame,dave,uid\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a repeated token should be an error naming line 2: %v", err)
	}
	_, err = LoadTokenFile(writeTokens(t, "a,b,c\nt,\"unterminated\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a CSV error should name its line: %v", err)
	}
	for _, bad := range []string{"only-a-token\n", "t,,uid\n", ",user,uid\n"} {
		if _, err := LoadTokenFile(writeTokens(t, bad)); err == nil {
			t.Errorf("token file %q: want an error", bad)
		}
	}
	if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestTokenFileAuthenticateToken(t *testing.T) {
	tokens := TokenFile{"secret-1": {Name: "alice", UID: "u1", Groups: []string{"dev"}}, "secret-2": {Name: "bob"}}
	ctx := context.Background()
	user, ok, err := tokens.AuthenticateToken(ctx, "secret-1")
	if !ok || err != nil || user.Name != "alice" || user.UID != "u1" || !slices.Equal(user.Groups, []string{"dev"}) {
		t.Fatalf("secret-1: %+v %v %v", user, ok, err)
	}
	user.Groups[0] = "system:masters" // the caller's copy
	if tokens["secret-1"].Groups[0] != "dev" {
		t.Errorf("changing the answer changed the token file")
	}
	for _, unknown := range []string{"secret-", "secret-12", "", "SECRET-1"} {
		if _, ok, err := tokens.AuthenticateToken(ctx, unknown); ok || err != nil {
			t.Errorf("%q: ok=%v err=%v, want not mine", unknown, ok, err)
		}
	}
}

func TestEnsureTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := EnsureTokenFile(path); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600: it holds credentials", info.Mode().Perm())
	}
	tokens, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*request.User{}
	for token, user := range tokens {
		if len(token) < 32 {
			t.Errorf("%s's token %q is too short to be unguessable", user.Name, token)
		}
		byName[user.Name] = user
	}
	if len(byName) != 3 ||
		!slices.Equal(byName["admin"].Groups, []string{request.GroupMasters}) ||
		!slices.Equal(byName["alice"].Groups, []string{"developers"}) ||
		byName["bob"] == nil || byName["bob"].Groups != nil {
		t.Errorf("users: %v %v %v", byName["admin"], byName["alice"], byName["bob"])
	}

	// A restart keeps every token.
	if err := EnsureTokenFile(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Errorf("the second start rewrote the token file")
	}
	// Another data directory gets other tokens.
	other := filepath.Join(t.TempDir(), "tokens.csv")
	if err := EnsureTokenFile(other); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(other); string(data) == string(first) {
		t.Errorf("two token files with the same tokens")
	}
	if err := EnsureTokenFile(filepath.Join(t.TempDir(), "no", "such", "dir", "tokens.csv")); err == nil {
		t.Errorf("a file that cannot be written: want an error")
	}
}

// fixedToken is a token authenticator with a canned answer.
type fixedToken struct {
	user *request.User
	ok   bool
	err  error
}

func (f fixedToken) AuthenticateToken(context.Context, string) (*request.User, bool, error) {
	return f.user, f.ok, f.err
}

func TestTokenAuthenticators(t *testing.T) {
	ctx := context.Background()
	errExpired := errors.New("expired")
	alice := &request.User{Name: "alice"}

	user, ok, err := TokenAuthenticators{fixedToken{}, fixedToken{err: errExpired}, fixedToken{user: alice, ok: true}}.AuthenticateToken(ctx, "t")
	if !ok || err != nil || user != alice {
		t.Errorf("the one that recognises wins: %v %v %v", user, ok, err)
	}
	if _, ok, err := (TokenAuthenticators{fixedToken{}, fixedToken{}}).AuthenticateToken(ctx, "t"); ok || err != nil {
		t.Errorf("nobody knows it: ok=%v err=%v, want nothing said", ok, err)
	}
	if _, ok, err := (TokenAuthenticators{fixedToken{}, fixedToken{err: errExpired}}).AuthenticateToken(ctx, "t"); ok || err != errExpired {
		t.Errorf("one objects: ok=%v err=%v", ok, err)
	}
}

func TestBearerToken(t *testing.T) {
	errExpired := errors.New("expired")
	b := func(a TokenAuthenticator, header string) (*request.User, bool, error) {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return BearerToken{a}.AuthenticateRequest(r)
	}
	known := TokenFile{"abc": {Name: "alice"}}
	if _, ok, err := b(known, ""); ok || err != nil {
		t.Errorf("no header: ok=%v err=%v, want not mine", ok, err)
	}
	for _, h := range []string{"Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc  "} {
		if u, ok, err := b(known, h); !ok || err != nil || u.Name != "alice" {
			t.Errorf("%q: %v %v %v", h, u, ok, err)
		}
	}
	if _, ok, err := b(known, "Bearer xyz"); ok || !errors.Is(err, errInvalidToken) {
		t.Errorf("unknown token: ok=%v err=%v, want invalid bearer token", ok, err)
	}
	if _, ok, err := b(fixedToken{err: errExpired}, "Bearer xyz"); ok || err != errExpired {
		t.Errorf("the token authenticator's error should be the answer: ok=%v err=%v", ok, err)
	}
	for _, h := range []string{"Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer two words", "Bearer a\tb", "Token abc", "abc"} {
		if _, ok, err := b(known, h); ok || err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%q: ok=%v err=%v, want malformed", h, ok, err)
		}
	}
}
