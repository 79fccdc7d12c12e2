package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// managers lists an object's managedFields as "manager/operation[/subresource]: fieldsV1".
func managers(obj map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := field(obj, "metadata", "managedFields").([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		key := m["manager"].(string) + "/" + m["operation"].(string)
		if sub, ok := m["subresource"].(string); ok {
			key += "/" + sub
		}
		data, _ := json.Marshal(m["fieldsV1"])
		out[key] = string(data)
	}
	return out
}

// Server-side apply over HTTP, with the answers kube-apiserver 1.37 gives.
func TestServerSideApply(t *testing.T) {
	ts := startServer(t)
	const cms = "/api/v1/namespaces/default/configmaps"
	const apply = "application/apply-patch+yaml"

	// An ordinary create is an Update by the client's User-Agent.
	created := ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"plain","labels":{"a":"b"}},"data":{"x":"1"}}`)
	expect(t, created, 201, "")
	if got, want := managers(created.obj)["Go-http-client/Update"], `{"f:data":{".":{},"f:x":{}},"f:metadata":{"f:labels":{".":{},"f:a":{}}}}`; got != want {
		t.Errorf("create: %s, want %s", got, want)
	}
	// A PUT that sends managedFields: [] clears them; later updates are not tracked.
	cleared := ts.do(t, "PUT", cms+"/plain?fieldManager=joe", "application/json", `{"metadata":{"name":"plain","managedFields":[]},"data":{"x":"2"}}`)
	expect(t, cleared, 200, "")
	if m := field(cleared.obj, "metadata", "managedFields"); m != nil {
		t.Errorf("managedFields [] clears them: %v", m)
	}

	// The options: apply needs a fieldManager; force is for apply only.
	r := ts.do(t, "PATCH", cms+"/demo", apply, "data: {color: blue}")
	expect(t, r, 422, "Invalid")
	if r.obj["message"] != `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch` {
		t.Errorf("no fieldManager: %s", r.obj["message"])
	}
	r = ts.do(t, "PATCH", cms+"/plain?force=false", "application/merge-patch+json", `{}`)
	expect(t, r, 422, "Invalid")
	if r.obj["message"] != `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch` {
		t.Errorf("force on a merge patch: %s", r.obj["message"])
	}

	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=first", apply, `{"apiVersion":"v1","kind":"ConfigMap"}`)
	expect(t, r, 400, "BadRequest")
	if r.obj["message"] != "the name of the object (demo based on URL) was undeterminable: name must be provided" {
		t.Errorf("no name: %s", r.obj["message"])
	}
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=first", apply, `{"apiVersion":"v1","metadata":{"name":"demo"}}`)
	expect(t, r, 400, "BadRequest")
	if r.obj["message"] != "invalid object type: /v1, Kind=" {
		t.Errorf("no kind: %s", r.obj["message"])
	}

	// A dry run shows the object and stores nothing.
	config := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  color: blue\n  size: small\n"
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=first&dryRun=All", apply, config)
	expect(t, r, 201, "")
	if field(r.obj, "data", "color") != "blue" || managers(r.obj)["first/Apply"] == "" {
		t.Errorf("dry run: %s", r.raw)
	}
	expect(t, ts.do(t, "GET", cms+"/demo", "", ""), 404, "NotFound")

	// The first apply creates; the same apply again changes nothing.
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=first", apply, config)
	expect(t, r, 201, "")
	rv := field(r.obj, "metadata", "resourceVersion")
	if got := managers(r.obj); got["first/Apply"] != `{"f:data":{"f:color":{},"f:size":{}}}` || len(got) != 1 {
		t.Errorf("first apply: %v", got)
	}
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=first", apply, config)
	expect(t, r, 200, "")
	if field(r.obj, "metadata", "resourceVersion") != rv {
		t.Errorf("the same apply wrote: resourceVersion %v, was %v", field(r.obj, "metadata", "resourceVersion"), rv)
	}

	// A second manager changing both fields: two conflicts, as Kubernetes words them.
	second := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"demo"},"data":{"color":"red","size":"big"}}`
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=second", apply, second)
	expect(t, r, 409, "Conflict")
	if want := "Apply failed with 2 conflicts: conflicts with \"first\":\n- .data.color\n- .data.size"; r.obj["message"] != want {
		t.Errorf("conflict message %q, want %q", r.obj["message"], want)
	}
	if causes, _ := field(r.obj, "details", "causes").([]any); len(causes) != 2 ||
		field(causes[0], "reason") != "FieldManagerConflict" || field(causes[0], "field") != ".data.color" || field(causes[0], "message") != `conflict with "first"` {
		t.Errorf("causes: %v", field(r.obj, "details", "causes"))
	}
	// force=true takes them.
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=second&force=true", apply, second)
	expect(t, r, 200, "")
	if got := managers(r.obj); len(got) != 1 || got["second/Apply"] != `{"f:data":{"f:color":{},"f:size":{}}}` {
		t.Errorf("after force: %v", got)
	}
	// A field its only manager stops applying is removed.
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=second", apply, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"demo"},"data":{"color":"red"}}`)
	expect(t, r, 200, "")
	if data, _ := json.Marshal(r.obj["data"]); string(data) != `{"color":"red"}` {
		t.Errorf("data after size stopped being applied: %s", data)
	}
	// A stale resourceVersion in the configuration is a precondition.
	r = ts.do(t, "PATCH", cms+"/demo?fieldManager=second", apply, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"demo","resourceVersion":"1"},"data":{"color":"red"}}`)
	expect(t, r, 409, "Conflict")

	// Custom resources merge map lists by their keys; status writes record their subresource.
	expect(t, ts.do(t, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", `{
		"metadata":{"name":"gadgets.example.com"},"spec":{"group":"example.com","scope":"Namespaced",
		"names":{"plural":"gadgets","singular":"gadget","kind":"Gadget","listKind":"GadgetList"},
		"versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},"schema":{"openAPIV3Schema":{"type":"object","properties":{
			"spec":{"type":"object","properties":{"ports":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
				"items":{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"port":{"type":"integer"}}}}}},
			"status":{"type":"object","properties":{"ready":{"type":"boolean"}}}}}}}]}}`), 201, "")
	const gadget = "/apis/example.com/v1/namespaces/default/gadgets/g"
	r = ts.do(t, "PATCH", gadget+"?fieldManager=web", apply, `{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"ports":[{"name":"http","port":80}]}}`)
	expect(t, r, 201, "") // a CRD is established when it is created
	r = ts.do(t, "PATCH", gadget+"?fieldManager=metrics", apply, `{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"ports":[{"name":"metrics","port":9090}]}}`)
	expect(t, r, 200, "")
	if ports, _ := json.Marshal(field(r.obj, "spec", "ports")); string(ports) != `[{"name":"http","port":80},{"name":"metrics","port":9090}]` {
		t.Errorf("ports merged by name: %s", ports)
	}
	// An apply through a subresource creates nothing.
	expect(t, ts.do(t, "PATCH", gadget+"x/status?fieldManager=controller", apply,
		`{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"gx"},"status":{"ready":true}}`), 404, "NotFound")
	r = ts.do(t, "PATCH", gadget+"/status?fieldManager=controller", "application/merge-patch+json", `{"status":{"ready":true}}`)
	expect(t, r, 200, "")
	if got := managers(r.obj)["controller/Update/status"]; got != `{"f:status":{".":{},"f:ready":{}}}` {
		t.Errorf("status write: %v", managers(r.obj))
	}
	// An apply through status owns status only, whatever else it sends.
	r = ts.do(t, "PATCH", gadget+"/status?fieldManager=reporter", apply,
		`{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"ports":[]},"status":{"ready":false}}`)
	expect(t, r, 409, "Conflict")
	if r.obj["message"] != `Apply failed with 1 conflict: conflict with "controller" with subresource "status" using example.com/v1: .status.ready` {
		t.Errorf("status apply conflict: %s", r.obj["message"])
	}
	r = ts.do(t, "PATCH", gadget+"/status?fieldManager=reporter&force=true", apply,
		`{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"ports":[]},"status":{"ready":false}}`)
	expect(t, r, 200, "")
	if got := managers(r.obj); got["reporter/Apply/status"] != `{"f:status":{"f:ready":{}}}` || got["web/Apply"] == "" || field(r.obj, "status", "ready") != false {
		t.Errorf("status apply: %v %s", got, r.raw)
	}
	if ports, _ := field(r.obj, "spec", "ports").([]any); len(ports) != 2 {
		t.Errorf("an apply through status changed the spec: %v", field(r.obj, "spec"))
	}
}

// kubectl apply --server-side: a second apply changes nothing, another
// manager's change is a conflict, --force-conflicts takes the field.
func TestKubectlServerSideApply(t *testing.T) {
	ts := startServer(t)
	run, _ := kubectlFor(t, ts)
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`
	for i := range 2 {
		if out, err := run(deployment, "apply", "--server-side", "-f", "-"); err != nil || out != "deployment.apps/web serverside-applied\n" {
			t.Fatalf("apply %d: %v %q", i+1, err, out)
		}
	}
	rv, _ := run("", "get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}")
	if out, err := run(deployment, "apply", "--server-side", "-f", "-"); err != nil || !strings.Contains(out, "serverside-applied") {
		t.Fatalf("apply again: %v %q", err, out)
	}
	if again, _ := run("", "get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"); again != rv {
		t.Errorf("an unchanged apply wrote: resourceVersion %s, was %s", again, rv)
	}
	scaled := strings.Replace(deployment, "replicas: 2", "replicas: 5", 1)
	out, err := run(scaled, "apply", "--server-side", "--field-manager=autoscaler", "-f", "-")
	if err == nil || !strings.Contains(out, `error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`) ||
		!strings.Contains(out, "--force-conflicts") {
		t.Fatalf("a conflicting apply: %v %q", err, out)
	}
	if out, err := run(scaled, "apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", "-"); err != nil {
		t.Fatalf("--force-conflicts: %v %q", err, out)
	}
	out, err = run("", "get", "deploy", "web", "-o", "yaml", "--show-managed-fields")
	if err != nil || !strings.Contains(out, "replicas: 5") || !strings.Contains(out, "manager: autoscaler") ||
		!strings.Contains(out, `k:{"name":"web"}:`) || !strings.Contains(out, "operation: Apply") {
		t.Errorf("get --show-managed-fields: %v\n%s", err, out)
	}

	// An object made by client-side apply: kubectl's server-side apply
	// takes over the fields its last-applied annotation names.
	const settings = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  mode: fast\n  size: small\n"
	if out, err := run(settings, "apply", "-f", "-"); err != nil {
		t.Fatalf("client-side apply: %v %q", err, out)
	}
	if out, err := run(strings.Replace(settings, "fast", "slow", 1), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("server-side apply after client-side apply: %v %q", err, out)
	}
	if out, _ := run("", "get", "configmap", "settings", "-o", "jsonpath={.data.mode} {.data.size}"); out != "slow small" {
		t.Errorf("after the takeover: %q, want \"slow small\"", out)
	}
}
