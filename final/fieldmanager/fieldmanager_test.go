package fieldmanager

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	o, err := object.Decode([]byte(s))
	if err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return o
}

func fieldsJSON(t *testing.T, o map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	list, _ := metadataOf(o)["managedFields"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		data, _ := json.Marshal(m["fieldsV1"])
		out[m["manager"].(string)+"/"+m["operation"].(string)] = string(data)
	}
	return out
}

var clock = func() time.Time { return time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC) }

func configMapOp(manager string) *Operation {
	return &Operation{Manager: manager, APIVersion: "v1", Schema: SchemaOf(reflect.TypeFor[corev1.ConfigMap]()), Now: clock}
}

func TestFieldsV1RoundTrip(t *testing.T) {
	raw := `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}}},"f:x":{"i:0":{},"v:\"a\"":{}}}`
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	set, err := ParseFieldsV1(v)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(set.FieldsV1())
	if string(data) != raw {
		t.Errorf("round trip:\n got %s\nwant %s", data, raw)
	}
	var paths []string
	for _, p := range set.Paths() {
		paths = append(paths, PathString(p))
	}
	want := `.metadata.labels .metadata.labels.app .spec.ports[port=80,protocol="TCP"] .spec.ports[port=80,protocol="TCP"].port .x[0] .x[="a"]`
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("paths:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{`{"x:1":{}}`, `{"f:a":1}`, `{"k:{":{}}`, `{"i:a":{}}`} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if _, err := ParseFieldsV1(v); err == nil {
			t.Errorf("ParseFieldsV1(%s) accepted it", bad)
		}
	}
}

func TestSetOperations(t *testing.T) {
	a, b := NewSet(), NewSet()
	a.Insert("f:a")
	a.Insert("f:b", "f:c")
	b.Insert("f:b", "f:c")
	b.Insert("f:d")
	if u := a.Union(b); !u.Has("f:a") || !u.Has("f:b", "f:c") || !u.Has("f:d") || u.Has("f:b") {
		t.Errorf("union: %v", u.Paths())
	} else if got := u.Paths(); !reflect.DeepEqual(got, [][]string{{"f:a"}, {"f:d"}, {"f:b", "f:c"}}) {
		t.Errorf("members come before what lies below: %v", got)
	}
	if d := a.Difference(b); !reflect.DeepEqual(d.Paths(), [][]string{{"f:a"}}) {
		t.Errorf("difference: %v", d.Paths())
	}
	if i := a.Intersection(b); !reflect.DeepEqual(i.Paths(), [][]string{{"f:b", "f:c"}}) {
		t.Errorf("intersection: %v", i.Paths())
	}
	if !a.Difference(a).Empty() {
		t.Error("a - a is not empty")
	}
}

// The managed fields of a create and an update, as kube-apiserver 1.37
// records them for the same requests.
func TestUpdateRecordsWhatChanged(t *testing.T) {
	created := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2","labels":{"a":"b"}},"data":{"x":"1","e":""}}`)
	configMapOp("curl").Update(nil, created)
	if got, want := fieldsJSON(t, created)["curl/Update"], `{"f:data":{".":{},"f:e":{},"f:x":{}},"f:metadata":{"f:labels":{".":{},"f:a":{}}}}`; got != want {
		t.Errorf("create:\n got %s\nwant %s", got, want)
	}
	updated := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c2","labels":{"a":"c"}},"data":{"x":"1","y":"2"}}`)
	configMapOp("joe").Update(created, updated)
	got := fieldsJSON(t, updated)
	want := map[string]string{
		"curl/Update": `{"f:data":{".":{},"f:x":{}},"f:metadata":{"f:labels":{}}}`,
		"joe/Update":  `{"f:data":{"f:y":{}},"f:metadata":{"f:labels":{"f:a":{}}}}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("update:\n got %v\nwant %v", got, want)
	}
}

func TestUpdateManagedFieldsFromTheClient(t *testing.T) {
	live := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"x":"1"}}`)
	configMapOp("curl").Update(nil, live)

	forged := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[
		{"manager":"forged","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:x":{}}}}]},"data":{"x":"1"}}`)
	configMapOp("curl").Update(live, forged)
	if got := fieldsJSON(t, forged); !reflect.DeepEqual(got, map[string]string{"forged/Apply": `{"f:data":{"f:x":{}}}`}) {
		t.Errorf("a list sent replaces the stored one: %v", got)
	}

	invalid := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[{"manager":"x","operation":"Sideways"}]},"data":{"x":"1"}}`)
	configMapOp("curl").Update(live, invalid)
	if got := fieldsJSON(t, invalid); !reflect.DeepEqual(got, fieldsJSON(t, live)) {
		t.Errorf("an invalid list is ignored: %v", got)
	}

	reset := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[{}]},"data":{"x":"1"}}`)
	configMapOp("curl").Update(live, reset)
	if _, ok := metadataOf(reset)["managedFields"]; ok {
		t.Errorf("[{}] clears them: %v", metadataOf(reset)["managedFields"])
	}
	next := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"x":"2"}}`)
	configMapOp("curl").Update(reset, next)
	if _, ok := metadataOf(next)["managedFields"]; ok {
		t.Errorf("cleared, an update is not tracked: %v", metadataOf(next)["managedFields"])
	}
}

func TestUpdateCapsEntries(t *testing.T) {
	live := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{}}`)
	configMapOp("creator").Update(nil, live)
	for i := range 12 {
		next := object.DeepCopy(live).(map[string]any)
		next["data"].(map[string]any)[string(rune('a'+i))] = "v"
		op := configMapOp(string(rune('a' + i)))
		op.Now = func() time.Time { return clock().Add(time.Duration(i) * time.Second) }
		op.Update(live, next)
		live = next
	}
	got := fieldsJSON(t, live)
	if len(got) != 10 || got["ancient-changes/Update"] == "" {
		t.Errorf("want 10 entries with ancient-changes, got %v", got)
	}
}

func deploymentOp(manager string) *Operation {
	return &Operation{Manager: manager, APIVersion: "apps/v1", Schema: SchemaOf(reflect.TypeFor[appsv1.Deployment]()), Now: clock}
}

const deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,
	"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
	{"name":"web","image":"nginx:1","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}]}}}}`

func TestApplyCreatesAndOwns(t *testing.T) {
	created, err := deploymentOp("kubectl").Apply(nil, obj(t, deployment), false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},` +
		`"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},` +
		`"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`
	if got := fieldsJSON(t, created)["kubectl/Apply"]; got != want {
		t.Errorf("applied fields:\n got %s\nwant %s", got, want)
	}
	again, err := deploymentOp("kubectl").Apply(created, obj(t, deployment), false)
	if err != nil || !reflect.DeepEqual(again, created) {
		t.Errorf("a second apply changes nothing: %v\n%v\n%v", err, again, created)
	}
}

func TestApplyConflictsAndForce(t *testing.T) {
	live, err := deploymentOp("kubectl").Apply(nil, obj(t, deployment), false)
	if err != nil {
		t.Fatal(err)
	}
	// Another applier changes the image and the replicas: two conflicts.
	other := strings.Replace(strings.Replace(deployment, "nginx:1", "nginx:2", 1), `"replicas":2`, `"replicas":3`, 1)
	_, err = deploymentOp("ci").Apply(live, obj(t, other), false)
	status := apierrors.ToStatus(err)
	wantMessage := "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
	if status["code"] != 409 || status["reason"] != "Conflict" || status["message"] != wantMessage {
		t.Fatalf("conflict: %v", status)
	}
	causes := status["details"].(map[string]any)["causes"].([]apierrors.Cause)
	if len(causes) != 2 || causes[0] != (apierrors.Cause{Reason: "FieldManagerConflict", Message: `conflict with "kubectl"`, Field: ".spec.replicas"}) {
		t.Errorf("causes: %v", causes)
	}

	// The same values are no conflict: both own them.
	shared, err := deploymentOp("ci").Apply(live, obj(t, deployment), false)
	if err != nil {
		t.Fatalf("co-owning: %v", err)
	}
	if got := fieldsJSON(t, shared); got["ci/Apply"] != got["kubectl/Apply"] {
		t.Errorf("co-owned: %v", got)
	}

	forced, err := deploymentOp("ci").Apply(live, obj(t, other), true)
	if err != nil {
		t.Fatal(err)
	}
	spec := forced["spec"].(map[string]any)
	if spec["replicas"] != json.Number("3") {
		t.Errorf("forced replicas: %v", spec["replicas"])
	}
	got := fieldsJSON(t, forced)
	if strings.Contains(got["kubectl/Apply"], "f:replicas") || strings.Contains(got["kubectl/Apply"], "f:image") ||
		!strings.Contains(got["ci/Apply"], "f:replicas") {
		t.Errorf("force moves ownership: %v", got)
	}
}

func TestApplyRemovesWhatItStopsApplying(t *testing.T) {
	op := configMapOp("kubectl")
	live, err := op.Apply(nil, obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"a":"1"}},"data":{"x":"1","y":"2"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else also sets y (same value): co-owned, it stays.
	live, err = configMapOp("other").Apply(live, obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"y":"2"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	before := object.DeepCopy(live)
	applied, err := op.Apply(live, obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"z":"3"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, live) {
		t.Errorf("the live object changed:\n%v\n%v", before, live)
	}
	live = applied
	if got := jsonOf(live["data"]); got != `{"y":"2","z":"3"}` {
		t.Errorf("data: %s", got)
	}
	if labels := metadataOf(live)["labels"]; labels != nil && len(labels.(map[string]any)) != 0 {
		t.Errorf("labels not removed: %v", labels)
	}
}

func TestApplyToAnObjectNobodyManages(t *testing.T) {
	live := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"x":"1"}}`)
	out, err := configMapOp("kubectl").Apply(live, obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"x":"2"}}`), false)
	if err == nil || err.Error() != `Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.x` {
		t.Fatalf("want a conflict with before-first-apply, got %v %v", err, out)
	}
}

func TestApplyRefuses(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"c"}}`, "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1"},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[]}}`, "metadata.managedFields must be nil"},
	} {
		_, err := configMapOp("kubectl").Apply(nil, obj(t, c.config), false)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.config, err, c.want)
		}
	}
	dup := strings.Replace(deployment, `{"name":"A","value":"1"}`, `{"name":"A","value":"1"},{"name":"A"}`, 1)
	_, err := deploymentOp("kubectl").Apply(nil, obj(t, dup), false)
	want := `failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="web"].env: duplicate entries for key [name="A"]`
	if status := apierrors.ToStatus(err); status["code"] != 500 || status["message"] != want {
		t.Errorf("duplicates: %v, want 500 %s", status, want)
	}
}

func TestSchemaFromOpenAPI(t *testing.T) {
	var raw map[string]any
	_ = json.Unmarshal([]byte(`{"type":"object","properties":{"spec":{"type":"object","properties":{
		"ports":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["port","protocol"],
			"items":{"type":"object","properties":{"port":{"type":"integer"},"protocol":{"type":"string","default":"TCP"}}}},
		"tags":{"type":"array","x-kubernetes-list-type":"set","items":{"type":"string"}},
		"args":{"type":"array","items":{"type":"string"}},
		"selector":{"type":"object","x-kubernetes-map-type":"atomic","additionalProperties":{"type":"string"}}}}}}`), &raw)
	s := SchemaFromOpenAPI(raw)
	o := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","finalizers":["a"]},
		"spec":{"ports":[{"port":80}],"tags":["x","y"],"args":["a"],"selector":{"a":"b"}}}`)
	set, err := FieldSet(o, s)
	if err != nil {
		t.Fatal(err)
	}
	got := jsonOf(set.Difference(stripped).FieldsV1())
	want := `{"f:metadata":{"f:finalizers":{"v:\"a\"":{}}},"f:spec":{"f:args":{},"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}},"f:selector":{},"f:tags":{"v:\"x\"":{},"v:\"y\"":{}}}}`
	if got != want {
		t.Errorf("field set:\n got %s\nwant %s", got, want)
	}
}

func TestManagerFromUserAgent(t *testing.T) {
	for ua, want := range map[string]string{"kubectl/v1.32.0 (linux/amd64) kubernetes/abc": "kubectl",
		"curl/8.5.0": "curl", "": "", "a\x07b/1": "ab", strings.Repeat("x", 200): strings.Repeat("x", 128)} {
		if got := ManagerFromUserAgent(ua); got != want {
			t.Errorf("ManagerFromUserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
	if c := ValidateManager("ok"); c != nil {
		t.Errorf("ok: %v", c)
	}
	if c := ValidateManager("a\x07"); len(c) != 1 || c[0].Message != `Invalid value: "a\a": invalid character U+0007 (at position 1)` {
		t.Errorf("unprintable: %v", c)
	}
}

func jsonOf(v any) string { return jsonString(v) }

// An object made by kubectl's client-side apply: its fields belong to
// "kubectl-client-side-apply", but the last-applied annotation lets
// kubectl's server-side apply change them, and keeps the annotation current.
func TestApplyTakesOverFromClientSideApply(t *testing.T) {
	const annotation = `{"apiVersion":"v1","data":{"a":"1","b":"2"},"kind":"ConfigMap","metadata":{"name":"c"}}` + "\n"
	live := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1","b":"2"}}`)
	metadataOf(live)["annotations"] = map[string]any{LastAppliedAnnotation: annotation}
	configMapOp("kubectl-client-side-apply").Update(nil, live)

	config := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"9","b":"2"}}`
	if _, err := configMapOp("someone").Apply(live, obj(t, config), false); err == nil {
		t.Fatal("another manager than kubectl conflicts")
	}
	applied, err := configMapOp("kubectl").Apply(live, obj(t, config), false)
	if err != nil {
		t.Fatalf("kubectl's apply: %v", err)
	}
	annotations := metadataOf(applied)["annotations"].(map[string]any)
	if got, want := annotations[LastAppliedAnnotation], `{"apiVersion":"v1","data":{"a":"9","b":"2"},"kind":"ConfigMap","metadata":{"name":"c"}}`+"\n"; got != want {
		t.Errorf("annotation %q, want %q", got, want)
	}
	// Once kubectl owns data.a and data.b (and the node data as a whole, as
	// kubectl's upgrade of managedFields writes it), applying them again
	// keeps data: a struct's field stays while someone owns what is inside.
	m, _ := decodeManaged(metadataOf(applied)["managedFields"])
	m[managerID{Manager: "kubectl", Operation: OperationApply}].fields.Insert("f:data")
	setManaged(applied, m)
	again, err := configMapOp("kubectl").Apply(applied, obj(t, config), false)
	if err != nil || jsonOf(again["data"]) != `{"a":"9","b":"2"}` {
		t.Errorf("data after applying again: %v %v", err, again["data"])
	}
}
