// Exercise 05 (second): a validating admission webhook of your own.
// Reference solution.
//
// The API server POSTs an AdmissionReview to a webhook for every write its
// ValidatingWebhookConfiguration selects, and waits for the verdict. This
// webhook refuses pods whose images come from registries outside an
// allow-list, or that run whatever "latest" happens to be today.
package validatingwebhook

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
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
	name, digest, _ := strings.Cut(image, "@")
	// The first component is a registry only if it looks like a host: a
	// dot or a port, "localhost", or capitals (which a repository may not
	// have). Otherwise "bitnami/redis" would be a registry called bitnami.
	first, rest, found := strings.Cut(name, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first) {
		registry, repository = first, rest
	} else {
		registry, repository = "docker.io", name
	}
	if registry == "index.docker.io" {
		registry = "docker.io"
	}
	if registry == "docker.io" && !strings.Contains(repository, "/") {
		repository = "library/" + repository
	}
	// With the registry gone, a colon can only start the tag.
	if i := strings.LastIndex(repository, ":"); i >= 0 {
		repository, tag = repository[:i], repository[i+1:]
	}
	return registry, repository, tag, digest
}

// Problems lists what is wrong with the pod's images, one line per
// problem: init containers, then containers, then ephemeral containers,
// in order; for each, the registry before the tag.
func (w *Webhook) Problems(pod *Pod) []string {
	var problems []string
	check := func(kind string, containers []Container) {
		for _, c := range containers {
			registry, _, tag, digest := ParseImage(c.Image)
			if !slices.Contains(w.AllowedRegistries, registry) {
				problems = append(problems, fmt.Sprintf("%s %q: image %q is from registry %q, which is not allowed", kind, c.Name, c.Image, registry))
			}
			switch {
			case digest != "":
				// Pinned: the digest is what runs, whatever the tag says.
			case tag == "latest":
				problems = append(problems, fmt.Sprintf(`%s %q: image %q has the tag "latest"`, kind, c.Name, c.Image))
			case tag == "":
				problems = append(problems, fmt.Sprintf(`%s %q: image %q has no tag, which means "latest"`, kind, c.Name, c.Image))
			}
		}
	}
	check("init container", pod.Spec.InitContainers)
	check("container", pod.Spec.Containers)
	check("ephemeral container", pod.Spec.EphemeralContainers)
	return problems
}

// maxBody is kube-apiserver's limit on a request body; a review is one.
const maxBody = 3 << 20

// ServeHTTP answers an AdmissionReview with a verdict.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "only POST", http.StatusMethodNotAllowed)
		return
	}
	if mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mediaType != "application/json" {
		http.Error(rw, "want Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	var review AdmissionReview
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, maxBody)).Decode(&review); err != nil {
		http.Error(rw, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" || review.Request == nil || review.Request.UID == "" {
		http.Error(rw, "want an admission.k8s.io/v1 AdmissionReview with a request and its uid", http.StatusBadRequest)
		return
	}
	response := w.review(review.Request)
	// The API server matches the answer to its question by the uid.
	response.UID = review.Request.UID
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(AdmissionReview{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: response})
}

// review is the verdict on one request.
func (w *Webhook) review(req *AdmissionRequest) *AdmissionResponse {
	allow := &AdmissionResponse{Allowed: true}
	// Pods, and the subresource that adds containers to a running pod
	// (kubectl debug): without it, an ephemeral container would bypass
	// the check. Other subresources (status, binding, exec, log) and other
	// operations cannot change an image.
	if req.Resource.Group != "" || req.Resource.Version != "v1" || req.Resource.Resource != "pods" ||
		req.SubResource != "" && req.SubResource != "ephemeralcontainers" ||
		req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return allow
	}
	if len(req.Object) == 0 || string(req.Object) == "null" {
		return refuse(http.StatusBadRequest, "BadRequest", "request.object is missing")
	}
	var pod Pod
	if err := json.Unmarshal(req.Object, &pod); err != nil {
		return refuse(http.StatusBadRequest, "BadRequest", "request.object is not a Pod: "+err.Error())
	}
	if problems := w.Problems(&pod); len(problems) > 0 {
		return refuse(http.StatusForbidden, "Forbidden", strings.Join(problems, "; "))
	}
	return allow
}

func refuse(code int, reason, message string) *AdmissionResponse {
	return &AdmissionResponse{Allowed: false, Status: &Status{Code: code, Reason: reason, Message: message}}
}
