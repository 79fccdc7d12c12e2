// Dynamic admission: MutatingWebhookConfiguration and
// ValidatingWebhookConfiguration objects name HTTPS servers to ask about
// writes. For each webhook whose rules and selectors match the request, the
// server POSTs an AdmissionReview (admission.k8s.io/v1) and reads the answer:
// allowed or not, and from a mutating webhook a JSON patch to apply. A
// webhook that fails (down, slow, garbage) follows its failurePolicy: Fail
// refuses the request, Ignore lets it through. Mutating webhooks run in the
// mutating phase, validating ones in the validating phase; configurations in
// name order, the webhooks of one in their order.

package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// webhook is one entry of a configuration's webhooks list.
type webhook struct {
	Name              string         `json:"name"`
	ClientConfig      ClientConfig   `json:"clientConfig"`
	Rules             []webhookRule  `json:"rules"`
	NamespaceSelector *labelSelector `json:"namespaceSelector"`
	ObjectSelector    *labelSelector `json:"objectSelector"`
	FailurePolicy     string         `json:"failurePolicy"` // Fail (the default) or Ignore
	SideEffects       string         `json:"sideEffects"`   // None, NoneOnDryRun, Some, Unknown
	TimeoutSeconds    *int           `json:"timeoutSeconds"`
}

// webhookRule selects requests by operation, GVR and scope ("*" matches all).
type webhookRule struct {
	Operations  []string `json:"operations"`
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Resources   []string `json:"resources"` // "pods", "pods/status", "pods/*", "*", "*/*"
	Scope       string   `json:"scope"`     // *, Cluster or Namespaced
}

// labelSelector is metav1.LabelSelector: matchLabels and matchExpressions.
type labelSelector struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

// matches tells whether labels are selected. No selector selects all; an
// unknown operator selects nothing.
func (ls *labelSelector) matches(labels map[string]string) bool {
	if ls == nil {
		return true
	}
	for k, v := range ls.MatchLabels {
		if value, has := labels[k]; !has || value != v {
			return false
		}
	}
	for _, e := range ls.MatchExpressions {
		value, has := labels[e.Key]
		ok := map[string]bool{
			"In":           has && slices.Contains(e.Values, value),
			"NotIn":        !has || !slices.Contains(e.Values, value),
			"Exists":       has,
			"DoesNotExist": !has,
		}[e.Operator]
		if !ok {
			return false
		}
	}
	return true
}

// webhooks asks the webhooks of one configuration kind: mutating selects it.
type webhooks struct {
	deps     Dependencies
	mutating bool
}

// The two admission plugins. Each has only its own phase's method: a plugin
// with both would run in both phases, so each webhook would be called twice.
type mutatingWebhooks struct{ *webhooks }
type validatingWebhooks struct{ *webhooks }

func (w mutatingWebhooks) admit(ctx context.Context, a *Attributes) error      { return w.call(ctx, a) }
func (w validatingWebhooks) validate(ctx context.Context, a *Attributes) error { return w.call(ctx, a) }

// call asks every matching webhook, in order; the first refusal stops it.
func (w *webhooks) call(ctx context.Context, a *Attributes) error {
	// Webhook configurations never go to webhooks: a broken webhook must not
	// be able to stop anyone from removing it.
	if a.Resource.Group == "admissionregistration.k8s.io" {
		return nil
	}
	hooks, err := w.configured(ctx)
	if err != nil {
		return err
	}
	for _, hook := range hooks {
		selected, err := w.selects(ctx, hook, a)
		if err != nil {
			return err
		}
		if !selected {
			continue
		}
		if err := w.callOne(ctx, hook, a); err != nil {
			return err
		}
	}
	return nil
}

// configured lists the webhooks of every configuration of this kind, read
// on each request from the watch cache once it holds this server's own
// writes (store.ListOptions.OwnWrites), so a new configuration applies from
// the next request on. A configuration that does not decode is skipped.
func (w *webhooks) configured(ctx context.Context) ([]webhook, error) {
	name := "validatingwebhookconfigurations"
	if w.mutating {
		name = "mutatingwebhookconfigurations"
	}
	configs, err := lookup(w.deps.Registry, "admissionregistration.k8s.io", name)
	if err != nil {
		return nil, err
	}
	items, _, _, err := w.deps.Store.List(ctx, configs, "", store.ListOptions{OwnWrites: true})
	if err != nil {
		return nil, err
	}
	var out []webhook
	for _, item := range items {
		var config struct {
			Webhooks []webhook `json:"webhooks"`
		}
		if remarshal(item, &config) != nil {
			log.Printf("admission: %s %q does not decode, its webhooks are not called", configs.Kind, item.MetaString("name"))
			continue
		}
		out = append(out, config.Webhooks...)
	}
	return out, nil
}

// selects tells whether a webhook's rules and selectors select a request.
func (w *webhooks) selects(ctx context.Context, hook webhook, a *Attributes) (bool, error) {
	if !slices.ContainsFunc(hook.Rules, func(r webhookRule) bool { return r.matches(a) }) {
		return false, nil
	}
	// The namespace selector looks at the labels of the object's namespace
	// (of the namespace itself, for namespaces); other cluster-scoped
	// objects pass.
	if hook.NamespaceSelector != nil {
		labels, err := w.namespaceLabels(ctx, a)
		if err != nil {
			return false, err
		}
		if labels != nil && !hook.NamespaceSelector.matches(labels) {
			return false, nil
		}
	}
	// The object selector looks at the object's labels, or the old object's:
	// a match on either is enough.
	if hook.ObjectSelector == nil {
		return true, nil
	}
	for _, o := range []object.Object{a.Object, a.OldObject} {
		if o != nil && hook.ObjectSelector.matches(o.Labels()) {
			return true, nil
		}
	}
	return false, nil
}

// namespaceLabels are the labels a namespaceSelector judges: those of the
// object's namespace, nil for a cluster-scoped object. A namespace being
// written is judged by its new labels, as Kubernetes does: the stored one is
// missing or old. A namespace that does not exist has no labels.
func (w *webhooks) namespaceLabels(ctx context.Context, a *Attributes) (map[string]string, error) {
	isNamespace := isBuiltin(a.Resource, "", "Namespace")
	name := a.Namespace
	if isNamespace {
		if a.Object != nil {
			return a.Object.Labels(), nil
		}
		name = a.Name
	}
	if name == "" {
		return nil, nil
	}
	namespaces, err := lookup(w.deps.Registry, "", "namespaces")
	if err != nil {
		return nil, err
	}
	ns, err := w.deps.Store.GetOwnWrites(ctx, namespaces, "", name)
	switch {
	case apierrors.IsNotFound(err):
		return map[string]string{}, nil
	case err != nil:
		return nil, err
	}
	return ns.Labels(), nil
}

// matches tells whether a rule selects the request, as k8s.io/apiserver's
// rules.Matcher: every list must hold the request's value or "*".
func (r webhookRule) matches(a *Attributes) bool {
	scope := r.Scope == "" || r.Scope == "*" ||
		r.Scope == "Namespaced" && a.Resource.Namespaced || r.Scope == "Cluster" && !a.Resource.Namespaced
	return scope && matchesAny(r.Operations, a.Operation) && matchesAny(r.APIGroups, a.Resource.Group) &&
		matchesAny(r.APIVersions, a.Resource.Version) && r.matchesResource(a.Resource.Name, a.Subresource)
}

// matchesResource: "pods" is the pods themselves, "pods/status" one
// subresource, "pods/*" every subresource, "*" every resource, "*/*"
// everything.
func (r webhookRule) matchesResource(resource, subresource string) bool {
	return slices.ContainsFunc(r.Resources, func(pattern string) bool {
		res, sub, _ := strings.Cut(pattern, "/")
		return (res == "*" || res == resource) && (sub == "*" || sub == subresource)
	})
}

func matchesAny(list []string, value string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, value)
}

// callOne sends one AdmissionReview and acts on the answer.
func (w *webhooks) callOne(ctx context.Context, hook webhook, a *Attributes) error {
	// A dry run must not cause what the webhook does besides answering.
	if a.DryRun && hook.SideEffects != "None" && hook.SideEffects != "NoneOnDryRun" {
		return apierrors.NewBadRequest("admission webhook %q does not support dry run", hook.Name)
	}
	response, err := w.post(ctx, hook, a)
	if err != nil {
		if hook.FailurePolicy == "Ignore" {
			log.Printf("admission webhook %q failed, ignored by its failurePolicy: %v", hook.Name, err)
			return nil
		}
		return apierrors.NewInternalError(fmt.Errorf("failed calling webhook %q: %w", hook.Name, err))
	}
	if !response.Allowed {
		return denied(hook.Name, response.Status)
	}
	if len(response.Patch) == 0 {
		return nil
	}
	if !w.mutating || a.Object == nil || response.PatchType != "JSONPatch" {
		return apierrors.NewInternalError(fmt.Errorf("webhook %q returned a patch it may not return", hook.Name))
	}
	patched, err := applyJSONPatch(a.Object, response.Patch)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("applying the patch of webhook %q: %w", hook.Name, err))
	}
	clear(a.Object) // change the object in place: the caller holds it
	for k, v := range patched {
		a.Object[k] = v
	}
	return nil
}

// webhookStatus is the metav1.Status of a refusal.
type webhookStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

// denied is a webhook's refusal, as k8s.io/apiserver's ToStatusErr makes
// it: the webhook's code if it is an error code, else 400, its reason, and
// its message after the webhook's name.
func denied(name string, status *webhookStatus) *apierrors.StatusError {
	if status == nil {
		status = &webhookStatus{}
	}
	se := &apierrors.StatusError{Code: status.Code, Reason: status.Reason,
		Message: fmt.Sprintf("admission webhook %q denied the request", name)}
	if se.Code < http.StatusBadRequest {
		se.Code = http.StatusBadRequest
	}
	switch {
	case status.Message != "":
		se.Message += ": " + status.Message
	case status.Reason != "":
		se.Message += ": " + status.Reason
	default:
		se.Message += " without explanation"
	}
	return se
}

// admissionResponse is the part of an AdmissionReview response we read.
type admissionResponse struct {
	UID       string         `json:"uid"`
	Allowed   bool           `json:"allowed"`
	Status    *webhookStatus `json:"status"`
	Patch     []byte         `json:"patch"` // base64 in JSON
	PatchType string         `json:"patchType"`
}

// post sends the AdmissionReview and waits at most timeoutSeconds: 10 by
// default, between 1 and 30, as Kubernetes allows.
func (w *webhooks) post(ctx context.Context, hook webhook, a *Attributes) (*admissionResponse, error) {
	timeout := 10 * time.Second
	if hook.TimeoutSeconds != nil {
		timeout = time.Duration(min(max(*hook.TimeoutSeconds, 1), 30)) * time.Second
	}
	uid := object.NewUID()
	body, err := json.Marshal(review(uid, a))
	if err != nil {
		return nil, err
	}
	answer, err := PostWebhook(ctx, w.deps, hook.ClientConfig, timeout, body)
	if err != nil {
		return nil, err
	}
	var decoded struct {
		Response *admissionResponse `json:"response"`
	}
	if err := json.Unmarshal(answer, &decoded); err != nil || decoded.Response == nil {
		return nil, errors.New("the webhook's answer is not an AdmissionReview with a response")
	}
	if decoded.Response.UID != uid {
		return nil, fmt.Errorf("the webhook answered for request %q, not %q", decoded.Response.UID, uid)
	}
	return decoded.Response, nil
}

// review is the AdmissionReview a webhook receives. Its object is in the
// version of the request (a webhook is not sent another version its rules
// ask for), so the request's kind and resource are also the ones asked for.
func review(uid string, a *Attributes) map[string]any {
	kind := map[string]any{"group": a.Resource.Group, "version": a.Resource.Version, "kind": a.Resource.Kind}
	resource := map[string]any{"group": a.Resource.Group, "version": a.Resource.Version, "resource": a.Resource.Name}
	request := map[string]any{
		"uid":             uid,
		"kind":            kind,
		"resource":        resource,
		"requestKind":     kind,
		"requestResource": resource,
		"name":            a.Name,
		"namespace":       a.Namespace,
		"operation":       a.Operation,
		"userInfo":        map[string]any{},
		"object":          a.Object, // a nil Object is null
		"oldObject":       a.OldObject,
		"dryRun":          a.DryRun,
	}
	if a.Subresource != "" {
		request["subResource"], request["requestSubResource"] = a.Subresource, a.Subresource
	}
	if a.User != nil {
		request["userInfo"] = a.User
	}
	return map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
}

// applyJSONPatch applies an RFC 6902 patch to an object, returning a new one.
func applyJSONPatch(obj object.Object, patch []byte) (object.Object, error) {
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if doc, err = ops.Apply(doc); err != nil {
		return nil, err
	}
	return object.Decode(doc)
}

// remarshal copies decoded JSON into a typed value.
func remarshal(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}
