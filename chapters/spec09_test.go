// Chapter 09's checks: API aggregation. The chapter's example extension
// server is started beside the chapter and registered with the manifest it
// writes; kubectl then reads its API through the main server, which passes
// the caller's identity and no one else's. An APIService pointing nowhere is
// unavailable, answers 503, and harms nothing else.
package chapters_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func chapter09Checks() []check {
	return []check{
		{9, "kubectl registers the extension and reads its API through the server", checkKubectlExtension},
		{9, "the caller's identity is passed; identity headers from clients are not", checkIdentityHeaders},
		{9, "discovery merges the extension's group", checkMergedDiscovery},
		{9, "an APIService pointing nowhere is unavailable and answers 503", checkUnavailableAPIService},
		{9, "a bad APIService is 422", checkBadAPIServices},
		{9, "the extension believes identity only from the front proxy", checkExtensionTrust},
	}
}

// extension is the chapter's example extension server, running.
type extension struct {
	url, dataDir string
}

var (
	extensionsMu sync.Mutex
	extensions   = map[*server]*extension{}
)

// startExtension builds and starts chapters/NN/extension once per server,
// trusting that server's front-proxy CA, and registers it.
func (s *server) startExtension(t *testing.T) *extension {
	t.Helper()
	extensionsMu.Lock()
	defer extensionsMu.Unlock()
	if e := extensions[s]; e != nil {
		return e
	}
	exe := filepath.Join(s.dataDir, "extension")
	if out, err := exec.Command("go", "build", "-o", exe, fmt.Sprintf("./%02d/extension", s.chapter)).CombinedOutput(); err != nil {
		t.Fatalf("building the extension: %v\n%s", err, out)
	}
	e := &extension{dataDir: filepath.Join(s.dataDir, "extension-data")}
	cmd := exec.Command(exe, "--bind-address=127.0.0.1", "--secure-port=0", "--data-dir="+e.dataDir,
		"--requestheader-client-ca-file="+filepath.Join(s.dataDir, "front-proxy-ca.crt"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // the server outlives this check: it goes with the chapter's server
		_, _ = s.cmd.Process.Wait()
		_ = cmd.Process.Kill()
	}()
	lines := bufio.NewScanner(stdout)
	first := make(chan string, 1)
	go func() {
		if lines.Scan() {
			first <- lines.Text()
		}
		for lines.Scan() {
		}
	}()
	select {
	case line := <-first:
		m := servingLine.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(line, "notes extension serving on ") {
			t.Fatalf("extension's first line: %q", line)
		}
		e.url = m[1]
	case <-time.After(10 * time.Second):
		t.Fatal("the extension did not say where it serves")
	}
	s.mustKubectl(t, "", "apply", "-f", filepath.Join(e.dataDir, "register.yaml"))
	s.mustKubectl(t, "", "wait", "--for=condition=Available", "apiservice/v1alpha1.notes.example.com", "--timeout=30s")
	extensions[s] = e
	return e
}

const notes = "/apis/notes.example.com/v1alpha1/namespaces/default/notes"

func checkKubectlExtension(t *testing.T, s *server) {
	s.startExtension(t)
	if out := s.mustKubectl(t, "", "get", "apiservices", "-o", "name"); !strings.Contains(out, "apiservice.apiregistration.k8s.io/v1alpha1.notes.example.com") {
		t.Errorf("kubectl get apiservices: %q", out)
	}
	if out := s.mustKubectl(t, "", "get", "--raw", "/apis/notes.example.com/v1alpha1"); !strings.Contains(out, `"APIResourceList"`) || !strings.Contains(out, `"notes"`) {
		t.Errorf("kubectl get --raw: %q", out)
	}
	s.mustKubectl(t, `{"apiVersion":"notes.example.com/v1alpha1","kind":"Note","metadata":{"name":"from-kubectl"},"spec":{"text":"hi","author":"someone-else"}}`, "create", "-f", "-")
	if out := s.mustKubectl(t, "", "get", "notes", "from-kubectl", "-o", "jsonpath={.spec.author}"); out != "admin" {
		t.Errorf("the note's author: %q, want admin (the caller, whatever the body said)", out)
	}
	if out := s.mustKubectl(t, "", "get", "nt", "-o", "name"); !strings.Contains(out, "note.notes.example.com/from-kubectl") {
		t.Errorf("kubectl get nt: %q", out)
	}
	if out := s.mustKubectl(t, "", "api-resources", "--api-group=notes.example.com", "--no-headers"); !strings.Contains(out, "notes") {
		t.Errorf("kubectl api-resources: %q", out)
	}
}

func checkIdentityHeaders(t *testing.T, s *server) {
	s.startExtension(t)
	s.mustKubectl(t, "", "create", "clusterrole", "note-taker", "--verb=create,get,list,delete", "--resource=notes.notes.example.com")
	s.mustKubectl(t, "", "create", "clusterrolebinding", "bob-takes-notes", "--clusterrole=note-taker", "--user=bob")
	bob := s.as(s.clientFor(t, filepath.Join(s.dataDir, "kubeconfig-bob")))
	alice := s.as(s.clientFor(t, filepath.Join(s.dataDir, "kubeconfig-alice")))

	// Bob claims to be the admin in the headers the extension reads.
	req, err := http.NewRequest(http.MethodPost, s.url+notes, strings.NewReader(`{"metadata":{"name":"by-bob"},"spec":{"text":"mine"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Remote-User", "admin")
	req.Header.Add("X-Remote-Group", "system:masters")
	resp, err := bob.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob's create: HTTP %d", resp.StatusCode)
	}
	if got := bob.get(t, notes+"/by-bob"); str(got.obj, "spec", "author") != "bob" {
		t.Errorf("the note's author: %s, want bob", got.raw)
	}
	expect(t, s.post(t, notes, `{"metadata":{"name":"by-admin"},"spec":{"text":"the admin's"}}`), http.StatusCreated, "")
	// The extension decides with the identity it was given: only the author deletes.
	expect(t, bob.do(t, http.MethodDelete, notes+"/by-admin", "", nil), http.StatusForbidden, "Forbidden")
	// The main server decides first: alice may not touch notes at all.
	r := alice.get(t, notes)
	expect(t, r, http.StatusForbidden, "Forbidden")
	if msg := str(r.obj, "message"); !strings.Contains(msg, `User "alice" cannot list resource "notes" in API group "notes.example.com"`) {
		t.Errorf("alice's 403 comes from elsewhere: %q", msg)
	}
	expect(t, bob.do(t, http.MethodDelete, notes+"/by-bob", "", nil), http.StatusOK, "")
}

func checkMergedDiscovery(t *testing.T, s *server) {
	s.startExtension(t)
	groups := s.get(t, "/apis")
	if !strings.Contains(string(groups.raw), `"name":"notes.example.com"`) {
		t.Errorf("/apis does not list notes.example.com: %s", groups.raw)
	}
	group := s.get(t, "/apis/notes.example.com")
	expect(t, group, http.StatusOK, "")
	if str(group.obj, "preferredVersion", "groupVersion") != "notes.example.com/v1alpha1" {
		t.Errorf("/apis/notes.example.com: %s", group.raw)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/apis", nil)
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&buf)
	if !strings.Contains(buf.String(), `"resource":"notes"`) || !strings.Contains(buf.String(), `"name":"notes.example.com"`) {
		t.Errorf("aggregated discovery lacks the extension's notes: %s", buf.String())
	}
}

func checkUnavailableAPIService(t *testing.T, s *server) {
	nowhere := `{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.nowhere.example.com"},
		"spec":{"group":"nowhere.example.com","version":"v1","groupPriorityMinimum":100,"versionPriority":10,
		"insecureSkipTLSVerify":true,"service":{"namespace":"default","name":"missing","port":443}}}`
	expect(t, s.post(t, "/apis/apiregistration.k8s.io/v1/apiservices", nowhere), http.StatusCreated, "")
	s.mustKubectl(t, "", "wait", "--for=condition=Available=False", "apiservice/v1.nowhere.example.com", "--timeout=30s")
	got := s.get(t, "/apis/apiregistration.k8s.io/v1/apiservices/v1.nowhere.example.com")
	if !strings.Contains(string(got.raw), `"reason":"ServiceNotFound"`) {
		t.Errorf("the condition: %s", got.raw)
	}
	r := s.get(t, "/apis/nowhere.example.com/v1/namespaces/default/things")
	expect(t, r, http.StatusServiceUnavailable, "ServiceUnavailable")
	if msg := str(r.obj, "message"); !strings.Contains(msg, "v1.nowhere.example.com") || !strings.Contains(msg, "not present") {
		t.Errorf("the 503 does not say why: %q", msg)
	}
	expect(t, s.get(t, "/readyz"), http.StatusOK, "")
	expect(t, s.get(t, "/api/v1/namespaces/default"), http.StatusOK, "")
	// kubectl still works, and says which group is missing.
	if out := s.mustKubectl(t, "", "get", "configmaps", "-n", "default", "-o", "name"); strings.Contains(out, "error") {
		t.Errorf("kubectl get configmaps: %q", out)
	}
	expect(t, s.do(t, http.MethodDelete, "/apis/apiregistration.k8s.io/v1/apiservices/v1.nowhere.example.com", "", nil), http.StatusOK, "")
	// The aggregator learns of the delete soon, not at once (as in Kubernetes).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := s.get(t, "/apis/nowhere.example.com/v1/namespaces/default/things")
		if r.code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the delete: HTTP %d %s", r.code, r.raw)
		}
	}
}

func checkBadAPIServices(t *testing.T, s *server) {
	tests := []struct{ name, body, field string }{
		{"name is not version.group", `{"metadata":{"name":"wrong"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":1,"versionPriority":1,"service":{"namespace":"default","name":"x"}}}`, "metadata.name"},
		{"priority zero", `{"metadata":{"name":"v1.bad.example.com"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":0,"versionPriority":1,"service":{"namespace":"default","name":"x"}}}`, "spec.groupPriorityMinimum"},
		{"caBundle and insecure", `{"metadata":{"name":"v1.bad.example.com"},"spec":{"group":"bad.example.com","version":"v1","groupPriorityMinimum":1,"versionPriority":1,"caBundle":"Zm9v","insecureSkipTLSVerify":true,"service":{"namespace":"default","name":"x"}}}`, "spec.insecureSkipTLSVerify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, "/apis/apiregistration.k8s.io/v1/apiservices", tt.body)
			expect(t, r, http.StatusUnprocessableEntity, "Invalid")
			if !strings.Contains(string(r.raw), `"field":"`+tt.field+`"`) {
				t.Errorf("no cause for %s: %s", tt.field, r.raw)
			}
		})
	}
}

func checkExtensionTrust(t *testing.T, s *server) {
	e := s.startExtension(t)
	caPEM, err := os.ReadFile(filepath.Join(e.dataDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	call := func(certFile, keyFile string) int {
		t.Helper()
		tlsConfig := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			tlsConfig.Certificates = []tls.Certificate{cert}
		}
		req, _ := http.NewRequest(http.MethodGet, e.url+notes, nil)
		req.Header.Set("X-Remote-User", "admin")
		req.Header.Set("X-Remote-Group", "system:masters")
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0 // the handshake refused the certificate
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call("", ""); code != http.StatusUnauthorized {
		t.Errorf("headers without a certificate: HTTP %d, want 401", code)
	}
	// The admin's certificate is signed by the cluster CA, not the front proxy's.
	if code := call(filepath.Join(s.dataDir, "admin.crt"), filepath.Join(s.dataDir, "admin.key")); code == http.StatusOK {
		t.Errorf("headers with a client certificate of another CA were believed")
	}
	if code := call(filepath.Join(s.dataDir, "front-proxy-client.crt"), filepath.Join(s.dataDir, "front-proxy-client.key")); code != http.StatusOK {
		t.Errorf("the front proxy's certificate: HTTP %d, want 200", code)
	}
}
