// Schemas: what field ownership needs to know of a type. Which fields a
// struct has (a struct's field is not a member of a set on its own; a map's
// key is), which lists are maps keyed by some of their items' fields, which
// are sets of scalars, and which lists, maps and structs are atomic: replaced
// whole, owned as one field.
//
// Kubernetes reads this from the OpenAPI models generated from k8s.io/api
// (the x-kubernetes-list-type, x-kubernetes-list-map-keys and
// x-kubernetes-map-type extensions, which come from +listType, +listMapKey and
// +mapType markers on the Go types) and, for custom resources, from the CRD's
// structural schema. Here built-in types are read from k8s.io/api's Go types
// by reflection: their struct tags name the fields and, for strategic merge
// patch, each merged list's key (patchMergeKey), which is the list's map key
// for server-side apply too, bar the few exceptions listed below.
package fieldmanager

import (
	"encoding/json"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// List types, as x-kubernetes-list-type names them.
const (
	Atomic    = "atomic" // the default: the list is one field
	SetList   = "set"    // scalars, each item its own field
	MapList   = "map"    // maps, each item its own field, named by its keys
	atomicMap = "atomic" // x-kubernetes-map-type of a map replaced whole
)

// Schema describes one node of an object. A nil *Schema is a node nothing is
// known about: maps are granular, lists atomic, as structured-merge-diff
// deduces them.
type Schema struct {
	// Fields are a struct's named fields (nil for a map).
	Fields map[string]*Schema
	// Elem is the schema of a map's values or a list's items.
	Elem *Schema
	// ListType is Atomic (""), SetList or MapList.
	ListType string
	// Keys name the items of a MapList; KeyDefaults are the values a
	// missing key takes (a port's protocol is TCP).
	Keys        []string
	KeyDefaults map[string]any
	// Atomic maps and structs are owned and replaced whole.
	Atomic bool
	// Empty is, at the root of a built-in type, the type's zero value as
	// JSON: the "live object" a create is compared to. Its fields that are
	// not pointers are there (spec, metadata), so a create does not own
	// them as such, only what is inside, as in Kubernetes.
	Empty map[string]any
}

func (s *Schema) field(name string) (*Schema, bool) {
	if s == nil || s.Fields == nil {
		if s != nil {
			return s.Elem, false
		}
		return nil, false
	}
	if f, ok := s.Fields[name]; ok {
		return f, true
	}
	return s.Elem, false
}

func (s *Schema) elem() *Schema {
	if s == nil {
		return nil
	}
	return s.Elem
}

func (s *Schema) atomic() bool { return s != nil && s.Atomic }

func (s *Schema) listType() string {
	if s == nil || s.ListType == "" {
		return Atomic
	}
	return s.ListType
}

// Facts of k8s.io/api that struct tags do not carry, by Go type and field.
var (
	// Lists whose map keys are more than their patchMergeKey (+listMapKey).
	multipleKeys = map[string][]string{
		"Container.ports":                   {"containerPort", "protocol"},
		"EphemeralContainerCommon.ports":    {"containerPort", "protocol"},
		"ServiceSpec.ports":                 {"port", "protocol"},
		"PodSpec.topologySpreadConstraints": {"topologyKey", "whenUnsatisfiable"},
	}
	// Lists with a patchMergeKey that are atomic all the same (+listType=atomic).
	atomicLists = map[string]bool{"PodStatus.hostIPs": true, "JobStatus.conditions": true}
	// Maps that are atomic (+mapType=atomic).
	atomicMaps = map[string]bool{"PodSpec.nodeSelector": true, "ServiceSpec.selector": true,
		"ReplicationControllerSpec.selector": true}
	// Structs that are atomic (+structType=atomic).
	atomicStructs = map[string]bool{"LabelSelector": true, "ObjectReference": true, "LocalObjectReference": true,
		"TypedLocalObjectReference": true, "OwnerReference": true, "SecretReference": true, "ConfigMapKeySelector": true,
		"SecretKeySelector": true, "ObjectFieldSelector": true, "ResourceFieldSelector": true, "FileKeySelector": true,
		"NodeSelector": true, "NodeSelectorTerm": true, "TopologySelectorTerm": true, "ScopeSelector": true,
		"EndpointAddress": true, "EndpointPort": true, "Subject": true, "RoleRef": true}
	// Defaults of keys: a port without a protocol is TCP.
	keyDefaults = map[string]any{"protocol": "TCP"}
)

// SchemaOf is the schema of a k8s.io/api Go type (a struct such as
// corev1.Pod). It reads the whole type, every time: callers keep it.
func SchemaOf(t reflect.Type) *Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := goSchema(t, map[reflect.Type]*Schema{})
	if s != nil {
		if data, err := json.Marshal(reflect.New(t).Interface()); err == nil {
			s.Empty, _ = object.Decode(data) // numbers as json.Number, as objects hold them
		}
	}
	return s
}

var marshaler = reflect.TypeFor[json.Marshaler]()

// goSchema reads a Go type. Types that encode themselves (times,
// quantities, int-or-strings, raw extensions) are left unknown.
func goSchema(t reflect.Type, seen map[reflect.Type]*Schema) *Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if s, ok := seen[t]; ok {
			return s
		}
		s := &Schema{Fields: map[string]*Schema{}, Atomic: atomicStructs[t.Name()]}
		seen[t] = s
		addFields(s, t, seen)
		return s
	case reflect.Map:
		return &Schema{Elem: goSchema(t.Elem(), seen)}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is a base64 string
		}
		return &Schema{Elem: goSchema(t.Elem(), seen)}
	}
	return nil
}

// addFields adds a struct's fields, with embedded ",inline" ones.
func addFields(s *Schema, t reflect.Type, seen map[reflect.Type]*Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			addFields(s, ft, seen)
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := goSchema(f.Type, seen)
		where := t.Name() + "." + name
		switch f.Type.Kind() {
		case reflect.Slice:
			if fs != nil {
				fs.ListType, fs.Keys = listTypeOf(f, where)
				if fs.ListType == MapList {
					fs.KeyDefaults = keyDefaults
				}
			}
		case reflect.Map:
			if fs != nil {
				fs.Atomic = atomicMaps[where]
			}
		}
		s.Fields[name] = fs
	}
}

// listTypeOf reads a list's type from its strategic merge patch tags: a merge
// key makes it a map, a merge strategy without one a set.
func listTypeOf(f reflect.StructField, where string) (string, []string) {
	key, strategy := f.Tag.Get("patchMergeKey"), f.Tag.Get("patchStrategy")
	switch {
	case atomicLists[where]:
		return Atomic, nil
	case multipleKeys[where] != nil:
		return MapList, multipleKeys[where]
	case key != "":
		return MapList, []string{key}
	case strings.Contains(strategy, "merge"):
		return SetList, nil
	}
	return Atomic, nil
}

// ObjectMetaSchema is metadata's schema, which every kind shares.
func ObjectMetaSchema() *Schema { return SchemaOf(reflect.TypeFor[metav1.ObjectMeta]()) }

// SchemaFromOpenAPI reads a custom resource's structural schema (a CRD
// version's openAPIV3Schema, decoded JSON). metadata is ObjectMeta's,
// whatever the schema says of it.
func SchemaFromOpenAPI(raw map[string]any) *Schema {
	s := openAPISchema(raw)
	if s == nil {
		s = &Schema{}
	}
	if s.Fields == nil {
		s.Fields = map[string]*Schema{}
	}
	s.Fields["metadata"] = ObjectMetaSchema()
	s.Fields["apiVersion"], s.Fields["kind"] = nil, nil
	return s
}

func openAPISchema(raw map[string]any) *Schema {
	if raw == nil {
		return nil
	}
	switch raw["type"] {
	case "object":
		s := &Schema{Atomic: raw["x-kubernetes-map-type"] == atomicMap}
		if props, ok := raw["properties"].(map[string]any); ok {
			s.Fields = map[string]*Schema{}
			for name, p := range props {
				ps, _ := p.(map[string]any)
				s.Fields[name] = openAPISchema(ps)
			}
		}
		if additional, ok := raw["additionalProperties"].(map[string]any); ok {
			s.Elem = openAPISchema(additional)
		}
		return s
	case "array":
		items, _ := raw["items"].(map[string]any)
		s := &Schema{Elem: openAPISchema(items)}
		switch raw["x-kubernetes-list-type"] {
		case SetList:
			s.ListType = SetList
		case MapList:
			s.ListType = MapList
			keys, _ := raw["x-kubernetes-list-map-keys"].([]any)
			props, _ := items["properties"].(map[string]any)
			for _, k := range keys {
				name, _ := k.(string)
				s.Keys = append(s.Keys, name)
				if p, ok := props[name].(map[string]any); ok && p["default"] != nil {
					if s.KeyDefaults == nil {
						s.KeyDefaults = map[string]any{}
					}
					s.KeyDefaults[name] = p["default"]
				}
			}
		}
		return s
	}
	return nil
}
