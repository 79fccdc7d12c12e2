package apis

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// testRegistry serves the kinds these tests need, with the name rules the
// server gives them.
func testRegistry() *registry.Registry {
	return registry.New([]*registry.Resource{
		{Version: "v1", Name: "namespaces", Kind: "Namespace", ValidateName: object.ValidateDNS1123Label},
		{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true},
		{Version: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true},
		{Version: "v1", Name: "services", Kind: "Service", Namespaced: true, ValidateName: object.ValidateDNS1035Label},
		{Version: "v1", Name: "limitranges", Kind: "LimitRange", Namespaced: true},
		{Version: "v1", Name: "resourcequotas", Kind: "ResourceQuota", Namespaced: true},
		// "v1." is the APIService of the core group: Kubernetes checks an
		// APIService's name as a path segment, and against version.group.
		{Group: "apiregistration.k8s.io", Version: "v1", Name: "apiservices", Kind: "APIService", StatusSubresource: true,
			ValidateName: object.ValidatePathSegmentName},
	}, object.ValidateDNS1123Subdomain)
}

func mustDecode(t *testing.T, doc string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	return obj
}

func encode(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// at reads a dotted path ("spec.containers.0.name") in decoded JSON.
func at(v any, dotted string) any {
	for _, p := range strings.Split(dotted, ".") {
		if i, err := strconv.Atoi(p); err == nil {
			l, _ := v.([]any)
			if i >= len(l) {
				return nil
			}
			v = l[i]
			continue
		}
		m, ok := v.(map[string]any)
		if o, isObject := v.(object.Object); isObject {
			m, ok = o, true
		}
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// encodeAt encodes the value at a dotted path: strings as they are, anything
// else as JSON.
func encodeAt(obj object.Object, dotted string) string {
	v := at(obj, dotted)
	if s, ok := v.(string); ok {
		return s
	}
	return encode(v)
}
