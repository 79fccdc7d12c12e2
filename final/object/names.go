// Names and labels, as Kubernetes validates them (k8s.io/apimachinery/pkg/util/validation
// and metav1validation.ValidateLabels). Each name validator returns
// Kubernetes' message for a bad name, "" for a good one.

package object

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Most names are DNS-1123 subdomains (up to 253 characters, dots allowed);
// namespaces are DNS-1123 labels (up to 63, no dots) and services DNS-1035
// labels (also starting with a letter), because their names end up in DNS
// names. A label name or value is up to 63 alphanumerics, '-', '_' or '.'.
var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1035Label     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	labelName        = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
)

// ValidateDNS1123Subdomain is the rule for most names: "app.config".
func ValidateDNS1123Subdomain(name string) string {
	switch {
	case len(name) > 253:
		return "must be no more than 253 characters"
	case !dns1123Subdomain.MatchString(name):
		return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')"
	}
	return ""
}

// ValidatePathSegmentName is the rule for RBAC objects, whose names may be
// anything that fits in a URL path segment ("system:discovery").
func ValidatePathSegmentName(name string) string {
	switch {
	case name == "." || name == "..":
		return fmt.Sprintf("may not be '%s'", name)
	case strings.ContainsAny(name, "/%"):
		return "may not contain '/' or '%'"
	}
	return ""
}

// ValidateDNS1123Label is the rule for namespaces and container names: "team-a".
func ValidateDNS1123Label(name string) string {
	switch {
	case len(name) > 63:
		return "must be no more than 63 characters"
	case !dns1123Label.MatchString(name):
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')"
	}
	return ""
}

// ValidateDNS1035Label is the rule for services and CRD names: "web", not "1web".
func ValidateDNS1035Label(name string) string {
	switch {
	case len(name) > 63:
		return "must be no more than 63 characters"
	case !dns1035Label.MatchString(name):
		return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name')"
	}
	return ""
}

// ValidateLabelKey checks a label key: an optional DNS subdomain prefix and
// "/", then a name ("example.com/team", "app").
func ValidateLabelKey(key string) error {
	name := key
	if prefix, rest, found := strings.Cut(key, "/"); found {
		if ValidateDNS1123Subdomain(prefix) != "" {
			return fmt.Errorf("invalid label key %q: prefix must be a DNS subdomain", key)
		}
		name = rest
	}
	if len(name) == 0 || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Errorf("invalid label key %q: name part must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'", key)
	}
	return nil
}

// IsValidLabelValue tells whether value may be a label's value: empty, or a
// label name.
func IsValidLabelValue(value string) bool {
	return value == "" || len(value) <= 63 && labelName.MatchString(value)
}

// ValidateLabels checks metadata.labels (raw as decoded): keys and values,
// every problem a cause.
func ValidateLabels(raw any) []apierrors.Cause {
	labels, ok := raw.(map[string]any)
	if raw != nil && !ok {
		return []apierrors.Cause{{Reason: "FieldValueInvalid", Message: "Invalid value: labels must be an object of strings", Field: "metadata.labels"}}
	}
	var causes []apierrors.Cause
	for key, v := range labels {
		if err := ValidateLabelKey(key); err != nil {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %v", key, err), Field: "metadata.labels"})
		}
		if value, isString := v.(string); !isString || !IsValidLabelValue(value) {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid",
				Message: fmt.Sprintf("Invalid value: %v: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", v),
				Field:   "metadata.labels." + key})
		}
	}
	return causes
}
