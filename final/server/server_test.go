package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a running final server, on a free loopback port.
type testServer struct {
	url, dir string
	client   *http.Client // the admin, by client certificate
	stop     func()
	srv      *Server // in-process servers only
}

// requireKubectl returns kubectl's path. Without kubectl the test skips,
// but under CI=true it fails: CI must not pass by skipping.
func requireKubectl(t *testing.T) string {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is required under CI=true: %v", err)
		}
		t.Skip("kubectl not found")
	}
	return kubectl
}

// startServer starts a server on a new data directory, or on the one a
// --data-dir argument names (a restart on the same state). Stopping it twice
// is fine: t.Cleanup stops it too.
func startServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	for _, arg := range args {
		if d, ok := strings.CutPrefix(arg, "--data-dir="); ok {
			dir = d
		}
	}
	opts, err := ParseOptions(append([]string{"--secure-port=0", "--data-dir=" + dir}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, in); in.Close() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("reading the first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	m := regexp.MustCompile(`^final serving on (\S+)`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("first line %q", line)
	}
	ts := &testServer{url: m[1], dir: dir, client: adminClient(t, dir), srv: s}
	ts.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop within 30 s")
		}
	})
	t.Cleanup(ts.stop)
	return ts
}

func adminClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}}
}

type response struct {
	code int
	obj  map[string]any
	raw  string
}

func (ts *testServer) do(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.obj)
	return r
}

func expect(t *testing.T, r response, code int, reason string) {
	t.Helper()
	if r.code != code || reason != "" && r.obj["reason"] != reason {
		t.Fatalf("got %d %v, want %d %s: %s", r.code, r.obj["reason"], code, reason, r.raw)
	}
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

func TestServerServesTheAPI(t *testing.T) {
	ts := startServer(t)
	expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")
	expect(t, ts.do(t, "GET", "/api/v1/namespaces/kube-system", "", ""), 200, "")
	expect(t, ts.do(t, "GET", "/api/v1/namespaces/default/serviceaccounts/default", "", ""), 200, "")

	const cms = "/api/v1/namespaces/default/configmaps"
	created := ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"one"},"data":{"k":"v"}}`)
	expect(t, created, 201, "")
	rv := field(created.obj, "metadata", "resourceVersion").(string)
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"one"}}`), 409, "AlreadyExists")
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"Bad_Name"}}`), 422, "Invalid")
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":`), 400, "BadRequest")
	stale := `{"metadata":{"name":"one","resourceVersion":"` + rv + `"},"data":{"k":"v2"}}`
	expect(t, ts.do(t, "PUT", cms+"/one", "application/json", stale), 200, "")
	expect(t, ts.do(t, "PUT", cms+"/one", "application/json", stale), 409, "Conflict")
	patched := ts.do(t, "PATCH", cms+"/one", "application/strategic-merge-patch+json", `{"data":{"x":"y"}}`)
	expect(t, patched, 200, "")
	if field(patched.obj, "data", "x") != "y" || field(patched.obj, "data", "k") != "v2" {
		t.Errorf("patched: %s", patched.raw)
	}
	// A dry run goes through everything but the store.
	dry := ts.do(t, "POST", cms+"?dryRun=All", "application/json", `{"metadata":{"name":"dry"}}`)
	expect(t, dry, 201, "")
	expect(t, ts.do(t, "GET", cms+"/dry", "", ""), 404, "NotFound")
	expect(t, ts.do(t, "POST", cms+"?dryRun=Some", "application/json", `{"metadata":{"name":"dry"}}`), 422, "Invalid")
	expect(t, ts.do(t, "DELETE", cms+"/one?dryRun=All", "", ""), 200, "")
	expect(t, ts.do(t, "GET", cms+"/one", "", ""), 200, "")

	// Deleting a namespace: Terminating first, then its contents and itself go.
	expect(t, ts.do(t, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"doomed"}}`), 201, "")
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/doomed/configmaps", "application/json", `{"metadata":{"name":"inside"}}`), 201, "")
	deleted := ts.do(t, "DELETE", "/api/v1/namespaces/doomed", "", "")
	expect(t, deleted, 200, "")
	if field(deleted.obj, "status", "phase") != "Terminating" {
		t.Errorf("deleted namespace: %s", deleted.raw)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ts.do(t, "GET", "/api/v1/namespaces/doomed", "", "").code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the namespace is still there after 10 s")
		}
	}
	expect(t, ts.do(t, "GET", "/api/v1/namespaces/doomed/configmaps/inside", "", ""), 404, "NotFound")
	expect(t, ts.do(t, "DELETE", "/api/v1/namespaces/kube-system", "", ""), 403, "Forbidden")
}

func TestUnknownFlagsAreErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"stray"}, {"--tls-cert-file=x"}} {
		if _, err := ParseOptions(args, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	o, err := ParseOptions([]string{"--etcd-servers=http://127.0.0.1:1,http://127.0.0.1:2", "--authorization-mode=RBAC"}, io.Discard)
	if err != nil || len(o.EtcdServers) != 2 {
		t.Errorf("%+v %v", o, err)
	}
}

// A scripted kubectl session, as a user would type it.
func TestKubectlSession(t *testing.T) {
	ts := startServer(t)
	_, run := kubectlFor(t, ts)
	run("", "create", "namespace", "session")
	run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: session\ndata:\n  mode: fast\n", "apply", "-f", "-")
	if out := run("", "get", "configmap", "settings", "-n", "session", "-o", "yaml"); !strings.Contains(out, "mode: fast") || !strings.Contains(out, "resourceVersion:") {
		t.Errorf("get -o yaml: %q", out)
	}
	// kubectl get -w prints the change the patch below makes.
	watch := exec.Command(requireKubectl(t), "get", "configmap", "settings", "-n", "session", "-w", "-o", "name", "--request-timeout=5s")
	watch.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(ts.dir, "kubeconfig"), "HOME="+ts.dir)
	var watched bytes.Buffer
	watch.Stdout, watch.Stderr = &watched, &watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the watch is open
	run("", "patch", "configmap", "settings", "-n", "session", "-p", `{"data":{"mode":"slow"}}`)
	_ = watch.Wait()
	if out := watched.String(); strings.Count(out, "configmap/settings\n") != 2 { // as it was, then as patched
		t.Errorf("kubectl get -w: %q", out)
	}
	run("", "label", "configmap", "settings", "-n", "session", "tier=web")
	if out := run("", "get", "cm", "-n", "session", "-l", "tier=web", "-o", "name"); strings.TrimSpace(out) != "configmap/settings" {
		t.Errorf("get -l: %q", out)
	}
	if out := run("", "auth", "can-i", "create", "pods", "-n", "session"); strings.TrimSpace(out) != "yes" {
		t.Errorf("can-i: %q", out)
	}
	if out := run("", "create", "token", "default", "-n", "session"); !strings.HasPrefix(out, "eyJ") {
		t.Errorf("create token: %q", out)
	}
	if out := run("", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "admin" {
		t.Errorf("whoami: %q", out)
	}
	run("", "create", "deployment", "web", "-n", "session", "--image=nginx", "--replicas=2")
	run("", "scale", "deployment", "web", "-n", "session", "--replicas=5")
	if out := run("", "get", "deploy", "web", "-n", "session", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"); out != "5 2" {
		t.Errorf("after kubectl scale: replicas and generation %q, want \"5 2\"", out)
	}
	if out := run("", "get", "deploy", "-n", "session"); !strings.Contains(out, "READY") || !strings.Contains(out, "0/5") {
		t.Errorf("kubectl get deploy: %q", out)
	}
	run("", "delete", "namespace", "session", "--timeout=20s")
	if out := run("", "get", "ns", "-o", "name"); strings.Contains(out, "session") {
		t.Errorf("the namespace outlived kubectl delete: %q", out)
	}
	if out := run("", "get", "configmaps,deployments", "-n", "session", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("the namespace's contents outlived it: %q", out)
	}
}

// A dry-run delete of a namespace changes nothing, from the query or the body.
func TestNamespaceDryRunDelete(t *testing.T) {
	ts := startServer(t)
	expect(t, ts.do(t, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"kept"}}`), 201, "")
	dry := ts.do(t, "DELETE", "/api/v1/namespaces/kept?dryRun=All", "", "")
	expect(t, dry, 200, "")
	if field(dry.obj, "status", "phase") != "Terminating" {
		t.Errorf("dry-run answer: %s", dry.raw)
	}
	expect(t, ts.do(t, "DELETE", "/api/v1/namespaces/kept", "application/json", `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}`), 200, "")
	time.Sleep(200 * time.Millisecond) // the namespace controller would have started by now
	got := ts.do(t, "GET", "/api/v1/namespaces/kept", "", "")
	expect(t, got, 200, "")
	if field(got.obj, "status", "phase") != "Active" || field(got.obj, "metadata", "deletionTimestamp") != nil {
		t.Errorf("after dry runs: %s", got.raw)
	}
	expect(t, ts.do(t, "DELETE", "/api/v1/namespaces/kept", "application/json",
		`{"preconditions":{"uid":"not-its-uid"}}`), 409, "Conflict")
}
