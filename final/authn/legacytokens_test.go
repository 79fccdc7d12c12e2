package authn

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

var legacySecrets = &registry.Resource{Version: "v1", Name: "secrets", Kind: "Secret", Namespaced: true}

// legacySetup is an account, build-robot, and its token Secret holding a
// legacy token, as the token controller leaves them.
func legacySetup(t *testing.T) (*LegacyTokens, object.Object, string) {
	t.Helper()
	s := newServiceAccounts(t)
	sa := createSA(t, s, "default", "build-robot")
	secret := object.Object{"apiVersion": "v1", "kind": "Secret", "type": ServiceAccountTokenType,
		"metadata": map[string]any{"name": "build-robot-secret", "namespace": "default", "uid": object.NewUID(),
			"annotations": map[string]any{ServiceAccountNameAnnotation: "build-robot"}}}
	token, err := s.IssueLegacy(sa, secret)
	if err != nil {
		t.Fatal(err)
	}
	secret["data"] = map[string]any{"token": base64.StdEncoding.EncodeToString([]byte(token))}
	if _, err := s.Store.Create(context.Background(), legacySecrets, secret); err != nil {
		t.Fatal(err)
	}
	return &LegacyTokens{Accounts: s, Secrets: legacySecrets}, sa, token
}

func TestLegacyToken(t *testing.T) {
	ctx := context.Background()
	l, sa, token := legacySetup(t)
	user, ok, err := l.AuthenticateToken(ctx, token)
	if !ok || err != nil {
		t.Fatalf("the Secret's token: %v %v", ok, err)
	}
	if user.Name != "system:serviceaccount:default:build-robot" || user.UID != sa.MetaString("uid") ||
		strings.Join(user.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default" || user.Extra != nil {
		t.Errorf("user = %+v", user)
	}
	// Kubernetes' claims: no expiry, no audience, the Secret named.
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:build-robot",
		"kubernetes.io/serviceaccount/namespace": "default", "kubernetes.io/serviceaccount/secret.name": "build-robot-secret",
		"kubernetes.io/serviceaccount/service-account.name": "build-robot", "kubernetes.io/serviceaccount/service-account.uid": sa.MetaString("uid")}
	if len(claims) != len(want) {
		t.Errorf("claims = %v, want exactly %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	// The Secret records the day of its last use.
	stored, err := l.Accounts.Store.Get(ctx, legacySecrets, "default", "build-robot-secret")
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Labels()["kubernetes.io/legacy-token-last-used"]; got != time.Now().UTC().Format(time.DateOnly) {
		t.Errorf("last-used label %q", got)
	}
	// A bound token of the same account is still the other authenticator's.
	bound, _, err := l.Accounts.Issue(sa, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.AuthenticateToken(ctx, bound); ok || err != nil {
		t.Errorf("a bound token: ok=%v err=%v, want not mine", ok, err)
	}
}

// A legacy token lives as long as its Secret holds it and its account is
// the same; each way of losing it has its own answer.
func TestLegacyTokenRevoked(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, l *LegacyTokens, token string) string // returns the token to present
		want   string
	}{
		{"the Secret deleted", func(t *testing.T, l *LegacyTokens, token string) string {
			if _, err := l.Accounts.Store.Delete(ctx, legacySecrets, "default", "build-robot-secret", nil); err != nil {
				t.Fatal(err)
			}
			return token
		}, "Token has been invalidated"},
		{"another token in the Secret", func(t *testing.T, l *LegacyTokens, token string) string {
			setSecret(t, l, func(s object.Object) {
				s["data"] = map[string]any{"token": base64.StdEncoding.EncodeToString([]byte("other"))}
			})
			return token
		}, "Token does not match server's copy"},
		{"the account recreated", func(t *testing.T, l *LegacyTokens, token string) string {
			if _, err := l.Accounts.Store.Delete(ctx, l.Accounts.Accounts, "default", "build-robot", nil); err != nil {
				t.Fatal(err)
			}
			createSA(t, l.Accounts, "default", "build-robot")
			return token
		}, "does not match claim"},
		{"the Secret marked invalid", func(t *testing.T, l *LegacyTokens, token string) string {
			setSecret(t, l, func(s object.Object) {
				s.Metadata()["labels"] = map[string]any{"kubernetes.io/legacy-token-invalid-since": "2026-01-01"}
			})
			return token
		}, "has been marked invalid"},
		{"signed by another key", func(t *testing.T, l *LegacyTokens, token string) string {
			forged, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": LegacyIssuer}).SignedString(testKeys()[1])
			if err != nil {
				t.Fatal(err)
			}
			return forged
		}, "verification error"},
		{"for another audience", func(t *testing.T, l *LegacyTokens, token string) string {
			claims := jwt.MapClaims{}
			_, _, _ = jwt.NewParser().ParseUnverified(token, claims)
			claims["aud"] = []string{"vault"}
			forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(testKeys()[0])
			return forged
		}, "token audiences"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, token := legacySetup(t)
			presented := tt.change(t, l, token)
			if user, ok, err := l.AuthenticateToken(ctx, presented); ok || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %+v ok=%v err=%v, want an error with %q", user, ok, err, tt.want)
			}
		})
	}
}

func setSecret(t *testing.T, l *LegacyTokens, change func(object.Object)) {
	t.Helper()
	if _, err := l.Accounts.Store.Update(context.Background(), legacySecrets, "default", "build-robot-secret", func(s object.Object) (object.Object, error) {
		change(s)
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
}
