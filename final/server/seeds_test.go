package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedKubectl runs the real kubectl against a test server, as a reader of
// docs/seeds would: admin by default, or with other flags in front.
type seedKubectl struct {
	t       *testing.T
	kubectl string
	ts      *testServer
}

// run returns kubectl's stdout, stderr and exit status.
func (k *seedKubectl) run(stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	cmd := exec.Command(k.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(k.ts.dir, "kubeconfig"), "HOME="+k.ts.dir)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// kubectlFor is seedKubectl as two functions, for tests that read
// kubectl's output whole: run returns stdout and stderr together and an
// error for a non-zero exit, must fails the test on one. stdin is
// kubectl's standard input ("" for none).
func kubectlFor(t *testing.T, ts *testServer) (run func(stdin string, args ...string) (string, error), must func(stdin string, args ...string) string) {
	t.Helper()
	k := &seedKubectl{t: t, kubectl: requireKubectl(t), ts: ts}
	run = func(stdin string, args ...string) (string, error) {
		stdout, stderr, code := k.run(stdin, args...)
		if code != 0 {
			return stdout + stderr, fmt.Errorf("exit status %d", code)
		}
		return stdout + stderr, nil
	}
	must = func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	return run, must
}

// must runs kubectl and fails the test unless it succeeds.
func (k *seedKubectl) must(args ...string) string {
	k.t.Helper()
	stdout, stderr, code := k.run("", args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// withToken runs kubectl with a bearer token and no other credential.
func (k *seedKubectl) withToken(token string, args ...string) (string, string, int) {
	k.t.Helper()
	none := filepath.Join(k.t.TempDir(), "empty-kubeconfig")
	if err := os.WriteFile(none, nil, 0o600); err != nil {
		k.t.Fatal(err)
	}
	return k.run("", append([]string{"--kubeconfig=" + none, "--server=" + k.ts.url,
		"--certificate-authority=" + filepath.Join(k.ts.dir, "ca.crt"), "--token=" + token}, args...)...)
}

// eventually polls get until it returns want, for up to 20 s.
func eventually(t *testing.T, what string, want string, get func() string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = get(); got == want {
			return
		}
	}
	t.Fatalf("%s: %q after 20 s, want %q", what, got, want)
}

func seedFile(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "docs", "seeds", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The example manifests of docs/seeds, applied with kubectl as they are
// written, each doing what it shows in Kubernetes. One server, started with
// the seeds' audit policy, serves them all; its log is read last.
func TestSeedManifests(t *testing.T) {
	kubectl := requireKubectl(t)
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	ts := startServer(t, "--audit-policy-file="+seedFile(t, "audit-policy.yaml"), "--audit-log-path="+auditLog)

	t.Run("widget-crd.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		if out := k.must("apply", "-f", seedFile(t, "widget-crd.yaml")); out != "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created\n" {
			t.Errorf("apply: %q", out)
		}
		k.must("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
		if out := k.must("apply", "-f", seedFile(t, "widget.yaml")); out != "widget.example.com/my-widget created\n" {
			t.Errorf("apply the widget: %q", out)
		}
		if out := k.must("get", "wd", "-o", "jsonpath={.items[*].metadata.name} {.items[*].spec.size} {.items[*].spec.color}"); out != "my-widget 3 blue" {
			t.Errorf("kubectl get wd: %q", out)
		}
		// The schema's minimum holds.
		_, stderr, code := k.run("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: tiny\nspec:\n  size: 0\n", "apply", "-f", "-")
		if code == 0 || !strings.Contains(stderr, "spec.size") || !strings.Contains(stderr, "greater than or equal to 1") {
			t.Errorf("a widget of size 0: exit %d, %q", code, stderr)
		}
	})

	t.Run("apiservice.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		out := k.must("apply", "-f", seedFile(t, "apiservice.yaml"))
		if out != "apiservice.apiregistration.k8s.io/v1alpha1.wardle.example.com created\napiservice.apiregistration.k8s.io/v1beta1.wardle.example.com created\n" {
			t.Errorf("apply: %q", out)
		}
		// Nothing serves them: stored, unavailable, and listed all the same.
		for _, name := range []string{"v1alpha1.wardle.example.com", "v1beta1.wardle.example.com"} {
			eventually(t, name+" Available", "False ServiceNotFound", func() string {
				return k.must("get", "apiservice", name, "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason}`)
			})
		}
		// One more group, placed above the built-in ones by its priority.
		early := "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  name: v1.early.example.com\nspec:\n  group: early.example.com\n  version: v1\n  groupPriorityMinimum: 17900\n  versionPriority: 15\n  service:\n    namespace: wardle\n    name: api\n  insecureSkipTLSVerify: true\n"
		if _, stderr, code := k.run(early, "apply", "-f", "-"); code != 0 {
			t.Fatalf("apply early.example.com: %s", stderr)
		}
		var groups []string
		eventually(t, "early.example.com in /apis", "listed", func() string {
			r := ts.do(t, "GET", "/apis", "", "")
			expect(t, r, 200, "")
			groups = nil
			for _, g := range r.obj["groups"].([]any) {
				groups = append(groups, field(g, "name").(string))
			}
			if slices.Contains(groups, "early.example.com") {
				return "listed"
			}
			return ""
		})
		// kube-aggregator's order: its own group, then by groupPriorityMinimum
		// (early 17900 above apps 17800; admissionregistration and
		// apiextensions tie at 16700; the CRD's example.com and wardle tie
		// at 1000), equal ones by name.
		want := []string{"apiregistration.k8s.io", "early.example.com", "apps", "authentication.k8s.io", "rbac.authorization.k8s.io",
			"admissionregistration.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io", "example.com", "wardle.example.com"}
		last := -1
		for _, g := range want {
			i := slices.Index(groups, g)
			if i <= last {
				t.Errorf("/apis lists %v; want %s after %v", groups, g, want[:slices.Index(want, g)])
				break
			}
			last = i
		}
		if groups[0] != "apiregistration.k8s.io" || groups[len(groups)-1] != "wardle.example.com" {
			t.Errorf("/apis lists %v: want apiregistration.k8s.io first and wardle.example.com last", groups)
		}
		// The group's versions by versionPriority: v1alpha1 (15) before the
		// newer v1beta1 (10), and preferred.
		for _, path := range []string{"/apis", "/apis/wardle.example.com"} {
			r := ts.do(t, "GET", path, "", "")
			group := r.obj
			if path == "/apis" {
				for _, g := range r.obj["groups"].([]any) {
					if field(g, "name") == "wardle.example.com" {
						group, _ = g.(map[string]any)
					}
				}
			}
			var versions []string
			for _, v := range group["versions"].([]any) {
				versions = append(versions, field(v, "version").(string))
			}
			if strings.Join(versions, ",") != "v1alpha1,v1beta1" || field(group, "preferredVersion", "version") != "v1alpha1" {
				t.Errorf("%s: wardle.example.com versions %v, preferred %v", path, versions, field(group, "preferredVersion"))
			}
		}
		// Aggregated discovery orders its groups the same way (extensions
		// never reached have no resources to list, so they are left out).
		var aggregated struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(ts.getAggregated(t)), &aggregated); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, item := range aggregated.Items {
			names = append(names, item.Metadata.Name)
		}
		local := slices.DeleteFunc(slices.Clone(groups), func(g string) bool { return strings.HasSuffix(g, "wardle.example.com") || g == "early.example.com" })
		if !slices.Equal(names, local) {
			t.Errorf("aggregated discovery lists %v, want %v", names, local)
		}
		k.must("delete", "-f", seedFile(t, "apiservice.yaml"))
		k.must("delete", "apiservice", "v1.early.example.com")
	})

	t.Run("pod-reader.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		if out := k.must("apply", "-f", seedFile(t, "pod-reader.yaml")); out != "clusterrole.rbac.authorization.k8s.io/pod-reader created\n" {
			t.Errorf("apply: %q", out)
		}
		canI := func(args ...string) string {
			t.Helper()
			stdout, stderr, code := k.run("", append([]string{"auth", "can-i", "--as=jane"}, args...)...)
			if answer := strings.TrimSpace(stdout); answer == "yes" && code == 0 || answer == "no" && code == 1 {
				return answer
			}
			t.Fatalf("can-i %v: exit %d, %q %q", args, code, stdout, stderr)
			return ""
		}
		if got := canI("list", "pods", "-n", "default"); got != "no" {
			t.Errorf("before any binding, jane can list pods: %s", got)
		}
		k.must("create", "rolebinding", "read-pods", "--clusterrole=pod-reader", "--user=jane", "-n", "default")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"get", "pods", "-n", "default"}, "yes"},
			{[]string{"list", "pods", "-n", "default"}, "yes"},
			{[]string{"watch", "pods", "-n", "default"}, "yes"},
			{[]string{"delete", "pods", "-n", "default"}, "no"},
			{[]string{"create", "pods", "-n", "default"}, "no"},
			{[]string{"list", "pods", "-n", "kube-system"}, "no"}, // a RoleBinding grants in its namespace only
			{[]string{"get", "secrets", "-n", "default"}, "no"},
		} {
			if got := canI(c.args...); got != c.want {
				t.Errorf("kubectl auth can-i --as=jane %s: %s, want %s", strings.Join(c.args, " "), got, c.want)
			}
		}
	})

	t.Run("webhook.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		k.must("run", "before", "--image=nginx")
		if out := k.must("apply", "-f", seedFile(t, "webhook.yaml")); out != "validatingwebhookconfiguration.admissionregistration.k8s.io/pod-policy.example.com created\n" {
			t.Errorf("apply: %q", out)
		}
		if out := k.must("get", "validatingwebhookconfiguration", "pod-policy.example.com", "-o",
			"jsonpath={.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name} {.webhooks[0].rules[0].operations}"); out != `example-namespace/example-service ["CREATE"]` {
			t.Errorf("stored: %q", out)
		}
		// Every pod create goes to a webhook that is not there, and
		// failurePolicy (Fail, by default) refuses it; kube-apiserver says
		// exactly this.
		const refused = `Error from server (InternalError): Internal error occurred: failed calling webhook "pod-policy.example.com": failed to call webhook: Post "https://example-service.example-namespace.svc:443/?timeout=5s": service "example-service" not found`
		for _, ns := range []string{"default", "kube-public"} {
			_, stderr, code := k.run("", "run", "web", "--image=nginx", "-n", ns)
			if code != 1 || !slices.Contains(strings.Split(stderr, "\n"), refused) {
				t.Errorf("kubectl run in %s: exit %d, %q\nwant %q", ns, code, stderr, refused)
			}
		}
		// What the rules do not select passes: an update of a pod, other kinds.
		k.must("label", "pod", "before", "checked=yes")
		k.must("create", "configmap", "unaffected", "--from-literal=k=v")
		k.must("delete", "-f", seedFile(t, "webhook.yaml"))
		k.must("run", "web", "--image=nginx")
	})

	t.Run("serviceaccount-token.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		path := seedFile(t, "serviceaccount-token.yaml")
		if out := k.must("apply", "-f", path); out != "serviceaccount/build-robot created\nsecret/build-robot-secret created\n" {
			t.Errorf("apply: %q", out)
		}
		// The token controller fills the Secret in.
		var encoded string
		eventually(t, "the Secret's token", "filled", func() string {
			encoded = k.must("get", "secret", "build-robot-secret", "-o", "jsonpath={.data.token}")
			if encoded == "" {
				return ""
			}
			return "filled"
		})
		decode := func(s string) string {
			t.Helper()
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		token := decode(encoded)
		ca, _ := os.ReadFile(filepath.Join(ts.dir, "ca.crt"))
		if got := decode(k.must("get", "secret", "build-robot-secret", "-o", `jsonpath={.data.ca\.crt}`)); got != string(ca) {
			t.Errorf("data.ca.crt is not the cluster CA: %q", got)
		}
		if got := decode(k.must("get", "secret", "build-robot-secret", "-o", "jsonpath={.data.namespace}")); got != "default" {
			t.Errorf("data.namespace: %q", got)
		}
		uid := k.must("get", "serviceaccount", "build-robot", "-o", "jsonpath={.metadata.uid}")
		if got := k.must("get", "secret", "build-robot-secret", "-o", `jsonpath={.metadata.annotations.kubernetes\.io/service-account\.uid}`); got != uid {
			t.Errorf("the uid annotation: %q, want the account's %q", got, uid)
		}
		// A legacy token: Kubernetes' legacy issuer, no expiry.
		parts := strings.Split(token, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if len(parts) != 3 || err != nil {
			t.Fatalf("not a JWT: %q", token)
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		if claims["iss"] != "kubernetes/serviceaccount" || claims["exp"] != nil || claims["kubernetes.io/serviceaccount/secret.name"] != "build-robot-secret" {
			t.Errorf("claims: %v", claims)
		}
		// It authenticates as the account.
		if stdout, stderr, code := k.withToken(token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); code != 0 || stdout != "system:serviceaccount:default:build-robot" {
			t.Errorf("kubectl --token auth whoami: exit %d, %q %q", code, stdout, stderr)
		}
		// Deleting the Secret revokes it, and takes it off the account's list.
		k.must("delete", "secret", "build-robot-secret")
		if stdout, stderr, code := k.withToken(token, "auth", "whoami"); code != 1 || !strings.Contains(stderr, "Unauthorized") {
			t.Errorf("the token after its Secret went: exit %d, %q %q", code, stdout, stderr)
		}
		eventually(t, "the account's secrets", "", func() string { return k.must("get", "serviceaccount", "build-robot", "-o", "jsonpath={.secrets}") })
		// Deleting the account deletes its token Secrets.
		k.must("apply", "-f", path)
		eventually(t, "the new Secret's token", "filled", func() string {
			if k.must("get", "secret", "build-robot-secret", "-o", "jsonpath={.data.token}") == "" {
				return ""
			}
			return "filled"
		})
		k.must("delete", "serviceaccount", "build-robot")
		eventually(t, "the Secret of a deleted account", "", func() string {
			return k.must("get", "secrets", "--field-selector=metadata.name=build-robot-secret", "-o", "name")
		})
	})

	t.Run("can-i as the default service account", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		// RBAC gives service accounts nothing by default.
		stdout, stderr, code := k.run("", "auth", "can-i", "--as=system:serviceaccount:default:default", "get", "pods")
		if stdout != "no\n" || code != 1 {
			t.Errorf("exit %d, %q %q; want no, exit 1", code, stdout, stderr)
		}
	})

	t.Run("audit-policy.yaml", func(t *testing.T) {
		k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
		k.run("apiVersion: v1\nkind: Pod\nmetadata:\n  name: audited\nspec:\n  containers:\n  - name: c\n    image: nginx\n", "apply", "-f", "-")
		k.run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: kube-system\ndata:\n  k: v\n", "apply", "-f", "-")
		// The policy names controller-leader; a create has no name in its
		// URL, so only reads and writes of the object itself go unlogged.
		k.run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: controller-leader\ndata:\n  k: v\n", "apply", "-f", "-")
		k.must("get", "configmap", "controller-leader")
		k.must("label", "configmap", "controller-leader", "renewed=yes")
		k.run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\ndata:\n  k: v\n", "apply", "-f", "-")
		type event struct {
			Level, Stage, Verb, RequestURI string
			ObjectRef                      struct{ Resource, Namespace, Name, APIGroup string }
			RequestObject, ResponseObject  json.RawMessage
		}
		file, err := os.Open(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		var events []event
		scanner := bufio.NewScanner(file)
		scanner.Buffer(nil, 10<<20)
		for scanner.Scan() {
			var e event
			if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
				t.Fatalf("an audit line that is not an event: %v", err)
			}
			events = append(events, e)
		}
		created := func(resource, namespace, name string) *event {
			for i := range events {
				e := &events[i]
				if e.Verb == "create" && e.ObjectRef.Resource == resource && e.ObjectRef.Namespace == namespace && e.ObjectRef.Name == name {
					return e
				}
			}
			return nil
		}
		for _, c := range []struct {
			resource, namespace, name, level string
			request, response                bool
		}{
			{"pods", "default", "audited", "RequestResponse", true, true},
			{"configmaps", "kube-system", "settings", "Request", true, false},
			{"configmaps", "default", "elsewhere", "Metadata", false, false},
			{"configmaps", "default", "controller-leader", "Metadata", false, false},
			{"serviceaccounts", "default", "build-robot", "Request", true, false},
			{"customresourcedefinitions", "", "widgets.example.com", "Metadata", false, false},
		} {
			e := created(c.resource, c.namespace, c.name)
			switch {
			case e == nil:
				t.Errorf("no event for the creation of %s %s/%s", c.resource, c.namespace, c.name)
			case e.Level != c.level || (len(e.RequestObject) > 0) != c.request || (len(e.ResponseObject) > 0) != c.response:
				t.Errorf("%s %s/%s: level %s, request body %t, response body %t; want %s, %t, %t", c.resource, c.namespace, c.name,
					e.Level, len(e.RequestObject) > 0, len(e.ResponseObject) > 0, c.level, c.request, c.response)
			}
		}
		for _, e := range events {
			path, _, _ := strings.Cut(e.RequestURI, "?")
			switch {
			case e.Stage == "RequestReceived":
				t.Errorf("a RequestReceived event, which the policy omits: %+v", e)
			case e.ObjectRef.Name == "controller-leader" && e.Verb != "create":
				t.Errorf("an event for the configmap the policy leaves out: %+v", e)
			case e.ObjectRef.Resource == "" && (strings.HasPrefix(path, "/api") || path == "/version"):
				t.Errorf("an event for discovery, which the policy leaves out: %+v", e)
			case e.ObjectRef.Resource == "secrets" && e.Level != "Metadata":
				t.Errorf("a secret logged at %s: %+v", e.Level, e)
			}
		}
	})
}
