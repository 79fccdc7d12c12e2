package authn

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// fixed is an authenticator with a canned answer, recording that it was asked.
type fixed struct {
	user  *request.User
	ok    bool
	err   error
	asked *int
}

func (f fixed) AuthenticateRequest(*http.Request) (*request.User, bool, error) {
	if f.asked != nil {
		*f.asked++
	}
	return f.user, f.ok, f.err
}

func TestUnionOrdering(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	alice, bob := &request.User{Name: "alice"}, &request.User{Name: "bob"}
	errBad := errors.New("bad credential")

	var later int
	user, ok, err := Union{fixed{user: alice, ok: true}, fixed{user: bob, ok: true, asked: &later}}.AuthenticateRequest(r)
	if !ok || err != nil || user.Name != "alice" || later != 0 {
		t.Errorf("first recognised should win without asking the rest: %v %v %v, later asked %d", user, ok, err, later)
	}

	// An error before a recogniser does not stop the union (kube-apiserver's
	// front-proxy authenticator errs on a user's client certificate, and the
	// x509 authenticator then knows it).
	user, ok, err = Union{fixed{err: errBad}, fixed{}, fixed{user: bob, ok: true}}.AuthenticateRequest(r)
	if !ok || err != nil || user.Name != "bob" {
		t.Errorf("error then recognised: %v %v %v", user, ok, err)
	}

	_, ok, err = Union{fixed{}, fixed{}}.AuthenticateRequest(r)
	if ok || err != nil {
		t.Errorf("nobody recognises, nobody objects: ok=%v err=%v, want no credential", ok, err)
	}

	errOther := errors.New("other")
	_, ok, err = Union{fixed{err: errBad}, fixed{}, fixed{err: errOther}}.AuthenticateRequest(r)
	if ok || !errors.Is(err, errBad) || !errors.Is(err, errOther) || err.Error() != "[bad credential, other]" {
		t.Errorf("errors should be aggregated: ok=%v err=%v", ok, err)
	}
	_, _, err = Union{fixed{err: errBad}}.AuthenticateRequest(r)
	if err != errBad {
		t.Errorf("a single error should be itself: %v", err)
	}
	// An authenticator that says ok and errs is not believed (as in Kubernetes).
	_, ok, err = Union{fixed{user: alice, ok: true, err: errBad}}.AuthenticateRequest(r)
	if ok || err == nil {
		t.Errorf("ok with an error: ok=%v err=%v", ok, err)
	}
}

// A credential nobody recognises is refused even when anonymous requests are
// allowed (as in Kubernetes); no credential at all is anonymous. A malformed
// Authorization header is refused too, where Kubernetes would call it no
// credential.
func TestAuthenticate(t *testing.T) {
	chain := Union{X509{}, BearerToken{TokenAuthenticators{TokenFile{"good": {Name: "alice", Groups: []string{"dev"}}}}}}
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
		{"basic auth", "Basic Zm9vOmJhcg==", true, "", nil, true},
		{"empty bearer", "Bearer ", true, "", nil, true},
		{"no token", "Bearer", true, "", nil, true},
		{"two words", "Bearer two words", true, "", nil, true},
		{"other scheme", "Token abc", true, "", nil, true},
		{"no credential, anonymous allowed", "", true, "system:anonymous", []string{"system:unauthenticated"}, false},
		{"no credential, anonymous refused", "", false, "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			user, err := Authenticate(chain, c.anonymous, r)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (user.Name != c.wantUser || !slices.Equal(user.Groups, c.wantGroups)) {
				t.Errorf("user = %+v, want %s %v", user, c.wantUser, c.wantGroups)
			}
		})
	}
}

// Adding system:authenticated must not write into an authenticator's user.
func TestAuthenticatedDoesNotShareGroups(t *testing.T) {
	stored := &request.User{Name: "alice", Groups: make([]string, 1, 4)}
	stored.Groups[0] = "dev"
	u := authenticated(stored)
	if len(stored.Groups) != 1 || stored.Groups[:2][1] != "" {
		t.Errorf("stored groups changed: %v", stored.Groups[:2])
	}
	if !slices.Equal(u.Groups, []string{"dev", request.GroupAuthenticated}) {
		t.Errorf("groups = %v", u.Groups)
	}
	// Already there: not twice.
	if u := authenticated(u); !slices.Equal(u.Groups, []string{"dev", request.GroupAuthenticated}) {
		t.Errorf("groups = %v", u.Groups)
	}
}

func TestWithAuthentication(t *testing.T) {
	chain := Union{BearerToken{TokenFile{"good": {Name: "alice", Groups: []string{"dev"}}}}}
	var seen *request.User
	var seenAuthorization string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, seenAuthorization = request.UserFrom(r.Context()), r.Header.Get("Authorization")
		w.WriteHeader(http.StatusNoContent)
	})
	serve := func(anonymous bool, header string) *httptest.ResponseRecorder {
		seen, seenAuthorization = nil, ""
		r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		WithAuthentication(next, chain, anonymous).ServeHTTP(w, r)
		return w
	}

	for _, anonymous := range []bool{true, false} {
		w := serve(anonymous, "Bearer good")
		if w.Code != http.StatusNoContent || seen == nil || seen.Name != "alice" ||
			!slices.Equal(seen.Groups, []string{"dev", request.GroupAuthenticated}) {
			t.Errorf("anonymous=%v, good token: %d %+v", anonymous, w.Code, seen)
		}
		if seenAuthorization != "" {
			t.Errorf("the handler saw the credential: %q", seenAuthorization)
		}
		for _, bad := range []string{"Bearer nope", "Basic YWRtaW46YWRtaW4="} {
			w := serve(anonymous, bad)
			if w.Code != http.StatusUnauthorized || seen != nil {
				t.Errorf("anonymous=%v, %q: HTTP %d, handler ran as %+v", anonymous, bad, w.Code, seen)
			}
			var status map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &status); err != nil || status["kind"] != "Status" ||
				status["reason"] != "Unauthorized" || status["code"] != float64(401) {
				t.Errorf("401 body is not an Unauthorized Status: %s", w.Body)
			}
			if strings.Contains(w.Body.String(), "invalid") || strings.Contains(w.Body.String(), "malformed") {
				t.Errorf("the 401 says why, to whoever asks: %s", w.Body)
			}
		}
	}

	w := serve(true, "")
	if w.Code != http.StatusNoContent || seen == nil || seen.Name != request.UserAnonymous ||
		!slices.Equal(seen.Groups, []string{request.GroupUnauthenticated}) {
		t.Errorf("anonymous allowed, no credential: %d %+v", w.Code, seen)
	}
	if w := serve(false, ""); w.Code != http.StatusUnauthorized || seen != nil {
		t.Errorf("anonymous refused, no credential: HTTP %d, handler ran as %+v", w.Code, seen)
	}
}
