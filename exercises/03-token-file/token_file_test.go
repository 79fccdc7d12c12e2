package tokenfile

import (
	"errors"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseTokenFile(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Tokens
	}{
		{
			name: "the example of the Kubernetes documentation",
			file: `31ada4fd-adec-460c-809a-9e56ceb75269,alice,1001,"developers,admins"` + "\n",
			want: Tokens{"31ada4fd-adec-460c-809a-9e56ceb75269": {Name: "alice", UID: "1001", Groups: []string{"developers", "admins"}}},
		},
		{
			// What chapter 03 writes into its data directory: bob has an
			// empty, quoted groups column, which means no groups at all.
			name: "chapter 03's tokens.csv",
			file: "679a90e63f98,admin,uid-admin,\"system:masters\"\n" +
				"52257d63da1c,alice,uid-alice,\"developers\"\n" +
				"22783795c296,bob,uid-bob,\"\"\n",
			want: Tokens{
				"679a90e63f98": {Name: "admin", UID: "uid-admin", Groups: []string{"system:masters"}},
				"52257d63da1c": {Name: "alice", UID: "uid-alice", Groups: []string{"developers"}},
				"22783795c296": {Name: "bob", UID: "uid-bob"},
			},
		},
		{
			name: "the groups column is optional",
			file: "token-1,carol,uid-carol\n",
			want: Tokens{"token-1": {Name: "carol", UID: "uid-carol"}},
		},
		{
			name: "a group without a comma needs no quotes",
			file: "token-1,carol,uid-carol,ops\n",
			want: Tokens{"token-1": {Name: "carol", UID: "uid-carol", Groups: []string{"ops"}}},
		},
		{
			name: "spaces around group names are trimmed",
			file: `token-1,carol,uid-carol,"ops, dev ,qa"` + "\n",
			want: Tokens{"token-1": {Name: "carol", UID: "uid-carol", Groups: []string{"ops", "dev", "qa"}}},
		},
		{
			name: "the uid may be empty",
			file: "token-1,dave,\ntoken-2,erin,,\n",
			want: Tokens{"token-1": {Name: "dave"}, "token-2": {Name: "erin"}},
		},
		{
			name: "comments and blank lines are skipped",
			file: "# the operators\n\ntoken-1,carol,uid-carol,ops\n\n\n# the developers\ntoken-2,dave,uid-dave,dev\n",
			want: Tokens{
				"token-1": {Name: "carol", UID: "uid-carol", Groups: []string{"ops"}},
				"token-2": {Name: "dave", UID: "uid-dave", Groups: []string{"dev"}},
			},
		},
		{
			name: "Windows line endings, no newline at the end",
			file: "token-1,carol,uid-carol,ops\r\ntoken-2,dave,uid-dave",
			want: Tokens{
				"token-1": {Name: "carol", UID: "uid-carol", Groups: []string{"ops"}},
				"token-2": {Name: "dave", UID: "uid-dave"},
			},
		},
		{
			name: "a quoted field may hold a comma",
			file: `"tok,en",frank,uid-frank` + "\n",
			want: Tokens{"tok,en": {Name: "frank", UID: "uid-frank"}},
		},
		{
			name: "an empty file has no tokens",
			file: "",
			want: Tokens{},
		},
		{
			name: "only comments",
			file: "# nobody yet\n",
			want: Tokens{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokenFile(strings.NewReader(tt.file))
			if err != nil {
				t.Fatalf("ParseTokenFile returned error %v\nfile:\n%s", err, tt.file)
			}
			if got == nil {
				t.Fatalf("ParseTokenFile returned a nil Tokens, want %v", tt.want)
			}
			if diff := diffTokens(got, tt.want); diff != "" {
				t.Errorf("ParseTokenFile(%q):\n%s", tt.file, diff)
			}
		})
	}
}

// Every error names the line it is about, counted from 1 in the file itself:
// comments and blank lines count.
func TestParseTokenFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		line int
	}{
		{"two fields", "token-1,alice\n", 1},
		{"one field", "token-1\n", 1},
		{"a token alone on the last line", "token-1,alice,uid-alice\ntoken-2\n", 2},
		{"five fields: the groups were not quoted", "token-1,alice,uid-alice,developers,admins\n", 1},
		{"empty token", ",alice,uid-alice\n", 1},
		{"empty user name", "token-1,,uid-alice\n", 1},
		{"empty group name in the list", `token-1,alice,uid-alice,"developers,,admins"` + "\n", 1},
		{"trailing comma in the group list", `token-1,alice,uid-alice,"developers,"` + "\n", 1},
		{"duplicate token", "token-1,alice,uid-alice\ntoken-2,bob,uid-bob\ntoken-1,carol,uid-carol\n", 3},
		{"comments and blank lines count", "# header\n\ntoken-1,alice,uid-alice\ntoken-2,bob\n", 4},
		{"a comment between good lines", "token-1,alice,uid-alice\n# bob\ntoken-2,bob\n", 3},
		{"a stray quote", "token-1,alice,uid-alice\ntoken-2,b\"ob,uid-bob\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokenFile(strings.NewReader(tt.file))
			if err == nil {
				t.Fatalf("ParseTokenFile returned %v and no error, want an error about line %d\nfile:\n%s", got, tt.line, tt.file)
			}
			lineN := regexp.MustCompile(`\bline ` + strconv.Itoa(tt.line) + `\b`)
			if !lineN.MatchString(err.Error()) {
				t.Errorf("error %q does not name the line: want it to contain \"line %d\"\nfile:\n%s", err, tt.line, tt.file)
			}
		})
	}
}

// testTokens is the token file the authentication tests use.
var testTokens = Tokens{
	"alice-token-7f3a": {Name: "alice", UID: "uid-alice", Groups: []string{"developers", "admins"}},
	"bob-token-19c2":   {Name: "bob", UID: "uid-bob"},
	// Already authenticated: the group must not appear twice.
	"carol-token-e5d0": {Name: "carol", UID: "uid-carol", Groups: []string{GroupAuthenticated, "ops"}},
}

func TestAuthenticateRequest(t *testing.T) {
	alice := &User{Name: "alice", UID: "uid-alice", Groups: []string{"developers", "admins", GroupAuthenticated}}
	tests := []struct {
		name    string
		header  []string // Authorization header values; none for no header
		want    *User
		wantOK  bool
		wantErr error // nil, ErrMalformedHeader or ErrInvalidToken
	}{
		// Not this authenticator's business: no error, so that another
		// authenticator (or anonymous access) can take the request.
		{name: "no header"},
		{name: "empty header", header: []string{""}},

		{name: "alice", header: []string{"Bearer alice-token-7f3a"}, want: alice, wantOK: true},
		{name: "the scheme is case-insensitive", header: []string{"bearer alice-token-7f3a"}, want: alice, wantOK: true},
		{name: "BEARER", header: []string{"BEARER alice-token-7f3a"}, want: alice, wantOK: true},
		{name: "extra spaces", header: []string{"  Bearer   alice-token-7f3a "}, want: alice, wantOK: true},
		{name: "a user without groups", header: []string{"Bearer bob-token-19c2"}, wantOK: true,
			want: &User{Name: "bob", UID: "uid-bob", Groups: []string{GroupAuthenticated}}},
		{name: "system:authenticated is not added twice", header: []string{"Bearer carol-token-e5d0"}, wantOK: true,
			want: &User{Name: "carol", UID: "uid-carol", Groups: []string{GroupAuthenticated, "ops"}}},
		{name: "only the first Authorization header counts", header: []string{"Bearer bob-token-19c2", "Bearer alice-token-7f3a"}, wantOK: true,
			want: &User{Name: "bob", UID: "uid-bob", Groups: []string{GroupAuthenticated}}},

		{name: "unknown token", header: []string{"Bearer mallory"}, wantErr: ErrInvalidToken},
		{name: "tokens are case-sensitive", header: []string{"Bearer ALICE-TOKEN-7F3A"}, wantErr: ErrInvalidToken},
		{name: "a prefix of a token", header: []string{"Bearer alice-token"}, wantErr: ErrInvalidToken},
		{name: "a token with more at the end", header: []string{"Bearer alice-token-7f3a0"}, wantErr: ErrInvalidToken},
		{name: "a user name is not a token", header: []string{"Bearer alice"}, wantErr: ErrInvalidToken},

		{name: "Bearer without a token", header: []string{"Bearer"}, wantErr: ErrMalformedHeader},
		{name: "Bearer and a space", header: []string{"Bearer "}, wantErr: ErrMalformedHeader},
		{name: "a token without Bearer", header: []string{"alice-token-7f3a"}, wantErr: ErrMalformedHeader},
		{name: "basic authentication", header: []string{"Basic YWxpY2U6c2VjcmV0"}, wantErr: ErrMalformedHeader},
		{name: "another scheme", header: []string{"Token alice-token-7f3a"}, wantErr: ErrMalformedHeader},
		{name: "two tokens", header: []string{"Bearer alice-token-7f3a bob-token-19c2"}, wantErr: ErrMalformedHeader},
		{name: "Bearer glued to the token", header: []string{"Beareralice-token-7f3a"}, wantErr: ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil)
			for _, h := range tt.header {
				r.Header.Add("Authorization", h)
			}
			got, ok, err := testTokens.AuthenticateRequest(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AuthenticateRequest with %q = %v, %v, %v; want an error wrapping %q", tt.header, got, ok, err, tt.wantErr)
				}
				if ok {
					t.Errorf("AuthenticateRequest with %q returned ok=true with error %v: an error is never ok", tt.header, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("AuthenticateRequest with %q returned error %v, want %v, %v", tt.header, err, tt.want, tt.wantOK)
			}
			if ok != tt.wantOK {
				t.Fatalf("AuthenticateRequest with %q returned ok=%v, want %v", tt.header, ok, tt.wantOK)
			}
			if !tt.wantOK {
				if got != nil {
					t.Errorf("AuthenticateRequest with %q returned user %+v and ok=false, want nil", tt.header, *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("AuthenticateRequest with %q returned ok=true and a nil user, want %+v", tt.header, *tt.want)
			}
			if diff := diffUser(*got, *tt.want); diff != "" {
				t.Errorf("AuthenticateRequest with %q returned the wrong user:\n%s", tt.header, diff)
			}
		})
	}
}

// Adding system:authenticated must not write into the token file's own
// users, and the user handed out must not be an alias of the stored one:
// later filters and handlers are free to change what they received.
func TestAuthenticateRequestDoesNotChangeTheTokenFile(t *testing.T) {
	// A groups slice with room to grow: append writes into the same array.
	array := []string{"developers", "", ""}
	tokens := Tokens{
		"alice-token": {Name: "alice", UID: "uid-alice", Groups: array[:1]},
		"carol-token": {Name: "carol", UID: "uid-carol", Groups: []string{GroupAuthenticated}},
	}
	request := func(token string) *User {
		t.Helper()
		r := httptest.NewRequest("GET", "/api", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		u, ok, err := tokens.AuthenticateRequest(r)
		if err != nil || !ok || u == nil {
			t.Fatalf("AuthenticateRequest with token %q = %v, %v, %v; want a user", token, u, ok, err)
		}
		return u
	}

	alice := request("alice-token")
	if array[1] != "" {
		t.Errorf("authenticating alice wrote %q into the array behind the stored user's Groups: append to a slice with spare capacity reuses its array; copy the groups first", array[1])
	}
	alice.Name, alice.Groups[0] = "mallory", "system:masters"
	if again := request("alice-token"); again.Name != "alice" || again.Groups[0] != "developers" {
		t.Errorf("changing the returned user changed the token file: alice now authenticates as %+v", *again)
	}
	if stored := tokens["alice-token"]; stored.Name != "alice" || !slices.Equal(stored.Groups, []string{"developers"}) {
		t.Errorf("the stored user changed: %+v, want alice in [developers]", stored)
	}

	carol := request("carol-token")
	carol.Groups[0] = "system:masters"
	if stored := tokens["carol-token"]; stored.Groups[0] != GroupAuthenticated {
		t.Errorf("changing the returned user's groups changed the stored user: %+v", stored)
	}
}

// The two halves together, on a file in chapter 03's format.
func TestParseThenAuthenticate(t *testing.T) {
	file := "# name,uid,groups as chapter 03 writes them\n" +
		"0f1e2d3c,admin,uid-admin,\"system:masters\"\n" +
		"4b5a6978,bob,uid-bob,\"\"\n"
	tokens, err := ParseTokenFile(strings.NewReader(file))
	if err != nil {
		t.Fatalf("ParseTokenFile: %v", err)
	}
	for token, want := range map[string]User{
		"0f1e2d3c": {Name: "admin", UID: "uid-admin", Groups: []string{"system:masters", GroupAuthenticated}},
		"4b5a6978": {Name: "bob", UID: "uid-bob", Groups: []string{GroupAuthenticated}},
	} {
		r := httptest.NewRequest("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		got, ok, err := tokens.AuthenticateRequest(r)
		if err != nil || !ok || got == nil {
			t.Fatalf("token %q: AuthenticateRequest = %v, %v, %v; want %+v", token, got, ok, err, want)
		}
		if diff := diffUser(*got, want); diff != "" {
			t.Errorf("token %q:\n%s", token, diff)
		}
	}
}

// diffTokens describes how got differs from want, or returns "".
func diffTokens(got, want Tokens) string {
	var b strings.Builder
	for token, w := range want {
		g, ok := got[token]
		if !ok {
			b.WriteString("missing token " + strconv.Quote(token) + "\n")
			continue
		}
		if d := diffUser(g, w); d != "" {
			b.WriteString("token " + strconv.Quote(token) + ":\n" + d)
		}
	}
	for token := range got {
		if _, ok := want[token]; !ok {
			b.WriteString("unexpected token " + strconv.Quote(token) + "\n")
		}
	}
	return b.String()
}

// diffUser compares two users; nil and empty Groups are the same.
func diffUser(got, want User) string {
	var b strings.Builder
	if got.Name != want.Name {
		b.WriteString("  Name: got " + strconv.Quote(got.Name) + ", want " + strconv.Quote(want.Name) + "\n")
	}
	if got.UID != want.UID {
		b.WriteString("  UID: got " + strconv.Quote(got.UID) + ", want " + strconv.Quote(want.UID) + "\n")
	}
	if !slices.Equal(got.Groups, want.Groups) {
		b.WriteString("  Groups: got " + quoteAll(got.Groups) + ", want " + quoteAll(want.Groups) + "\n")
	}
	return b.String()
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
