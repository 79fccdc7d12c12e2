// Webhook authorization (--authorization-mode=...,Webhook): the question is
// sent to a remote service as a SubjectAccessReview, and its answer is the
// decision: allowed, denied (which ends the chain), or neither (the next
// authorizer decides). Answers are cached, allowed ones longer than the
// others (k8s.io/apiserver's plugin/pkg/authorizer/webhook).

package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
)

// Webhook is the Webhook mode's authorizer.
type Webhook struct {
	Client *authn.WebhookClient
	// AuthorizedTTL and UnauthorizedTTL are
	// --authorization-webhook-cache-authorized-ttl and
	// --authorization-webhook-cache-unauthorized-ttl (0: not cached).
	AuthorizedTTL, UnauthorizedTTL time.Duration
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedDecision
}

type cachedDecision struct {
	status  authorizationv1.SubjectAccessReviewStatus
	expires time.Time
}

const (
	// maxCachedDecisions bounds the cache; past it, expired answers go
	// first, then all of them.
	maxCachedDecisions = 4096
	// maxCachedAttributes: a question whose names and path are longer than
	// this is not cached, as in Kubernetes, so that huge names cannot fill
	// memory.
	maxCachedAttributes = 10000
)

// Authorize implements Authorizer. The webhook unreachable, or answering
// an error, is no opinion and the error, as a webhook given by flags is in
// Kubernetes (its failure policy is NoOpinion): the next authorizer may
// still allow, and if none does the request is refused.
func (w *Webhook) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	review := authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
	}
	if a.User != nil {
		review.Spec.User, review.Spec.UID, review.Spec.Groups = a.User.Name, a.User.UID, a.User.Groups
		if a.User.Extra != nil {
			review.Spec.Extra = map[string]authorizationv1.ExtraValue{}
			for k, v := range a.User.Extra {
				review.Spec.Extra[k] = v
			}
		}
	}
	if a.ResourceRequest {
		review.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: a.Namespace, Verb: a.Verb,
			Group: a.APIGroup, Version: a.APIVersion, Resource: a.Resource, Subresource: a.Subresource, Name: a.Name}
	} else {
		review.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.Path, Verb: a.Verb}
	}
	// The spec is the cache's key: the same question by the same user.
	key, err := json.Marshal(review.Spec)
	if err != nil {
		return NoOpinion, "", fmt.Errorf("authorization webhook: %w", err)
	}
	status, ok := w.cached(string(key))
	if !ok {
		var answer authorizationv1.SubjectAccessReview
		if err := w.Client.Post(ctx, review, &answer); err != nil {
			return NoOpinion, "", fmt.Errorf("authorization webhook: %w", err)
		}
		status = answer.Status
		size := len(a.Namespace) + len(a.Verb) + len(a.APIGroup) + len(a.APIVersion) + len(a.Resource) + len(a.Subresource) + len(a.Name) + len(a.Path)
		if size < maxCachedAttributes {
			ttl := w.UnauthorizedTTL
			if status.Allowed {
				ttl = w.AuthorizedTTL
			}
			w.remember(string(key), status, ttl)
		}
	}
	switch {
	case status.Allowed && status.Denied:
		return Deny, status.Reason, errors.New("webhook subject access review returned both allow and deny response")
	case status.Denied:
		return Deny, status.Reason, nil
	case status.Allowed:
		return Allow, status.Reason, nil
	}
	return NoOpinion, status.Reason, nil
}

func (w *Webhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Webhook) cached(key string) (authorizationv1.SubjectAccessReviewStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	entry, ok := w.cache[key]
	if !ok || !w.now().Before(entry.expires) {
		return authorizationv1.SubjectAccessReviewStatus{}, false
	}
	return entry.status, true
}

func (w *Webhook) remember(key string, status authorizationv1.SubjectAccessReviewStatus, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.cache == nil {
		w.cache = map[string]cachedDecision{}
	}
	if len(w.cache) >= maxCachedDecisions {
		for k, e := range w.cache {
			if !now.Before(e.expires) {
				delete(w.cache, k)
			}
		}
		if len(w.cache) >= maxCachedDecisions {
			clear(w.cache)
		}
	}
	w.cache[key] = cachedDecision{status: status, expires: now.Add(ttl)}
}
