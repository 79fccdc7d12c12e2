// Webhook token authentication (--authentication-token-webhook-config-file):
// a bearer token nobody here knows is sent to a remote service in a
// TokenReview, and its answer says who the token's user is. Answers are
// cached for a while, so that a busy client does not cost a round trip per
// request (k8s.io/apiserver's plugin/pkg/authenticator/token/webhook, behind
// pkg/authentication/token/cache).
package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// WebhookTokens is a TokenAuthenticator that asks a webhook.
type WebhookTokens struct {
	Client *WebhookClient
	// Audiences are --api-audiences: sent in spec.audiences, and an answer
	// naming other audiences only does not authenticate.
	Audiences []string
	// CacheTTL is --authentication-token-webhook-cache-ttl: how long an
	// answer, yes or no, is kept (0: not at all).
	CacheTTL time.Duration
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedReview
}

// cachedReview is one answer, by the hash of its token: the cache never
// holds a token itself.
type cachedReview struct {
	user    *request.User // nil: not authenticated
	expires time.Time
}

// maxCachedReviews bounds the cache; past it, expired answers go first,
// then all of them (a flood of random tokens must not grow memory).
const maxCachedReviews = 4096

// AuthenticateToken implements TokenAuthenticator. Every token reaches this
// authenticator last, so it answers for all of them: a token the webhook
// does not authenticate is not authenticated (ok=false), with the
// webhook's error if it gave one. As in Kubernetes, answers are cached,
// positive and negative alike, but failures (the webhook unreachable, a
// 500, an error in status.error) are not: the next request asks again.
func (w *WebhookTokens) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	key := sha256.Sum256([]byte(token))
	if user, ok := w.cached(key); ok {
		return copyUser(user), user != nil, nil
	}
	review := authenticationv1.TokenReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
		Spec:     authenticationv1.TokenReviewSpec{Token: token, Audiences: w.Audiences},
	}
	var answer authenticationv1.TokenReview
	if err := w.Client.Post(ctx, review, &answer); err != nil {
		return nil, false, fmt.Errorf("token webhook: %w", err)
	}
	status := answer.Status
	if !status.Authenticated {
		if status.Error != "" {
			return nil, false, errors.New(status.Error)
		}
		w.remember(key, nil)
		return nil, false, nil
	}
	// The webhook may say which audiences the token is for; none of ours
	// is a token for another service.
	if len(status.Audiences) > 0 && len(w.Audiences) > 0 && !slices.ContainsFunc(status.Audiences, func(a string) bool { return slices.Contains(w.Audiences, a) }) {
		w.remember(key, nil)
		return nil, false, nil
	}
	user := &request.User{Name: status.User.Username, UID: status.User.UID, Groups: slices.Clone(status.User.Groups)}
	if len(status.User.Extra) > 0 {
		user.Extra = map[string][]string{}
		for k, v := range status.User.Extra {
			user.Extra[k] = slices.Clone(v)
		}
	}
	w.remember(key, user)
	return copyUser(user), true, nil
}

func (w *WebhookTokens) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// cached is the answer kept for the token, if one is and it is fresh.
func (w *WebhookTokens) cached(key [sha256.Size]byte) (*request.User, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	entry, ok := w.cache[key]
	if !ok || !w.now().Before(entry.expires) {
		return nil, false
	}
	return entry.user, true
}

func (w *WebhookTokens) remember(key [sha256.Size]byte, user *request.User) {
	if w.CacheTTL <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.cache == nil {
		w.cache = map[[sha256.Size]byte]cachedReview{}
	}
	if len(w.cache) >= maxCachedReviews {
		maps.DeleteFunc(w.cache, func(_ [sha256.Size]byte, e cachedReview) bool { return !now.Before(e.expires) })
		if len(w.cache) >= maxCachedReviews {
			clear(w.cache)
		}
	}
	w.cache[key] = cachedReview{user: user, expires: now.Add(w.CacheTTL)}
}

// copyUser: callers add groups to the user they get; the cache's stays as answered.
func copyUser(u *request.User) *request.User {
	if u == nil {
		return nil
	}
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if u.Extra != nil {
		c.Extra = maps.Clone(u.Extra)
	}
	return &c
}
