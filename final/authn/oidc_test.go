package authn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn/authntest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newOIDC(issuer *authntest.Issuer, clock *fakeClock) *OIDC {
	return &OIDC{IssuerURL: issuer.URL, ClientID: authntest.ClientID, UsernameClaim: "sub",
		UsernamePrefix: OIDCUsernamePrefix("", "sub", issuer.URL), Client: issuer.Client, Now: clock.now}
}

func TestOIDCUsernamePrefix(t *testing.T) {
	for _, tc := range []struct{ flag, claim, want string }{
		{"", "sub", "https://idp.example#"},
		{"", "email", ""},
		{"-", "sub", ""},
		{"-", "email", ""},
		{"oidc:", "sub", "oidc:"},
		{"oidc:", "email", "oidc:"},
	} {
		if got := OIDCUsernamePrefix(tc.flag, tc.claim, "https://idp.example"); got != tc.want {
			t.Errorf("prefix %q, claim %q: %q, want %q", tc.flag, tc.claim, got, tc.want)
		}
	}
}

func TestOIDCClaims(t *testing.T) {
	issuer := authntest.NewIssuer(t)
	clock := &fakeClock{time.Now()}
	ctx := context.Background()

	o := newOIDC(issuer, clock)
	o.GroupsClaim, o.GroupsPrefix = "groups", "oidc:"
	user, ok, err := o.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) { c["groups"] = []string{"dev", "ops"} })))
	if !ok || err != nil || user.Name != issuer.URL+"#jane" || !slices.Equal(user.Groups, []string{"oidc:dev", "oidc:ops"}) {
		t.Fatalf("a good token: %+v %v %v", user, ok, err)
	}
	// One group may come as a plain string; aud may be a list.
	user, ok, err = o.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) {
		c["groups"], c["aud"] = "admins", []string{"other", authntest.ClientID}
	})))
	if !ok || err != nil || !slices.Equal(user.Groups, []string{"oidc:admins"}) {
		t.Errorf("a string group, an aud list: %+v %v %v", user, ok, err)
	}

	// The email claim: no prefix by default, and email_verified must not be false.
	e := newOIDC(issuer, clock)
	e.UsernameClaim, e.UsernamePrefix = "email", OIDCUsernamePrefix("", "email", issuer.URL)
	for _, tc := range []struct {
		verified any // nil: no claim
		wantErr  string
	}{{true, ""}, {nil, ""}, {false, "email not verified"}, {"true", "email not verified"}} {
		token := issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) {
			c["email"] = "jane@example.com"
			if tc.verified != nil {
				c["email_verified"] = tc.verified
			}
		}))
		user, ok, err := e.AuthenticateToken(ctx, token)
		if tc.wantErr == "" && (!ok || err != nil || user.Name != "jane@example.com") ||
			tc.wantErr != "" && (ok || err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("email_verified=%v: %+v %v %v", tc.verified, user, ok, err)
		}
	}

	// Required claims, and a username claim that is missing.
	r := newOIDC(issuer, clock)
	r.RequiredClaims = map[string]string{"hd": "example.com"}
	if _, ok, err := r.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) { c["hd"] = "example.com" }))); !ok || err != nil {
		t.Errorf("required claim present: %v %v", ok, err)
	}
	if _, ok, err := r.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) { c["hd"] = "evil.com" }))); ok || err == nil || !strings.Contains(err.Error(), "required claim hd value does not match") {
		t.Errorf("required claim wrong: %v %v", ok, err)
	}
	if _, ok, err := o.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("", func(c jwt.MapClaims) { delete(c, "sub") }))); ok || err == nil {
		t.Errorf("no sub: %v %v", ok, err)
	}
}

// Not a JWT, or another issuer's: not this authenticator's business, so
// that the token file, service accounts or the webhook may know the token.
func TestOIDCFallsThrough(t *testing.T) {
	issuer := authntest.NewIssuer(t)
	o := newOIDC(issuer, &fakeClock{time.Now()})
	other := issuer.Sign(issuer.Claims("jane", func(c jwt.MapClaims) { c["iss"] = "https://kubernetes.default.svc.cluster.local" }))
	for name, token := range map[string]string{"opaque": "31ada4fd-adec-460c-809a-9e56ceb75269", "other issuer": other, "three dots": "a.b.c"} {
		if user, ok, err := o.AuthenticateToken(context.Background(), token); ok || err != nil {
			t.Errorf("%s: %+v %v %v, want not mine", name, user, ok, err)
		}
	}
	if issuer.KeyFetches() != 0 {
		t.Errorf("tokens of others made %d key fetches", issuer.KeyFetches())
	}
}

// Keys are cached; a token with an unknown kid fetches them again, at most
// once per MinRefreshInterval, so a rotation is picked up and a flood of
// random kids is not a flood of fetches.
func TestOIDCKeyRotationAndRefreshLimit(t *testing.T) {
	issuer := authntest.NewIssuer(t)
	clock := &fakeClock{time.Now()}
	o := newOIDC(issuer, clock)
	ctx := context.Background()
	for range 3 {
		if _, ok, err := o.AuthenticateToken(ctx, issuer.Sign(issuer.Claims("jane", nil))); !ok || err != nil {
			t.Fatalf("a good token: %v %v", ok, err)
		}
	}
	if n := issuer.KeyFetches(); n != 1 {
		t.Errorf("%d key fetches for three tokens, want 1 (cached)", n)
	}

	oldKey, oldKid := issuer.Key()
	issuer.Rotate()
	clock.t = clock.t.Add(11 * time.Second)
	newToken := issuer.Sign(issuer.Claims("jane", nil))
	if _, ok, err := o.AuthenticateToken(ctx, newToken); !ok || err != nil {
		t.Fatalf("a token of the new key: %v %v", ok, err)
	}
	if n := issuer.KeyFetches(); n != 2 {
		t.Errorf("%d key fetches after a rotation, want 2", n)
	}
	// The old key left the set: its tokens no longer verify.
	old := authntest.SignWith(jwt.SigningMethodRS256, oldKey, oldKid, issuer.Claims("jane", nil))
	clock.t = clock.t.Add(11 * time.Second)
	if _, ok, err := o.AuthenticateToken(ctx, old); ok || err == nil || !strings.Contains(err.Error(), `no key with id "key-1"`) {
		t.Errorf("a token of the rotated-out key: %v %v", ok, err)
	}

	// A hundred random kids within one interval: one fetch at most.
	before := issuer.KeyFetches()
	key, _ := issuer.Key()
	for i := range 100 {
		forged := authntest.SignWith(jwt.SigningMethodRS256, key, fmt.Sprintf("random-%d", i), issuer.Claims("jane", nil))
		if _, ok, err := o.AuthenticateToken(ctx, forged); ok || err == nil {
			t.Fatalf("unknown kid %d: %v %v", i, ok, err)
		}
	}
	if n := issuer.KeyFetches() - before; n > 1 {
		t.Errorf("%d key fetches for 100 unknown kids in one interval, want at most 1", n)
	}
	// The good token still verifies from the cache.
	if _, ok, err := o.AuthenticateToken(ctx, newToken); !ok || err != nil {
		t.Errorf("a good token after the flood: %v %v", ok, err)
	}
}

// Discovery must name the issuer it was fetched from.
func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	issuer := authntest.NewIssuer(t)
	evil := "https://evil.example"
	issuer.DiscoveryIssuer.Store(&evil)
	o := newOIDC(issuer, &fakeClock{time.Now()})
	_, ok, err := o.AuthenticateToken(context.Background(), issuer.Sign(issuer.Claims("jane", nil)))
	if ok || err == nil || !strings.Contains(err.Error(), "issuer did not match the issuer returned by provider") {
		t.Errorf("mismatched discovery: %v %v", ok, err)
	}
	if issuer.KeyFetches() != 0 {
		t.Error("keys were fetched from a provider whose discovery named another issuer")
	}
}
