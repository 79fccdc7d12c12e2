// Chapter 08's checks: CustomResourceDefinitions. kubectl applies the CRD of
// docs/08 and then gets widgets by their short name; the schema prunes,
// defaults and validates; status and generation behave as in Kubernetes;
// CRDs come and go while the server runs, and survive a restart.
package chapters_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func chapter08Checks() []check {
	return []check{
		{8, "kubectl applies the CRD of docs/08 and gets widgets by short name", checkKubectlCRD},
		{8, "a custom object violating its schema is 422 naming every violation", checkSchemaViolations},
		{8, "unknown fields are pruned or refused, defaults filled in", checkPruningAndDefaults},
		{8, "status subresource and metadata.generation", checkStatusSubresource},
		{8, "served versions share one storage version", checkServedVersions},
		{8, "custom resources: patches, selectors, pagination, watch", checkCustomResourceVerbs},
		{8, "a bad CRD is 422 and serves nothing", checkBadCRDs},
		{8, "a CRD whose names clash gets NamesAccepted=False", checkNameClash},
		{8, "CRD changes take effect at once; deleting one deletes its objects", checkCRDLifecycle},
		{8, "CRDs and custom objects survive a restart", checkCRDsSurviveRestart},
	}
}

// crd builds a CustomResourceDefinition of plural.group with one stored
// version whose spec has an integer size.
func crd(group, plural, kind, scope string, versions ...string) map[string]any {
	if len(versions) == 0 {
		versions = []string{"v1"}
	}
	var list []any
	for i, v := range versions {
		list = append(list, map[string]any{"name": v, "served": true, "storage": i == 0,
			"subresources": map[string]any{"status": map[string]any{}},
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
				"spec":   map[string]any{"type": "object", "properties": map[string]any{"size": map[string]any{"type": "integer"}}},
				"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
			}}}})
	}
	return map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{"group": group, "scope": scope, "versions": list,
			"names": map[string]any{"plural": plural, "kind": kind}}}
}

const crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

// createCRD creates a CRD and checks that it is Established at once.
func (s *server) createCRD(t *testing.T, def map[string]any) {
	t.Helper()
	expect(t, s.post(t, crds, def), http.StatusCreated, "")
	got := s.get(t, crds+"/"+str(def, "metadata", "name"))
	if cond := condition(got.obj, "Established"); cond != "True" {
		t.Fatalf("CRD %s is not Established: %s", str(def, "metadata", "name"), got.raw)
	}
}

// condition returns the status of one of a CRD's conditions.
func condition(obj map[string]any, kind string) string {
	conditions, _ := field(obj, "status", "conditions").([]any)
	for _, c := range conditions {
		if str(c, "type") == kind {
			return str(c, "status")
		}
	}
	return ""
}

// widgetsDoc is the CRD of docs/08, which must be the chapter's own example.
func widgetsDoc(t *testing.T, s *server) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/08-crds.md")
	if err != nil {
		t.Fatalf("reading docs/08: %v", err)
	}
	var block string
	for _, part := range strings.Split(string(doc), "```yaml\n")[1:] {
		if body, _, ok := strings.Cut(part, "```"); ok && strings.Contains(body, "kind: CustomResourceDefinition") {
			block = body
			break
		}
	}
	example, err := os.ReadFile(fmt.Sprintf("%02d/examples/widget-crd.yaml", s.chapter))
	if err != nil {
		t.Fatal(err)
	}
	if block == "" || strings.TrimSpace(block) != strings.TrimSpace(string(example)) {
		t.Fatalf("docs/08 must show chapters/%02d/examples/widget-crd.yaml as its CRD; it shows:\n%s", s.chapter, block)
	}
	return block
}

const widgets = "/apis/example.com/v1/namespaces/default/widgets"

func checkKubectlCRD(t *testing.T, s *server) {
	s.mustKubectl(t, widgetsDoc(t, s), "apply", "-f", "-")
	s.mustKubectl(t, "", "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
	s.mustKubectl(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: first\nspec:\n  size: 3\n", "apply", "-f", "-")
	if out := s.mustKubectl(t, "", "get", "wd", "-o", "name"); strings.TrimSpace(out) != "widget.example.com/first" {
		t.Errorf("kubectl get wd: %q", out)
	}
	if out := s.mustKubectl(t, "", "get", "widget", "first", "-o", "jsonpath={.spec.color}"); out != "blue" {
		t.Errorf("the default color: %q, want blue", out)
	}
	if out := s.mustKubectl(t, "", "api-resources", "--api-group=example.com", "--no-headers"); !strings.Contains(out, "widgets") || !strings.Contains(out, "wd") {
		t.Errorf("kubectl api-resources: %q", out)
	}
	if out := s.mustKubectl(t, "", "explain", "widget.spec"); !strings.Contains(out, "size\t<integer> -required-") || !strings.Contains(out, "enum: red, green, blue") {
		t.Errorf("kubectl explain widget.spec: %q", out)
	}
	if out := s.mustKubectl(t, "", "get", "all", "-o", "name"); !strings.Contains(out, "widget.example.com/first") {
		t.Errorf("kubectl get all (category all): %q", out)
	}
	// A schema violation, as kubectl shows it: every field named.
	out, err := s.kubectl(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  size: 0\n  color: pink\n", "create", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.size") || !strings.Contains(out, "spec.color") || !strings.Contains(out, "is invalid") {
		t.Errorf("kubectl create of an invalid widget: err %v, output %q", err, out)
	}
	// Strict field validation is kubectl's default.
	out, err = s.kubectl(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: typo\nspec:\n  size: 1\n  colour: red\n", "create", "-f", "-")
	if err == nil || !strings.Contains(out, `unknown field "spec.colour"`) {
		t.Errorf("kubectl create with an unknown field: err %v, output %q", err, out)
	}
	if out := s.mustKubectl(t, "", "patch", "wd", "first", "--type=merge", "-p", `{"spec":{"size":4}}`, "-o", "jsonpath={.spec.size}"); out != "4" {
		t.Errorf("kubectl patch --type=merge: %q", out)
	}
}

func checkSchemaViolations(t *testing.T, s *server) {
	widgetsDoc(t, s)
	s.mustKubectl(t, widgetsDoc(t, s), "apply", "-f", "-")
	before := s.get(t, widgets)
	r := s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"wrong"},
		"spec":{"size":101,"color":"pink","owner":"Not-Lower"},"extra":1}`)
	expect(t, r, http.StatusUnprocessableEntity, "Invalid")
	var fields []string
	causes, _ := field(r.obj, "details", "causes").([]any)
	for _, c := range causes {
		fields = append(fields, str(c, "field"))
	}
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"spec.color", "spec.owner", "spec.size"}) {
		t.Errorf("causes name %v, want spec.color, spec.owner, spec.size: %s", fields, r.raw)
	}
	if msg := str(r.obj, "message"); !strings.HasPrefix(msg, `Widget.example.com "wrong" is invalid: [`) {
		t.Errorf("message %q", msg)
	}
	expect(t, s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"nosize"},"spec":{}}`),
		http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"typed"},"spec":{"size":"three"}}`),
		http.StatusUnprocessableEntity, "Invalid")
	if after := s.get(t, widgets); str(after.obj, "metadata", "resourceVersion") != str(before.obj, "metadata", "resourceVersion") {
		t.Errorf("refused objects moved the store: resourceVersion %s -> %s", str(before.obj, "metadata", "resourceVersion"), str(after.obj, "metadata", "resourceVersion"))
	}
}

func checkPruningAndDefaults(t *testing.T, s *server) {
	s.mustKubectl(t, widgetsDoc(t, s), "apply", "-f", "-")
	r := s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"pruned"},"spec":{"size":2,"bogus":true},"top":1}`)
	expect(t, r, http.StatusCreated, "")
	if field(r.obj, "spec", "bogus") != nil || r.obj["top"] != nil || str(r.obj, "spec", "color") != "blue" {
		t.Errorf("created: %s, want bogus and top pruned and color defaulted to blue", r.raw)
	}
	if w := strings.Join(r.header.Values("Warning"), "\n"); !strings.Contains(w, `unknown field \"spec.bogus\"`) || !strings.Contains(w, `unknown field \"top\"`) {
		t.Errorf("Warning headers: %q", w)
	}
	strict := s.post(t, widgets+"?fieldValidation=Strict", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"strict"},"spec":{"size":2,"bogus":true}}`)
	expect(t, strict, http.StatusBadRequest, "BadRequest")
	if !strings.Contains(str(strict.obj, "message"), `strict decoding error: unknown field "spec.bogus"`) {
		t.Errorf("Strict: %s", strict.raw)
	}
	expect(t, s.get(t, widgets+"/strict"), http.StatusNotFound, "NotFound")
	expect(t, s.post(t, widgets+"?fieldValidation=Loose", `{"metadata":{"name":"loose"},"spec":{"size":2}}`), http.StatusUnprocessableEntity, "Invalid")
	ignored := s.post(t, widgets+"?fieldValidation=Ignore", `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"ignored"},"spec":{"size":2,"bogus":1}}`)
	expect(t, ignored, http.StatusCreated, "")
	if len(ignored.header.Values("Warning")) != 0 || field(ignored.obj, "spec", "bogus") != nil {
		t.Errorf("Ignore: warnings %q, body %s", ignored.header.Values("Warning"), ignored.raw)
	}
}

func checkStatusSubresource(t *testing.T, s *server) {
	s.mustKubectl(t, widgetsDoc(t, s), "apply", "-f", "-")
	r := s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"gen"},"spec":{"size":1},"status":{"ready":true}}`)
	expect(t, r, http.StatusCreated, "")
	if r.obj["status"] != nil || fmt.Sprint(field(r.obj, "metadata", "generation")) != "1" {
		t.Fatalf("created: %s, want no status and generation 1", r.raw)
	}
	merge := func(path, patch string) response {
		t.Helper()
		r := s.do(t, http.MethodPatch, path, "application/merge-patch+json", patch)
		expect(t, r, http.StatusOK, "")
		return r
	}
	generation := func(r response) string { return fmt.Sprint(field(r.obj, "metadata", "generation")) }
	if r := merge(widgets+"/gen", `{"metadata":{"labels":{"a":"b"}}}`); generation(r) != "1" {
		t.Errorf("a label change moved generation to %s", generation(r))
	}
	if r := merge(widgets+"/gen", `{"spec":{"size":2},"status":{"ready":true}}`); generation(r) != "2" || r.obj["status"] != nil {
		t.Errorf("a spec change through the main endpoint: %s, want generation 2 and the status ignored", r.raw)
	}
	r = merge(widgets+"/gen/status", `{"spec":{"size":50},"status":{"ready":true}}`)
	if generation(r) != "2" || field(r.obj, "status", "ready") != true || fmt.Sprint(field(r.obj, "spec", "size")) != "2" {
		t.Errorf("through /status: %s, want status set, spec unchanged, generation 2", r.raw)
	}
	put := r.obj
	put["status"] = map[string]any{"ready": false}
	put["spec"] = map[string]any{"size": 9}
	r = s.do(t, http.MethodPut, widgets+"/gen/status", "application/json", put)
	expect(t, r, http.StatusOK, "")
	if field(r.obj, "status", "ready") != false || fmt.Sprint(field(r.obj, "spec", "size")) != "2" {
		t.Errorf("PUT /status: %s", r.raw)
	}
	// A stale resourceVersion on /status is a conflict, as on the main endpoint.
	expect(t, s.do(t, http.MethodPut, widgets+"/gen/status", "application/json", put), http.StatusConflict, "Conflict")
	expect(t, s.get(t, "/apis/example.com/v1beta1/namespaces/default/widgets/gen/status"), http.StatusNotFound, "NotFound")
}

func checkServedVersions(t *testing.T, s *server) {
	s.mustKubectl(t, widgetsDoc(t, s), "apply", "-f", "-")
	const beta = "/apis/example.com/v1beta1/namespaces/default/widgets"
	expect(t, s.post(t, widgets, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"versioned"},"spec":{"size":5}}`), http.StatusCreated, "")
	r := s.get(t, beta+"/versioned")
	expect(t, r, http.StatusOK, "")
	if str(r.obj, "apiVersion") != "example.com/v1beta1" || fmt.Sprint(field(r.obj, "spec", "size")) != "5" {
		t.Errorf("read through v1beta1: %s", r.raw)
	}
	r = s.post(t, beta, `{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"from-beta"},"spec":{"size":6,"shape":"round"}}`)
	expect(t, r, http.StatusCreated, "")
	// v1beta1 keeps unknown fields, but v1, the storage version, does not:
	// what v1 does not know is not stored.
	if str(r.obj, "apiVersion") != "example.com/v1beta1" || field(r.obj, "spec", "shape") != nil || fmt.Sprint(field(r.obj, "spec", "size")) != "6" {
		t.Errorf("created through v1beta1: %s", r.raw)
	}
	r = s.get(t, widgets+"/from-beta")
	if str(r.obj, "apiVersion") != "example.com/v1" || field(r.obj, "spec", "shape") != nil || str(r.obj, "spec", "color") != "blue" {
		t.Errorf("read through v1 (pruned and defaulted by v1's schema): %s", r.raw)
	}
	expect(t, s.post(t, beta, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"mixed"}}`), http.StatusBadRequest, "BadRequest")
	// Stored in the storage version, whatever version wrote it.
	out, err := exec.Command("sqlite3", filepath.Join(s.dataDir, "state.db"),
		"SELECT json_extract(value, '$.apiVersion') FROM current WHERE key = '/registry/example.com/widgets/default/from-beta'").CombinedOutput()
	if err != nil && os.Getenv("CI") != "true" {
		t.Skipf("sqlite3: %v %s", err, out)
	}
	if strings.TrimSpace(string(out)) != "example.com/v1" {
		t.Errorf("stored apiVersion %q, want example.com/v1 (err %v)", out, err)
	}
	disc := s.get(t, "/apis/example.com")
	if str(disc.obj, "preferredVersion", "version") != "v1" {
		t.Errorf("preferred version: %s", disc.raw)
	}
}

func checkCustomResourceVerbs(t *testing.T, s *server) {
	s.createCRD(t, crd("verbs.example.net", "gizmos", "Gizmo", "Namespaced"))
	const gizmos = "/apis/verbs.example.net/v1/namespaces/default/gizmos"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := s.watchStream(t, ctx, gizmos+"?watch=true&labelSelector=tier%3Dfront")
	for i, tier := range []string{"front", "back", "front"} {
		expect(t, s.post(t, gizmos, fmt.Sprintf(`{"metadata":{"name":"g%d","labels":{"tier":%q}},"spec":{"size":%d}}`, i, tier, i)), http.StatusCreated, "")
	}
	got := collect(events, 2)
	if summary(got) == nil || len(got) != 2 || got[0].Type != "ADDED" || str(got[1].Object, "metadata", "name") != "g2" || str(got[0].Object, "apiVersion") != "verbs.example.net/v1" {
		t.Errorf("watch with a selector: %v", summary(got))
	}
	if n := names(t, s.get(t, gizmos+"?labelSelector=tier%3Dback")); !slices.Equal(n, []string{"g1"}) {
		t.Errorf("list with a selector: %v", n)
	}
	page := s.get(t, gizmos+"?limit=2")
	next := str(page.obj, "metadata", "continue")
	if n := names(t, page); len(n) != 2 || next == "" {
		t.Fatalf("first page: %s", page.raw)
	}
	if n := names(t, s.get(t, gizmos+"?limit=2&continue="+next)); !slices.Equal(n, []string{"g2"}) {
		t.Errorf("second page: %v", n)
	}
	expect(t, s.do(t, http.MethodPatch, gizmos+"/g0", "application/strategic-merge-patch+json", `{"spec":{"size":7}}`), http.StatusUnsupportedMediaType, "UnsupportedMediaType")
	r := s.do(t, http.MethodPatch, gizmos+"/g0", "application/json-patch+json", `[{"op":"replace","path":"/spec/size","value":8}]`)
	expect(t, r, http.StatusOK, "")
	if fmt.Sprint(field(r.obj, "spec", "size")) != "8" {
		t.Errorf("JSON patch: %s", r.raw)
	}
	expect(t, s.do(t, http.MethodDelete, gizmos+"/g0", "", nil), http.StatusOK, "")
	expect(t, s.get(t, gizmos+"/g0"), http.StatusNotFound, "NotFound")
	// A namespaced resource has no cluster-wide object path.
	expect(t, s.get(t, "/apis/verbs.example.net/v1/gizmos/g1"), http.StatusNotFound, "NotFound")
	if n := names(t, s.get(t, "/apis/verbs.example.net/v1/gizmos")); !slices.Equal(n, []string{"g1", "g2"}) {
		t.Errorf("list across namespaces: %v", n)
	}
}

func checkBadCRDs(t *testing.T, s *server) {
	nonStructural := crd("bad.example.org", "things", "Thing", "Namespaced")
	spec := field(nonStructural, "spec", "versions").([]any)[0].(map[string]any)
	spec["schema"] = map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
		"properties": map[string]any{"spec": map[string]any{"properties": map[string]any{"size": map[string]any{"type": "integer"}}}}}}
	twoStorage := crd("bad.example.org", "things", "Thing", "Namespaced", "v1", "v2")
	field(twoStorage, "spec", "versions").([]any)[1].(map[string]any)["storage"] = true
	wrongName := crd("bad.example.org", "things", "Thing", "Namespaced")
	wrongName["metadata"] = map[string]any{"name": "stuff.bad.example.org"}
	tests := []struct {
		name  string
		def   map[string]any
		field string
	}{
		{"non-structural schema", nonStructural, "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"},
		{"two storage versions", twoStorage, "spec.versions"},
		{"name is not plural.group", wrongName, "metadata.name"},
		{"group without a dot", crd("nodot", "things", "Thing", "Namespaced"), "spec.group"},
		{"bad scope", crd("bad.example.org", "things", "Thing", "Everywhere"), "spec.scope"},
		{"uppercase plural", crd("bad.example.org", "Things", "Thing", "Namespaced"), "spec.names.plural"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, crds, tt.def)
			expect(t, r, http.StatusUnprocessableEntity, "Invalid")
			causes, _ := field(r.obj, "details", "causes").([]any)
			if !slices.ContainsFunc(causes, func(c any) bool { return str(c, "field") == tt.field }) {
				t.Errorf("no cause for %s: %s", tt.field, r.raw)
			}
		})
	}
	expect(t, s.get(t, "/apis/bad.example.org/v1"), http.StatusNotFound, "NotFound")
	expect(t, s.get(t, crds+"/things.bad.example.org"), http.StatusNotFound, "NotFound")
}

func checkNameClash(t *testing.T, s *server) {
	s.createCRD(t, crd("clash.example.org", "ones", "One", "Namespaced"))
	second := crd("clash.example.org", "others", "One", "Namespaced")
	field(second, "spec", "names").(map[string]any)["singular"] = "other" // only the kind clashes
	expect(t, s.post(t, crds, second), http.StatusCreated, "")
	got := s.get(t, crds+"/others.clash.example.org")
	if condition(got.obj, "NamesAccepted") != "False" || condition(got.obj, "Established") != "False" {
		t.Errorf("a CRD reusing kind One: %s, want NamesAccepted and Established False", got.raw)
	}
	if !strings.Contains(string(got.raw), "KindConflict") {
		t.Errorf("no KindConflict reason: %s", got.raw)
	}
	expect(t, s.get(t, "/apis/clash.example.org/v1/namespaces/default/others"), http.StatusNotFound, "NotFound")
	expect(t, s.post(t, "/apis/clash.example.org/v1/namespaces/default/others", `{"metadata":{"name":"x"}}`), http.StatusNotFound, "NotFound")
	list := s.get(t, "/apis/clash.example.org/v1")
	for _, r := range list.obj["resources"].([]any) {
		if str(r, "name") == "others" {
			t.Errorf("discovery lists the clashing resource: %s", list.raw)
		}
	}
	// When the first CRD goes, the second gets its names.
	expect(t, s.do(t, http.MethodDelete, crds+"/ones.clash.example.org", "", nil), http.StatusOK, "")
	if got := s.get(t, crds+"/others.clash.example.org"); condition(got.obj, "Established") != "True" {
		t.Errorf("after the first CRD went: %s", got.raw)
	}
	expect(t, s.get(t, "/apis/clash.example.org/v1/namespaces/default/others"), http.StatusOK, "")
}

func checkCRDLifecycle(t *testing.T, s *server) {
	def := crd("life.example.org", "pets", "Pet", "Cluster")
	s.createCRD(t, def)
	const pets = "/apis/life.example.org/v1/pets"
	expect(t, s.post(t, pets, `{"metadata":{"name":"rex"},"spec":{"size":1}}`), http.StatusCreated, "")
	expect(t, s.get(t, "/apis/life.example.org/v1/namespaces/default/pets"), http.StatusNotFound, "NotFound")

	// A second served version, added while the server runs.
	current := s.get(t, crds+"/pets.life.example.org").obj
	versions := field(current, "spec", "versions").([]any)
	v2 := field(crd("life.example.org", "pets", "Pet", "Cluster", "v2"), "spec", "versions").([]any)[0].(map[string]any)
	v2["storage"] = false
	field(current, "spec").(map[string]any)["versions"] = append(versions, v2)
	r := s.do(t, http.MethodPut, crds+"/pets.life.example.org", "application/json", current)
	expect(t, r, http.StatusOK, "")
	if fmt.Sprint(field(r.obj, "metadata", "generation")) != "2" {
		t.Errorf("the CRD's generation after a spec change: %s", r.raw)
	}
	if got := s.get(t, "/apis/life.example.org/v2/pets/rex"); got.code != http.StatusOK || str(got.obj, "apiVersion") != "life.example.org/v2" {
		t.Errorf("the new version: %s", got.raw)
	}
	agg := s.do(t, http.MethodGet, "/apis", "", nil)
	if !strings.Contains(string(agg.raw), "life.example.org") {
		t.Errorf("/apis does not list the group: %s", agg.raw)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := s.watchStream(t, ctx, pets+"?watch=true&resourceVersion="+str(s.get(t, pets).obj, "metadata", "resourceVersion"))
	expect(t, s.do(t, http.MethodDelete, crds+"/pets.life.example.org", "", nil), http.StatusOK, "")
	if got := collect(events, 1); len(got) != 1 || got[0].Type != "DELETED" || str(got[0].Object, "metadata", "name") != "rex" {
		t.Errorf("watchers of the objects: %v", summary(got))
	}
	expect(t, s.get(t, pets), http.StatusNotFound, "NotFound")
	expect(t, s.get(t, "/apis/life.example.org"), http.StatusNotFound, "NotFound")
	if agg := s.get(t, "/apis"); strings.Contains(string(agg.raw), "life.example.org") {
		t.Errorf("/apis still lists the group: %s", agg.raw)
	}
	s.createCRD(t, def)
	if n := names(t, s.get(t, pets)); len(n) != 0 {
		t.Errorf("the objects outlived their CRD: %v", n)
	}
}

func checkCRDsSurviveRestart(t *testing.T, s *server) {
	dataDir := t.TempDir()
	first := start(t, s.exe, s.chapter, "--data-dir="+dataDir)
	first.createCRD(t, crd("durable.example.org", "notes", "Note", "Namespaced"))
	const notes = "/apis/durable.example.org/v1/namespaces/default/notes"
	created := first.post(t, notes, `{"metadata":{"name":"kept"},"spec":{"size":3}}`)
	expect(t, created, http.StatusCreated, "")
	first.kill(t)

	again := start(t, s.exe, s.chapter, "--data-dir="+dataDir)
	got := again.get(t, notes+"/kept")
	expect(t, got, http.StatusOK, "")
	if str(got.obj, "metadata", "uid") != str(created.obj, "metadata", "uid") {
		t.Errorf("after the restart: %s", got.raw)
	}
	if crd := again.get(t, crds+"/notes.durable.example.org"); condition(crd.obj, "Established") != "True" {
		t.Errorf("the CRD after the restart: %s", crd.raw)
	}
}
