package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The seeds' admission flags: NamespaceLifecycle, LimitRanger and
// ServiceAccount named, service-account lookup on, and an
// AdmissionConfiguration that limits pods' cpu requests to namespaces with a
// quota for them.
func TestSeedAdmission(t *testing.T) {
	config := filepath.Join(t.TempDir(), "admission.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: ResourceQuotaConfiguration
    limitedResources:
    - resource: pods
      matchContains: ["requests.cpu"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount",
		"--service-account-lookup=true", "--admission-control-config-file="+config)
	const jsonType = "application/json"
	create := func(path, body string) response {
		t.Helper()
		return ts.do(t, http.MethodPost, path, jsonType, body)
	}
	forbidden := func(r response, message string) {
		t.Helper()
		expect(t, r, http.StatusForbidden, "Forbidden")
		if r.obj["message"] != message {
			t.Errorf("message %q\nwant %q", r.obj["message"], message)
		}
	}
	expect(t, create("/api/v1/namespaces", `{"metadata":{"name":"team"}}`), http.StatusCreated, "")

	// Every namespace holds the cluster's CA, new ones and those from the start.
	ca, err := os.ReadFile(filepath.Join(ts.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"team", "default", "kube-system"} {
		r := ts.do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps/kube-root-ca.crt", "", "")
		expect(t, r, http.StatusOK, "")
		if field(r.obj, "data", "ca.crt") != string(ca) {
			t.Errorf("%s: kube-root-ca.crt holds %v, want the data directory's ca.crt", ns, field(r.obj, "data", "ca.crt"))
		}
	}
	// Deleted, it comes back, as the controller would put it back.
	expect(t, ts.do(t, http.MethodDelete, "/api/v1/namespaces/team/configmaps/kube-root-ca.crt", "", ""), http.StatusOK, "")
	expect(t, ts.do(t, http.MethodGet, "/api/v1/namespaces/team/configmaps/kube-root-ca.crt", "", ""), http.StatusOK, "")

	// A pod runs as the default account, with its credentials mounted.
	r := create("/api/v1/namespaces/team/pods", `{"metadata":{"name":"web"},"spec":{
		"initContainers":[{"name":"init","image":"busybox"}],"containers":[{"name":"web","image":"nginx"}]}}`)
	expect(t, r, http.StatusCreated, "")
	spec := r.obj["spec"].(map[string]any)
	if spec["serviceAccountName"] != "default" || spec["serviceAccount"] != "default" {
		t.Errorf("serviceAccountName %v, serviceAccount %v", spec["serviceAccountName"], spec["serviceAccount"])
	}
	volumes, _ := spec["volumes"].([]any)
	if len(volumes) != 1 {
		t.Fatalf("volumes %v, want the token volume", volumes)
	}
	volume := volumes[0].(map[string]any)
	name, _ := volume["name"].(string)
	if !regexp.MustCompile(`^kube-api-access-[a-z0-9]{5}$`).MatchString(name) {
		t.Errorf("the token volume is called %q", name)
	}
	projected, _ := json.Marshal(volume["projected"])
	const wantProjected = `{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},` +
		`{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},` +
		`{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}`
	if string(projected) != wantProjected {
		t.Errorf("projected %s\nwant %s", projected, wantProjected)
	}
	for _, list := range []string{"initContainers", "containers"} {
		c := spec[list].([]any)[0].(map[string]any)
		mounts, _ := json.Marshal(c["volumeMounts"])
		if want := `[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"` + name + `","readOnly":true}]`; string(mounts) != want {
			t.Errorf("%s[0].volumeMounts %s\nwant %s", list, mounts, want)
		}
	}

	// An account that does not exist is refused.
	forbidden(create("/api/v1/namespaces/team/pods", `{"metadata":{"name":"robot"},"spec":{"serviceAccountName":"robot","containers":[{"name":"c","image":"nginx"}]}}`),
		`pods "robot" is forbidden: error looking up service account team/robot: serviceaccount "robot" not found`)

	// A LimitRange defaults containers' memory, and bounds it.
	r = create("/api/v1/namespaces/team/limitranges", `{"metadata":{"name":"memory"},"spec":{"limits":[
		{"type":"Container","default":{"memory":"256Mi"},"defaultRequest":{"memory":"0.125Gi"},"max":{"memory":"512Mi"}}]}}`)
	expect(t, r, http.StatusCreated, "")
	if got, _ := json.Marshal(field(r.obj, "spec")); string(got) != `{"limits":[{"default":{"memory":"256Mi"},"defaultRequest":{"memory":"128Mi"},"max":{"memory":"512Mi"},"type":"Container"}]}` {
		t.Errorf("the LimitRange as stored: %s", got)
	}
	expect(t, ts.do(t, http.MethodGet, "/api/v1/namespaces/team/limitranges", "", ""), http.StatusOK, "")
	r = create("/api/v1/namespaces/team/pods", `{"metadata":{"name":"defaulted"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`)
	expect(t, r, http.StatusCreated, "")
	c := r.obj["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if got, _ := json.Marshal(c["resources"]); string(got) != `{"limits":{"memory":"256Mi"},"requests":{"memory":"128Mi"}}` {
		t.Errorf("resources %s", got)
	}
	if got := field(r.obj, "metadata", "annotations", "kubernetes.io/limit-ranger"); got != "LimitRanger plugin set: memory request for container c; memory limit for container c" {
		t.Errorf("annotation %v", got)
	}
	forbidden(create("/api/v1/namespaces/team/pods", `{"metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"limits":{"memory":"1Gi"}}}]}}`),
		`pods "big" is forbidden: maximum memory usage per Container is 512Mi, but limit is 1Gi`)

	// requests.cpu is limited: no pod may ask for cpu without a quota on it.
	const cpuPod = `{"metadata":{"name":"cpu"},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"100m"}}}]}}`
	forbidden(create("/api/v1/namespaces/team/pods", cpuPod), `pods "cpu" is forbidden: insufficient quota to consume: requests.cpu`)
	expect(t, create("/api/v1/namespaces/team/resourcequotas", `{"metadata":{"name":"cpu"},"spec":{"hard":{"requests.cpu":"1"}}}`), http.StatusCreated, "")
	expect(t, create("/api/v1/namespaces/team/pods", cpuPod), http.StatusCreated, "")
	r = ts.do(t, http.MethodGet, "/api/v1/namespaces/team/resourcequotas/cpu", "", "")
	if got := field(r.obj, "status", "used", "requests.cpu"); got != "100m" {
		t.Errorf("the quota's status.used: %v, want requests.cpu 100m", got)
	}
}

// --service-account-lookup=false would accept legacy tokens whose Secret is
// gone; this server always looks, so it refuses the flag rather than ignore
// it. An admission configuration that cannot be read stops the server.
func TestAdmissionFlags(t *testing.T) {
	if _, err := ParseOptions([]string{"--service-account-lookup=true"}, io.Discard); err != nil {
		t.Errorf("--service-account-lookup=true: %v", err)
	}
	_, err := ParseOptions([]string{"--service-account-lookup=false"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--service-account-lookup=false is not implemented") {
		t.Errorf("--service-account-lookup=false: %v", err)
	}
	opts, err := ParseOptions([]string{"--admission-control-config-file=/nowhere/admission.yaml", "--data-dir=" + t.TempDir(), "--secure-port=0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if s, err := New(ctx, opts); err == nil || !strings.Contains(err.Error(), `--admission-control-config-file: unable to read admission control configuration from "/nowhere/admission.yaml"`) {
		t.Errorf("New: %v, %v", s, err)
	}
}
