// CustomResourceDefinitions: API objects that add resources to the server at
// run time. A CRD is validated when it is written (names, group, scope,
// versions, a structural schema per version); then the CRD controller
// decides which names it may have, sets its NamesAccepted and Established
// conditions, and tells the registry what to serve. Deleting a CRD deletes
// its objects. The registry is rebuilt from the stored CRDs at start-up, so
// it all survives a restart.
package main

import (
	"fmt"
	"log"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// crdObject is the part of a CustomResourceDefinition this chapter reads.
type crdObject struct {
	Metadata struct {
		Name              string `json:"name"`
		CreationTimestamp string `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Group      string       `json:"group"`
		Scope      string       `json:"scope"`
		Names      crdNames     `json:"names"`
		Versions   []crdVersion `json:"versions"`
		Conversion *struct {
			Strategy string `json:"strategy"`
		} `json:"conversion"`
		PreserveUnknownFields bool `json:"preserveUnknownFields"`
	} `json:"spec"`
	Status struct {
		AcceptedNames  crdNames         `json:"acceptedNames"`
		Conditions     []map[string]any `json:"conditions"`
		StoredVersions []string         `json:"storedVersions"`
	} `json:"status"`
}

type crdNames struct {
	Plural     string   `json:"plural"`
	Singular   string   `json:"singular,omitempty"`
	Kind       string   `json:"kind"`
	ListKind   string   `json:"listKind,omitempty"`
	ShortNames []string `json:"shortNames,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

type crdVersion struct {
	Name    string `json:"name"`
	Served  bool   `json:"served"`
	Storage bool   `json:"storage"`
	Schema  *struct {
		OpenAPIV3Schema any `json:"openAPIV3Schema"`
	} `json:"schema"`
	Subresources *struct {
		Status any `json:"status"`
	} `json:"subresources"`
}

func readCRD(obj object) (*crdObject, error) {
	var crd crdObject
	if err := remarshal(obj, &crd); err != nil {
		return nil, errBadRequest("CustomResourceDefinition in version \"v1\" cannot be handled as a CustomResourceDefinition: %v", err)
	}
	return &crd, nil
}

// defaultCRD fills in what Kubernetes fills in: the singular and list kind
// from the kind, and conversion strategy None.
func defaultCRD(obj object) {
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

// validateCRD lists what is wrong with a CRD; old is nil on create.
func validateCRD(obj, old object) ([]cause, error) {
	crd, err := readCRD(obj)
	if err != nil {
		return nil, err
	}
	var causes []cause
	invalid := func(field, format string, args ...any) {
		causes = append(causes, cause{"FieldValueInvalid", "Invalid value: " + fmt.Sprintf(format, args...), field})
	}
	required := func(field string) {
		causes = append(causes, cause{"FieldValueRequired", "Required value", field})
	}
	spec := crd.Spec

	if want := spec.Names.Plural + "." + spec.Group; crd.Metadata.Name != want {
		invalid("metadata.name", "%q: must be spec.names.plural+\".\"+spec.group", crd.Metadata.Name)
	}
	switch {
	case spec.Group == "":
		required("spec.group")
	case validateSubdomain(spec.Group) != "":
		invalid("spec.group", "%q: %s", spec.Group, validateSubdomain(spec.Group))
	case !strings.Contains(spec.Group, "."):
		invalid("spec.group", "%q: should be a domain with at least one dot", spec.Group)
	}
	if spec.Scope != "Cluster" && spec.Scope != "Namespaced" {
		causes = append(causes, cause{"FieldValueNotSupported",
			fmt.Sprintf("Unsupported value: %q: supported values: \"Cluster\", \"Namespaced\"", spec.Scope), "spec.scope"})
	}

	// Names end up in URLs and in kubectl's commands: lowercase DNS labels,
	// and kinds that are valid labels once lowercased.
	names := spec.Names
	for field, value := range map[string]string{"plural": names.Plural, "kind": names.Kind, "listKind": names.ListKind} {
		if value == "" {
			required("spec.names." + field)
		}
	}
	for field, value := range map[string]string{"plural": names.Plural, "singular": names.Singular} {
		if msg := validateDNS1035(value); value != "" && msg != "" {
			invalid("spec.names."+field, "%q: %s", value, msg)
		}
	}
	for field, value := range map[string]string{"kind": names.Kind, "listKind": names.ListKind} {
		if msg := validateDNS1035(strings.ToLower(value)); value != "" && msg != "" {
			invalid("spec.names."+field, "%q: %s", value, msg)
		}
	}
	if names.Kind != "" && names.Kind == names.ListKind {
		invalid("spec.names.listKind", "%q: kind and listKind may not be the same", names.ListKind)
	}
	for field, list := range map[string][]string{"shortNames": names.ShortNames, "categories": names.Categories} {
		for i, value := range list {
			if msg := validateDNS1035(value); msg != "" {
				invalid(fmt.Sprintf("spec.names.%s[%d]", field, i), "%q: %s", value, msg)
			}
		}
	}

	causes = append(causes, validateCRDVersions(spec.Versions)...)
	if spec.Conversion != nil && spec.Conversion.Strategy != "None" {
		causes = append(causes, cause{"FieldValueNotSupported",
			fmt.Sprintf("Unsupported value: %q: supported values: \"None\"", spec.Conversion.Strategy), "spec.conversion.strategy"})
	}
	if spec.PreserveUnknownFields {
		invalid("spec.preserveUnknownFields", "true: must be false; set x-kubernetes-preserve-unknown-fields in a schema instead")
	}

	if old != nil {
		previous, err := readCRD(old)
		if err != nil {
			return nil, err
		}
		if spec.Scope != previous.Spec.Scope {
			invalid("spec.scope", "%q: field is immutable", spec.Scope)
		}
		// Objects were stored in these versions: the CRD must keep them.
		for i, v := range crd.Status.StoredVersions {
			if !slices.ContainsFunc(spec.Versions, func(sv crdVersion) bool { return sv.Name == v }) {
				invalid(fmt.Sprintf("status.storedVersions[%d]", i), "%q: must appear in spec.versions", v)
			}
		}
	}
	sortCauses(causes)
	return causes, nil
}

// validateCRDVersions: unique names, one storage version, a structural schema each.
func validateCRDVersions(versions []crdVersion) []cause {
	if len(versions) == 0 {
		return []cause{{"FieldValueRequired", "Required value: must have exactly one version marked as storage version", "spec.versions"}}
	}
	var causes []cause
	storage := 0
	seen := map[string]bool{}
	for i, v := range versions {
		path := fmt.Sprintf("spec.versions[%d]", i)
		switch msg := validateDNS1035(v.Name); {
		case v.Name == "":
			causes = append(causes, cause{"FieldValueRequired", "Required value", path + ".name"})
		case msg != "":
			causes = append(causes, cause{"FieldValueInvalid", fmt.Sprintf("Invalid value: %q: %s", v.Name, msg), path + ".name"})
		case seen[v.Name]:
			causes = append(causes, cause{"FieldValueDuplicate", fmt.Sprintf("Duplicate value: %q", v.Name), path + ".name"})
		}
		seen[v.Name] = true
		if v.Storage {
			storage++
		}
		schemaPath := path + ".schema.openAPIV3Schema"
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			causes = append(causes, cause{"FieldValueRequired", "Required value: schemas are required", schemaPath})
			continue
		}
		schema, problems := parseSchema(v.Schema.OpenAPIV3Schema, schemaPath)
		if len(problems) == 0 {
			problems = structuralCauses(schema, schemaPath)
		}
		causes = append(causes, problems...)
	}
	if storage != 1 {
		causes = append(causes, cause{"FieldValueInvalid",
			fmt.Sprintf("Invalid value: %d: must have exactly one version marked as storage version", storage), "spec.versions"})
	}
	return causes
}

func sortCauses(causes []cause) {
	sort.SliceStable(causes, func(i, j int) bool { return causes[i].Field < causes[j].Field })
}

// crdController keeps the registry and the CRDs' status in step with the
// stored CRDs. Kubernetes runs it as controllers that watch CRDs; here the
// server calls sync after every CRD write, and once at start-up.
type crdController struct {
	s        *server
	resource *resource // customresourcedefinitions
	mu       sync.Mutex
}

// sync decides the names of every CRD, writes their conditions, and serves
// the accepted ones. Names are first come, first served: a name already
// accepted for one CRD stays with it; a CRD asking for a taken name gets
// NamesAccepted=False and keeps whatever names it had accepted before.
func (c *crdController) sync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	items, _ := c.s.store.list(c.resource, "")
	crds := make([]*crdObject, 0, len(items))
	for _, item := range items {
		if crd, err := readCRD(item); err == nil {
			crds = append(crds, crd)
		}
	}
	sort.SliceStable(crds, func(i, j int) bool {
		return crds[i].Metadata.CreationTimestamp < crds[j].Metadata.CreationTimestamp
	})

	// Who holds which name, per group: built-in resources, then what each
	// CRD already had accepted.
	owner := map[string]string{} // "group/name" -> CRD name, or "" for a built-in
	for _, res := range c.s.registry.all() {
		if res.custom == nil {
			for _, n := range slices.Concat([]string{res.name, res.singular, res.kind, res.kind + "List"}, res.shortNames) {
				owner[res.group+"/"+strings.ToLower(n)] = "built-in"
			}
		}
	}
	for _, crd := range crds {
		for _, n := range allNames(crd.Status.AcceptedNames) {
			owner[crd.Spec.Group+"/"+n] = crd.Metadata.Name
		}
	}

	var served []*resource
	for _, crd := range crds {
		names := crd.Spec.Names
		var conflict cause
		for _, n := range namedParts(names) {
			if holder, taken := owner[crd.Spec.Group+"/"+strings.ToLower(n.value)]; taken && holder != crd.Metadata.Name {
				conflict = cause{n.reason, fmt.Sprintf("%q is already in use", n.value), ""}
				break
			}
		}
		accepted := crd.Status.AcceptedNames
		if conflict.Reason == "" {
			accepted = names
			for _, n := range allNames(names) {
				owner[crd.Spec.Group+"/"+n] = crd.Metadata.Name
			}
		}
		c.writeStatus(crd, accepted, conflict)
		if accepted.Plural != "" {
			served = append(served, customResources(crd, accepted)...)
		}
	}
	c.s.registry.setCustom(served)
}

type namedPart struct{ value, reason string }

// namedParts are the names a CRD asks for, each with the reason Kubernetes
// gives when it is taken.
func namedParts(n crdNames) []namedPart {
	parts := []namedPart{{n.Plural, "PluralConflict"}, {n.Singular, "SingularConflict"},
		{n.Kind, "KindConflict"}, {n.ListKind, "ListKindConflict"}}
	for _, s := range n.ShortNames {
		parts = append(parts, namedPart{s, "ShortNamesConflict"})
	}
	return parts
}

func allNames(n crdNames) []string {
	var out []string
	for _, p := range namedParts(n) {
		if p.value != "" {
			out = append(out, strings.ToLower(p.value))
		}
	}
	return out
}

// writeStatus sets acceptedNames, the two conditions and storedVersions,
// and stores them if they changed.
func (c *crdController) writeStatus(crd *crdObject, accepted crdNames, conflict cause) {
	namesAccepted := map[string]any{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"}
	established := map[string]any{"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
	if conflict.Reason != "" {
		namesAccepted = map[string]any{"type": "NamesAccepted", "status": "False", "reason": conflict.Reason, "message": conflict.Message}
		if accepted.Plural == "" {
			established = map[string]any{"type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"}
		}
	}
	stored := crd.Status.StoredVersions
	for _, v := range crd.Spec.Versions {
		if v.Storage && !slices.Contains(stored, v.Name) {
			stored = append(slices.Clone(stored), v.Name)
		}
	}
	conditions := []map[string]any{}
	for _, cond := range []map[string]any{namesAccepted, established} {
		cond["lastTransitionTime"] = now()
		for _, previous := range crd.Status.Conditions {
			if previous["type"] == cond["type"] && previous["status"] == cond["status"] {
				cond["lastTransitionTime"] = previous["lastTransitionTime"]
			}
		}
		conditions = append(conditions, cond)
	}
	status := map[string]any{"acceptedNames": accepted, "conditions": conditions, "storedVersions": stored}
	var want map[string]any
	if err := remarshal(status, &want); err != nil {
		log.Printf("CRD %s: encoding its status: %v", crd.Metadata.Name, err)
		return
	}
	_, err := c.s.store.update(c.resource, "", crd.Metadata.Name, func(current object) (object, error) {
		if specChanged(object{"status": want}, object{"status": current["status"]}, false) {
			current["status"] = want
			return current, nil
		}
		return nil, errUnchanged
	})
	if err != nil && err != errUnchanged && !isNotFound(err) {
		log.Printf("CRD %s: writing its status: %v", crd.Metadata.Name, err)
	}
}

// errUnchanged ends an update that has nothing to write.
var errUnchanged = fmt.Errorf("unchanged")

func isNotFound(err error) bool {
	se, ok := err.(*statusError)
	return ok && se.reason == "NotFound"
}

// customResources are the registry entries of a CRD: one per served version,
// the preferred version (by Kubernetes' version priority) first.
func customResources(crd *crdObject, names crdNames) []*resource {
	storageVersion, storageSchema := "", (*jsonSchemaProps)(nil)
	for _, v := range crd.Spec.Versions {
		if v.Storage && v.Schema != nil {
			storageVersion = v.Name
			storageSchema, _ = parseSchema(v.Schema.OpenAPIV3Schema, "")
		}
	}
	var out []*resource
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil {
			continue
		}
		schema, problems := parseSchema(v.Schema.OpenAPIV3Schema, "")
		if len(problems) > 0 {
			continue // refused when the CRD was written; never served
		}
		out = append(out, &resource{
			group: crd.Spec.Group, version: v.Name, name: names.Plural, singular: names.Singular,
			kind: names.Kind, namespaced: crd.Spec.Scope == "Namespaced",
			shortNames: names.ShortNames, categories: names.Categories,
			statusSubresource: v.Subresources != nil && v.Subresources.Status != nil,
			tracksGeneration:  true,
			custom: &customResource{schema: schema, rawSchema: v.Schema.OpenAPIV3Schema,
				storageVersion: storageVersion, storageSchema: storageSchema, listKind: names.ListKind},
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return versionPriority(out[i].version, out[j].version) })
	return out
}

var kubeVersion = regexp.MustCompile(`^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$`)

// versionPriority orders versions as Kubernetes does: GA, then beta, then
// alpha, the higher numbers first; names not of that form come last, sorted.
func versionPriority(a, b string) bool {
	ma, mb := kubeVersion.FindStringSubmatch(a), kubeVersion.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		if ma == nil && mb == nil {
			return a < b
		}
		return mb == nil
	}
	stability := map[string]int{"": 3, "beta": 2, "alpha": 1}
	if sa, sb := stability[ma[2]], stability[mb[2]]; sa != sb {
		return sa > sb
	}
	majorA, _ := strconv.Atoi(ma[1])
	majorB, _ := strconv.Atoi(mb[1])
	if majorA != majorB {
		return majorA > majorB
	}
	minorA, _ := strconv.Atoi(ma[3])
	minorB, _ := strconv.Atoi(mb[3])
	return minorA > minorB
}

// deleteObjects deletes every object of a deleted CRD's resource, as
// Kubernetes' cleanup finalizer does before a CRD goes away. Only a CRD whose
// names were accepted ever had objects: the plural it asked for may belong to
// a built-in resource of the same group.
func (c *crdController) deleteObjects(deleted object) {
	crd, err := readCRD(deleted)
	if err != nil || crd.Status.AcceptedNames.Plural == "" {
		return
	}
	prefix := "/registry/" + crd.Spec.Group + "/" + crd.Status.AcceptedNames.Plural + "/"
	c.s.store.deleteObjects(c.s.store.objectsUnder(prefix))
}
