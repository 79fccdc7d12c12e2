// The authentication APIs. None of them stores anything: each answers one
// POST with a computed object.
//
//   - TokenRequest (serviceaccounts/{name}/token): sign a token for an account;
//     what "kubectl create token NAME" calls.
//   - TokenReview: is this token valid, and whose is it? Webhooks and
//     aggregated servers ask it.
//   - SelfSubjectReview: who am I? What "kubectl auth whoami" calls.
package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// tokenRequestSpec is the part of a TokenRequest the client fills in.
type tokenRequestSpec struct {
	Audiences         []string `json:"audiences"`
	ExpirationSeconds *int64   `json:"expirationSeconds,omitempty"`
}

// createToken serves POST .../serviceaccounts/{name}/token.
func (s *server) createToken(_ *resource, r *http.Request, namespace, name string) (any, int, error) {
	body, err := readObject(r)
	if err != nil {
		return nil, 0, err
	}
	var spec tokenRequestSpec
	if err := remarshal(body["spec"], &spec); err != nil {
		return nil, 0, errBadRequest("spec: %v", err)
	}
	lifetime := int64(3600)
	if spec.ExpirationSeconds != nil {
		lifetime = *spec.ExpirationSeconds
	}
	if lifetime < 600 || lifetime > 1<<32 {
		return nil, 0, errInvalid(s.tokenRequests, name, []cause{{"FieldValueInvalid",
			"Invalid value: " + strconv.FormatInt(lifetime, 10) + ": may not specify a duration less than 10 minutes or more than 2^32 seconds",
			"spec.expirationSeconds"}})
	}
	if len(spec.Audiences) == 0 {
		spec.Audiences = s.tokens.audiences
	}
	sa, err := s.store.get(s.tokens.accounts, namespace, name)
	if err != nil {
		return nil, 0, err
	}
	token, expires, err := s.tokens.issue(sa, spec.Audiences, time.Duration(lifetime)*time.Second)
	if err != nil {
		return nil, 0, err
	}
	spec.ExpirationSeconds = &lifetime
	return map[string]any{
		"kind":       "TokenRequest",
		"apiVersion": "authentication.k8s.io/v1",
		"metadata":   map[string]any{"name": name, "namespace": namespace, "creationTimestamp": now()},
		"spec":       spec,
		"status":     map[string]any{"token": token, "expirationTimestamp": expires.UTC().Format(time.RFC3339)},
	}, http.StatusCreated, nil
}

// createTokenReview serves POST /apis/authentication.k8s.io/v1/tokenreviews.
func (s *server) createTokenReview(res *resource, r *http.Request, _, _ string) (any, int, error) {
	review, err := readReview(res, r)
	if err != nil {
		return nil, 0, err
	}
	token, _ := field(review, "spec", "token").(string)
	if token == "" { // 400, not 422: Kubernetes treats it as a malformed request
		return nil, 0, errBadRequest("spec.token: Required value: token")
	}
	status := map[string]any{"authenticated": false}
	user, ok, err := s.tokenAuthenticators.authenticateToken(token)
	switch {
	case err != nil:
		status["error"] = err.Error()
	case ok:
		status["authenticated"] = true
		status["user"] = authenticated(user)
		status["audiences"] = s.tokens.audiences
	}
	review["status"] = status
	return review, http.StatusCreated, nil
}

// createSelfSubjectReview serves POST /apis/authentication.k8s.io/v1/selfsubjectreviews.
func (s *server) createSelfSubjectReview(res *resource, r *http.Request, _, _ string) (any, int, error) {
	review, err := readReview(res, r)
	if err != nil {
		return nil, 0, err
	}
	review.metadata()["creationTimestamp"] = now()
	review["status"] = map[string]any{"userInfo": userFrom(r.Context())}
	return review, http.StatusCreated, nil
}

// readReview reads the body of a review: an object of the route's kind.
func readReview(res *resource, r *http.Request) (object, error) {
	review, err := readObject(r)
	if err != nil {
		return nil, err
	}
	return review, checkTypeMeta(res, review)
}

// field digs into decoded JSON: field(obj, "spec", "token").
func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObject := v.(object); isObject {
				m = o
			} else {
				return nil
			}
		}
		v = m[p]
	}
	return v
}

// remarshal converts decoded JSON into a typed struct.
func remarshal(from, to any) error {
	if from == nil {
		return nil
	}
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}
