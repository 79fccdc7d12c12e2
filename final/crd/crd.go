// Package crd serves CustomResourceDefinitions: API objects that add
// resources to the server while it runs. A CRD is defaulted and validated
// when it is written (Default, Validate: names, group, scope, versions, a
// structural schema per version); then the Controller decides which names it
// may have, sets its NamesAccepted and Established conditions, and tells the
// registry what to serve, each served version with a CustomResource that
// prunes, defaults and validates its objects against that version's schema.
// Deleting a CRD deletes its objects. The controller syncs from the stored
// CRDs at start-up, so all of it survives a restart.
//
// In Kubernetes this is k8s.io/apiextensions-apiserver: the CRD's validation
// and defaults in pkg/apis/apiextensions/validation and
// pkg/apis/apiextensions/v1/defaults.go, the controllers in
// pkg/controller/status (naming) and pkg/controller/establish, the cleanup in
// pkg/controller/finalizer, and the serving in pkg/apiserver's crdHandler.
package crd

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/schema"
)

// definition is the part of a CustomResourceDefinition this package reads.
type definition struct {
	Metadata struct {
		Name              string `json:"name"`
		CreationTimestamp string `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Group                 string      `json:"group"`
		Scope                 string      `json:"scope"`
		Names                 names       `json:"names"`
		Versions              []version   `json:"versions"`
		Conversion            *conversion `json:"conversion"`
		PreserveUnknownFields bool        `json:"preserveUnknownFields"`
	} `json:"spec"`
	Status struct {
		AcceptedNames  names            `json:"acceptedNames"`
		Conditions     []map[string]any `json:"conditions"`
		StoredVersions []string         `json:"storedVersions"`
	} `json:"status"`
}

type names struct {
	Plural     string   `json:"plural"`
	Singular   string   `json:"singular,omitempty"`
	Kind       string   `json:"kind"`
	ListKind   string   `json:"listKind,omitempty"`
	ShortNames []string `json:"shortNames,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

type version struct {
	Name    string `json:"name"`
	Served  bool   `json:"served"`
	Storage bool   `json:"storage"`
	Schema  *struct {
		OpenAPIV3Schema any `json:"openAPIV3Schema"`
	} `json:"schema"`
	Subresources *struct {
		Status any `json:"status"`
	} `json:"subresources"`
	AdditionalPrinterColumns []printerColumn `json:"additionalPrinterColumns"`
}

// printerColumn is one of a version's additionalPrinterColumns.
type printerColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
	JSONPath    string `json:"jsonPath"`
}

// read decodes a CRD; one that does not have a CRD's shape (a string where
// a list belongs) is a 400, as Kubernetes' decoder makes it.
func read(obj object.Object) (*definition, error) {
	var d definition
	if err := remarshal(obj, &d); err != nil {
		return nil, apierrors.NewBadRequest("CustomResourceDefinition in version \"v1\" cannot be handled as a CustomResourceDefinition: %v", err)
	}
	return &d, nil
}

func remarshal(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// Default fills in what Kubernetes fills in on a CRD: the singular name and
// the list kind from the kind, and conversion strategy None.
func Default(obj object.Object) {
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return
	}
	if names, ok := spec["names"].(map[string]any); ok {
		kind, _ := names["kind"].(string)
		if s, _ := names["singular"].(string); s == "" && kind != "" {
			names["singular"] = strings.ToLower(kind)
		}
		if l, _ := names["listKind"].(string); l == "" && kind != "" {
			names["listKind"] = kind + "List"
		}
	}
	if _, ok := spec["conversion"]; !ok {
		spec["conversion"] = map[string]any{"strategy": "None"}
	}
}

// Validate lists what is wrong with a CRD, sorted by field; old is the
// stored CRD on an update, nil on a create. Its name and labels are final/apis'
// to check, as for any object. The error is a 400 for a body that is not a CRD
// at all.
func Validate(obj, old object.Object) ([]apierrors.Cause, error) {
	d, err := read(obj)
	if err != nil {
		return nil, err
	}
	var causes []apierrors.Cause
	invalid := func(field, format string, args ...any) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: "Invalid value: " + fmt.Sprintf(format, args...), Field: field})
	}
	required := func(field string) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: field})
	}
	notSupported := func(field, value, supported string) {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueNotSupported",
			Message: fmt.Sprintf("Unsupported value: %q: supported values: %s", value, supported), Field: field})
	}
	spec := d.Spec

	if want := spec.Names.Plural + "." + spec.Group; d.Metadata.Name != want {
		invalid("metadata.name", "%q: must be spec.names.plural+\".\"+spec.group", d.Metadata.Name)
	}
	switch msg := object.ValidateDNS1123Subdomain(spec.Group); {
	case spec.Group == "":
		required("spec.group")
	case msg != "":
		invalid("spec.group", "%q: %s", spec.Group, msg)
	case !strings.Contains(spec.Group, "."):
		invalid("spec.group", "%q: should be a domain with at least one dot", spec.Group)
	}
	if spec.Scope != "Cluster" && spec.Scope != "Namespaced" {
		notSupported("spec.scope", spec.Scope, `"Cluster", "Namespaced"`)
	}
	causes = append(causes, validateNames(spec.Names)...)
	causes = append(causes, validateVersions(spec.Versions)...)
	causes = append(causes, validateConversion(spec.Conversion)...)
	if spec.PreserveUnknownFields {
		invalid("spec.preserveUnknownFields", "true: must be false; set x-kubernetes-preserve-unknown-fields in a schema instead")
	}

	if old != nil {
		previous, err := read(old)
		if err != nil {
			return nil, err
		}
		if spec.Scope != previous.Spec.Scope {
			invalid("spec.scope", "%q: field is immutable", spec.Scope)
		}
		// Objects were stored in these versions: the CRD must keep them.
		for i, v := range d.Status.StoredVersions {
			if !slices.ContainsFunc(spec.Versions, func(sv version) bool { return sv.Name == v }) {
				invalid(fmt.Sprintf("status.storedVersions[%d]", i), "%q: must appear in spec.versions", v)
			}
		}
	}
	sort.SliceStable(causes, func(i, j int) bool { return causes[i].Field < causes[j].Field })
	return causes, nil
}

// validateNames: names end up in URLs and in kubectl's commands, so they are
// lowercase DNS labels, and kinds are labels once lowercased.
func validateNames(n names) []apierrors.Cause {
	var causes []apierrors.Cause
	check := func(field, value, asLabel string) {
		if msg := object.ValidateDNS1035Label(asLabel); msg != "" {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %s", value, msg), Field: field})
		}
	}
	for _, f := range []struct{ field, value string }{{"plural", n.Plural}, {"kind", n.Kind}, {"listKind", n.ListKind}} {
		if f.value == "" {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: "spec.names." + f.field})
		}
	}
	for _, f := range []struct{ field, value, asLabel string }{{"plural", n.Plural, n.Plural}, {"singular", n.Singular, n.Singular},
		{"kind", n.Kind, strings.ToLower(n.Kind)}, {"listKind", n.ListKind, strings.ToLower(n.ListKind)}} {
		if f.value != "" { // a missing one is required above, or defaulted
			check("spec.names."+f.field, f.value, f.asLabel)
		}
	}
	if n.Kind != "" && n.Kind == n.ListKind {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid",
			Message: fmt.Sprintf("Invalid value: %q: kind and listKind may not be the same", n.ListKind), Field: "spec.names.listKind"})
	}
	for i, s := range n.ShortNames {
		check(fmt.Sprintf("spec.names.shortNames[%d]", i), s, s)
	}
	for i, c := range n.Categories {
		check(fmt.Sprintf("spec.names.categories[%d]", i), c, c)
	}
	return causes
}

// validateVersions: unique names, exactly one storage version, and a
// structural schema each.
func validateVersions(versions []version) []apierrors.Cause {
	if len(versions) == 0 {
		return []apierrors.Cause{{Reason: "FieldValueRequired", Message: "Required value: must have exactly one version marked as storage version", Field: "spec.versions"}}
	}
	var causes []apierrors.Cause
	storage := 0
	seen := map[string]bool{}
	for i, v := range versions {
		path := fmt.Sprintf("spec.versions[%d]", i)
		switch msg := object.ValidateDNS1035Label(v.Name); {
		case v.Name == "":
			causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value", Field: path + ".name"})
		case msg != "":
			causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %q: %s", v.Name, msg), Field: path + ".name"})
		case seen[v.Name]:
			causes = append(causes, apierrors.Cause{Reason: "FieldValueDuplicate", Message: fmt.Sprintf("Duplicate value: %q", v.Name), Field: path + ".name"})
		}
		seen[v.Name] = true
		if v.Storage {
			storage++
		}
		schemaPath := path + ".schema.openAPIV3Schema"
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueRequired", Message: "Required value: schemas are required", Field: schemaPath})
			continue
		}
		props, problems := schema.Parse(v.Schema.OpenAPIV3Schema, schemaPath)
		if len(problems) == 0 {
			problems = schema.Structural(props, schemaPath)
		}
		causes = append(causes, problems...)
	}
	if storage != 1 {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid",
			Message: fmt.Sprintf("Invalid value: %d: must have exactly one version marked as storage version", storage), Field: "spec.versions"})
	}
	return causes
}
