// Chapter 02's checks: every registered resource through one generic handler,
// discovery in the shapes client-go reads, selectors, the three patch types,
// and the real kubectl.
package chapters_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func chapter02Checks() []check {
	return []check{
		{2, "version and health endpoints", checkVersionAndHealth},
		{2, "classic discovery", checkDiscovery},
		{2, "aggregated discovery when asked for", checkAggregatedDiscovery},
		{2, "every resource is served by the generic handler", checkEveryResource},
		{2, "namespaced objects need an existing namespace", checkNamespaceRequired},
		{2, "deleting a namespace deletes its objects", checkNamespaceDeletion},
		{2, "label selectors", checkLabelSelectors},
		{2, "field selectors", checkFieldSelectors},
		{2, "merge, JSON and strategic merge patches", checkPatches},
		{2, "kubectl api-resources and get --raw", checkKubectlDiscovery},
		{2, "kubectl create, apply twice, get -o yaml, delete", checkKubectlWorkflow},
	}
}

func checkVersionAndHealth(t *testing.T, s *server) {
	v := s.get(t, "/version")
	expect(t, v, http.StatusOK, "")
	if v.obj["major"] != "1" || !strings.HasPrefix(str(v.obj, "gitVersion"), "v1.") {
		t.Errorf("/version: %s", v.raw)
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if r := s.get(t, p); r.code != http.StatusOK || string(r.raw) != "ok" {
			t.Errorf("%s: HTTP %d %q", p, r.code, r.raw)
		}
	}
}

func checkDiscovery(t *testing.T, s *server) {
	api := s.get(t, "/api")
	expect(t, api, http.StatusOK, "")
	if api.obj["kind"] != "APIVersions" || !slices.Contains(field(api.obj, "versions").([]any), any("v1")) {
		t.Errorf("/api: %s", api.raw)
	}
	apis := s.get(t, "/apis")
	expect(t, apis, http.StatusOK, "")
	var batch any
	for _, g := range field(apis.obj, "groups").([]any) {
		if str(g, "name") == "batch" {
			batch = g
		}
		if str(g, "name") == "" {
			t.Errorf("/apis lists the core group: %s", apis.raw)
		}
	}
	if apis.obj["kind"] != "APIGroupList" || str(batch, "preferredVersion", "groupVersion") != "batch/v1" {
		t.Errorf("/apis has no batch/v1: %s", apis.raw)
	}
	group := s.get(t, "/apis/batch")
	if group.obj["kind"] != "APIGroup" || str(group.obj, "name") != "batch" {
		t.Errorf("/apis/batch: %s", group.raw)
	}
	core := s.get(t, "/api/v1")
	if core.obj["kind"] != "APIResourceList" || core.obj["groupVersion"] != "v1" {
		t.Fatalf("/api/v1: %s", core.raw)
	}
	want := map[string]bool{"namespaces": false, "pods": true, "configmaps": true, "secrets": true,
		"serviceaccounts": true, "services": true, "events": true}
	for _, r := range field(core.obj, "resources").([]any) {
		name := str(r, "name")
		namespaced, ok := want[name]
		if !ok {
			continue
		}
		if field(r, "namespaced") != namespaced || str(r, "kind") == "" || len(field(r, "verbs").([]any)) == 0 {
			t.Errorf("/api/v1 resource %s: %v", name, r)
		}
		delete(want, name)
	}
	if len(want) > 0 {
		t.Errorf("/api/v1 misses %v", want)
	}
	jobs := s.get(t, "/apis/batch/v1")
	if jobs.obj["groupVersion"] != "batch/v1" || !strings.Contains(string(jobs.raw), `"kind":"Job"`) {
		t.Errorf("/apis/batch/v1: %s", jobs.raw)
	}
	expect(t, s.get(t, "/apis/nothing/v1"), http.StatusNotFound, "NotFound")
}

func checkAggregatedDiscovery(t *testing.T, s *server) {
	req, _ := http.NewRequest(http.MethodGet, s.url+"/apis", nil)
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	for _, want := range []string{"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} {
		if !strings.Contains(ct, want) {
			t.Errorf("aggregated /apis Content-Type %q lacks %s", ct, want)
		}
	}
	// Without the Accept header, the classic shape.
	if k := s.get(t, "/apis").obj["kind"]; k != "APIGroupList" {
		t.Errorf("plain /apis kind = %v", k)
	}
}

// resourcesUnderTest is one object per resource of chapter 02, and its paths.
var resourcesUnderTest = []struct{ collection, kind, apiVersion string }{
	{"/api/v1/namespaces", "Namespace", "v1"},
	{"/api/v1/namespaces/default/pods", "Pod", "v1"},
	{"/api/v1/namespaces/default/configmaps", "ConfigMap", "v1"},
	{"/api/v1/namespaces/default/secrets", "Secret", "v1"},
	{"/api/v1/namespaces/default/serviceaccounts", "ServiceAccount", "v1"},
	{"/api/v1/namespaces/default/services", "Service", "v1"},
	{"/api/v1/namespaces/default/events", "Event", "v1"},
	{"/apis/batch/v1/namespaces/default/jobs", "Job", "batch/v1"},
}

func checkEveryResource(t *testing.T, s *server) {
	for _, rt := range resourcesUnderTest {
		t.Run(rt.kind, func(t *testing.T) {
			obj := map[string]any{"apiVersion": rt.apiVersion, "kind": rt.kind, "metadata": map[string]any{"name": "generic-check"}}
			if rt.kind == "Pod" {
				obj["spec"] = pod("", nil)["spec"] // from chapter 05 on, a pod needs a container
			}
			expect(t, s.post(t, rt.collection, obj), http.StatusCreated, "")
			got := s.get(t, rt.collection+"/generic-check")
			expect(t, got, http.StatusOK, "")
			if got.obj["kind"] != rt.kind || got.obj["apiVersion"] != rt.apiVersion {
				t.Errorf("get: %s", got.raw)
			}
			list := s.get(t, rt.collection)
			if list.obj["kind"] != rt.kind+"List" || !slices.Contains(names(t, list), "generic-check") {
				t.Errorf("list: %s", list.raw)
			}
			expect(t, s.do(t, http.MethodDelete, rt.collection+"/generic-check", "", nil), http.StatusOK, "")
			expect(t, s.get(t, rt.collection+"/generic-check"), http.StatusNotFound, "NotFound")
		})
	}
	r := s.get(t, "/apis/batch/v1/namespaces/default/jobs/none")
	if !strings.Contains(str(r.obj, "message"), `jobs.batch "none" not found`) {
		t.Errorf("NotFound for a grouped resource names it resource.group: %s", r.raw)
	}
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"has.dots"}}`), http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.post(t, "/api/v1/namespaces/default/services", `{"metadata":{"name":"1web"}}`), http.StatusUnprocessableEntity, "Invalid")
	invalid := s.post(t, "/apis/batch/v1/namespaces/default/jobs", `{"metadata":{"name":"Job"}}`)
	if str(invalid.obj, "details", "group") != "batch" || str(invalid.obj, "details", "kind") != "Job" {
		t.Errorf("Invalid Status details should name group and kind: %s", invalid.raw)
	}
	expect(t, s.get(t, "/api/v1/namespaces/default/configmaps?watch=false"), http.StatusOK, "")
}

func checkNamespaceRequired(t *testing.T, s *server) {
	r := s.post(t, "/api/v1/namespaces/missing/configmaps", `{"metadata":{"name":"orphan"}}`)
	expect(t, r, http.StatusNotFound, "NotFound")
	if !strings.Contains(str(r.obj, "message"), `namespaces "missing" not found`) {
		t.Errorf("message: %s", r.raw)
	}
	expect(t, s.do(t, http.MethodDelete, "/api/v1/namespaces/default", "", nil), http.StatusForbidden, "Forbidden")
	// kubectl delete --dry-run=server sends dryRun in DeleteOptions: refused, nothing deleted.
	expect(t, s.post(t, "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"dry-delete"}}`), http.StatusCreated, "")
	expect(t, s.do(t, http.MethodDelete, "/api/v1/namespaces/default/configmaps/dry-delete", "application/json",
		`{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}`), http.StatusBadRequest, "BadRequest")
	expect(t, s.get(t, "/api/v1/namespaces/default/configmaps/dry-delete"), http.StatusOK, "")
}

func checkNamespaceDeletion(t *testing.T, s *server) {
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"doomed"}}`), http.StatusCreated, "")
	expect(t, s.post(t, "/api/v1/namespaces/doomed/configmaps", `{"metadata":{"name":"inside"}}`), http.StatusCreated, "")
	expect(t, s.post(t, "/api/v1/namespaces/doomed/configmaps", `{"metadata":{"name":"lingering"}}`), http.StatusCreated, "")
	expect(t, s.do(t, http.MethodDelete, "/api/v1/namespaces/doomed", "", nil), http.StatusOK, "")
	expect(t, s.get(t, "/api/v1/namespaces/doomed"), http.StatusNotFound, "NotFound")
	expect(t, s.post(t, "/api/v1/namespaces/doomed/configmaps", `{"metadata":{"name":"late"}}`), http.StatusNotFound, "NotFound")
	// Clients delete a manifest's namespace before the objects in it: those
	// deletes must still succeed, so the objects go a little later.
	expect(t, s.do(t, http.MethodDelete, "/api/v1/namespaces/doomed/configmaps/inside", "", nil), http.StatusOK, "")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r := s.get(t, "/api/v1/namespaces/doomed/configmaps/lingering")
		if r.code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects of a deleted namespace are still there after 10s: %s", r.raw)
		}
	}
}

func checkLabelSelectors(t *testing.T, s *server) {
	const cms = "/api/v1/namespaces/kube-public/configmaps"
	for name, labels := range map[string]map[string]string{
		"sel-web":  {"app": "web", "tier": "front"},
		"sel-db":   {"app": "db", "tier": "back"},
		"sel-none": {"tier": "back"},
	} {
		expect(t, s.post(t, cms, map[string]any{"metadata": map[string]any{"name": name, "labels": labels}}), http.StatusCreated, "")
	}
	cases := map[string]string{
		"app=web":              "sel-web",
		"app==db":              "sel-db",
		"app!=web":             "sel-db,sel-none",
		"app in (web,db)":      "sel-db,sel-web",
		"app notin (web)":      "sel-db,sel-none",
		"app":                  "sel-db,sel-web",
		"!app":                 "sel-none",
		"tier=back,app":        "sel-db",
		"tier = back , !app":   "sel-none",
		"app in (web),tier!=x": "sel-web",
		"app in ()":            "",
	}
	for selector, want := range cases {
		r := s.get(t, cms+"?labelSelector="+escape(selector))
		expect(t, r, http.StatusOK, "")
		got := names(t, r)
		slices.Sort(got)
		if strings.Join(got, ",") != want {
			t.Errorf("labelSelector %q selected %v, want %s", selector, got, want)
		}
	}
	for _, bad := range []string{"a b c", "-bad=x", "app=in valid", "app in (a b)"} {
		expect(t, s.get(t, cms+"?labelSelector="+escape(bad)), http.StatusBadRequest, "BadRequest")
	}
}

func checkFieldSelectors(t *testing.T, s *server) {
	expect(t, s.post(t, "/api/v1/namespaces/kube-public/secrets", `{"metadata":{"name":"field-a"}}`), http.StatusCreated, "")
	expect(t, s.post(t, "/api/v1/namespaces/default/secrets", `{"metadata":{"name":"field-b"}}`), http.StatusCreated, "")
	for selector, want := range map[string]string{
		"metadata.name=field-a":                                 "field-a",
		"metadata.namespace==default,metadata.name!=whatever":   "field-b",
		"metadata.namespace=kube-public,metadata.name=field-a":  "field-a",
		"metadata.namespace=kube-public,metadata.name!=field-a": "",
	} {
		r := s.get(t, "/api/v1/secrets?fieldSelector="+escape(selector))
		expect(t, r, http.StatusOK, "")
		var got []string
		for _, n := range names(t, r) {
			if strings.HasPrefix(n, "field-") {
				got = append(got, n)
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("fieldSelector %q selected %v, want %q", selector, got, want)
		}
	}
	expect(t, s.get(t, "/api/v1/secrets?fieldSelector=spec.nothing%3Dx"), http.StatusBadRequest, "BadRequest")
}

func checkPatches(t *testing.T, s *server) {
	const path = "/api/v1/namespaces/default/pods/patch-me"
	created := s.post(t, "/api/v1/namespaces/default/pods", `{"metadata":{"name":"patch-me","labels":{"a":"1","b":"2"}},
		"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"sidecar","image":"proxy:1"}]}}`)
	expect(t, created, http.StatusCreated, "")

	merge := s.do(t, http.MethodPatch, path, "application/merge-patch+json", `{"metadata":{"labels":{"a":null,"c":"3"}}}`)
	expect(t, merge, http.StatusOK, "")
	if field(merge.obj, "metadata", "labels", "a") != nil || str(merge.obj, "metadata", "labels", "c") != "3" {
		t.Errorf("merge patch: %s", merge.raw)
	}
	if rvOf(t, merge.obj) <= rvOf(t, created.obj) || str(merge.obj, "metadata", "uid") != str(created.obj, "metadata", "uid") {
		t.Errorf("merge patch must bump resourceVersion and keep uid: %s", merge.raw)
	}

	jsonPatch := s.do(t, http.MethodPatch, path, "application/json-patch+json",
		`[{"op":"replace","path":"/metadata/labels/b","value":"20"},{"op":"add","path":"/metadata/annotations","value":{"note":"x"}}]`)
	expect(t, jsonPatch, http.StatusOK, "")
	if str(jsonPatch.obj, "metadata", "labels", "b") != "20" || str(jsonPatch.obj, "metadata", "annotations", "note") != "x" {
		t.Errorf("JSON patch: %s", jsonPatch.raw)
	}

	// A strategic merge patch merges containers by name: the sidecar stays.
	smp := s.do(t, http.MethodPatch, path, "application/strategic-merge-patch+json",
		`{"spec":{"containers":[{"name":"app","image":"app:2"}]}}`)
	expect(t, smp, http.StatusOK, "")
	containers, _ := field(smp.obj, "spec", "containers").([]any)
	if len(containers) != 2 || str(containers[0], "image") != "app:2" || str(containers[1], "image") != "proxy:1" {
		t.Errorf("strategic merge patch: %s", smp.raw)
	}

	before := rvOf(t, s.get(t, path).obj)
	expect(t, s.do(t, http.MethodPatch, path, "application/json-patch+json", `[{"op":"test","path":"/metadata/name","value":"other"}]`), http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.do(t, http.MethodPatch, path, "application/json-patch+json", `{"op":"add"}`), http.StatusBadRequest, "BadRequest")
	expect(t, s.do(t, http.MethodPatch, path, "application/merge-patch+json", `{"metadata":{"name":"renamed"}}`), http.StatusBadRequest, "BadRequest")
	expect(t, s.do(t, http.MethodPatch, path, "application/strategic-merge-patch+json", `{"$patch":"delete"}`), http.StatusBadRequest, "BadRequest")
	expect(t, s.do(t, http.MethodPatch, path, "application/apply-patch+yaml", `metadata: {}`), http.StatusUnsupportedMediaType, "UnsupportedMediaType")
	expect(t, s.do(t, http.MethodPatch, "/api/v1/namespaces/default/pods/absent", "application/merge-patch+json", `{}`), http.StatusNotFound, "NotFound")
	if after := rvOf(t, s.get(t, path).obj); after != before {
		t.Errorf("a refused patch changed the pod: resourceVersion %d -> %d", before, after)
	}
}

func checkKubectlDiscovery(t *testing.T, s *server) {
	out := s.mustKubectl(t, "", "api-resources")
	for _, want := range []string{"configmaps", "namespaces", "pods", "jobs", "batch/v1", "po "} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl api-resources lacks %q:\n%s", want, out)
		}
	}
	raw := s.mustKubectl(t, "", "get", "--raw", "/apis/batch/v1")
	if !strings.Contains(raw, `"groupVersion":"batch/v1"`) || !strings.Contains(raw, `"name":"jobs"`) {
		t.Errorf("kubectl get --raw /apis/batch/v1:\n%s", raw)
	}
}

const kubectlManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: kubectl-check
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: kubectl-check
data:
  color: blue
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kubectl-check
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
  - name: sidecar
    image: busybox
---
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  namespace: kubectl-check
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl
`

func checkKubectlWorkflow(t *testing.T, s *server) {
	out := s.mustKubectl(t, kubectlManifest, "apply", "-f", "-")
	for _, want := range []string{"namespace/kubectl-check created", "configmap/settings created", "pod/web created", "job.batch/pi created"} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply: want %q in:\n%s", want, out)
		}
	}
	out = s.mustKubectl(t, kubectlManifest, "apply", "-f", "-")
	if strings.Count(out, "unchanged") != 4 {
		t.Errorf("second apply should leave all four unchanged:\n%s", out)
	}

	// Change the image and drop the sidecar: apply sends a strategic merge
	// patch that deletes one container by name.
	changed := strings.Replace(kubectlManifest, "image: nginx:1.27\n  - name: sidecar\n    image: busybox\n", "image: nginx:1.28\n", 1)
	changed = strings.Replace(changed, "color: blue", "color: green", 1)
	out = s.mustKubectl(t, changed, "apply", "-f", "-")
	if !strings.Contains(out, "pod/web configured") || !strings.Contains(out, "configmap/settings configured") {
		t.Errorf("third apply:\n%s", out)
	}
	yaml := s.mustKubectl(t, "", "get", "pod", "web", "-n", "kubectl-check", "-o", "yaml")
	if !strings.Contains(yaml, "image: nginx:1.28") || strings.Contains(yaml, "sidecar") || !strings.Contains(yaml, "resourceVersion:") {
		t.Errorf("kubectl get -o yaml after apply:\n%s", yaml)
	}
	if got := s.mustKubectl(t, "", "get", "configmap", "settings", "-n", "kubectl-check", "-o", "jsonpath={.data.color}"); got != "green" {
		t.Errorf("configmap color = %q", got)
	}

	s.mustKubectl(t, "", "create", "configmap", "made-by-create", "-n", "kubectl-check", "--from-literal=k=v")
	if out := s.mustKubectl(t, "", "get", "cm", "-n", "kubectl-check"); !strings.Contains(out, "made-by-create") || !strings.Contains(out, "settings") {
		t.Errorf("kubectl get cm:\n%s", out)
	}
	if out := s.mustKubectl(t, "", "get", "pods", "-l", "app in (web)", "-n", "kubectl-check", "-o", "name"); strings.TrimSpace(out) != "pod/web" {
		t.Errorf("kubectl get -l: %q", out)
	}
	if out := s.mustKubectl(t, "", "get", "jobs", "-n", "kubectl-check", "-o", "name"); strings.TrimSpace(out) != "job.batch/pi" {
		t.Errorf("kubectl get jobs: %q", out)
	}

	out = s.mustKubectl(t, changed, "delete", "-f", "-")
	if !strings.Contains(out, `pod "web" deleted`) || !strings.Contains(out, `namespace "kubectl-check" deleted`) {
		t.Errorf("kubectl delete:\n%s", out)
	}
	if out, err := s.kubectl(t, "", "get", "ns", "kubectl-check"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("namespace still there after delete: %v\n%s", err, out)
	}
}

// escape encodes a selector for a query string.
func escape(s string) string {
	r := strings.NewReplacer(" ", "%20", "=", "%3D", "!", "%21", "(", "%28", ")", "%29", ",", "%2C")
	return r.Replace(s)
}
