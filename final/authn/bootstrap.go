// Bootstrap tokens (--enable-bootstrap-token-auth): short-lived bearer
// tokens kept as Secrets in kube-system, with which a new node joins the
// cluster (kubeadm join) before it has a certificate of its own. The token
// <id>.<secret> is checked against the Secret bootstrap-token-<id>; it
// authenticates as system:bootstrap:<id>, in system:bootstrappers and the
// Secret's extra groups. Deleting the Secret, or letting it expire, revokes
// the token at once.
// Kubernetes: plugin/pkg/auth/authenticator/token/bootstrap, with the
// Secret's format in k8s.io/cluster-bootstrap (token/api).

package authn

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// The names of k8s.io/cluster-bootstrap's token API.
const (
	bootstrapTokenNamespace    = "kube-system"
	bootstrapTokenSecretPrefix = "bootstrap-token-"
	bootstrapTokenSecretType   = "bootstrap.kubernetes.io/token"
	bootstrapUserPrefix        = "system:bootstrap:"
	// GroupBootstrappers is every bootstrap token's group.
	GroupBootstrappers = "system:bootstrappers"
)

var (
	// A token is six characters of id, a dot, and sixteen of secret.
	bootstrapTokenPattern = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	// An extra group must be a subgroup of system:bootstrappers: a token
	// can never make its holder system:masters.
	bootstrapGroupPattern = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

// BootstrapTokens authenticates bootstrap tokens against their Secrets,
// read from the store on each request (Kubernetes reads them from an
// informer's cache; the answer is the same).
type BootstrapTokens struct {
	Store   *store.Store
	Secrets *registry.Resource
	// Now is the clock expiration is checked against (nil: time.Now).
	Now func() time.Time
}

// AuthenticateToken implements TokenAuthenticator. A token not of the
// form <id>.<secret>, or with no Secret of its id, is not its business. One
// whose Secret exists but does not let it in (another secret, expired, not
// for authentication, a bad group) is an error, which says why without
// saying anything of the secret.
func (b *BootstrapTokens) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	m := bootstrapTokenPattern.FindStringSubmatch(token)
	if m == nil {
		return nil, false, nil
	}
	id, secret := m[1], m[2]
	name := bootstrapTokenSecretPrefix + id
	s, err := b.Store.Get(ctx, b.Secrets, bootstrapTokenNamespace, name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("bootstrap token %s: reading its secret: %w", id, err)
	}
	fail := func(format string, args ...any) (*request.User, bool, error) {
		return nil, false, fmt.Errorf("bootstrap token %s: secret %s/%s %s", id, bootstrapTokenNamespace, name, fmt.Sprintf(format, args...))
	}
	if s.MetaString("deletionTimestamp") != "" {
		return fail("is being deleted")
	}
	if t, _ := s["type"].(string); t != bootstrapTokenSecretType {
		return fail("is of type %q, not %s", t, bootstrapTokenSecretType)
	}
	data := secretData(s)
	// Compare in constant time: how long the answer takes must say nothing
	// about how much of the secret was right.
	if subtle.ConstantTimeCompare([]byte(data["token-secret"]), []byte(secret)) != 1 {
		return fail("does not hold this token's secret")
	}
	if data["token-id"] != id {
		return fail("has token-id %q", data["token-id"])
	}
	if expiration := data["expiration"]; expiration != "" {
		expires, err := time.Parse(time.RFC3339, expiration)
		if err != nil {
			return fail("has an expiration that is not RFC 3339 (%q): taken as expired", expiration)
		}
		if !b.now().Before(expires) {
			return fail("expired at %s", expiration)
		}
	}
	if data["usage-bootstrap-authentication"] != "true" {
		return fail("is not marked usage-bootstrap-authentication=true")
	}
	groups := []string{GroupBootstrappers}
	if extra := data["auth-extra-groups"]; extra != "" {
		for group := range strings.SplitSeq(extra, ",") {
			if !bootstrapGroupPattern.MatchString(group) {
				return fail("has an auth-extra-groups entry %q that is not a system:bootstrappers: group", group)
			}
			groups = append(groups, group)
		}
	}
	slices.Sort(groups)
	return &request.User{Name: bootstrapUserPrefix + id, Groups: slices.Compact(groups)}, true, nil
}

func (b *BootstrapTokens) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// secretData reads a Secret's values as strings: data is base64, stringData
// plain text and wins over data, as when the API server merges the two on
// a write. A value that is not base64 reads as empty.
func secretData(s object.Object) map[string]string {
	out := map[string]string{}
	data, _ := s["data"].(map[string]any)
	for key, v := range data {
		if encoded, ok := v.(string); ok {
			if decoded, err := base64.StdEncoding.DecodeString(encoded); err == nil {
				out[key] = string(decoded)
			}
		}
	}
	stringData, _ := s["stringData"].(map[string]any)
	for key, v := range stringData {
		if plain, ok := v.(string); ok {
			out[key] = plain
		}
	}
	return out
}
