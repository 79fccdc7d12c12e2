package patch

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// canonical re-encodes JSON with sorted keys, so two documents compare as strings.
func canonical(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, doc)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func encode(v any) string {
	out, _ := json.Marshal(v)
	return string(out)
}

// The examples of RFC 7386, appendix A.
func TestMergePatchRFC7386(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`}, // null deletes
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`}, // lists are replaced whole
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tt := range tests {
		var target, patch any
		_ = json.Unmarshal([]byte(tt.target), &target)
		_ = json.Unmarshal([]byte(tt.patch), &patch)
		if got := encode(mergePatch(target, patch)); got != canonical(t, tt.want) {
			t.Errorf("merge %s into %s = %s, want %s", tt.patch, tt.target, got, tt.want)
		}
	}
}

func TestStrategicMergePatch(t *testing.T) {
	tests := []struct {
		name                 string
		kind                 string
		current, patch, want string
	}{{
		name:    "containers merge by name: a new image for one keeps the other",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`,
		patch:   `{"spec":{"containers":[{"name":"proxy","image":"proxy:2"}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:2"}]}}`,
	}, {
		name:    "a container with a new name is appended",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"}]}}`,
		patch:   `{"spec":{"containers":[{"name":"debug","image":"busybox"}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"debug","image":"busybox"}]}}`,
	}, {
		name:    "env merges by name",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}`,
		patch:   `{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}]}]}}`,
	}, {
		name:    "ports merge by containerPort",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":80,"name":"http"},{"containerPort":443}]}]}}`,
		patch:   `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":443,"name":"https"}]}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","ports":[{"containerPort":80,"name":"http"},{"containerPort":443,"name":"https"}]}]}}`,
	}, {
		name:    "a list without a merge key (command) is replaced, its neighbours kept",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","command":["run","--fast"],"args":["-v"]}]}}`,
		patch:   `{"spec":{"containers":[{"name":"app","command":["serve"]}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","command":["serve"],"args":["-v"]}]}}`,
	}, {
		name:    "$patch: delete removes one list element",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`,
		patch:   `{"spec":{"containers":[{"name":"proxy","$patch":"delete"}]}}`,
		want:    `{"spec":{"containers":[{"name":"app","image":"app:1"}]}}`,
	}, {
		name:    "$patch: replace in a list replaces the whole list",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`,
		patch:   `{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"only:1"}]}}`,
		want:    `{"spec":{"containers":[{"name":"only","image":"only:1"}]}}`,
	}, {
		name:    "$setElementOrder/containers reorders the merged list",
		kind:    "Pod",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`,
		patch:   `{"spec":{"$setElementOrder/containers":[{"name":"proxy"},{"name":"app"}],"containers":[{"name":"app","image":"app:2"}]}}`,
		want:    `{"spec":{"containers":[{"name":"proxy","image":"proxy:1"},{"name":"app","image":"app:2"}]}}`,
	}, {
		name:    "finalizers merge as a set",
		kind:    "Pod",
		current: `{"metadata":{"finalizers":["a","b"]}}`,
		patch:   `{"metadata":{"finalizers":["b","c"]}}`,
		want:    `{"metadata":{"finalizers":["a","b","c"]}}`,
	}, {
		name:    "$deleteFromPrimitiveList/finalizers removes values",
		kind:    "Pod",
		current: `{"metadata":{"finalizers":["a","b","c"]}}`,
		patch:   `{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}`,
		want:    `{"metadata":{"finalizers":["a","c"]}}`,
	}, {
		name:    "$deleteFromPrimitiveList on a list the object lacks adds nothing",
		kind:    "Pod",
		current: `{"metadata":{"name":"web"}}`,
		patch:   `{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}`,
		want:    `{"metadata":{"name":"web"}}`,
	}, {
		name:    "$setElementOrder for a list the object lacks adds nothing",
		kind:    "Pod",
		current: `{"metadata":{"name":"web"}}`,
		patch:   `{"metadata":{"$setElementOrder/finalizers":["b"]}}`,
		want:    `{"metadata":{"name":"web"}}`,
	}, {
		name:    "$retainKeys drops the fields it does not name (switching a volume's source)",
		kind:    "Pod",
		current: `{"spec":{"volumes":[{"name":"data","emptyDir":{}}]}}`,
		patch:   `{"spec":{"volumes":[{"name":"data","$retainKeys":["hostPath","name"],"hostPath":{"path":"/data"}}]}}`,
		want:    `{"spec":{"volumes":[{"name":"data","hostPath":{"path":"/data"}}]}}`,
	}, {
		name:    "$patch: replace on a map replaces it instead of merging",
		kind:    "Pod",
		current: `{"metadata":{"labels":{"app":"web","tier":"frontend"}}}`,
		patch:   `{"metadata":{"labels":{"$patch":"replace","app":"api"}}}`,
		want:    `{"metadata":{"labels":{"app":"api"}}}`,
	}, {
		name:    "$patch: delete on a map removes the field",
		kind:    "Pod",
		current: `{"spec":{"nodeName":"n1","securityContext":{"runAsUser":1000}}}`,
		patch:   `{"spec":{"securityContext":{"$patch":"delete"}}}`,
		want:    `{"spec":{"nodeName":"n1"}}`,
	}, {
		name:    "maps merge and null deletes, as in a merge patch",
		kind:    "ConfigMap",
		current: `{"data":{"a":"1","b":"2"}}`,
		patch:   `{"data":{"b":null,"c":"3"}}`,
		want:    `{"data":{"a":"1","c":"3"}}`,
	}, {
		name:    "Service spec.ports merge by port",
		kind:    "Service",
		current: `{"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":8443}]}}`,
		patch:   `{"spec":{"ports":[{"port":80,"targetPort":9090}]}}`,
		want:    `{"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443,"targetPort":8443}]}}`,
	}, {
		name:    "Job spec.template.spec.containers merge by name",
		kind:    "Job",
		current: `{"spec":{"template":{"spec":{"containers":[{"name":"work","image":"w:1"},{"name":"log","image":"l:1"}]}}}}`,
		patch:   `{"spec":{"template":{"spec":{"containers":[{"name":"work","image":"w:2"}]}}}}`,
		want:    `{"spec":{"template":{"spec":{"containers":[{"name":"work","image":"w:2"},{"name":"log","image":"l:1"}]}}}}`,
	}, {
		name:    "the same list is replaced where the kind has no merge key for it",
		kind:    "ConfigMap",
		current: `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`,
		patch:   `{"spec":{"containers":[{"name":"proxy","image":"proxy:2"}]}}`,
		want:    `{"spec":{"containers":[{"name":"proxy","image":"proxy:2"}]}}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := mustDecode(t, tt.current)
			got, err := Apply(tt.kind, StrategicMergePatchType, current, []byte(tt.patch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if encode(got) != canonical(t, tt.want) {
				t.Errorf("got  %s\nwant %s", encode(got), canonical(t, tt.want))
			}
			if encode(current) != canonical(t, tt.current) {
				t.Errorf("Apply changed the stored object: %s", encode(current))
			}
		})
	}
}

func mustDecode(t *testing.T, doc string) map[string]any {
	t.Helper()
	obj, err := decode([]byte(doc))
	if err != nil {
		t.Fatalf("bad JSON in test: %v", err)
	}
	return obj
}

func TestMergePatchReplacesLists(t *testing.T) {
	current := mustDecode(t, `{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"proxy","image":"proxy:1"}]}}`)
	got, err := Apply("Pod", MergePatchType, current, []byte(`{"spec":{"containers":[{"name":"proxy","image":"proxy:2"}]}}`))
	want := `{"spec":{"containers":[{"name":"proxy","image":"proxy:2"}]}}`
	if err != nil || encode(got) != canonical(t, want) {
		t.Errorf("merge patch = %s, %v; want %s (unlike a strategic merge patch)", encode(got), err, want)
	}
}

func TestJSONPatch(t *testing.T) {
	const current = `{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"app:1"}]}}`
	tests := []struct{ name, patch, want string }{{
		name:  "add",
		patch: `[{"op":"add","path":"/metadata/labels/tier","value":"frontend"}]`,
		want:  `{"metadata":{"name":"web","labels":{"app":"web","tier":"frontend"}},"spec":{"containers":[{"name":"app","image":"app:1"}]}}`,
	}, {
		name:  "replace, by list index",
		patch: `[{"op":"replace","path":"/spec/containers/0/image","value":"app:2"}]`,
		want:  `{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"app:2"}]}}`,
	}, {
		name:  "remove",
		patch: `[{"op":"remove","path":"/metadata/labels/app"}]`,
		want:  `{"metadata":{"name":"web","labels":{}},"spec":{"containers":[{"name":"app","image":"app:1"}]}}`,
	}, {
		name:  "a passing test guards the next operation",
		patch: `[{"op":"test","path":"/metadata/labels/app","value":"web"},{"op":"add","path":"/spec/nodeName","value":"n1"}]`,
		want:  `{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"app:1"}],"nodeName":"n1"}}`,
	}}
	for _, tt := range tests {
		got, err := Apply("Pod", JSONPatchType, mustDecode(t, current), []byte(tt.patch))
		if err != nil || encode(got) != canonical(t, tt.want) {
			t.Errorf("%s: got %s, %v\nwant %s", tt.name, encode(got), err, canonical(t, tt.want))
		}
	}
}

// A patch that cannot be applied is the client's error, and says so.
func TestPatchErrors(t *testing.T) {
	const current = `{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"app"}]}}`
	tests := []struct {
		name, patchType, patch string
		code                   int
	}{
		{"JSON patch: a failing test", JSONPatchType, `[{"op":"test","path":"/metadata/labels/app","value":"db"}]`, http.StatusUnprocessableEntity},
		{"JSON patch: remove a missing field", JSONPatchType, `[{"op":"remove","path":"/metadata/annotations"}]`, http.StatusUnprocessableEntity},
		{"JSON patch: not a list of operations", JSONPatchType, `{"op":"add"}`, http.StatusBadRequest},
		{"JSON patch: an op that is not a string", JSONPatchType, `[{"op":5,"path":"/a"}]`, http.StatusBadRequest},
		{"JSON patch: an unknown op", JSONPatchType, `[{"op":"frobnicate","path":"/a"}]`, http.StatusUnprocessableEntity},
		{"JSON patch: an op without a path", JSONPatchType, `[{"op":"remove"}]`, http.StatusUnprocessableEntity},
		{"JSON patch: testing the whole object without a value", JSONPatchType, `[{"op":"test","path":""}]`, http.StatusUnprocessableEntity},
		{"merge patch: not JSON", MergePatchType, `{"metadata":`, http.StatusBadRequest},
		{"strategic: unknown $patch directive", StrategicMergePatchType, `{"metadata":{"labels":{"$patch":"frobnicate"}}}`, http.StatusBadRequest},
		{"strategic: unknown $patch in a list element", StrategicMergePatchType, `{"spec":{"containers":[{"name":"app","$patch":"frobnicate"}]}}`, http.StatusBadRequest},
		{"strategic: unknown directive key", StrategicMergePatchType, `{"spec":{"$frobnicate":["x"]}}`, http.StatusBadRequest},
		{"strategic: a keyed list of non-objects", StrategicMergePatchType, `{"spec":{"containers":["app"]}}`, http.StatusBadRequest},
		{"strategic: deleting the whole object", StrategicMergePatchType, `{"$patch":"delete"}`, http.StatusBadRequest},
		{"strategic: $retainKeys not a list", StrategicMergePatchType, `{"spec":{"$retainKeys":"containers"}}`, http.StatusBadRequest},
		{"strategic: $setElementOrder not a list", StrategicMergePatchType, `{"spec":{"$setElementOrder/containers":{"name":"app"}}}`, http.StatusBadRequest},
		{"server-side apply is not a patch type here", "application/apply-patch+yaml", `data: {k: w}`, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		got, err := Apply("Pod", tt.patchType, mustDecode(t, current), []byte(tt.patch))
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.Code != tt.code {
			t.Errorf("%s: got %v, %v; want a %d Status", tt.name, got, err, tt.code)
		}
	}
}
