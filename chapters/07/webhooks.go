// Dynamic admission: MutatingWebhookConfiguration and
// ValidatingWebhookConfiguration objects name HTTPS servers to ask about
// writes. For each webhook whose rules and selectors match the request, the
// server POSTs an AdmissionReview (admission.k8s.io/v1) and reads the answer:
// allowed or not, and for mutating webhooks a JSON patch to apply. A webhook
// that fails (down, slow, garbage) follows its failurePolicy: Fail refuses
// the request, Ignore lets it through. Mutating webhooks run in the mutating
// phase, validating ones in the validating phase, each in name order.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// webhook is one entry of a configuration's webhooks list.
type webhook struct {
	Name         string `json:"name"`
	ClientConfig struct {
		URL      string `json:"url"`
		CABundle []byte `json:"caBundle"` // base64 in JSON
	} `json:"clientConfig"`
	Rules             []webhookRule      `json:"rules"`
	NamespaceSelector *labelSelectorSpec `json:"namespaceSelector"`
	ObjectSelector    *labelSelectorSpec `json:"objectSelector"`
	FailurePolicy     string             `json:"failurePolicy"`
	TimeoutSeconds    *int               `json:"timeoutSeconds"`
}

// webhookRule selects requests by operation, GVR and scope ("*" matches all).
type webhookRule struct {
	Operations  []string `json:"operations"`
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Resources   []string `json:"resources"`
	Scope       string   `json:"scope"` // *, Cluster or Namespaced
}

// labelSelectorSpec is metav1.LabelSelector: matchLabels and matchExpressions.
type labelSelectorSpec struct {
	MatchLabels      map[string]string `json:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

func (ls *labelSelectorSpec) matches(labels map[string]string) bool {
	if ls == nil {
		return true
	}
	for k, v := range ls.MatchLabels {
		if labels[k] != v {
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
	s        *server
	mutating bool
}

// The two admission plugins. Each has only its own phase's method: a plugin
// with both would run in both phases, so each webhook would be called twice.
type mutatingWebhooks struct{ *webhooks }
type validatingWebhooks struct{ *webhooks }

func (w mutatingWebhooks) admit(a *admissionAttributes) error      { return w.call(a) }
func (w validatingWebhooks) validate(a *admissionAttributes) error { return w.call(a) }

// call asks every matching webhook, in order.
func (w *webhooks) call(a *admissionAttributes) error {
	for _, hook := range w.matching(a) {
		if err := w.callOne(hook, a); err != nil {
			return err
		}
	}
	return nil
}

// matching lists the webhooks whose rules and selectors select this request.
func (w *webhooks) matching(a *admissionAttributes) []webhook {
	configs := "validatingwebhookconfigurations"
	if w.mutating {
		configs = "mutatingwebhookconfigurations"
	}
	items, _ := w.s.store.list(w.s.registry.lookup("admissionregistration.k8s.io", configs), "")
	var out []webhook
	for _, item := range items {
		var config struct {
			Webhooks []webhook `json:"webhooks"`
		}
		if remarshal(item, &config) != nil {
			continue
		}
		for _, hook := range config.Webhooks {
			if w.selects(hook, a) {
				out = append(out, hook)
			}
		}
	}
	return out
}

func (w *webhooks) selects(hook webhook, a *admissionAttributes) bool {
	// Webhook configurations never go to webhooks: a broken webhook must not
	// be able to stop anyone from removing it.
	if a.resource.group == "admissionregistration.k8s.io" {
		return false
	}
	ruleMatches := slices.ContainsFunc(hook.Rules, func(r webhookRule) bool {
		scopeOK := r.Scope == "" || r.Scope == "*" ||
			r.Scope == "Namespaced" && a.resource.namespaced || r.Scope == "Cluster" && !a.resource.namespaced
		return scopeOK && matchesAny(r.Operations, a.operation) && matchesAny(r.APIGroups, a.resource.group) &&
			matchesAny(r.APIVersions, a.resource.version) && matchesAny(r.Resources, a.resource.name)
	})
	if !ruleMatches {
		return false
	}
	// The namespace selector looks at the labels of the object's namespace
	// (of the namespace itself, for namespaces); cluster-scoped objects pass.
	if hook.NamespaceSelector != nil {
		nsName := a.namespace
		if a.resource.kind == "Namespace" {
			nsName = a.name
		}
		if nsName != "" {
			ns, err := w.s.store.get(w.s.namespaces, "", nsName)
			nsLabels := map[string]string{}
			if err == nil {
				nsLabels = ns.labels()
			}
			// A namespace being created or updated is judged by its new
			// labels, as Kubernetes does: the stored one is missing or old.
			if a.resource.kind == "Namespace" && a.object != nil {
				nsLabels = a.object.labels()
			}
			if !hook.NamespaceSelector.matches(nsLabels) {
				return false
			}
		}
	}
	// The object selector looks at the object's labels, or the old object's.
	for _, o := range []object{a.object, a.oldObject} {
		if o != nil && hook.ObjectSelector.matches(o.labels()) {
			return true
		}
	}
	return hook.ObjectSelector == nil
}

// callOne sends one AdmissionReview and acts on the answer.
func (w *webhooks) callOne(hook webhook, a *admissionAttributes) error {
	response, err := w.post(hook, a)
	if err != nil {
		if hook.FailurePolicy == "Ignore" {
			log.Printf("admission webhook %q failed, ignored by its failurePolicy: %v", hook.Name, err)
			return nil
		}
		return &statusError{http.StatusInternalServerError, "InternalError",
			fmt.Sprintf("Internal error occurred: failed calling webhook %q: %v", hook.Name, err), nil}
	}
	if !response.Allowed {
		// Kubernetes' rules (ToStatusErr): the webhook's code if it is an
		// error code, else 400; its message, or else its reason.
		code, msg, reason := http.StatusBadRequest, "", ""
		if response.Status != nil {
			msg = response.Status.Message
			if response.Status.Code >= 400 {
				code = response.Status.Code
			}
			if response.Status.Reason != "" {
				reason = response.Status.Reason
				if msg == "" {
					msg = response.Status.Reason
				}
			}
		}
		if reason == "" { // named after the code, as clients read it
			reason = map[int]string{400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
				409: "Conflict", 422: "Invalid", 429: "TooManyRequests"}[code]
		}
		denied := fmt.Sprintf("admission webhook %q denied the request", hook.Name)
		if msg == "" {
			return &statusError{code, reason, denied + " without explanation", nil}
		}
		return &statusError{code, reason, denied + ": " + msg, nil}
	}
	if len(response.Patch) == 0 {
		return nil
	}
	if !w.mutating || response.PatchType != "JSONPatch" {
		return &statusError{http.StatusInternalServerError, "InternalError",
			fmt.Sprintf("Internal error occurred: webhook %q returned a patch it may not return", hook.Name), nil}
	}
	patched, err := applyJSONPatch(a.object, response.Patch)
	if err != nil {
		return &statusError{http.StatusInternalServerError, "InternalError",
			fmt.Sprintf("Internal error occurred: applying the patch of webhook %q: %v", hook.Name, err), nil}
	}
	for k := range a.object { // change the object in place: the caller holds it
		delete(a.object, k)
	}
	for k, v := range patched {
		a.object[k] = v
	}
	return nil
}

// admissionResponse is the part of an AdmissionReview response we read.
type admissionResponse struct {
	UID     string `json:"uid"`
	Allowed bool   `json:"allowed"`
	Status  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"status"`
	Patch     []byte `json:"patch"` // base64 in JSON
	PatchType string `json:"patchType"`
}

// post sends the AdmissionReview over HTTPS, trusting only the caBundle,
// and waits at most timeoutSeconds (default 10, as in Kubernetes).
func (w *webhooks) post(hook webhook, a *admissionAttributes) (*admissionResponse, error) {
	if !strings.HasPrefix(hook.ClientConfig.URL, "https://") {
		return nil, errors.New("clientConfig.url must be an https URL")
	}
	pool := x509.NewCertPool()
	if len(hook.ClientConfig.CABundle) > 0 && !pool.AppendCertsFromPEM(hook.ClientConfig.CABundle) {
		return nil, errors.New("clientConfig.caBundle holds no PEM certificate")
	}
	timeout := 10 * time.Second
	if hook.TimeoutSeconds != nil {
		timeout = time.Duration(*hook.TimeoutSeconds) * time.Second
	}
	uid := newUID()
	review := map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":       uid,
			"kind":      map[string]any{"group": a.resource.group, "version": a.resource.version, "kind": a.resource.kind},
			"resource":  map[string]any{"group": a.resource.group, "version": a.resource.version, "resource": a.resource.name},
			"name":      a.name,
			"namespace": a.namespace,
			"operation": a.operation,
			"userInfo":  a.user,
			"object":    nilIfEmpty(a.object),
			"oldObject": nilIfEmpty(a.oldObject),
			"dryRun":    false,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.ClientConfig.URL, bytes.NewReader(mustMarshal(review)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the webhook answered HTTP %d", resp.StatusCode)
	}
	var answer struct {
		Response *admissionResponse `json:"response"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Response == nil {
		return nil, fmt.Errorf("the webhook's answer is not an AdmissionReview with a response")
	}
	if answer.Response.UID != uid {
		return nil, fmt.Errorf("the webhook answered for request %q, not %q", answer.Response.UID, uid)
	}
	return answer.Response, nil
}

func nilIfEmpty(o object) any {
	if o == nil {
		return nil
	}
	return o
}

// applyJSONPatch applies an RFC 6902 patch to an object, returning a new one.
func applyJSONPatch(obj object, patch []byte) (object, error) {
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	doc, err := ops.Apply(mustMarshal(obj))
	if err != nil {
		return nil, err
	}
	return decodeObject(doc)
}
