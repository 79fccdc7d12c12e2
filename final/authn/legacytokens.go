// Legacy service-account tokens: the long-lived JWTs that
// kube-controller-manager's token controller puts into Secrets of type
// kubernetes.io/service-account-token. Their issuer is always
// "kubernetes/serviceaccount"; they have no expiry and no audience, and name
// the Secret they live in. So a legacy token is good only while that Secret
// exists and still holds it, and while its ServiceAccount exists with the
// same uid: deleting the Secret revokes the token.
// Kubernetes: pkg/serviceaccount/legacy.go (the claims and the validator)
// and jwt.go (the signature, issuer and audience checks).

package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

const (
	// LegacyIssuer is the iss of every token kept in a Secret, whatever
	// --service-account-issuer says.
	LegacyIssuer = "kubernetes/serviceaccount"
	// The Secret's annotations: the account the token is for, and its uid.
	ServiceAccountNameAnnotation = "kubernetes.io/service-account.name"
	ServiceAccountUIDAnnotation  = "kubernetes.io/service-account.uid"
	// ServiceAccountTokenType is the type of such Secrets.
	ServiceAccountTokenType = "kubernetes.io/service-account-token"
	// A Secret labelled invalid-since no longer authenticates; last-used
	// records the day its token was last used.
	legacyInvalidSinceLabel = "kubernetes.io/legacy-token-invalid-since"
	legacyLastUsedLabel     = "kubernetes.io/legacy-token-last-used"
)

// legacyClaims are the claims of a legacy token: sub and iss, and four
// claims of Kubernetes' own, each under its full name.
type legacyClaims struct {
	jwt.RegisteredClaims
	ServiceAccountName string `json:"kubernetes.io/serviceaccount/service-account.name"`
	ServiceAccountUID  string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	SecretName         string `json:"kubernetes.io/serviceaccount/secret.name"`
	Namespace          string `json:"kubernetes.io/serviceaccount/namespace"`
}

// IssueLegacy signs a legacy token for a ServiceAccount, kept in secret
// (both as stored): what the token controller writes into data.token.
func (s *ServiceAccounts) IssueLegacy(sa, secret object.Object) (string, error) {
	var claims legacyClaims
	claims.Issuer = LegacyIssuer
	claims.Subject = serviceAccountUsername(sa.MetaString("namespace"), sa.MetaString("name"))
	claims.Namespace = sa.MetaString("namespace")
	claims.ServiceAccountName = sa.MetaString("name")
	claims.ServiceAccountUID = sa.MetaString("uid")
	claims.SecretName = secret.MetaString("name")
	token, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.SigningKey)
	if err != nil {
		return "", fmt.Errorf("signing a legacy service-account token: %w", err)
	}
	return token, nil
}

// LegacyTokens authenticates legacy tokens, with the keys of Accounts and
// the Secrets they are kept in, looked up in the store on every request (as
// kube-apiserver does with --service-account-lookup, its default).
type LegacyTokens struct {
	Accounts *ServiceAccounts
	Secrets  *registry.Resource
}

// AuthenticateToken implements TokenAuthenticator. A token that is not a JWT
// of the legacy issuer is not its business; one that is must verify
// completely.
func (l *LegacyTokens) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	var unverified legacyClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.Issuer != LegacyIssuer {
		return nil, false, nil
	}
	s := l.Accounts
	keys := jwt.VerificationKeySet{}
	for _, k := range s.PublicKeys {
		keys.Keys = append(keys.Keys, k)
	}
	if s.SigningKey != nil {
		keys.Keys = append(keys.Keys, s.SigningKey.Public())
	}
	var claims legacyClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(LegacyIssuer),
	)
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: %w", err)
	}
	// No audience means the API server's own; a token that names some must
	// name one of them.
	if len(claims.Audience) > 0 && !slices.ContainsFunc(claims.Audience, func(a string) bool { return slices.Contains(s.APIAudiences(), a) }) {
		return nil, false, fmt.Errorf("service-account token: token audiences %q is invalid for the target audiences %q", []string(claims.Audience), s.APIAudiences())
	}
	user, err := l.validate(ctx, token, &claims)
	if err != nil {
		return nil, false, fmt.Errorf("service-account token: %w", err)
	}
	return user, true, nil
}

// validate checks the claims against what is stored, as the legacy
// validator does, in its order and with its words.
func (l *LegacyTokens) validate(ctx context.Context, token string, c *legacyClaims) (*request.User, error) {
	switch {
	case c.Subject == "":
		return nil, errors.New("sub claim is missing")
	case c.Namespace == "":
		return nil, errors.New("namespace claim is missing")
	case c.SecretName == "":
		return nil, errors.New("secretName claim is missing")
	case c.ServiceAccountName == "":
		return nil, errors.New("serviceAccountName claim is missing")
	case c.ServiceAccountUID == "":
		return nil, errors.New("serviceAccountUID claim is missing")
	case c.Subject != serviceAccountUsername(c.Namespace, c.ServiceAccountName):
		return nil, errors.New("sub claim is invalid")
	}
	ns, name := c.Namespace, c.ServiceAccountName
	secret, err := l.Accounts.Store.Get(ctx, l.Secrets, ns, c.SecretName)
	if err != nil || secret.MetaString("deletionTimestamp") != "" {
		return nil, errors.New("Token has been invalidated") // Kubernetes' words, capital and all
	}
	if subtle.ConstantTimeCompare([]byte(legacySecretValue(secret, "token")), []byte(token)) != 1 {
		return nil, errors.New("Token does not match server's copy") // Kubernetes' words, capital and all
	}
	sa, err := l.Accounts.Store.Get(ctx, l.Accounts.Accounts, ns, name)
	if err != nil {
		return nil, err // serviceaccounts "x" not found
	}
	if sa.MetaString("deletionTimestamp") != "" {
		return nil, fmt.Errorf("ServiceAccount %s/%s has been deleted", ns, name)
	}
	if uid := sa.MetaString("uid"); uid != c.ServiceAccountUID {
		return nil, fmt.Errorf("ServiceAccount UID (%s) does not match claim (%s)", uid, c.ServiceAccountUID)
	}
	if secret.Labels()[legacyInvalidSinceLabel] != "" {
		return nil, fmt.Errorf("the token in secret %s/%s for service account %s/%s has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '%s' label from the secret to temporarily allow use of this token",
			ns, c.SecretName, ns, name, legacyInvalidSinceLabel)
	}
	l.markUsed(ctx, secret)
	return &request.User{Name: serviceAccountUsername(ns, name), UID: c.ServiceAccountUID,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}, nil
}

// markUsed labels the Secret with today's date (UTC), at most once a day,
// so that an administrator can see which legacy tokens are still in use
// before removing them. A failure only loses the record.
func (l *LegacyTokens) markUsed(ctx context.Context, secret object.Object) {
	now := time.Now().UTC()
	today, tomorrow := now.Format(time.DateOnly), now.AddDate(0, 0, 1).Format(time.DateOnly)
	if used := secret.Labels()[legacyLastUsedLabel]; used == today || used == tomorrow {
		return
	}
	uid := secret.MetaString("uid")
	_, err := l.Accounts.Store.Update(ctx, l.Secrets, secret.MetaString("namespace"), secret.MetaString("name"), func(current object.Object) (object.Object, error) {
		if current.MetaString("uid") != uid {
			return nil, apierrors.NewConflict("", "secrets", secret.MetaString("name"), errors.New("the secret was replaced"))
		}
		meta := current.Metadata()
		labels, _ := meta["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		labels[legacyLastUsedLabel] = today
		meta["labels"] = labels
		return current, nil
	})
	if err != nil && ctx.Err() == nil {
		log.Printf("labelling legacy service-account token %s/%s with its last use: %v", secret.MetaString("namespace"), secret.MetaString("name"), err)
	}
}

// legacySecretValue is one value of a Secret's data, decoded from base64
// ("" when missing or not base64).
func legacySecretValue(secret object.Object, key string) string {
	data, _ := secret["data"].(map[string]any)
	encoded, _ := data[key].(string)
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return ""
	}
	return string(decoded)
}
