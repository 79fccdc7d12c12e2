// Conversion between a CRD's versions. With strategy None, versions differ
// only in their schemas: converting sets the apiVersion. With strategy
// Webhook, the server cannot know what the versions mean, so it asks the
// CRD's author: it POSTs a ConversionReview (apiextensions.k8s.io/v1) with
// the objects and the version wanted, and checks the answer before using
// it: the same request uid, status Success, as many objects as it sent, each
// in the wanted version and still the same object. A webhook may change an
// object's labels and annotations; the rest of its metadata is the
// server's, and is put back as it was. Objects already in the wanted
// version are not sent.
//
// In Kubernetes this is k8s.io/apiextensions-apiserver's
// pkg/apiserver/conversion: converter.go (None) and webhook_converter.go.

package crd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// conversion is a CRD's spec.conversion.
type conversion struct {
	Strategy string `json:"strategy"`
	Webhook  *struct {
		ClientConfig             *admission.ClientConfig `json:"clientConfig"`
		ConversionReviewVersions []string                `json:"conversionReviewVersions"`
	} `json:"webhook"`
}

// conversionWebhookTimeout is how long Kubernetes waits for a conversion webhook.
const conversionWebhookTimeout = 30 * time.Second

// converter converts a CRD's objects between its versions: with a webhook
// when the CRD has one, else by setting the apiVersion.
type converter struct {
	kind    string
	webhook *admission.ClientConfig // nil: strategy None
	deps    admission.Dependencies  // to find the webhook's Service
}

// convert returns copies of objs in version (group/version). An error is
// the webhook's failure, in Kubernetes' words: "conversion webhook for
// example.com/v1, Kind=Widget failed: ...".
func (c *converter) convert(ctx context.Context, objs []object.Object, version string) ([]object.Object, error) {
	out := make([]object.Object, len(objs))
	var send []int // the indexes of the objects the webhook must convert
	for i, obj := range objs {
		out[i] = object.Object(object.DeepCopy(map[string]any(obj)).(map[string]any))
		if c.webhook == nil {
			out[i]["apiVersion"] = version
		} else if obj["apiVersion"] != version {
			send = append(send, i)
		}
	}
	if len(send) == 0 {
		return out, nil
	}
	gvk := fmt.Sprintf("%v, Kind=%s", objs[send[0]]["apiVersion"], c.kind)
	toSend := make([]object.Object, len(send))
	for j, i := range send {
		toSend[j] = out[i]
	}
	converted, err := c.callWebhook(ctx, toSend, version)
	if err != nil {
		return nil, fmt.Errorf("conversion webhook for %s failed: %w", gvk, err)
	}
	if len(converted) != len(send) {
		return nil, fmt.Errorf("conversion webhook for %s returned %d objects, expected %d", gvk, len(converted), len(send))
	}
	for j, i := range send {
		if err := checkConverted(out[i], converted[j], version); err != nil {
			return nil, fmt.Errorf("conversion webhook for %s returned invalid converted object at index %d: %w", gvk, j, err)
		}
		out[i] = converted[j]
	}
	return out, nil
}

// conversionResponse is the part of a ConversionReview's answer we read.
type conversionResponse struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   *struct {
		UID              string           `json:"uid"`
		ConvertedObjects []map[string]any `json:"convertedObjects"`
		Result           struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"result"`
	} `json:"response"`
}

// callWebhook sends one ConversionReview and reads its answer.
func (c *converter) callWebhook(ctx context.Context, objs []object.Object, version string) ([]object.Object, error) {
	uid := object.NewUID()
	body, err := json.Marshal(map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
		"request": map[string]any{"uid": uid, "desiredAPIVersion": version, "objects": objs}})
	if err != nil {
		return nil, err
	}
	answer, err := admission.PostWebhook(ctx, c.deps, *c.webhook, conversionWebhookTimeout, body)
	if err != nil {
		return nil, err
	}
	var review conversionResponse
	if err := json.Unmarshal(answer, &review); err != nil {
		return nil, fmt.Errorf("the answer is not a ConversionReview: %w", err)
	}
	if review.APIVersion != "apiextensions.k8s.io/v1" || review.Kind != "ConversionReview" {
		return nil, fmt.Errorf("expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got %s, Kind=%s", review.APIVersion, review.Kind)
	}
	r := review.Response
	switch {
	case r == nil:
		return nil, errors.New("no response provided")
	case r.UID != uid:
		return nil, fmt.Errorf("expected response.uid=%q, got %q", uid, r.UID)
	case r.Result.Status != "Success" && r.Result.Message != "":
		return nil, errors.New(r.Result.Message)
	case r.Result.Status != "Success":
		return nil, fmt.Errorf("response.result.status was '%s', not 'Success'", r.Result.Status)
	}
	out := make([]object.Object, len(r.ConvertedObjects))
	for i, o := range r.ConvertedObjects {
		out[i] = object.Object(o)
	}
	return out, nil
}

// checkConverted accepts a converted object only in the wanted version,
// of the same kind, and the same object; then it puts the original's
// metadata back, keeping only the webhook's labels and annotations, which
// must be valid.
func checkConverted(original, converted object.Object, version string) error {
	if got := converted["apiVersion"]; got != version {
		return fmt.Errorf("invalid groupVersion (expected %s, received %v)", version, got)
	}
	if got := converted["kind"]; got != original["kind"] {
		return fmt.Errorf("invalid kind (expected %v, received %v)", original["kind"], got)
	}
	responseMeta, ok := converted["metadata"].(map[string]any)
	if !ok {
		return errors.New("missing metadata in converted object")
	}
	for _, field := range []string{"name", "namespace", "uid"} {
		if a, b := original.MetaString(field), converted.MetaString(field); a != b {
			return fmt.Errorf("must have the same %s: %v != %v", field, a, b)
		}
	}
	meta := object.DeepCopy(original.Metadata()).(map[string]any)
	for _, field := range []string{"labels", "annotations"} {
		value, found := responseMeta[field]
		if !found || value == nil {
			delete(meta, field)
			continue
		}
		m, ok := value.(map[string]any)
		if !ok {
			return fmt.Errorf("invalid metadata.%s of type %T in converted object", field, value)
		}
		for k, v := range m {
			if _, ok := v.(string); !ok {
				return fmt.Errorf("metadata.%s[%s] must be a string, but is %T in converted object", field, k, v)
			}
		}
		if field == "labels" {
			if causes := object.ValidateLabels(m); len(causes) > 0 {
				return fmt.Errorf("invalid metadata.labels: %s: %s", causes[0].Field, causes[0].Message)
			}
		}
		for k := range m {
			if field == "annotations" && object.ValidateLabelKey(k) != nil { // keys are qualified names, as labels' are
				return fmt.Errorf("invalid metadata.annotations: %q is not a qualified name", k)
			}
		}
		meta[field] = m
	}
	converted["metadata"] = meta
	return nil
}

// asReadError and asWriteError are how a failed conversion reaches the
// client, as Kubernetes answers: a 500 InternalError on a read (the stored
// object cannot be served), a 500 with the message alone on a write.
func asReadError(err error) error { return apierrors.NewInternalError(err) }

func asWriteError(err error) error {
	return &apierrors.StatusError{Code: 500, Message: err.Error()}
}

// validateConversion checks spec.conversion as Kubernetes does; its field
// paths are those of the internal version (webhookClientConfig), as
// Kubernetes reports them.
func validateConversion(c *conversion) []apierrors.Cause {
	if c == nil {
		return nil
	}
	var causes []apierrors.Cause
	add := func(reason, field, message string) {
		causes = append(causes, apierrors.Cause{Reason: reason, Field: "spec.conversion." + field, Message: message})
	}
	invalid := func(field string, value any, detail string) {
		shown, _ := json.Marshal(value)
		add("FieldValueInvalid", field, fmt.Sprintf("Invalid value: %s: %s", shown, detail))
	}
	var config *admission.ClientConfig
	var reviewVersions []string
	if c.Webhook != nil {
		config, reviewVersions = c.Webhook.ClientConfig, c.Webhook.ConversionReviewVersions
	}
	switch c.Strategy {
	case "Webhook":
	case "None":
		if config != nil {
			add("FieldValueForbidden", "webhookClientConfig", "Forbidden: should not be set when strategy is not set to Webhook")
		}
		if len(reviewVersions) > 0 {
			add("FieldValueForbidden", "conversionReviewVersions", "Forbidden: should not be set when strategy is not set to Webhook")
		}
		return causes
	default:
		add("FieldValueNotSupported", "strategy", fmt.Sprintf(`Unsupported value: %q: supported values: "None", "Webhook"`, c.Strategy))
		return causes
	}
	switch {
	case config == nil:
		add("FieldValueRequired", "webhookClientConfig", "Required value: required when strategy is set to Webhook")
	case (config.URL == "") == (config.Service == nil):
		add("FieldValueRequired", "webhookClientConfig", "Required value: exactly one of url or service is required")
	case config.URL != "":
		const form = "; desired format: https://host[/path]"
		u, err := url.Parse(config.URL)
		if err != nil {
			add("FieldValueRequired", "webhookClientConfig.url", "Required value: url must be a valid URL: "+err.Error()+form)
			break
		}
		if u.Scheme != "https" {
			invalid("webhookClientConfig.url", u.Scheme, "'https' is the only allowed URL scheme"+form)
		}
		if u.Host == "" {
			invalid("webhookClientConfig.url", u.Host, "host must be specified"+form)
		}
		if u.User != nil {
			invalid("webhookClientConfig.url", u.User.String(), "user information is not permitted in the URL")
		}
		if u.Fragment != "" {
			invalid("webhookClientConfig.url", u.Fragment, "fragments are not permitted in the URL")
		}
		if u.RawQuery != "" {
			invalid("webhookClientConfig.url", u.RawQuery, "query parameters are not permitted in the URL")
		}
	default:
		s, path := config.Service, "webhookClientConfig.service."
		if s.Name == "" {
			add("FieldValueRequired", path+"name", "Required value")
		}
		if s.Namespace == "" {
			add("FieldValueRequired", path+"namespace", "Required value")
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			invalid(path+"port", *s.Port, "port is not valid: must be between 1 and 65535, inclusive")
		}
		if s.Path != nil {
			causes = append(causes, validateServicePath(*s.Path, "spec.conversion."+path+"path")...)
		}
	}
	if len(reviewVersions) == 0 {
		add("FieldValueRequired", "conversionReviewVersions", "Required value")
	} else if !slices.Contains(reviewVersions, "v1") && !slices.Contains(reviewVersions, "v1beta1") {
		invalid("conversionReviewVersions", reviewVersions, "must include at least one of v1, v1beta1")
	}
	return causes
}

// validateServicePath: a path of DNS subdomains, starting with a slash.
func validateServicePath(path, field string) []apierrors.Cause {
	if path == "" || path == "/" {
		return nil
	}
	var causes []apierrors.Cause
	invalid := func(detail string) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Field: field,
			Message: fmt.Sprintf("Invalid value: %s: %s", strconv.Quote(path), detail)})
	}
	if path == "//" {
		invalid("segment[0] may not be empty")
		return causes
	}
	if !strings.HasPrefix(path, "/") {
		invalid("must start with a '/'")
	}
	for i, segment := range strings.Split(strings.TrimSuffix(path[1:], "/"), "/") {
		if segment == "" {
			invalid(fmt.Sprintf("segment[%d] may not be empty", i))
		} else if msg := object.ValidateDNS1123Subdomain(segment); msg != "" {
			invalid(fmt.Sprintf("segment[%d]: %s", i, msg))
		}
	}
	return causes
}
