// Exercise 05 (second): a validating admission webhook of your own.
//
// The API server POSTs an AdmissionReview to a webhook for every write its
// ValidatingWebhookConfiguration selects, and waits for the verdict. This
// webhook refuses pods whose images come from registries outside an
// allow-list, or that run whatever "latest" happens to be today.
//
// Edit this file. The tests in webhook_test.go are the specification;
// README.md explains the rules.
package validatingwebhook

import (
	"encoding/json"
	"net/http"
)

// The AdmissionReview of admission.k8s.io/v1, the fields this webhook uses.

type AdmissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *AdmissionRequest  `json:"request,omitempty"`
	Response   *AdmissionResponse `json:"response,omitempty"`
}

type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

type AdmissionRequest struct {
	UID         string               `json:"uid"`
	Kind        GroupVersionKind     `json:"kind"`
	Resource    GroupVersionResource `json:"resource"`
	SubResource string               `json:"subResource,omitempty"`
	Name        string               `json:"name,omitempty"`
	Namespace   string               `json:"namespace,omitempty"`
	Operation   string               `json:"operation"` // CREATE, UPDATE, DELETE or CONNECT
	Object      json.RawMessage      `json:"object,omitempty"`
	OldObject   json.RawMessage      `json:"oldObject,omitempty"`
}

type AdmissionResponse struct {
	UID     string  `json:"uid"`
	Allowed bool    `json:"allowed"`
	Status  *Status `json:"status,omitempty"`
}

// Status is the metav1.Status of a refusal.
type Status struct {
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Pod is the part of a v1 Pod this webhook reads.
type Pod struct {
	Metadata struct {
		Name      string `json:"name,omitempty"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"metadata"`
	Spec struct {
		InitContainers      []Container `json:"initContainers,omitempty"`
		Containers          []Container `json:"containers"`
		EphemeralContainers []Container `json:"ephemeralContainers,omitempty"`
	} `json:"spec"`
}

type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Webhook is the validating webhook: an http.Handler for the path its
// ValidatingWebhookConfiguration names.
type Webhook struct {
	// AllowedRegistries are the registries images may come from, as
	// ParseImage names them: "registry.k8s.io", "localhost:5000",
	// "docker.io" for Docker Hub.
	AllowedRegistries []string
}

// ParseImage splits an image reference the way container runtimes read
// it: [registry/]repository[:tag][@digest], with Docker Hub's defaults.
func ParseImage(image string) (registry, repository, tag, digest string) {
	// TODO: the digest is everything after "@".
	// TODO: is the first component a registry? (README, rule 2)
	// TODO: Docker Hub's two defaults, then the tag.
	panic("Please implement ParseImage")
}

// Problems lists what is wrong with the pod's images, one line per
// problem: init containers, then containers, then ephemeral containers,
// in order; for each, the registry before the tag.
func (w *Webhook) Problems(pod *Pod) []string {
	// TODO: for every container of the three kinds: a registry not in
	//       w.AllowedRegistries, then a "latest" tag, written or implied,
	//       unless a digest pins the image.
	panic("Please implement Problems")
}

// ServeHTTP answers an AdmissionReview with a verdict.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	// TODO: refuse what is not a POST of JSON (405, 415) and what is not
	//       an admission.k8s.io/v1 AdmissionReview with a request (400).
	// TODO: decide: only pod writes are this webhook's business.
	// TODO: answer 200 with an AdmissionReview whose response carries the
	//       request's uid and the verdict.
	panic("Please implement ServeHTTP")
}
