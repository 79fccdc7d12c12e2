// The authentication APIs. None of them stores anything: each answers one
// POST with a computed object. The HTTP layer decodes the request's body,
// calls one of these, and writes the answer (201) or the Status error.
//
//   - TokenReview (tokenreviews): is this token valid, and whose is it?
//     Webhooks and aggregated servers ask it.
//   - SelfSubjectReview (selfsubjectreviews): who am I? What
//     "kubectl auth whoami" calls.
//   - TokenRequest (serviceaccounts/{name}/token): sign a token for an
//     account; what "kubectl create token NAME" calls.
//
// Kubernetes serves them from kubernetes/pkg/registry/authentication
// (tokenreview, selfsubjectreview) and
// kubernetes/pkg/registry/core/serviceaccount/storage/token.go.
package authn

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

const authenticationV1 = "authentication.k8s.io/v1"

// TokenReview answers a TokenReview: the review as sent, with its status
// filled in. An empty spec.token is a 400, not a 422, as in Kubernetes. A
// token nobody recognises is not an error of the request: the answer is
// authenticated=false with status.error saying why. An authenticated user is
// in system:authenticated, as the same token would be on a request.
//
// Left out: spec.audiences and status.audiences. Our authenticators accept
// only the server's own audiences, so a review cannot ask about others.
func TokenReview(ctx context.Context, tokens TokenAuthenticator, review object.Object) (object.Object, error) {
	token, _ := specOf(review)["token"].(string)
	if token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	status := map[string]any{"authenticated": false}
	user, ok, err := tokens.AuthenticateToken(ctx, token)
	switch {
	case err != nil:
		status["error"] = err.Error()
	case ok:
		status["authenticated"] = true
		status["user"] = userInfo(authenticated(user))
	default:
		status["error"] = errInvalidToken.Error()
	}
	out := object.Object(object.DeepCopy(review).(map[string]any))
	out["apiVersion"], out["kind"] = authenticationV1, "TokenReview"
	out["status"] = status
	return out, nil
}

// SelfSubjectReview answers a SelfSubjectReview: the caller, as the
// authentication filter left it in the request's context.
func SelfSubjectReview(user *request.User) object.Object {
	if user == nil {
		user = &request.User{}
	}
	return object.Object{
		"apiVersion": authenticationV1,
		"kind":       "SelfSubjectReview",
		"metadata":   map[string]any{"creationTimestamp": object.Now()},
		"status":     map[string]any{"userInfo": userInfo(user)},
	}
}

// Bounds on spec.expirationSeconds (kubernetes/pkg/apis/authentication/validation).
const (
	defaultTokenSeconds = 3600
	minTokenSeconds     = 10 * 60
	maxTokenSeconds     = 1 << 32
)

// tokenRequestSpec is the part of a TokenRequest the client fills in.
// spec.boundObjectRef (a token bound to a pod or secret) is left out.
type tokenRequestSpec struct {
	Audiences         []string `json:"audiences"`
	ExpirationSeconds *int64   `json:"expirationSeconds"`
}

// TokenRequest answers a TokenRequest for the ServiceAccount sa (as stored;
// the HTTP layer has looked it up, so a missing account is its 404): a token
// for spec.audiences (none: the server's API audiences), valid for
// spec.expirationSeconds (none: an hour; less than 10 minutes or more than
// 2^32 seconds: 422).
func TokenRequest(ctx context.Context, sas *ServiceAccounts, sa object.Object, req object.Object) (object.Object, error) {
	name, namespace := sa.MetaString("name"), sa.MetaString("namespace")
	var spec tokenRequestSpec
	if raw, ok := req["spec"]; ok && raw != nil {
		data, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(data, &spec)
		}
		if err != nil {
			return nil, apierrors.NewBadRequest("TokenRequest spec: %v", err)
		}
	}
	seconds := int64(defaultTokenSeconds)
	if spec.ExpirationSeconds != nil {
		seconds = *spec.ExpirationSeconds
	}
	if cause := validateExpiration(seconds); cause != nil {
		return nil, apierrors.NewInvalid("authentication.k8s.io", "TokenRequest", name, []apierrors.Cause{*cause})
	}
	if len(spec.Audiences) == 0 {
		spec.Audiences = sas.APIAudiences()
	}
	token, expires, err := sas.Issue(sa, spec.Audiences, time.Duration(seconds)*time.Second)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return object.Object{
		"apiVersion": authenticationV1,
		"kind":       "TokenRequest",
		"metadata":   map[string]any{"name": name, "namespace": namespace, "creationTimestamp": object.Now()},
		"spec": map[string]any{
			"audiences":         jsonStrings(spec.Audiences),
			"expirationSeconds": json.Number(strconv.FormatInt(seconds, 10)),
			"boundObjectRef":    nil,
		},
		"status": map[string]any{"token": token, "expirationTimestamp": expires.UTC().Format(time.RFC3339)},
	}, nil
}

// validateExpiration checks spec.expirationSeconds, in Kubernetes' words.
func validateExpiration(seconds int64) *apierrors.Cause {
	var why string
	switch {
	case seconds < minTokenSeconds:
		why = "may not specify a duration less than 10 minutes"
	case seconds > maxTokenSeconds:
		why = "may not specify a duration larger than 2^32 seconds"
	default:
		return nil
	}
	return &apierrors.Cause{Reason: "FieldValueInvalid", Field: "spec.expirationSeconds",
		Message: "Invalid value: " + strconv.FormatInt(seconds, 10) + ": " + why}
}

// specOf is the object's spec, or nil if it has none (reading a nil map is fine).
func specOf(obj object.Object) map[string]any {
	spec, _ := obj["spec"].(map[string]any)
	return spec
}

// userInfo is a user as the APIs write it (authentication/v1 UserInfo), in
// the shape of decoded JSON, like every other object the server holds.
func userInfo(u *request.User) map[string]any {
	info := map[string]any{"username": u.Name}
	if u.UID != "" {
		info["uid"] = u.UID
	}
	if len(u.Groups) > 0 {
		info["groups"] = jsonStrings(u.Groups)
	}
	if len(u.Extra) > 0 {
		extra := map[string]any{}
		for k, v := range u.Extra {
			extra[k] = jsonStrings(v)
		}
		info["extra"] = extra
	}
	return info
}

// jsonStrings is a []string as decoded JSON holds it.
func jsonStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
