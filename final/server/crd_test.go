package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// widgetCRD is the CRD of docs/08: Widget in example.com, v1 stored (with a
// status subresource and a schema with a default), v1beta1 also served.
const widgetCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
	"metadata":{"name":"widgets.example.com"},
	"spec":{"group":"example.com","scope":"Namespaced",
	"names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wd"],"categories":["all"]},
	"versions":[
		{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},"schema":{"openAPIV3Schema":{"type":"object",
			"properties":{"spec":{"type":"object","required":["size"],"properties":{
				"size":{"type":"integer","minimum":1,"maximum":100},
				"color":{"type":"string","enum":["red","green","blue"],"default":"blue"},
				"owner":{"type":"string","maxLength":63,"pattern":"^[a-z]+$"}}},
			"status":{"type":"object","properties":{"ready":{"type":"boolean"}}}}}}},
		{"name":"v1beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}`

const (
	crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	widgets  = "/apis/example.com/v1/namespaces/default/widgets"
)

// condition is the status of one of a CRD's conditions.
func condition(crd map[string]any, kind string) string {
	conditions, _ := field(crd, "status", "conditions").([]any)
	for _, c := range conditions {
		if field(c, "type") == kind {
			s, _ := field(c, "status").(string)
			return s
		}
	}
	return ""
}

func itemNames(t *testing.T, r response) []string {
	t.Helper()
	expect(t, r, http.StatusOK, "")
	items, _ := r.obj["items"].([]any)
	var out []string
	for _, item := range items {
		out = append(out, fmt.Sprint(field(item, "metadata", "name")))
	}
	return out
}

// watch streams the events of a watch request until ctx ends.
func (ts *testServer) watch(t *testing.T, ctx context.Context, path string) <-chan map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("watch %s: %d", path, resp.StatusCode)
	}
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var e map[string]any
			if dec.Decode(&e) != nil {
				return
			}
			events <- e
		}
	}()
	return events
}

// next is the next event of a watch: its type and the object's name.
func next(t *testing.T, events <-chan map[string]any) (string, map[string]any) {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the watch ended")
		}
		obj, _ := e["object"].(map[string]any)
		return fmt.Sprint(e["type"]), obj
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10 s")
	}
	return "", nil
}

// createCRD creates a CRD and checks that it is Established at once.
func (ts *testServer) createCRD(t *testing.T, def string) {
	t.Helper()
	r := ts.do(t, http.MethodPost, crdsPath, "application/json", def)
	expect(t, r, http.StatusCreated, "")
	got := ts.do(t, http.MethodGet, crdsPath+"/"+fmt.Sprint(field(r.obj, "metadata", "name")), "", "")
	if condition(got.obj, "NamesAccepted") != "True" || condition(got.obj, "Established") != "True" {
		t.Fatalf("the CRD is not Established: %s", got.raw)
	}
}

func TestCustomResources(t *testing.T) {
	ts := startServer(t)
	ts.createCRD(t, widgetCRD)
	if disc := ts.do(t, http.MethodGet, "/apis/example.com", "", ""); field(disc.obj, "preferredVersion", "version") != "v1" {
		t.Errorf("discovery of example.com: %s", disc.raw)
	}
	if disc := ts.do(t, http.MethodGet, "/apis/example.com/v1", "", ""); !strings.Contains(disc.raw, `"name":"widgets"`) ||
		!strings.Contains(disc.raw, `"name":"widgets/status"`) {
		t.Errorf("discovery of example.com/v1: %s", disc.raw)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := ts.watch(t, ctx, widgets+"?watch=true")

	// Create, get, list, watch; unknown fields pruned, defaults filled in.
	created := ts.do(t, http.MethodPost, widgets, "application/json",
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"first"},"spec":{"size":3,"bogus":1},"status":{"ready":true}}`)
	expect(t, created, http.StatusCreated, "")
	if field(created.obj, "spec", "color") != "blue" || field(created.obj, "spec", "bogus") != nil || created.obj["status"] != nil ||
		fmt.Sprint(field(created.obj, "metadata", "generation")) != "1" {
		t.Errorf("created: %s, want color defaulted, bogus pruned, no status, generation 1", created.raw)
	}
	if typ, obj := next(t, events); typ != "ADDED" || field(obj, "metadata", "name") != "first" || obj["apiVersion"] != "example.com/v1" ||
		field(obj, "spec", "color") != "blue" {
		t.Errorf("watch: %s %v", typ, obj)
	}
	got := ts.do(t, http.MethodGet, widgets+"/first", "", "")
	expect(t, got, http.StatusOK, "")
	if field(got.obj, "metadata", "uid") != field(created.obj, "metadata", "uid") {
		t.Errorf("get: %s", got.raw)
	}
	list := ts.do(t, http.MethodGet, widgets, "", "")
	if n := itemNames(t, list); !slices.Equal(n, []string{"first"}) || list.obj["kind"] != "WidgetList" {
		t.Errorf("list: %s", list.raw)
	}
	if n := itemNames(t, ts.do(t, http.MethodGet, "/apis/example.com/v1/widgets", "", "")); !slices.Equal(n, []string{"first"}) {
		t.Errorf("list across namespaces: %v", n)
	}
	// The other served version reads the same object.
	if beta := ts.do(t, http.MethodGet, "/apis/example.com/v1beta1/namespaces/default/widgets/first", "", ""); beta.obj["apiVersion"] != "example.com/v1beta1" {
		t.Errorf("through v1beta1: %s", beta.raw)
	}

	// A schema violation names every field; nothing is stored.
	wrong := ts.do(t, http.MethodPost, widgets, "application/json",
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"wrong"},"spec":{"size":101,"color":"pink","owner":"Not-Lower"}}`)
	expect(t, wrong, http.StatusUnprocessableEntity, "Invalid")
	var causes []string
	for _, c := range field(wrong.obj, "details", "causes").([]any) {
		causes = append(causes, fmt.Sprint(field(c, "field")))
	}
	slices.Sort(causes)
	if !slices.Equal(causes, []string{"spec.color", "spec.owner", "spec.size"}) ||
		!strings.HasPrefix(fmt.Sprint(wrong.obj["message"]), `Widget.example.com "wrong" is invalid: [`) {
		t.Errorf("causes %v: %s", causes, wrong.raw)
	}
	expect(t, ts.do(t, http.MethodGet, widgets+"/wrong", "", ""), http.StatusNotFound, "NotFound")

	// fieldValidation=Strict refuses unknown fields.
	strict := ts.do(t, http.MethodPost, widgets+"?fieldValidation=Strict", "application/json",
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"strict"},"spec":{"size":2,"bogus":true}}`)
	expect(t, strict, http.StatusBadRequest, "BadRequest")
	if !strings.Contains(fmt.Sprint(strict.obj["message"]), `strict decoding error: unknown field "spec.bogus"`) {
		t.Errorf("Strict: %s", strict.raw)
	}

	// Patches: no strategic merge (no Go types, no merge keys); merge and
	// JSON patches work.
	expect(t, ts.do(t, http.MethodPatch, widgets+"/first", "application/strategic-merge-patch+json", `{"spec":{"size":7}}`),
		http.StatusUnsupportedMediaType, "UnsupportedMediaType")
	patched := ts.do(t, http.MethodPatch, widgets+"/first", "application/json-patch+json", `[{"op":"replace","path":"/spec/size","value":8}]`)
	expect(t, patched, http.StatusOK, "")
	if fmt.Sprint(field(patched.obj, "spec", "size")) != "8" || fmt.Sprint(field(patched.obj, "metadata", "generation")) != "2" {
		t.Errorf("JSON patch: %s", patched.raw)
	}
	if typ, obj := next(t, events); typ != "MODIFIED" || fmt.Sprint(field(obj, "spec", "size")) != "8" {
		t.Errorf("watch: %s %v", typ, obj)
	}

	// The status subresource: status only through /status, generation
	// only for the spec.
	merge := func(path, patch string) response {
		t.Helper()
		r := ts.do(t, http.MethodPatch, path, "application/merge-patch+json", patch)
		expect(t, r, http.StatusOK, "")
		return r
	}
	generation := func(r response) string { return fmt.Sprint(field(r.obj, "metadata", "generation")) }
	if r := merge(widgets+"/first", `{"metadata":{"labels":{"a":"b"}},"status":{"ready":true}}`); generation(r) != "2" || r.obj["status"] != nil {
		t.Errorf("labels and status through the main endpoint: %s, want generation 2 and no status", r.raw)
	}
	r := merge(widgets+"/first/status", `{"spec":{"size":50},"status":{"ready":true}}`)
	if generation(r) != "2" || field(r.obj, "status", "ready") != true || fmt.Sprint(field(r.obj, "spec", "size")) != "8" {
		t.Errorf("through /status: %s, want status set, spec unchanged, generation 2", r.raw)
	}
	if r := merge(widgets+"/first", `{"spec":{"size":9}}`); generation(r) != "3" || field(r.obj, "status", "ready") != true {
		t.Errorf("a spec change: %s, want generation 3 and the status kept", r.raw)
	}
	expect(t, ts.do(t, http.MethodGet, "/apis/example.com/v1beta1/namespaces/default/widgets/first/status", "", ""), http.StatusNotFound, "NotFound")

	// A version added while the server runs is served at once, and by
	// version priority it is the group's preferred one.
	current := ts.do(t, http.MethodGet, crdsPath+"/widgets.example.com", "", "")
	versions := field(current.obj, "spec", "versions").([]any)
	v2 := map[string]any{"name": "v2", "served": true, "storage": false,
		"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
	current.obj["spec"].(map[string]any)["versions"] = append(versions, v2)
	body, _ := json.Marshal(current.obj)
	updated := ts.do(t, http.MethodPut, crdsPath+"/widgets.example.com", "application/json", string(body))
	expect(t, updated, http.StatusOK, "")
	if fmt.Sprint(field(updated.obj, "metadata", "generation")) != "2" || condition(updated.obj, "Established") != "True" {
		t.Errorf("the CRD after a spec change: %s", updated.raw)
	}
	if got := ts.do(t, http.MethodGet, "/apis/example.com/v2/namespaces/default/widgets/first", "", ""); got.obj["apiVersion"] != "example.com/v2" {
		t.Errorf("through the new version: %s", got.raw)
	}
	if disc := ts.do(t, http.MethodGet, "/apis/example.com", "", ""); field(disc.obj, "preferredVersion", "version") != "v2" {
		t.Errorf("discovery after v2 was added: %s", disc.raw)
	}

	// Written through v1beta1, stored in v1: what v1 does not know is not stored.
	beta := ts.do(t, http.MethodPost, "/apis/example.com/v1beta1/namespaces/default/widgets", "application/json",
		`{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"from-beta"},"spec":{"size":6,"shape":"round"}}`)
	expect(t, beta, http.StatusCreated, "")
	if beta.obj["apiVersion"] != "example.com/v1beta1" || field(beta.obj, "spec", "shape") != nil {
		t.Errorf("created through v1beta1: %s", beta.raw)
	}

	// Deleting the CRD deletes its objects; watchers see them go.
	expect(t, ts.do(t, http.MethodDelete, crdsPath+"/widgets.example.com", "", ""), http.StatusOK, "")
	var gone []string
	for len(gone) < 2 {
		if typ, obj := next(t, events); typ == "DELETED" {
			gone = append(gone, fmt.Sprint(field(obj, "metadata", "name")))
		}
	}
	slices.Sort(gone)
	if !slices.Equal(gone, []string{"first", "from-beta"}) {
		t.Errorf("deleted: %v", gone)
	}
	expect(t, ts.do(t, http.MethodGet, widgets, "", ""), http.StatusNotFound, "NotFound")
	expect(t, ts.do(t, http.MethodGet, "/apis/example.com", "", ""), http.StatusNotFound, "NotFound")
	if all := ts.do(t, http.MethodGet, "/apis", "", ""); strings.Contains(all.raw, "example.com") {
		t.Errorf("/apis still lists example.com: %s", all.raw)
	}
	ts.createCRD(t, widgetCRD)
	if n := itemNames(t, ts.do(t, http.MethodGet, widgets, "", "")); len(n) != 0 {
		t.Errorf("the objects outlived their CRD: %v", n)
	}
}

func TestBadCRDsAreRefused(t *testing.T) {
	ts := startServer(t)
	for _, tt := range []struct{ name, from, to, field string }{
		{"non-structural schema", `"spec":{"type":"object","required"`, `"spec":{"required"`, "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"},
		{"group without a dot", `"group":"example.com"`, `"group":"example"`, "spec.group"},
		{"name is not plural.group", `"name":"widgets.example.com"`, `"name":"stuff.example.com"`, "metadata.name"},
		{"webhook conversion without a webhook", `"scope":"Namespaced",`, `"scope":"Namespaced","conversion":{"strategy":"Webhook"},`, "spec.conversion.webhookClientConfig"},
	} {
		r := ts.do(t, http.MethodPost, crdsPath, "application/json", strings.Replace(widgetCRD, tt.from, tt.to, 1))
		expect(t, r, http.StatusUnprocessableEntity, "Invalid")
		if !strings.Contains(r.raw, `"field":"`+tt.field+`"`) {
			t.Errorf("%s: no cause for %s: %s", tt.name, tt.field, r.raw)
		}
	}
	expect(t, ts.do(t, http.MethodGet, "/apis/example.com/v1", "", ""), http.StatusNotFound, "NotFound")

	// A CRD claiming a built-in resource is stored, never served, and its
	// deletion leaves the built-in objects alone.
	roles := strings.NewReplacer("widgets.example.com", "roles.rbac.authorization.k8s.io", `"example.com"`, `"rbac.authorization.k8s.io"`,
		"widgets", "roles", `"widget"`, `"role"`, `"Widget"`, `"Role"`, `["wd"]`, `[]`).Replace(widgetCRD)
	expect(t, ts.do(t, http.MethodPost, crdsPath, "application/json", roles), http.StatusCreated, "")
	if got := ts.do(t, http.MethodGet, crdsPath+"/roles.rbac.authorization.k8s.io", "", ""); condition(got.obj, "NamesAccepted") != "False" ||
		condition(got.obj, "Established") != "False" {
		t.Errorf("a CRD claiming roles: %s", got.raw)
	}
	const role = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
	expect(t, ts.do(t, http.MethodPost, role, "application/json", `{"metadata":{"name":"kept"},"rules":[]}`), http.StatusCreated, "")
	expect(t, ts.do(t, http.MethodDelete, crdsPath+"/roles.rbac.authorization.k8s.io", "", ""), http.StatusOK, "")
	expect(t, ts.do(t, http.MethodGet, role+"/kept", "", ""), http.StatusOK, "")
}

func TestCRDsSurviveARestart(t *testing.T) {
	dataDir := t.TempDir()
	first := startServer(t, "--data-dir="+dataDir)
	first.createCRD(t, widgetCRD)
	created := first.do(t, http.MethodPost, widgets, "application/json", `{"metadata":{"name":"kept"},"spec":{"size":3}}`)
	expect(t, created, http.StatusCreated, "")
	crd := first.do(t, http.MethodGet, crdsPath+"/widgets.example.com", "", "")
	first.stop()

	again := startServer(t, "--data-dir="+dataDir)
	got := again.do(t, http.MethodGet, widgets+"/kept", "", "")
	expect(t, got, http.StatusOK, "")
	if field(got.obj, "metadata", "uid") != field(created.obj, "metadata", "uid") || field(got.obj, "spec", "color") != "blue" {
		t.Errorf("after the restart: %s", got.raw)
	}
	// Served at once, and the controller had nothing to write.
	after := again.do(t, http.MethodGet, crdsPath+"/widgets.example.com", "", "")
	if condition(after.obj, "Established") != "True" ||
		field(after.obj, "metadata", "resourceVersion") != field(crd.obj, "metadata", "resourceVersion") {
		t.Errorf("the CRD after the restart: %s\nbefore: %s", after.raw, crd.raw)
	}
}

// kubectl applies a CRD, waits for it, and uses the new kind like a built-in.
func TestKubectlCustomResources(t *testing.T) {
	ts := startServer(t)
	run, must := kubectlFor(t, ts)
	must(widgetCRD, "apply", "-f", "-")
	must("", "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
	must("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: first\nspec:\n  size: 3\n", "apply", "-f", "-")
	if out := must("", "get", "wd", "-o", "name"); strings.TrimSpace(out) != "widget.example.com/first" {
		t.Errorf("kubectl get wd: %q", out)
	}
	if out := must("", "get", "widget", "first", "-o", "jsonpath={.spec.color}"); out != "blue" {
		t.Errorf("the default color: %q", out)
	}
	if out := must("", "explain", "widget.spec"); !strings.Contains(out, "size\t<integer> -required-") || !strings.Contains(out, "enum: red, green, blue") {
		t.Errorf("kubectl explain widget.spec: %q", out)
	}
	// kubectl asks for Strict field validation.
	out, err := run("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: typo\nspec:\n  size: 1\n  colour: red\n", "create", "-f", "-")
	if err == nil || !strings.Contains(out, `unknown field "spec.colour"`) {
		t.Errorf("kubectl create with an unknown field: %v %q", err, out)
	}
	must("", "delete", "crd", "widgets.example.com")
	if out, err := run("", "get", "widgets"); err == nil {
		t.Errorf("kubectl get widgets after the CRD went: %q", out)
	}
}
