// Service-account tokens: JWTs the server signs for a ServiceAccount and
// later accepts as that account's credential. They are RS256-signed with
// --service-account-signing-key-file and verified with the public keys of
// --service-account-key-file. A token is only good while its ServiceAccount
// exists with the same uid: deleting the account revokes every token it had.
package authn

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// saClaims are the claims of a bound service-account token, as
// kubernetes/pkg/serviceaccount/claims.go writes them.
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

// ServiceAccounts signs and verifies service-account tokens: the token
// generator and the JWT token authenticator of kubernetes/pkg/serviceaccount
// (jwt.go, claims.go), in one place because they share the issuer and keys.
type ServiceAccounts struct {
	// Issuer is --service-account-issuer, the iss of every token.
	Issuer string
	// Audiences is --api-audiences: a token must name one of them. Empty: the
	// issuer, kube-apiserver's default.
	Audiences []string
	// SigningKey is --service-account-signing-key-file; an RSA key, for RS256.
	SigningKey crypto.Signer
	// PublicKeys is --service-account-key-file: more keys to verify with, say
	// an old signing key's, while its tokens live. The signing key's own
	// public half is always trusted, so tokens this server signs verify here.
	PublicKeys []crypto.PublicKey
	// Store and Accounts (the serviceaccounts resource) are where a token's
	// ServiceAccount is looked up.
	Store    *store.Store
	Accounts *registry.Resource
}

// APIAudiences are the audiences a token must be for, one of them at least.
func (s *ServiceAccounts) APIAudiences() []string {
	if len(s.Audiences) == 0 {
		return []string{s.Issuer}
	}
	return s.Audiences
}

// Issue signs a token for a ServiceAccount (as stored: it needs its namespace,
// name and uid), for audiences (none: APIAudiences), valid for lifetime. It
// returns the token and when it expires. This is what the TokenRequest API
// does, and what kubelet would ask for a pod.
func (s *ServiceAccounts) Issue(sa object.Object, audiences []string, lifetime time.Duration) (string, time.Time, error) {
	if len(audiences) == 0 {
		audiences = s.APIAudiences()
	}
	now := time.Now()
	expires := now.Add(lifetime)
	ns, name := sa.MetaString("namespace"), sa.MetaString("name")
	var claims saClaims
	claims.Issuer = s.Issuer
	claims.Subject = serviceAccountUsername(ns, name)
	claims.Audience = audiences
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.NotBefore = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(expires)
	claims.ID = object.NewUID() // the credential id: which token, in audit logs
	claims.Kubernetes.Namespace = ns
	claims.Kubernetes.ServiceAccount.Name = name
	claims.Kubernetes.ServiceAccount.UID = sa.MetaString("uid")
	token, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.SigningKey)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing a service-account token: %w", err)
	}
	return token, expires, nil
}

// AuthenticateToken implements TokenAuthenticator. Tokens that are not JWTs,
// or come from another issuer, are not its business: another authenticator
// may know them (the iss is read before the signature is checked, only to
// decide that). Everything else must verify completely: the signature (RS256
// only: never "none", never HMAC keyed with a public key), expiry (required),
// not-before, issued-at, the audience, and the ServiceAccount itself.
func (s *ServiceAccounts) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	var unverified saClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.Issuer != s.Issuer {
		return nil, false, nil
	}

	keys := jwt.VerificationKeySet{}
	for _, k := range s.PublicKeys {
		keys.Keys = append(keys.Keys, k)
	}
	if s.SigningKey != nil {
		keys.Keys = append(keys.Keys, s.SigningKey.Public())
	}
	var claims saClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(s.Issuer),
		jwt.WithAudience(s.APIAudiences()...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: %w", err)
	}

	ns, name, uid := claims.Kubernetes.Namespace, claims.Kubernetes.ServiceAccount.Name, claims.Kubernetes.ServiceAccount.UID
	if ns == "" || name == "" || uid == "" {
		return nil, false, errors.New("service-account token: no kubernetes.io service account claims")
	}
	// The account must still exist, and be the same account: one deleted and
	// created again with the same name has a new uid, and none of the old
	// one's tokens.
	sa, err := s.Store.Get(ctx, s.Accounts, ns, name)
	if apierrors.IsNotFound(err) {
		return nil, false, fmt.Errorf("service-account token: serviceaccount %s/%s no longer exists", ns, name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: looking up serviceaccount %s/%s: %w", ns, name, err)
	}
	if got := sa.MetaString("uid"); got != uid {
		return nil, false, fmt.Errorf("service-account token: serviceaccount uid (%s) does not match the claim (%s)", got, uid)
	}
	user := &request.User{
		// The name comes from the verified kubernetes.io claims, as in
		// Kubernetes, not from sub.
		Name:   serviceAccountUsername(ns, name),
		UID:    uid,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns},
	}
	if claims.ID != "" {
		user.Extra = map[string][]string{credentialIDKey: {"JTI=" + claims.ID}}
	}
	return user, true, nil
}

// serviceAccountUsername is how RBAC and audit name a service account
// (k8s.io/apiserver/pkg/authentication/serviceaccount.MakeUsername).
func serviceAccountUsername(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}
