// Access reviews ask the authorizer a question instead of making a request:
//
//   - SelfSubjectAccessReview: may I do this? ("kubectl auth can-i")
//   - SubjectAccessReview: may this user do this? (webhooks, aggregated servers)
//   - SelfSubjectRulesReview: what may I do in this namespace? ("kubectl auth can-i --list")
package main

import (
	"net/http"
)

// accessReviewSpec is the part of both access reviews that names the request.
type accessReviewSpec struct {
	ResourceAttributes *struct {
		Namespace   string `json:"namespace"`
		Verb        string `json:"verb"`
		Group       string `json:"group"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Name        string `json:"name"`
	} `json:"resourceAttributes"`
	NonResourceAttributes *struct {
		Path string `json:"path"`
		Verb string `json:"verb"`
	} `json:"nonResourceAttributes"`
	// SubjectAccessReview only: who is asking.
	User   string              `json:"user"`
	UID    string              `json:"uid"`
	Groups []string            `json:"groups"`
	Extra  map[string][]string `json:"extra"`
}

// review reads an access review and answers it for user (nil: the spec's user).
func (s *server) review(res *resource, r *http.Request, user *userInfo) (any, int, error) {
	review, err := readReview(res, r)
	if err != nil {
		return nil, 0, err
	}
	var spec accessReviewSpec
	if err := remarshal(review["spec"], &spec); err != nil {
		return nil, 0, errBadRequest("spec: %v", err)
	}
	if user == nil {
		if spec.User == "" && len(spec.Groups) == 0 {
			return nil, 0, errInvalid(res, "", []cause{{"FieldValueRequired", "Required value: at least one of user or group must be specified", "spec.user"}})
		}
		user = &userInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups, Extra: spec.Extra}
	}
	var info requestInfo
	switch {
	case spec.ResourceAttributes != nil && spec.NonResourceAttributes == nil:
		ra := spec.ResourceAttributes
		info = requestInfo{IsResourceRequest: true, Verb: ra.Verb, APIGroup: ra.Group, Namespace: ra.Namespace,
			Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}
	case spec.NonResourceAttributes != nil && spec.ResourceAttributes == nil:
		info = requestInfo{Verb: spec.NonResourceAttributes.Verb, Path: spec.NonResourceAttributes.Path}
	default:
		return nil, 0, errInvalid(res, "", []cause{{"FieldValueInvalid",
			"Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified", "spec"}})
	}
	allowed := s.authorizer.authorize(attributes{user: user, requestInfo: info}) == allow
	review["status"] = map[string]any{"allowed": allowed}
	review.metadata()["creationTimestamp"] = now()
	return review, http.StatusCreated, nil
}

func (s *server) createSelfSubjectAccessReview(res *resource, r *http.Request, _, _ string) (any, int, error) {
	return s.review(res, r, userFrom(r.Context()))
}

func (s *server) createSubjectAccessReview(res *resource, r *http.Request, _, _ string) (any, int, error) {
	return s.review(res, r, nil)
}

// createSelfSubjectRulesReview lists the caller's RBAC rules in a namespace.
func (s *server) createSelfSubjectRulesReview(res *resource, r *http.Request, _, _ string) (any, int, error) {
	review, err := readReview(res, r)
	if err != nil {
		return nil, 0, err
	}
	namespace, _ := field(review, "spec", "namespace").(string)
	resourceRules, nonResourceRules := []map[string]any{}, []map[string]any{}
	for _, rule := range s.rbac.rulesFor(userFrom(r.Context()), namespace) {
		if len(rule.NonResourceURLs) > 0 {
			nonResourceRules = append(nonResourceRules, map[string]any{"verbs": rule.Verbs, "nonResourceURLs": rule.NonResourceURLs})
			continue
		}
		rr := map[string]any{"verbs": rule.Verbs, "apiGroups": rule.APIGroups, "resources": rule.Resources}
		if len(rule.ResourceNames) > 0 {
			rr["resourceNames"] = rule.ResourceNames
		}
		resourceRules = append(resourceRules, rr)
	}
	review["status"] = map[string]any{"resourceRules": resourceRules, "nonResourceRules": nonResourceRules, "incomplete": false}
	review.metadata()["creationTimestamp"] = now()
	return review, http.StatusCreated, nil
}
