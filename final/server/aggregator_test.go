package server

import (
	"bufio"
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
	"testing"
	"time"
)

// API aggregation end to end: chapter 09's notes extension server, started
// beside final and registered with the three objects its register.yaml
// holds, is read and written through final, which passes the caller's
// identity and no one else's. An APIService pointing nowhere answers 503 and
// harms nothing else.
func TestAggregation(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go tool is required under CI=true: %v", err)
		}
		t.Skip("go not found: cannot build the extension")
	}
	ts := startServer(t)
	extensionDir := startNotesExtension(t, goTool, ts.dir)
	registerExtension(t, ts, filepath.Join(extensionDir, "register.yaml"))
	available := waitForAvailable(t, ts, "v1alpha1.notes.example.com", "True")
	if available["reason"] != "Passed" {
		t.Errorf("Available: %v", available)
	}

	const notes = "/apis/notes.example.com/v1alpha1/namespaces/default/notes"
	t.Run("discovery and OpenAPI", func(t *testing.T) {
		list := ts.do(t, "GET", "/apis/notes.example.com/v1alpha1", "", "")
		if list.code != 200 || list.obj["kind"] != "APIResourceList" || !strings.Contains(list.raw, `"name":"notes"`) {
			t.Errorf("the extension's resources: %d %s", list.code, list.raw)
		}
		if groups := ts.do(t, "GET", "/apis", "", ""); !strings.Contains(groups.raw, `"name":"notes.example.com"`) {
			t.Errorf("/apis: %s", groups.raw)
		}
		group := ts.do(t, "GET", "/apis/notes.example.com", "", "")
		if field(group.obj, "preferredVersion", "groupVersion") != "notes.example.com/v1alpha1" {
			t.Errorf("/apis/notes.example.com: %d %s", group.code, group.raw)
		}
		if aggregated := ts.getAggregated(t); !strings.Contains(aggregated, `"resource":"notes"`) || !strings.Contains(aggregated, `"name":"notes.example.com"`) {
			t.Errorf("aggregated discovery: %s", aggregated)
		}
		if index := ts.do(t, "GET", "/openapi/v3", "", ""); field(index.obj, "paths", "apis/notes.example.com/v1alpha1") == nil {
			t.Errorf("/openapi/v3: %s", index.raw)
		}
		expect(t, ts.do(t, "GET", "/openapi/v3/apis/notes.example.com/v1alpha1", "", ""), 200, "")
	})

	t.Run("the author is the caller", func(t *testing.T) {
		created := ts.do(t, "POST", notes, "application/json", `{"apiVersion":"notes.example.com/v1alpha1","kind":"Note",
			"metadata":{"name":"by-admin"},"spec":{"text":"the admin's","author":"someone-else"}}`)
		expect(t, created, 201, "")
		if got := ts.do(t, "GET", notes+"/by-admin", "", ""); field(got.obj, "spec", "author") != "admin" {
			t.Errorf("the note's author: %s, want admin", got.raw)
		}

		expect(t, ts.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "application/json", `{"metadata":{"name":"note-taker"},
			"rules":[{"apiGroups":["notes.example.com"],"resources":["notes"],"verbs":["create","get","list","delete"]}]}`), 201, "")
		expect(t, ts.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "application/json", `{"metadata":{"name":"bob-takes-notes"},
			"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"note-taker"},
			"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"bob"}]}`), 201, "")
		bob, alice := ts.as(t, "bob"), ts.as(t, "alice")

		// Bob claims to be the admin in the headers the extension reads.
		forged := http.Header{"X-Remote-User": {"admin"}, "X-Remote-Group": {"system:masters"}, "x-remote-extra-scopes": {"all"}}
		expect(t, bob.do(t, "POST", notes, `{"metadata":{"name":"by-bob"},"spec":{"text":"mine"}}`, forged), 201, "")
		if got := bob.do(t, "GET", notes+"/by-bob", "", nil); field(got.obj, "spec", "author") != "bob" {
			t.Errorf("the note's author: %s, want bob", got.raw)
		}
		// The extension decides with the identity it was given: only the author deletes.
		expect(t, bob.do(t, "DELETE", notes+"/by-admin", "", forged), 403, "Forbidden")
		// The main server decides first: alice may not touch notes at all.
		denied := alice.do(t, "GET", notes, "", nil)
		expect(t, denied, 403, "Forbidden")
		if msg, _ := denied.obj["message"].(string); !strings.Contains(msg, `User "alice" cannot list resource "notes" in API group "notes.example.com"`) {
			t.Errorf("alice's 403 comes from elsewhere: %q", msg)
		}
		expect(t, bob.do(t, "DELETE", notes+"/by-bob", "", nil), 200, "")
	})

	t.Run("an APIService pointing nowhere", func(t *testing.T) {
		const nowhere = "/apis/apiregistration.k8s.io/v1/apiservices/v1.nowhere.example.com"
		expect(t, ts.do(t, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", "application/json", `{"metadata":{"name":"v1.nowhere.example.com"},
			"spec":{"group":"nowhere.example.com","version":"v1","groupPriorityMinimum":100,"versionPriority":10,
			"insecureSkipTLSVerify":true,"service":{"namespace":"default","name":"missing","port":443}}}`), 201, "")
		if c := waitForAvailable(t, ts, "v1.nowhere.example.com", "False"); c["reason"] != "ServiceNotFound" {
			t.Errorf("Available: %v", c)
		}
		unavailable := ts.do(t, "GET", "/apis/nowhere.example.com/v1/namespaces/default/things", "", "")
		expect(t, unavailable, 503, "ServiceUnavailable")
		if msg, _ := unavailable.obj["message"].(string); !strings.Contains(msg, "v1.nowhere.example.com") || !strings.Contains(msg, "not present") {
			t.Errorf("the 503 does not say why: %q", msg)
		}
		// The rest is healthy.
		expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")
		expect(t, ts.do(t, "GET", "/api/v1/namespaces/default", "", ""), 200, "")
		expect(t, ts.do(t, "GET", notes, "", ""), 200, "")
		expect(t, ts.do(t, "GET", "/apis", "", ""), 200, "")

		expect(t, ts.do(t, "DELETE", nowhere, "", ""), 200, "")
		// The aggregator learns of the delete soon, not at once (as in Kubernetes).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r := ts.do(t, "GET", "/apis/nowhere.example.com/v1/namespaces/default/things", "", "")
			if r.code == 404 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("10 s after the delete: %d %s", r.code, r.raw)
			}
		}
	})

	t.Run("a bad APIService is 422", func(t *testing.T) {
		for cause, body := range map[string]string{
			"metadata.name":              `{"metadata":{"name":"wrong"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":1,"versionPriority":1,"service":{"namespace":"default","name":"x"}}}`,
			"spec.groupPriorityMinimum":  `{"metadata":{"name":"v1.bad.example.com"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":0,"versionPriority":1,"service":{"namespace":"default","name":"x"}}}`,
			"spec.insecureSkipTLSVerify": `{"metadata":{"name":"v1.bad.example.com"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":1,"versionPriority":1,"caBundle":"Zm9v","insecureSkipTLSVerify":true,"service":{"namespace":"default","name":"x"}}}`,
		} {
			r := ts.do(t, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", "application/json", body)
			expect(t, r, 422, "Invalid")
			if !strings.Contains(r.raw, `"field":"`+cause+`"`) {
				t.Errorf("no cause for %s: %s", cause, r.raw)
			}
		}
	})
}

// startNotesExtension builds chapters/09/extension and starts it on a free
// port, trusting final's front-proxy CA; it is killed when the test ends.
// It returns the extension's data directory.
func startNotesExtension(t *testing.T, goTool, finalDir string) string {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "extension")
	build := exec.Command(goTool, "build", "-o", exe, "github.com/apiserver-from-scratch/apiserver-from-scratch/chapters/09/extension")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the extension: %v\n%s", err, out)
	}
	dataDir := filepath.Join(dir, "data")
	cmd := exec.Command(exe, "--bind-address=127.0.0.1", "--secure-port=0", "--data-dir="+dataDir,
		"--requestheader-client-ca-file="+filepath.Join(finalDir, "front-proxy-ca.crt"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	first := make(chan string, 1)
	go func() {
		lines := bufio.NewReader(stdout)
		line, _ := lines.ReadString('\n')
		first <- line
		_, _ = io.Copy(io.Discard, lines)
	}()
	select {
	case line := <-first:
		if !strings.HasPrefix(line, "notes extension serving on https://") {
			t.Fatalf("the extension's first line: %q", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the extension did not say where it serves")
	}
	return dataDir
}

// registerExtension creates what register.yaml holds, as JSON: the Service,
// its Endpoints (the extension's address and port) and the APIService with
// the extension's CA.
func registerExtension(t *testing.T, ts *testServer, registerYAML string) {
	t.Helper()
	data, err := os.ReadFile(registerYAML)
	if err != nil {
		t.Fatal(err)
	}
	find := func(pattern string) string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(string(data))
		if m == nil {
			t.Fatalf("register.yaml has no %s:\n%s", pattern, data)
		}
		return m[1]
	}
	ip, port, caBundle := find(`- ip: "?([0-9.]+)"?`), find(`targetPort: (\d+)`), find(`caBundle: (\S+)`)
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/services", "application/json",
		`{"metadata":{"name":"notes-api"},"spec":{"ports":[{"name":"https","port":443,"targetPort":`+port+`}]}}`), 201, "")
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/endpoints", "application/json",
		`{"metadata":{"name":"notes-api"},"subsets":[{"addresses":[{"ip":"`+ip+`"}],"ports":[{"name":"https","port":`+port+`}]}]}`), 201, "")
	expect(t, ts.do(t, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", "application/json",
		`{"metadata":{"name":"v1alpha1.notes.example.com"},"spec":{"group":"notes.example.com","version":"v1alpha1",
		"groupPriorityMinimum":1000,"versionPriority":15,"service":{"namespace":"default","name":"notes-api","port":443},"caBundle":"`+caBundle+`"}}`), 201, "")
}

// waitForAvailable waits until an APIService's Available condition has the
// status, and returns the condition.
func waitForAvailable(t *testing.T, ts *testServer, name, status string) map[string]any {
	t.Helper()
	var last response
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = ts.do(t, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/"+name, "", "")
		conditions, _ := field(last.obj, "status", "conditions").([]any)
		for _, c := range conditions {
			if c, _ := c.(map[string]any); c["type"] == "Available" && c["status"] == status {
				return c
			}
		}
	}
	t.Fatalf("APIService %s not Available=%s within 30 s: %s", name, status, last.raw)
	return nil
}

func (ts *testServer) getAggregated(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequest("GET", ts.url+"/apis", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// tokenUser is a user of the token file, by its kubeconfig's bearer token.
type tokenUser struct {
	ts     *testServer
	token  string
	client *http.Client
}

func (ts *testServer) as(t *testing.T, name string) *tokenUser {
	t.Helper()
	kubeconfig, err := os.ReadFile(filepath.Join(ts.dir, "kubeconfig-"+name))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+token: (\S+)$`).FindSubmatch(kubeconfig)
	if m == nil {
		t.Fatalf("no token in kubeconfig-%s", name)
	}
	ca, err := os.ReadFile(filepath.Join(ts.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tokenUser{ts: ts, token: string(m[1]), client: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
}

// do sends a request as the user, with extra headers as given (names kept
// as written; a body is JSON unless they say otherwise). An empty token
// sends no Authorization header.
func (u *tokenUser) do(t *testing.T, method, path, body string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, u.ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.obj)
	return r
}
