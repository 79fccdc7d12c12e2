// Validation: what an object must be to be stored. Every problem is
// reported at once, each with its field path, so that one 422 tells the
// client everything to fix.

package apis

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// Validate checks an object as it is about to be stored: the name (by the
// resource's rule) and labels of any object, and for the built-in kinds this
// package knows (Pod, Service, LimitRange, ResourceQuota, APIService,
// IPAddress, ServiceCIDR) their fields. old is the stored object on an
// update, nil on a create; the checks that compare the two are a Service's
// cluster IP and what an IPAddress or a ServiceCIDR may not change
// (Kubernetes' ValidatePodUpdate, which freezes most of a pod's spec, is
// left out).
//
// The causes are what the caller turns into one 422 Invalid (with the causes
// a CRD's schema adds, for custom resources). The error is for an object
// that does not even have the shape of its kind, which Kubernetes finds while
// decoding: a 400 BadRequest, returned alone.
func Validate(res *registry.Resource, obj, old object.Object) ([]apierrors.Cause, error) {
	causes := validateName(res, obj.MetaString("name"))
	meta, _ := obj["metadata"].(map[string]any)
	causes = append(causes, object.ValidateLabels(meta["labels"])...)
	switch builtinKind(res) {
	case "Service":
		more, err := validateService(obj, old)
		if err != nil {
			return nil, err
		}
		causes = append(causes, more...)
	case "IPAddress.networking.k8s.io":
		causes = append(causes, validateIPAddress(obj, old)...)
	case "ServiceCIDR.networking.k8s.io":
		causes = append(causes, validateServiceCIDR(obj, old)...)
	case "Pod":
		causes = append(causes, validatePodSpec(obj)...)
		more, err := validatePodResources(obj)
		if err != nil {
			return nil, err
		}
		causes = append(causes, more...)
	case "LimitRange":
		more, err := validateLimitRange(obj)
		if err != nil {
			return nil, err
		}
		causes = append(causes, more...)
	case "ResourceQuota":
		if spec, ok := obj["spec"].(map[string]any); ok {
			if err := badQuantity("ResourceQuota", spec["hard"]); err != nil {
				return nil, err
			}
		}
	case "APIService.apiregistration.k8s.io":
		more, err := validateAPIService(obj)
		if err != nil {
			return nil, err
		}
		causes = append(causes, more...)
	}
	return causes, nil
}

// validateName applies the resource's rule for names (a DNS subdomain unless
// the resource says otherwise). By now generateName has become a name, so an
// empty one means the client sent neither.
func validateName(res *registry.Resource, name string) []apierrors.Cause {
	rule := res.ValidateName
	if rule == nil {
		rule = object.ValidateDNS1123Subdomain
	}
	switch msg := rule(name); {
	case name == "":
		return []apierrors.Cause{{Reason: "FieldValueRequired", Message: "Required value: name or generateName is required", Field: "metadata.name"}}
	case msg != "":
		return []apierrors.Cause{{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %s", name, msg), Field: "metadata.name"}}
	}
	return nil
}

// validatePodSpec: at least one container; every container and init
// container has a name that is a DNS-1123 label, unique across both lists
// (they share one namespace of names in the kubelet), and an image.
func validatePodSpec(pod object.Object) []apierrors.Cause {
	spec, _ := pod["spec"].(map[string]any)
	var causes []apierrors.Cause
	if containers, _ := spec["containers"].([]any); len(containers) == 0 {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: "spec.containers"})
	}
	seen := map[string]bool{}
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for i, item := range list {
			path := fmt.Sprintf("spec.%s[%d]", field, i)
			c, ok := item.(map[string]any)
			if !ok {
				causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: "Invalid value: a container must be an object", Field: path})
				continue
			}
			name, _ := c["name"].(string)
			switch msg := object.ValidateDNS1123Label(name); {
			case name == "":
				causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: path + ".name"})
			case msg != "":
				causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %s", name, msg), Field: path + ".name"})
			case seen[name]:
				causes = append(causes, apierrors.Cause{Reason: "FieldValueDuplicate", Message: fmt.Sprintf("Duplicate value: %q", name), Field: path + ".name"})
			}
			seen[name] = true
			if image, _ := c["image"].(string); strings.TrimSpace(image) == "" {
				causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: path + ".image"})
			}
		}
	}
	return causes
}

// APIService is the part of an APIService that validation, and the
// aggregator, read.
type APIService struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Group                 string `json:"group"`
		Version               string `json:"version"`
		GroupPriorityMinimum  int64  `json:"groupPriorityMinimum"`
		VersionPriority       int64  `json:"versionPriority"`
		InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
		CABundle              string `json:"caBundle"`
		Service               *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			Port      *int64 `json:"port"`
		} `json:"service"`
	} `json:"spec"`
}

// validateAPIService checks an APIService as kube-aggregator does
// (ValidateAPIService): its name is version.group, priorities are in range,
// a service names its namespace and name and a valid port, and a CA bundle is
// valid base64 and not combined with insecureSkipTLSVerify. A field of the
// wrong type ("port": "443") is a 400, as Kubernetes' decoder makes it.
func validateAPIService(obj object.Object) ([]apierrors.Cause, error) {
	var a APIService
	data, err := json.Marshal(obj)
	if err == nil {
		err = json.Unmarshal(data, &a)
	}
	if err != nil {
		return nil, apierrors.NewBadRequest("APIService in version \"v1\" cannot be handled as a APIService: %v", err)
	}
	spec := a.Spec
	var causes []apierrors.Cause
	invalid := func(field, format string, args ...any) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: "Invalid value: " + fmt.Sprintf(format, args...), Field: field})
	}
	required := func(field, message string) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: message, Field: field})
	}
	if want := spec.Version + "." + spec.Group; a.Metadata.Name != want {
		invalid("metadata.name", "%q: must be spec.version+\".\"+spec.group", a.Metadata.Name)
	}
	if spec.Version == "" {
		required("spec.version", "Required value")
	}
	if spec.Group == "" && spec.Version != "v1" {
		required("spec.group", "Required value: only v1 may have an empty group and it better be legacy kube")
	}
	if spec.GroupPriorityMinimum <= 0 || spec.GroupPriorityMinimum > 20000 {
		invalid("spec.groupPriorityMinimum", "%d: must be positive and less than 20000", spec.GroupPriorityMinimum)
	}
	if spec.VersionPriority <= 0 || spec.VersionPriority > 1000 {
		invalid("spec.versionPriority", "%d: must be positive and less than 1000", spec.VersionPriority)
	}
	if s := spec.Service; s != nil {
		if s.Name == "" || s.Namespace == "" {
			required("spec.service", "Required value: a service needs a namespace and a name")
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			invalid("spec.service.port", "%d: must be between 1 and 65535", *s.Port)
		}
	}
	if spec.CABundle != "" {
		if _, err := base64.StdEncoding.DecodeString(spec.CABundle); err != nil {
			invalid("spec.caBundle", "must be base64: %v", err)
		}
		if spec.InsecureSkipTLSVerify {
			invalid("spec.insecureSkipTLSVerify", "true: may not be true if caBundle is present")
		}
	}
	return causes, nil
}
