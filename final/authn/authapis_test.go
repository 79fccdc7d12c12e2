package authn

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// decode is what the HTTP layer hands these functions: a decoded body.
func decode(t *testing.T, body string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// roundTrip is the answer as the client reads it.
func roundTrip(t *testing.T, obj object.Object) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestTokenReview(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	saToken, _, _ := s.Issue(createSA(t, s, "default", "default"), nil, time.Hour)
	expired, _, _ := s.Issue(createSA(t, s, "default", "old"), nil, -time.Minute)
	tokens := TokenAuthenticators{TokenFile{"bob-token": {Name: "bob", UID: "uid-bob"}}, s}
	review := func(token string) map[string]any {
		t.Helper()
		in := decode(t, `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"`+token+`"}}`)
		out, err := TokenReview(ctx, tokens, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, touched := in["status"]; touched {
			t.Errorf("the request object was changed")
		}
		return roundTrip(t, out)
	}

	bob := review("bob-token")
	if field(bob, "status", "authenticated") != true || field(bob, "status", "user", "username") != "bob" ||
		field(bob, "status", "user", "uid") != "uid-bob" || field(bob, "status", "error") != nil ||
		field(bob, "kind") != "TokenReview" || field(bob, "spec", "token") != "bob-token" {
		t.Errorf("bob's token: %v", bob)
	}
	if groups, _ := field(bob, "status", "user", "groups").([]any); !slices.Equal(groups, []any{request.GroupAuthenticated}) {
		t.Errorf("bob's groups: %v", groups)
	}

	sa := review(saToken)
	if field(sa, "status", "authenticated") != true || field(sa, "status", "user", "username") != "system:serviceaccount:default:default" ||
		field(sa, "status", "user", "extra", credentialIDKey) == nil {
		t.Errorf("a service-account token: %v", sa)
	}

	for token, want := range map[string]string{"nope": "invalid bearer token", expired: "expired"} {
		bad := review(token)
		msg, _ := field(bad, "status", "error").(string)
		if field(bad, "status", "authenticated") != false || field(bad, "status", "user") != nil || !strings.Contains(msg, want) {
			t.Errorf("review of %q: %v", token, bad)
		}
	}

	// No token: a malformed request, 400 as in Kubernetes.
	for _, body := range []string{`{"spec":{}}`, `{}`, `{"spec":{"token":""}}`, `{"spec":{"token":7}}`} {
		_, err := TokenReview(ctx, tokens, decode(t, body))
		if apierrors.ReasonForError(err) != "BadRequest" {
			t.Errorf("%s: %v, want BadRequest", body, err)
		}
	}
	// A review sent without its type meta is answered with it.
	out, err := TokenReview(ctx, tokens, decode(t, `{"spec":{"token":"bob-token"}}`))
	if err != nil || out["apiVersion"] != "authentication.k8s.io/v1" || out["kind"] != "TokenReview" {
		t.Errorf("type meta: %v %v", out, err)
	}
}

func TestSelfSubjectReview(t *testing.T) {
	user := &request.User{Name: "alice", UID: "u1", Groups: []string{"dev", request.GroupAuthenticated},
		Extra: map[string][]string{"scopes": {"read"}}}
	got := roundTrip(t, SelfSubjectReview(user))
	if field(got, "kind") != "SelfSubjectReview" || field(got, "apiVersion") != "authentication.k8s.io/v1" ||
		field(got, "metadata", "creationTimestamp") == nil {
		t.Errorf("review: %v", got)
	}
	info, _ := field(got, "status", "userInfo").(map[string]any)
	if info["username"] != "alice" || info["uid"] != "u1" ||
		!slices.Equal(info["groups"].([]any), []any{"dev", request.GroupAuthenticated}) ||
		!slices.Equal(field(info, "extra", "scopes").([]any), []any{"read"}) {
		t.Errorf("userInfo: %v", info)
	}

	anonymous := roundTrip(t, SelfSubjectReview(&request.User{Name: request.UserAnonymous, Groups: []string{request.GroupUnauthenticated}}))
	info, _ = field(anonymous, "status", "userInfo").(map[string]any)
	if len(info) != 2 || info["username"] != request.UserAnonymous {
		t.Errorf("anonymous userInfo: %v", info)
	}
}

func TestTokenRequest(t *testing.T) {
	ctx := context.Background()
	s := newServiceAccounts(t)
	sa := createSA(t, s, "default", "builder")

	// kubectl create token builder --duration=15m sends this.
	out, err := TokenRequest(ctx, s, sa, decode(t, `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1",
		"metadata":{"creationTimestamp":null},"spec":{"audiences":null,"expirationSeconds":900,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, out)
	if field(got, "kind") != "TokenRequest" || field(got, "metadata", "name") != "builder" || field(got, "metadata", "namespace") != "default" ||
		field(got, "spec", "expirationSeconds") != float64(900) || !slices.Equal(field(got, "spec", "audiences").([]any), []any{testIssuer}) {
		t.Errorf("TokenRequest: %v", got)
	}
	expires, err := time.Parse(time.RFC3339, field(got, "status", "expirationTimestamp").(string))
	if d := time.Until(expires); err != nil || d < 14*time.Minute || d > 15*time.Minute {
		t.Errorf("expires %v (in %v): %v", expires, d, err)
	}
	token, _ := field(got, "status", "token").(string)
	if user, ok, err := s.AuthenticateToken(ctx, token); !ok || err != nil || user.Name != "system:serviceaccount:default:builder" {
		t.Errorf("the issued token: %+v %v %v", user, ok, err)
	}

	// Defaults: an hour, the API audiences.
	out, err = TokenRequest(ctx, s, sa, decode(t, `{}`))
	if err != nil || field(roundTrip(t, out), "spec", "expirationSeconds") != float64(3600) {
		t.Errorf("defaults: %v %v", out, err)
	}

	// Other audiences: a token for them, not for this server.
	out, err = TokenRequest(ctx, s, sa, decode(t, `{"spec":{"audiences":["vault"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	vault := roundTrip(t, out)
	if !slices.Equal(field(vault, "spec", "audiences").([]any), []any{"vault"}) {
		t.Errorf("audiences: %v", vault)
	}
	if _, ok, err := s.AuthenticateToken(ctx, field(vault, "status", "token").(string)); ok || err == nil {
		t.Errorf("a token for vault authenticated here: ok=%v err=%v", ok, err)
	}

	for body, want := range map[string]string{
		`{"spec":{"expirationSeconds":60}}`:         "less than 10 minutes",
		`{"spec":{"expirationSeconds":599}}`:        "less than 10 minutes",
		`{"spec":{"expirationSeconds":4294967297}}`: "larger than 2^32 seconds",
	} {
		_, err := TokenRequest(ctx, s, sa, decode(t, body))
		status := apierrors.ToStatus(err)
		if apierrors.ReasonForError(err) != "Invalid" || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), `TokenRequest.authentication.k8s.io "builder" is invalid`) {
			t.Errorf("%s: %v %v", body, err, status)
		}
	}
	for _, body := range []string{`{"spec":{"expirationSeconds":600}}`, `{"spec":{"expirationSeconds":4294967296}}`} {
		if _, err := TokenRequest(ctx, s, sa, decode(t, body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	for _, body := range []string{`{"spec":"x"}`, `{"spec":{"audiences":"vault"}}`, `{"spec":{"expirationSeconds":"600"}}`, `{"spec":{"expirationSeconds":600.5}}`} {
		if _, err := TokenRequest(ctx, s, sa, decode(t, body)); apierrors.ReasonForError(err) != "BadRequest" {
			t.Errorf("%s: %v, want BadRequest", body, err)
		}
	}
}
