package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// recordToken is a token authenticator that knows every token and
// remembers the last one it was asked about.
type recordToken struct{ last *string }

func (r recordToken) AuthenticateToken(_ context.Context, token string) (*request.User, bool, error) {
	*r.last = token
	return &request.User{Name: "someone"}, true, nil
}

// fuzzStore is a store on a fresh SQLite database.
func fuzzStore(f *testing.F) *store.Store {
	backend, err := sqlite.Open(filepath.Join(f.TempDir(), "state.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { backend.Close() })
	return store.New(backend)
}

// FuzzBearerToken reads arbitrary Authorization headers. A header is let
// through only as "Bearer <token>" (any case), and the token handed on is a
// single non-empty word that the header holds.
func FuzzBearerToken(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "bearer abc", "  Bearer   abc  ", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=",
		"Bearer two words", "Bearer a\tb", "Token abc", "abc", "Bearer\tabc", "Bearer \x00", "Bearer é", "BEARER a.b.c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/api", nil)
		r.Header["Authorization"] = []string{header}
		var last string
		user, ok, err := BearerToken{recordToken{&last}}.AuthenticateRequest(r)
		switch {
		case ok && (err != nil || user == nil):
			t.Fatalf("%q: ok with user %v and error %v", header, user, err)
		case header == "" && (ok || err != nil):
			t.Fatalf("no header: ok=%v err=%v, want nothing to say", ok, err)
		case header != "" && !ok && err == nil:
			t.Fatalf("%q: neither a user nor an error", header)
		case !ok:
			return
		}
		scheme, _, _ := strings.Cut(strings.TrimSpace(header), " ")
		if !strings.EqualFold(scheme, "Bearer") || last == "" || strings.ContainsAny(last, " \t") || !strings.Contains(header, last) {
			t.Fatalf("%q: let through with token %q", header, last)
		}
	})
}

// FuzzServiceAccountToken offers arbitrary strings as service-account
// tokens. Nothing but a token this server signed for a ServiceAccount that
// exists authenticates, and what does is that account.
func FuzzServiceAccountToken(f *testing.F) {
	// A small key of its own: each fuzzing process makes it at start.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	s := &ServiceAccounts{Issuer: testIssuer, SigningKey: key, Store: fuzzStore(f), Accounts: serviceaccounts}
	sa, err := s.Store.Create(context.Background(), s.Accounts, object.Object{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "builder", "namespace": "default", "uid": object.NewUID(), "creationTimestamp": object.Now()}})
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := s.Issue(sa, nil, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	header, payload, _ := strings.Cut(good, ".")
	for _, seed := range []string{good, good + "x", header + ".." + payload, "a.b.c", "", "eyJhbGciOiJub25lIn0.e30.",
		strings.Replace(good, ".", "..", 1), strings.ToUpper(good)} {
		f.Add(seed)
	}
	want := serviceAccountUsername("default", "builder")
	f.Fuzz(func(t *testing.T, token string) {
		user, ok, err := s.AuthenticateToken(context.Background(), token)
		if ok && (err != nil || user == nil || user.Name != want) {
			t.Fatalf("%q: authenticated as %v (error %v)", token, user, err)
		}
	})
}

// FuzzBootstrapToken offers arbitrary strings as bootstrap tokens against
// one stored token: only that exact token authenticates.
func FuzzBootstrapToken(f *testing.F) {
	b := &BootstrapTokens{Store: fuzzStore(f), Secrets: secrets}
	if _, err := b.Store.Create(context.Background(), secrets, bootstrapSecret("abcdef", "0123456789abcdef", nil)); err != nil {
		f.Fatal(err)
	}
	const good = "abcdef.0123456789abcdef"
	for _, seed := range []string{good, "abcdef.0123456789abcdeF", "abcdef.0123456789abcde", " abcdef.0123456789abcdef",
		good + "\n", "abcdef:0123456789abcdef", "ABCDEF.0123456789abcdef", "../../x.0123456789abcdef", "abcdef.", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		user, ok, err := b.AuthenticateToken(context.Background(), token)
		if ok != (token == good) || ok && (err != nil || user.Name != "system:bootstrap:abcdef") {
			t.Fatalf("%q: ok=%v user=%v err=%v", token, ok, user, err)
		}
		if !bootstrapTokenPattern.MatchString(token) && err != nil {
			t.Fatalf("%q is not a bootstrap token, yet: %v", token, err)
		}
	})
}

// FuzzTokenFile reads arbitrary token files. A file that loads gives every
// line's token its user, and no token it does not hold.
func FuzzTokenFile(f *testing.F) {
	for _, seed := range [][2]string{
		{"abc,alice,uid-alice,\"developers,qa\"\n", "abc"},
		{"# comment\nabc,admin,uid,system:masters\n", "ab"},
		{"abc,alice,uid\nabc,bob,uid\n", "abc"},
		{",alice,uid\n", ""},
		{"abc,,uid\n", "abc"},
		{"\"a,b\",alice,uid\n", "a,b"},
		{"\"unterminated,alice,uid\n", "x"},
		{"abc,alice\n", "abc"},
		{"abc,alice,uid,\n", "abc"},
		{"a\x00c,alice,uid\r\n", "a\x00c"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, content, token string) {
		tokens, err := parseTokenFile(strings.NewReader(content), "tokens.csv")
		if err != nil {
			return
		}
		for known, user := range tokens {
			got, ok, err := tokens.AuthenticateToken(context.Background(), known)
			if known == "" || user.Name == "" || !ok || err != nil || got.Name != user.Name {
				t.Fatalf("file %q: token %q is %v, authenticates as %v %v %v", content, known, user, got, ok, err)
			}
		}
		if _, ok, _ := tokens.AuthenticateToken(context.Background(), token); ok != (tokens[token] != nil) {
			t.Fatalf("file %q: token %q authenticates: %v", content, token, ok)
		}
	})
}
