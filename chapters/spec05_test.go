// Chapter 05's checks: admission. Defaults, schema validation with field
// causes, NamespaceLifecycle, ServiceAccount, ResourceQuota, the plugin
// flags, and webhooks: the example server through kubectl, and webhooks that
// are down, slow or answer garbage under each failurePolicy.
package chapters_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func chapter05Checks() []check {
	return []check{
		{5, "pods get defaults, visible in kubectl get -o yaml", checkPodDefaults},
		{5, "schema validation names every bad field", checkSchemaValidation},
		{5, "NamespaceLifecycle and ServiceAccount plugins", checkLifecycleAndServiceAccount},
		{5, "ResourceQuota refuses and keeps status.used true", checkResourceQuota},
		{5, "--enable-admission-plugins and --disable-admission-plugins", checkAdmissionFlags},
		{5, "the example webhook mutates and denies, as kubectl shows", checkExampleWebhook},
		{5, "failing webhooks follow their failurePolicy", checkWebhookFailures},
	}
}

func checkPodDefaults(t *testing.T, s *server) {
	s.mustKubectl(t, "", "run", "latest", "--image=nginx")
	s.mustKubectl(t, "", "run", "pinned", "--image=registry.example:5000/nginx:1.27")
	yaml := s.mustKubectl(t, "", "get", "pod", "latest", "-o", "yaml")
	for _, want := range []string{"imagePullPolicy: Always", "serviceAccountName: default", "restartPolicy: Always",
		"terminationMessagePath: /dev/termination-log", "dnsPolicy: ClusterFirst", "phase: Pending"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("kubectl get pod -o yaml lacks %q:\n%s", want, yaml)
		}
	}
	if got := s.mustKubectl(t, "", "get", "pod", "pinned", "-o", "jsonpath={.spec.containers[0].imagePullPolicy}"); got != "IfNotPresent" {
		t.Errorf("a tagged image's pull policy = %q", got)
	}
	// A value the client set is kept.
	r := s.post(t, podsPath, `{"metadata":{"name":"explicit"},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"nginx","imagePullPolicy":"Never"}]}}`)
	expect(t, r, http.StatusCreated, "")
	if str(r.obj, "spec", "restartPolicy") != "Never" || str(field(r.obj, "spec", "containers").([]any)[0], "imagePullPolicy") != "Never" {
		t.Errorf("defaults overwrote the client's values: %s", r.raw)
	}
}

func checkSchemaValidation(t *testing.T, s *server) {
	r := s.post(t, podsPath, `{"metadata":{"name":"broken","labels":{"bad key!":"x","ok":"bad value!"}},
		"spec":{"containers":[{"name":"Web"},{"image":"nginx"},{"name":"dup","image":"a"},{"name":"dup","image":"b"}]}}`)
	expect(t, r, http.StatusUnprocessableEntity, "Invalid")
	var fields []string
	for _, c := range field(r.obj, "details", "causes").([]any) {
		fields = append(fields, str(c, "field"))
	}
	got := strings.Join(fields, " ")
	for _, want := range []string{"metadata.labels", "metadata.labels.ok", "spec.containers[0].name", "spec.containers[0].image",
		"spec.containers[1].name", "spec.containers[3].name"} {
		if !strings.Contains(got+" ", want+" ") {
			t.Errorf("causes %v lack %s", fields, want)
		}
	}
	expect(t, s.post(t, podsPath, `{"metadata":{"name":"empty"},"spec":{}}`), http.StatusUnprocessableEntity, "Invalid")
	expect(t, s.get(t, podsPath+"/broken"), http.StatusNotFound, "NotFound")
}

func checkLifecycleAndServiceAccount(t *testing.T, s *server) {
	r := s.post(t, "/api/v1/namespaces/absent/pods", pod("p", nil))
	expect(t, r, http.StatusNotFound, "NotFound")
	expect(t, s.do(t, http.MethodDelete, "/api/v1/namespaces/kube-system", "", nil), http.StatusForbidden, "Forbidden")
	ghost := s.post(t, podsPath, `{"metadata":{"name":"ghost-sa"},"spec":{"serviceAccountName":"ghost","containers":[{"name":"c","image":"nginx"}]}}`)
	expect(t, ghost, http.StatusForbidden, "Forbidden")
	if !strings.Contains(str(ghost.obj, "message"), "error looking up service account default/ghost") {
		t.Errorf("ServiceAccount plugin message: %s", ghost.raw)
	}
	// A new namespace comes with its default ServiceAccount, so pods work there at once.
	s.mustKubectl(t, "", "create", "namespace", "fresh")
	s.mustKubectl(t, "", "run", "first", "--image=nginx", "-n", "fresh")
}

func checkResourceQuota(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "namespace", "quota-check")
	s.mustKubectl(t, "", "create", "quota", "limits", "-n", "quota-check", "--hard=pods=1,count/configmaps=2")
	used := func() string {
		return s.mustKubectl(t, "", "get", "quota", "limits", "-n", "quota-check", "-o", "jsonpath={.status.used.pods}/{.status.used.count/configmaps}")
	}
	if got := used(); got != "0/0" {
		t.Errorf("status.used of a new quota = %q", got)
	}
	s.mustKubectl(t, "", "run", "one", "--image=nginx", "-n", "quota-check")
	out, err := s.kubectl(t, "", "run", "two", "--image=nginx", "-n", "quota-check")
	if err == nil || !strings.Contains(out, `pods "two" is forbidden: exceeded quota: limits, requested: pods=1, used: pods=1, limited: pods=1`) {
		t.Errorf("a second pod over quota: %v\n%s", err, out)
	}
	s.mustKubectl(t, "", "create", "configmap", "c1", "-n", "quota-check")
	if got := used(); got != "1/1" {
		t.Errorf("status.used after one pod and one configmap = %q", got)
	}
	s.mustKubectl(t, "", "delete", "pod", "one", "-n", "quota-check")
	if got := used(); got != "0/1" {
		t.Errorf("status.used after the delete = %q", got)
	}
	s.mustKubectl(t, "", "run", "two", "--image=nginx", "-n", "quota-check")
}

func checkAdmissionFlags(t *testing.T, s *server) {
	other := start(t, s.exe, s.chapter, "--enable-admission-plugins=AlwaysPullImages", "--disable-admission-plugins=ResourceQuota,ServiceAccount")
	if !strings.Contains(other.welcome, "AlwaysPullImages") || strings.Contains(other.welcome, "ResourceQuota") {
		t.Errorf("the start-up text should list the plugins in force:\n%s", other.welcome)
	}
	r := other.post(t, podsPath, `{"metadata":{"name":"p"},"spec":{"serviceAccountName":"nobody","containers":[{"name":"c","image":"nginx:1.27"}]}}`)
	expect(t, r, http.StatusCreated, "")
	if str(field(r.obj, "spec", "containers").([]any)[0], "imagePullPolicy") != "Always" {
		t.Errorf("AlwaysPullImages did not apply: %s", r.raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.exe, "--secure-port=0", "--data-dir="+t.TempDir(), "--enable-admission-plugins=PodSecurity").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PodSecurity") {
		t.Errorf("an unimplemented plugin must stop the server: %v\n%s", err, out)
	}
}

func checkExampleWebhook(t *testing.T, s *server) {
	exe := filepath.Join(t.TempDir(), "webhook")
	build := exec.Command("go", "build", "-o", exe, fmt.Sprintf("./%02d/webhook", s.chapter))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example webhook: %v\n%s", err, out)
	}
	// kubectl -f splits on commas, which test temp dirs may hold.
	dataDir, err := os.MkdirTemp("", "webhook")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	cmd := exec.Command(exe, "--port=0", "--data-dir="+dataDir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	config := ""
	sc := bufio.NewScanner(stdout)
	for config == "" && sc.Scan() {
		if m := regexp.MustCompile(`kubectl apply -f (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			config = m[1]
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if config == "" {
		t.Fatal("the example webhook printed no configuration to apply")
	}
	s.mustKubectl(t, "", "create", "namespace", "hooked")
	s.mustKubectl(t, "", "apply", "-f", config)
	t.Cleanup(func() {
		s.kubectl(t, "", "delete", "-f", config)
	})
	s.mustKubectl(t, "", "create", "configmap", "plain", "-n", "hooked")
	if got := s.mustKubectl(t, "", "get", "configmap", "plain", "-n", "hooked", "-o", "jsonpath={.metadata.labels}"); !strings.Contains(got, `"example.com/mutated":"true"`) {
		t.Errorf("the mutating webhook's label is missing: %s", got)
	}
	out, err := s.kubectl(t, "", "run", "denied", "--image=nginx", "-n", "hooked", "--labels=example.com/deny=yes")
	if err == nil || !strings.Contains(out, `admission webhook "deny.example.com" denied the request: objects labelled example.com/deny are refused by the example webhook`) {
		t.Errorf("kubectl should show the webhook's denial: %v\n%s", err, out)
	}
}

// checkWebhookFailures points validating webhooks at loopback servers that
// misbehave, and checks each failurePolicy's answer.
func checkWebhookFailures(t *testing.T, s *server) {
	release := make(chan struct{})
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // far longer than the webhook's timeout, and the spec client's
		case <-r.Context().Done():
		case <-release:
		case <-time.After(30 * time.Second):
		}
	}))
	defer slow.Close()
	defer close(release) // before Close, which waits for handlers
	garbage := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"this is": "not an AdmissionReview"`)
	}))
	defer garbage.Close()
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	s.mustKubectl(t, "", "create", "namespace", "failing")
	for _, c := range []struct {
		name, url string
		ca        []byte
	}{
		{"down", downURL, pemOf(down)},
		{"slow", slow.URL, pemOf(slow)},
		{"garbage", garbage.URL, pemOf(garbage)},
	} {
		for _, policy := range []string{"Fail", "Ignore"} {
			t.Run(c.name+"/"+policy, func(t *testing.T) {
				config := fmt.Sprintf(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration",
					"metadata":{"name":"failing"},"webhooks":[{"name":"failing.example.com","failurePolicy":%q,"timeoutSeconds":1,
					"sideEffects":"None","admissionReviewVersions":["v1"],
					"clientConfig":{"url":%q,"caBundle":%q},
					"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"failing"}},
					"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["configmaps"]}]}]}`,
					policy, c.url, base64.StdEncoding.EncodeToString(c.ca))
				const path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
				expect(t, s.post(t, path, config), http.StatusCreated, "")
				defer s.do(t, http.MethodDelete, path+"/failing", "", nil)
				r := s.post(t, "/api/v1/namespaces/failing/configmaps", fmt.Sprintf(`{"metadata":{"name":"%s-%s"}}`, strings.ToLower(c.name), strings.ToLower(policy)))
				if policy == "Ignore" {
					expect(t, r, http.StatusCreated, "")
					return
				}
				expect(t, r, http.StatusInternalServerError, "InternalError")
				if !strings.Contains(str(r.obj, "message"), `failed calling webhook "failing.example.com"`) {
					t.Errorf("message: %s", r.raw)
				}
			})
		}
	}
}

func pemOf(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}
