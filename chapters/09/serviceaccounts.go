// Service-account tokens: JWTs the server signs for a ServiceAccount and
// later accepts as that account's credential. They are RS256-signed with
// --service-account-signing-key-file and verified with the public keys of
// --service-account-key-file. A token is only good while its ServiceAccount
// exists with the same uid: deleting the account revokes every token it had.
package main

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// saClaims are the claims of a bound service-account token.
type saClaims struct {
	jwt.RegisteredClaims
	Kubernetes struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

type serviceAccountTokens struct {
	issuer     string
	audiences  []string // --api-audiences: a token must be for one of them
	signingKey crypto.Signer
	publicKeys []crypto.PublicKey
	store      *store
	accounts   *resource // the serviceaccounts resource
}

// issue signs a token for a ServiceAccount, as the TokenRequest API does.
func (t *serviceAccountTokens) issue(sa object, audiences []string, lifetime time.Duration) (string, time.Time, error) {
	now := time.Now()
	expires := now.Add(lifetime)
	var claims saClaims
	claims.Issuer = t.issuer
	claims.Subject = "system:serviceaccount:" + sa.metaString("namespace") + ":" + sa.metaString("name")
	claims.Audience = audiences
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.NotBefore = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(expires)
	claims.ID = newUID()
	claims.Kubernetes.Namespace = sa.metaString("namespace")
	claims.Kubernetes.ServiceAccount.Name = sa.metaString("name")
	claims.Kubernetes.ServiceAccount.UID = sa.metaString("uid")
	token, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(t.signingKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing a service-account token: %w", err)
	}
	return token, expires, nil
}

// authenticateToken accepts a JWT from this issuer. Tokens that are not
// JWTs, or come from another issuer, are not ours: another authenticator may
// know them. Everything else must verify completely.
func (t *serviceAccountTokens) authenticateToken(token string) (*userInfo, bool, error) {
	var unverified saClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.Issuer != t.issuer {
		return nil, false, nil
	}

	var claims saClaims
	keys := jwt.VerificationKeySet{}
	for _, k := range t.publicKeys {
		keys.Keys = append(keys.Keys, k)
	}
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{"RS256"}), // never "none", never HMAC keyed with a public key
		jwt.WithIssuer(t.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: %w", err)
	}
	if !slices.ContainsFunc(claims.Audience, func(a string) bool { return slices.Contains(t.audiences, a) }) {
		return nil, false, errors.New("service-account token: not for this server's audiences")
	}

	// The account must still exist, and be the same account (not one deleted
	// and created again with the same name).
	ns, name := claims.Kubernetes.Namespace, claims.Kubernetes.ServiceAccount.Name
	sa, err := t.store.get(t.accounts, ns, name)
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: serviceaccount %s/%s: %w", ns, name, err)
	}
	if sa.metaString("uid") != claims.Kubernetes.ServiceAccount.UID {
		return nil, false, fmt.Errorf("service-account token: serviceaccount %s/%s was recreated", ns, name)
	}
	return &userInfo{
		Name:   claims.Subject,
		UID:    claims.Kubernetes.ServiceAccount.UID,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns},
		Extra:  map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=" + claims.ID}},
	}, true, nil
}
