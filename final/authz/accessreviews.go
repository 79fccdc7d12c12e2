// Access reviews ask the authorizer a question instead of making a request
// (kubernetes/pkg/registry/authorization):
//
//   - SelfSubjectAccessReview: may I do this? ("kubectl auth can-i")
//   - SubjectAccessReview: may this user do this? (webhooks, aggregated servers)
//   - SelfSubjectRulesReview: what may I do in this namespace? ("kubectl auth can-i --list")
//
// The HTTP layer decodes the review, checks its kind, and calls these; they
// return the review with its status, or a Status error.

package authz

import (
	"context"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

const authorizationGroup = "authorization.k8s.io"

// accessReviewSpec is the spec of both access reviews: what is asked, and
// (SubjectAccessReview only) who asks.
type accessReviewSpec struct {
	ResourceAttributes *struct {
		Namespace   string `json:"namespace"`
		Verb        string `json:"verb"`
		Group       string `json:"group"`
		Version     string `json:"version"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Name        string `json:"name"`
	} `json:"resourceAttributes"`
	NonResourceAttributes *struct {
		Path string `json:"path"`
		Verb string `json:"verb"`
	} `json:"nonResourceAttributes"`
	User   string              `json:"user"`
	UID    string              `json:"uid"`
	Groups []string            `json:"groups"`
	Extra  map[string][]string `json:"extra"`
}

// SelfSubjectAccessReview answers whether user (the one making the
// request) may do what the review's spec describes.
func SelfSubjectAccessReview(ctx context.Context, a Authorizer, user *request.User, review object.Object) (object.Object, error) {
	if user == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	return accessReview(ctx, a, "SelfSubjectAccessReview", review, func(accessReviewSpec) *request.User { return user })
}

// SubjectAccessReview answers whether the user the spec names (user, uid,
// groups, extra: taken as given, no group is added) may do what it describes.
func SubjectAccessReview(ctx context.Context, a Authorizer, review object.Object) (object.Object, error) {
	return accessReview(ctx, a, "SubjectAccessReview", review, func(spec accessReviewSpec) *request.User {
		return &request.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups, Extra: spec.Extra}
	})
}

func accessReview(ctx context.Context, a Authorizer, kind string, review object.Object, who func(accessReviewSpec) *request.User) (object.Object, error) {
	var spec accessReviewSpec
	if err := remarshal(review["spec"], &spec); err != nil {
		return nil, apierrors.NewBadRequest("%s in version \"v1\" cannot be handled as a %s: spec: %v", kind, kind, err)
	}
	if causes := validateReviewSpec(review, spec, kind == "SubjectAccessReview"); len(causes) > 0 {
		return nil, apierrors.NewInvalid(authorizationGroup, kind, "", causes)
	}
	attrs := Attributes{User: who(spec)}
	if ra := spec.ResourceAttributes; ra != nil {
		attrs.ResourceRequest, attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = true, ra.Verb, ra.Namespace, ra.Group, ra.Version
		attrs.Resource, attrs.Subresource, attrs.Name = ra.Resource, ra.Subresource, ra.Name
		if attrs.APIVersion == "" {
			attrs.APIVersion = "*" // a question about a resource is about all its versions
		}
	} else {
		attrs.Verb, attrs.Path = spec.NonResourceAttributes.Verb, spec.NonResourceAttributes.Path
	}
	decision, reason, err := a.Authorize(ctx, attrs)
	status := map[string]any{"allowed": decision == Allow}
	if decision == Deny {
		status["denied"] = true
	}
	if reason != "" {
		status["reason"] = reason
	}
	if err != nil {
		status["evaluationError"] = err.Error()
	}
	return answer(review, kind, status), nil
}

// validateReviewSpec: exactly one of resourceAttributes and
// nonResourceAttributes, and for a SubjectAccessReview a user or a group
// (Kubernetes' ValidateSubjectAccessReviewSpec, with its messages).
func validateReviewSpec(review object.Object, spec accessReviewSpec, needsSubject bool) []apierrors.Cause {
	var causes []apierrors.Cause
	if (spec.ResourceAttributes == nil) == (spec.NonResourceAttributes == nil) {
		given, _ := review["spec"].(map[string]any)
		causes = append(causes, invalid("spec", given["nonResourceAttributes"], "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	if needsSubject && spec.User == "" && len(spec.Groups) == 0 {
		causes = append(causes, invalid("spec.user", spec.User, "at least one of user or group must be specified"))
	}
	return causes
}

// resourceRule and nonResourceRule are authorization.k8s.io/v1's shapes of
// the rules a SelfSubjectRulesReview lists.
type resourceRule struct {
	Verbs         []string `json:"verbs"`
	APIGroups     []string `json:"apiGroups,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

type nonResourceRule struct {
	Verbs           []string `json:"verbs"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// SelfSubjectRulesReview lists the RBAC rules user holds in the review's
// spec.namespace: those of ClusterRoleBindings and of the namespace's
// RoleBindings. What could not be resolved (a binding to a missing role)
// is in status.evaluationError; without an RBAC authorizer the list is
// empty and marked incomplete.
func SelfSubjectRulesReview(ctx context.Context, rbac *RBAC, user *request.User, review object.Object) (object.Object, error) {
	if user == nil {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	spec, _ := review["spec"].(map[string]any)
	namespace, _ := spec["namespace"].(string)
	if namespace == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	resourceRules, nonResourceRules := []resourceRule{}, []nonResourceRule{}
	if rbac == nil {
		return answer(review, "SelfSubjectRulesReview", map[string]any{"resourceRules": []any{}, "nonResourceRules": []any{}, "incomplete": true}), nil
	}
	rules, err := rbac.RulesFor(ctx, user, namespace)
	for _, rule := range rules {
		if len(rule.Resources) > 0 {
			resourceRules = append(resourceRules, resourceRule{rule.Verbs, rule.APIGroups, rule.Resources, rule.ResourceNames})
		}
		if len(rule.NonResourceURLs) > 0 {
			nonResourceRules = append(nonResourceRules, nonResourceRule{rule.Verbs, rule.NonResourceURLs})
		}
	}
	status := map[string]any{"resourceRules": resourceRules, "nonResourceRules": nonResourceRules, "incomplete": false}
	if err != nil {
		status["evaluationError"] = err.Error()
	}
	return answer(review, "SelfSubjectRulesReview", map[string]any(toJSON(status))), nil
}

// answer is a copy of the review (the caller's is left as it was) with its
// type, its status and a creationTimestamp, as a created object has.
func answer(review object.Object, kind string, status map[string]any) object.Object {
	out := object.Object(object.DeepCopy(review).(map[string]any))
	out["apiVersion"], out["kind"], out["status"] = authorizationGroup+"/v1", kind, status
	out.Metadata()["creationTimestamp"] = object.Now()
	return out
}
