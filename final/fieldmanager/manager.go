// Package fieldmanager tracks who owns which field of an object, in
// metadata.managedFields, and implements server-side apply on top of it.
//
// Every write is an operation of a manager (the fieldManager query
// parameter, or the client's User-Agent up to its first "/"). An ordinary
// create, update or patch is an Update: the manager comes to own the fields
// it changed, and whoever owned them before loses them. An apply (PATCH with
// application/apply-patch+yaml) sends the fields its manager wants to own,
// with their values: it is merged into the live object, fields the manager
// applied last time and no longer does are removed unless someone else owns
// them, and changing a field another manager owns is a conflict, unless the
// apply forces it.
//
// Kubernetes splits this between sigs.k8s.io/structured-merge-diff (field
// sets, the typed walk, merge.Updater's Update and Apply) and
// k8s.io/apimachinery/pkg/util/managedfields/internal (reading and writing
// managedFields, the chain of managers: stripping metadata, timestamps, the
// cap on Update entries, the "before-first-apply" entry, conflict errors),
// used by k8s.io/apiserver/pkg/endpoints/handlers (create.go, update.go,
// patch.go) through its fieldmanager package.
package fieldmanager

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// Operations, as metadata.managedFields names them.
const (
	OperationApply  = "Apply"
	OperationUpdate = "Update"
)

const (
	// maxUpdateManagers is how many Update entries an object keeps; older
	// ones are merged into one "ancient-changes" entry per version.
	maxUpdateManagers = 10
	// MaxManagerLength is the longest fieldManager Kubernetes accepts.
	MaxManagerLength = 128
)

// managerID identifies one entry of managedFields. An applier is one entry
// whatever version it applies in; an updater is one per version.
type managerID struct {
	Manager     string `json:"manager,omitempty"`
	Operation   string `json:"operation,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

// String is the identifier as Kubernetes spells it (a JSON object), which
// is also the order conflicts are listed in.
func (id managerID) String() string {
	data, _ := json.Marshal(id)
	return string(data)
}

// describe names a manager in a conflict message, as Kubernetes does: an
// updater with the version it wrote in (but not when).
func (id managerID) describe() string {
	s := fmt.Sprintf("%q", id.Manager)
	if id.Subresource != "" {
		s += fmt.Sprintf(" with subresource %q", id.Subresource)
	}
	if id.Operation == OperationUpdate {
		s += " using " + id.APIVersion
	}
	return s
}

type entry struct {
	apiVersion string // the version its fields are in
	fields     *Set
	time       string // RFC 3339; "" when the entry has none
}

// managed is an object's managedFields, by manager.
type managed map[managerID]*entry

// decodeManaged reads metadata.managedFields with Kubernetes' rules: each
// entry needs a known operation, an apiVersion, fieldsType FieldsV1 and
// fields that parse, and no manager may appear twice.
func decodeManaged(list any) (managed, error) {
	m := managed{}
	items, ok := list.([]any)
	if !ok && list != nil {
		return nil, fmt.Errorf("managedFields must be a list")
	}
	for i, item := range items {
		e, _ := item.(map[string]any)
		str := func(k string) string { s, _ := e[k].(string); return s }
		id := managerID{Manager: str("manager"), Operation: str("operation"), APIVersion: str("apiVersion"), Subresource: str("subresource")}
		switch {
		case id.Operation != OperationApply && id.Operation != OperationUpdate:
			return nil, fmt.Errorf("operation must be `Apply` or `Update`")
		case id.APIVersion == "":
			return nil, fmt.Errorf("apiVersion must not be empty")
		case str("fieldsType") == "":
			return nil, fmt.Errorf("missing fieldsType in managed fields entry %d", i)
		case str("fieldsType") != "FieldsV1":
			return nil, fmt.Errorf("invalid fieldsType %q in managed fields entry %d", str("fieldsType"), i)
		}
		fields := NewSet()
		if raw, ok := e["fieldsV1"]; ok && raw != nil {
			var err error
			if fields, err = ParseFieldsV1(raw); err != nil {
				return nil, fmt.Errorf("managed fields entry %d: %w", i, err)
			}
		}
		version := id.APIVersion
		if id.Operation == OperationApply {
			id.APIVersion = ""
		}
		m[id] = &entry{apiVersion: version, fields: fields, time: str("time")}
	}
	return m, nil
}

// encode writes the entries as metadata.managedFields, in Kubernetes'
// order: Apply before Update, then oldest first, then by name.
func (m managed) encode() []any {
	type row struct {
		id managerID
		e  *entry
	}
	rows := make([]row, 0, len(m))
	for id, e := range m {
		rows = append(rows, row{id, e})
	}
	seconds := func(t string) int64 {
		parsed, err := time.Parse(time.RFC3339, t)
		if err != nil {
			return 0
		}
		return parsed.Unix()
	}
	sort.Slice(rows, func(i, j int) bool {
		p, q := rows[i], rows[j]
		if p.id.Operation != q.id.Operation {
			return p.id.Operation < q.id.Operation
		}
		if a, b := seconds(p.e.time), seconds(q.e.time); a != b {
			return a < b
		}
		if p.id.Manager != q.id.Manager {
			return p.id.Manager < q.id.Manager
		}
		if p.e.apiVersion != q.e.apiVersion {
			return p.e.apiVersion < q.e.apiVersion
		}
		return p.id.Subresource < q.id.Subresource
	})
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		e := map[string]any{"manager": r.id.Manager, "operation": r.id.Operation, "apiVersion": r.e.apiVersion,
			"fieldsType": "FieldsV1", "fieldsV1": r.e.fields.FieldsV1()}
		if r.e.time != "" {
			e["time"] = r.e.time
		}
		if r.id.Subresource != "" {
			e["subresource"] = r.id.Subresource
		}
		out = append(out, e)
	}
	return out
}

// stripped are the fields nobody owns: the server sets them, or they name
// the object rather than describe it (the metadata node itself too, not
// what is inside it).
var stripped = func() *Set {
	s := NewSet()
	s.Insert("f:apiVersion")
	s.Insert("f:kind")
	s.Insert("f:metadata")
	for _, f := range []string{"name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
		"generation", "managedFields", "resourceVersion"} {
		s.Insert("f:metadata", "f:"+f)
	}
	return s
}()

// Operation is one write, as the field manager sees it.
type Operation struct {
	Manager     string // the fieldManager, or what ManagerFromUserAgent made of the client
	APIVersion  string // the version the client writes in
	Subresource string // "", "status" or "scale"
	Schema      *Schema
	// Writable says which top-level fields this endpoint may change, and so
	// which a manager may own through it: status on {name}/status, all but
	// status on the main endpoint of a resource with a status subresource.
	// Nil: all. Kubernetes calls the others a strategy's reset fields.
	Writable func(field string) bool
	// Now is the time entries are stamped with (nil: the clock).
	Now func() time.Time
}

func (o *Operation) now() string {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return now().UTC().Format(time.RFC3339)
}

// filter keeps the fields this operation may own.
func (o *Operation) filter(s *Set) *Set {
	s = s.Difference(stripped)
	if o.Writable == nil {
		return s
	}
	out := &Set{member: s.member}
	for pe, c := range s.children {
		if name, ok := fieldName(pe); ok && o.Writable(name) {
			if out.children == nil {
				out.children = map[string]*Set{}
			}
			out.children[pe] = c
		}
	}
	return out
}

// empty is the object a create starts from, to compare with.
func (o *Operation) empty() map[string]any {
	if o.Schema != nil && o.Schema.Empty != nil {
		return o.Schema.Empty // compared, never changed
	}
	return map[string]any{}
}

// Update records an ordinary write (create, update, patch) in obj's
// managedFields, in place; live is the stored object, nil on a create. A
// client may set managedFields itself: a list with entries replaces the
// stored one, an empty list ([] or [{}]) clears it, and what does not parse
// is ignored. Once cleared, updates are not tracked until the next apply.
// Like Kubernetes, it never fails a write: when the fields cannot be worked
// out, the stored managedFields stay.
func (o *Operation) Update(live, obj map[string]any) {
	var liveManaged any
	if meta, ok := live["metadata"].(map[string]any); ok { // live is read, never written
		liveManaged = meta["managedFields"]
	}
	m := o.requestManaged(liveManaged, metadataOf(obj)["managedFields"])
	delete(metadataOf(obj), "managedFields")
	if len(m) == 0 && live != nil {
		return
	}
	if live == nil {
		live = o.empty()
	}
	if err := o.update(m, live, obj, o.Manager); err != nil {
		if liveManaged != nil {
			metadataOf(obj)["managedFields"] = liveManaged
		}
		return
	}
	m.capUpdates()
	setManaged(obj, m)
}

// requestManaged is the managedFields an update starts from.
func (o *Operation) requestManaged(live, sent any) managed {
	fallback := func() managed {
		m, err := decodeManaged(live)
		if err != nil {
			return managed{}
		}
		return m
	}
	if o.Subresource != "" { // a subresource cannot change them
		return fallback()
	}
	if list, ok := sent.([]any); ok && (len(list) == 0 ||
		len(list) == 1 && reflect.DeepEqual(list[0], map[string]any{})) {
		return managed{}
	}
	m, err := decodeManaged(sent)
	if err != nil || len(m) == 0 {
		return fallback()
	}
	return m
}

// update gives manager the fields that differ between live and obj, taking
// them from whoever had them; fields obj no longer has are nobody's.
func (o *Operation) update(m managed, live, obj map[string]any, manager string) error {
	c, err := Compare(withoutManaged(live), withoutManaged(obj), o.Schema)
	if err != nil {
		return err
	}
	// filter makes new sets, so c's may be used as they are: a create
	// modifies nothing, and most updates remove nothing.
	changed := c.Added
	if !c.Modified.Empty() {
		changed = c.Modified.Union(c.Added)
	}
	changed = o.filter(changed)
	removed := o.filter(c.Removed)
	for id, e := range m {
		if e.fields = e.fields.Difference(changed); !removed.Empty() {
			e.fields = e.fields.Difference(removed)
		}
		if e.fields.Empty() {
			delete(m, id)
		}
	}
	if changed.Empty() {
		return nil
	}
	id := o.id(manager, OperationUpdate)
	if e, ok := m[id]; ok {
		changed = changed.Union(e.fields)
	}
	m[id] = &entry{apiVersion: o.APIVersion, fields: changed, time: o.now()}
	return nil
}

func (o *Operation) id(manager, operation string) managerID {
	if manager == "" {
		manager = "unknown"
	}
	id := managerID{Manager: manager, Operation: operation, APIVersion: o.APIVersion, Subresource: o.Subresource}
	if operation == OperationApply {
		id.APIVersion = ""
	}
	return id
}

// capUpdates merges the oldest Update entries, per version, into one
// "ancient-changes" entry until at most maxUpdateManagers are left.
func (m managed) capUpdates() {
	var updaters []managerID
	for id := range m {
		if id.Operation == OperationUpdate {
			updaters = append(updaters, id)
		}
	}
	if len(updaters) <= maxUpdateManagers {
		return
	}
	sort.Slice(updaters, func(i, j int) bool {
		if a, b := m[updaters[i]].time, m[updaters[j]].time; a != b {
			return a < b
		}
		return updaters[i].String() < updaters[j].String()
	})
	firstOf := map[string]managerID{}
	for i, n := 0, len(updaters); i < len(updaters) && n > maxUpdateManagers; i++ {
		id, e := updaters[i], m[updaters[i]]
		first, seen := firstOf[e.apiVersion]
		if !seen {
			firstOf[e.apiVersion] = id
			continue
		}
		bucket := managerID{Manager: "ancient-changes", Operation: OperationUpdate, APIVersion: e.apiVersion}
		if _, ok := m[bucket]; !ok {
			m[bucket] = m[first]
			delete(m, first)
		}
		m[bucket] = &entry{apiVersion: e.apiVersion, fields: e.fields.Union(m[bucket].fields), time: e.time}
		delete(m, id)
		n--
	}
}

// Apply merges an applied configuration into live (nil: the object does
// not exist yet) and returns the object to store, with its managedFields.
// A field another manager owns that the configuration changes is a
// conflict (409), unless force takes it.
func (o *Operation) Apply(live, config map[string]any, force bool) (map[string]any, error) {
	if v := config["apiVersion"]; v != o.APIVersion {
		return nil, apierrors.NewBadRequest("Incorrect version specified in apply patch. Specified patch version: %s, expected: %s",
			stringOf(v), o.APIVersion)
	}
	if _, ok := metadataOf(config)["managedFields"]; ok {
		return nil, apierrors.NewBadRequest("metadata.managedFields must be nil")
	}
	if live == nil {
		live = map[string]any{} // not the zero value: what the config does not set stays unset
	}
	liveMeta, _ := live["metadata"].(map[string]any) // live is read, never written
	m, err := decodeManaged(liveMeta["managedFields"])
	if err != nil {
		return nil, fmt.Errorf("failed to decode managed fields: %w", err)
	}
	live = withoutManaged(live)
	if len(m) == 0 {
		// Whatever is there already belongs to someone: to a manager named
		// for that, so that an apply cannot remove it unknowingly.
		if err := o.update(m, o.empty(), live, "before-first-apply"); err != nil {
			return nil, apierrors.NewBadRequest("%v", err)
		}
	}
	applied, err := FieldSet(config, o.Schema)
	if err != nil {
		// Kubernetes answers 500 here, with these words.
		return nil, &apierrors.StatusError{Code: http.StatusInternalServerError,
			Message: fmt.Sprintf("failed to create typed patch object (%s): %v", describeObject(config), err)}
	}
	merged, err := Merge(live, config, o.Schema)
	if err != nil {
		return nil, apierrors.NewBadRequest("%v", err)
	}
	applied = o.filter(applied)
	id := o.id(o.Manager, OperationApply)
	var last *Set
	if e, ok := m[id]; ok {
		last = e.fields
	}
	previous := m[id]
	m[id] = &entry{apiVersion: o.APIVersion, fields: applied}

	// What this manager applied before and no longer does goes, unless
	// someone (this manager too, through another entry) still owns it.
	if !last.Empty() {
		owned := NewSet()
		for _, e := range m {
			owned = owned.Union(e.fields)
		}
		Remove(merged, keepOwnedFields(last.Difference(owned), owned, o.Schema), o.Schema)
	}
	if err := o.takeOwnership(m, id, live, merged, force); err != nil {
		return nil, err
	}
	switch {
	case !reflect.DeepEqual(live, merged):
		m[id].time = o.now()
	case previous != nil:
		m[id].time = previous.time // nothing changed: the entry keeps its time
	} // and a new entry that changed nothing has none, as in Kubernetes
	if m[id].fields.Empty() {
		delete(m, id)
	}
	o.syncLastApplied(merged, config)
	setManaged(merged, m)
	return merged, nil
}

// takeOwnership moves the fields the apply changed away from the other
// managers, or fails with the conflicts when it may not.
func (o *Operation) takeOwnership(m managed, self managerID, live, merged map[string]any, force bool) error {
	c, err := Compare(live, merged, o.Schema)
	if err != nil {
		return apierrors.NewBadRequest("%v", err)
	}
	changed := o.filter(c.Modified.Union(c.Added))
	removed := o.filter(c.Removed)
	var conflicts []conflict
	for id, e := range m {
		if id == self {
			continue
		}
		for _, p := range e.fields.Intersection(changed).Paths() {
			conflicts = append(conflicts, conflict{id, p})
		}
	}
	if len(conflicts) > 0 && !force {
		if conflicts = o.withoutLastApplied(live, conflicts); len(conflicts) > 0 {
			return conflictError(conflicts)
		}
	}
	for id, e := range m {
		if id == self {
			continue
		}
		e.fields = e.fields.Difference(changed).Difference(removed)
		if e.fields.Empty() {
			delete(m, id)
		}
	}
	return nil
}

type conflict struct {
	manager managerID
	path    []string
}

// conflictError is the 409 Kubernetes answers (managedfields' conflict.go):
// one cause per field, the message grouped by manager.
func conflictError(conflicts []conflict) error {
	sort.SliceStable(conflicts, func(i, j int) bool {
		return conflicts[i].manager.String() < conflicts[j].manager.String()
	})
	causes := make([]apierrors.Cause, len(conflicts))
	for i, c := range conflicts {
		causes[i] = apierrors.Cause{Reason: "FieldManagerConflict",
			Message: "conflict with " + c.manager.describe(), Field: PathString(c.path)}
	}
	var message string
	if len(conflicts) == 1 {
		message = fmt.Sprintf("Apply failed with 1 conflict: conflict with %s: %s", conflicts[0].manager.describe(), PathString(conflicts[0].path))
	} else {
		var lines []string
		for i, c := range conflicts {
			if i == 0 || c.manager != conflicts[i-1].manager {
				lines = append(lines, fmt.Sprintf("conflicts with %s:", c.manager.describe()))
			}
			lines = append(lines, "- "+PathString(c.path))
		}
		message = fmt.Sprintf("Apply failed with %d conflicts: %s", len(conflicts), strings.Join(lines, "\n"))
	}
	return &apierrors.StatusError{Code: 409, Reason: "Conflict", Message: message, Details: map[string]any{"causes": causes}}
}

// ManagerFromUserAgent is the manager of a write that names none: the
// User-Agent up to its first "/", printable characters only, at most
// MaxManagerLength bytes ("kubectl/v1.32.0 (linux/amd64)" is "kubectl").
func ManagerFromUserAgent(userAgent string) string {
	prefix, _, _ := strings.Cut(userAgent, "/")
	var b strings.Builder
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > MaxManagerLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ValidateManager checks a fieldManager parameter as Kubernetes does:
// at most MaxManagerLength bytes, every character printable.
func ValidateManager(manager string) []apierrors.Cause {
	var causes []apierrors.Cause
	if len(manager) > MaxManagerLength {
		causes = append(causes, apierrors.Cause{Reason: "FieldValueTooLong", Field: "fieldManager",
			Message: fmt.Sprintf("Too long: may not be more than %d bytes", MaxManagerLength)})
	}
	for i, r := range manager {
		if !unicode.IsPrint(r) {
			causes = append(causes, apierrors.Cause{Reason: "FieldValueInvalid", Field: "fieldManager",
				Message: fmt.Sprintf("Invalid value: %q: invalid character %#U (at position %d)", manager, r, i)})
		}
	}
	return causes
}

func metadataOf(obj map[string]any) map[string]any {
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	return meta
}

// withoutManaged is obj without metadata.managedFields (a shallow copy).
func withoutManaged(obj map[string]any) map[string]any {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return obj
	}
	if _, has := meta["managedFields"]; !has {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	m := make(map[string]any, len(meta))
	for k, v := range meta {
		if k != "managedFields" {
			m[k] = v
		}
	}
	out["metadata"] = m
	return out
}

func setManaged(obj map[string]any, m managed) {
	if len(m) == 0 {
		delete(metadataOf(obj), "managedFields")
		return
	}
	metadataOf(obj)["managedFields"] = m.encode()
}

// describeObject names an object as Kubernetes' field manager errors do:
// "namespace/name; group/version, Kind=Kind".
func describeObject(obj map[string]any) string {
	meta := metadataOf(obj)
	group, version, found := strings.Cut(stringOf(obj["apiVersion"]), "/")
	if !found {
		group, version = "", group
	}
	return fmt.Sprintf("%s/%s; %s/%s, Kind=%s", stringOf(meta["namespace"]), stringOf(meta["name"]), group, version, stringOf(obj["kind"]))
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
