// Object schema validation: the step between mutating and validating
// admission. It checks the object as the mutating plugins left it, and
// reports every problem at once, each with its field path, in one 422.
package main

import (
	"fmt"
	"strings"
)

// validateObject checks the name and labels of any object, the fields this
// chapter knows of pods and CRDs, and custom objects against their CRD's
// schema. old is the stored object on update, nil on create.
func validateObject(res *resource, obj, old object) error {
	name := obj.metaString("name")
	var causes []cause
	switch msg := res.validateName(name); {
	case name == "":
		causes = append(causes, cause{"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"})
	case msg != "":
		causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: %s", name, msg), "metadata.name"})
	}
	causes = append(causes, validateLabels(obj.metadata()["labels"])...)
	switch {
	case res.kind == "Pod":
		causes = append(causes, validatePodSpec(obj)...)
	case res.kind == "CustomResourceDefinition" && res.custom == nil:
		crdCauses, err := validateCRD(obj, old)
		if err != nil {
			return err
		}
		causes = append(causes, crdCauses...)
	case res.custom != nil:
		causes = append(causes, res.custom.schema.validate(map[string]any(obj), "")...)
	}
	if len(causes) > 0 {
		return errInvalid(res, name, causes)
	}
	return nil
}

// validateLabels checks keys (optional DNS prefix, then a name) and values.
func validateLabels(raw any) []cause {
	labels, ok := raw.(map[string]any)
	if raw != nil && !ok {
		return []cause{{"FieldValueInvalid", "Invalid value: labels must be an object of strings", "metadata.labels"}}
	}
	var causes []cause
	for key, v := range labels {
		if err := validateLabelKey(key); err != nil {
			causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: %v", key, err), "metadata.labels"})
		}
		value, isString := v.(string)
		if !isString || value != "" && (len(value) > 63 || !labelName.MatchString(value)) {
			causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %v: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", v),
				"metadata.labels." + key})
		}
	}
	return causes
}

// validatePodSpec: at least one container, each with a unique DNS-1123 label
// name and an image.
func validatePodSpec(pod object) []cause {
	var causes []cause
	containers, _ := podSpec(pod)["containers"].([]any)
	if len(containers) == 0 {
		causes = append(causes, cause{"FieldValueRequired", "Required value", "spec.containers"})
	}
	seen := map[string]bool{}
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := podSpec(pod)[field].([]any)
		for i, item := range list {
			path := fmt.Sprintf("spec.%s[%d]", field, i)
			c, ok := item.(map[string]any)
			if !ok {
				causes = append(causes, cause{"FieldValueInvalid", "Invalid value: a container must be an object", path})
				continue
			}
			name, _ := c["name"].(string)
			switch {
			case name == "":
				causes = append(causes, cause{"FieldValueRequired", "Required value", path + ".name"})
			case validateLabel(name) != "":
				causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: %s", name, validateLabel(name)), path + ".name"})
			case seen[name]:
				causes = append(causes, cause{"FieldValueDuplicate", fmt.Sprintf("Duplicate value: %q", name), path + ".name"})
			}
			seen[name] = true
			if image, _ := c["image"].(string); strings.TrimSpace(image) == "" {
				causes = append(causes, cause{"FieldValueRequired", "Required value", path + ".image"})
			}
		}
	}
	return causes
}
