// The progressive spec. Every chapter is built, started on a free loopback
// port, and driven from the outside over HTTP (and with the real kubectl from
// chapter 02 on) through every check of the chapters up to it: chapter N must
// still do all that chapters 01..N-1 did. A check names the chapter that
// teaches it; adding a chapter adds its checks to the list below.
package chapters_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// check is one behaviour, taught by chapter and expected of every later one.
type check struct {
	chapter int
	name    string
	run     func(t *testing.T, s *server)
}

// checks lists every behaviour in the order chapters teach them.
func checks() []check {
	return slices.Concat(chapter01Checks(), chapter02Checks(), chapter03Checks(), chapter04Checks(), chapter05Checks(), chapter06Checks(), chapter07Checks(), chapter08Checks(), chapter09Checks())
}

func TestChapters(t *testing.T) {
	bin := t.TempDir()
	for _, n := range chapterNumbers(t) {
		dir := fmt.Sprintf("%02d", n)
		t.Run(dir, func(t *testing.T) {
			readSources(t, dir)
			exe := filepath.Join(bin, dir)
			build := exec.Command("go", "build", "-o", exe, "./"+dir)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building chapters/%s: %v\n%s", dir, err, out)
			}
			s := start(t, exe, n)
			for _, c := range checks() {
				if c.chapter <= n {
					t.Run(fmt.Sprintf("%02d/%s", c.chapter, c.name), func(t *testing.T) { c.run(t, s) })
				}
			}
		})
	}
}

// readSources reads every file of a chapter (and the module files). The
// chapter is built in a subprocess, which go test's cache cannot see; files
// the test itself reads are part of the cache key, so an edited chapter is
// tested again instead of replaying an old PASS.
func readSources(t *testing.T, dir string) {
	t.Helper()
	files := []string{"../go.mod", "../go.sum"}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
}

// chapterNumbers finds the chapter directories (01, 02, ...).
func chapterNumbers(t *testing.T) []int {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	if len(out) == 0 {
		t.Fatal("no chapter directories found")
	}
	return out
}

// server is a running chapter, as the checks see it.
type server struct {
	cmd        *exec.Cmd
	exe        string
	chapter    int
	url        string
	dataDir    string
	kubeconfig string
	caFile     string // the CA the kubeconfig trusts (chapters 03+)
	welcome    string // what the server printed at start-up
	client     *http.Client
}

var servingLine = regexp.MustCompile(`serving on (\S+)`)

// start runs a chapter binary on a free port with a fresh data directory, and
// waits for the line that names its URL. From chapter 03 on the server speaks
// HTTPS, and the checks call it as the admin of the kubeconfig it writes.
func start(t *testing.T, exe string, chapter int, extraArgs ...string) *server {
	t.Helper()
	dataDir := t.TempDir()
	for _, a := range extraArgs { // a restart on an existing data directory
		if dir, ok := strings.CutPrefix(a, "--data-dir="); ok {
			dataDir = dir
		}
	}
	port := "--port=0"
	if chapter >= 3 {
		port = "--secure-port=0"
	}
	args := append([]string{"--bind-address=127.0.0.1", port, "--data-dir=" + dataDir}, extraArgs...)
	cmd := exec.Command(exe, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	s := &server{cmd: cmd, exe: exe, chapter: chapter, dataDir: dataDir, client: &http.Client{Timeout: 10 * time.Second}}
	var welcome strings.Builder
	deadline := time.After(10 * time.Second)
	for s.url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("server exited before saying where it serves; stderr:\n%s", stderr.String())
			}
			welcome.WriteString(line + "\n")
			if m := servingLine.FindStringSubmatch(line); m != nil {
				s.url = m[1]
			}
		case <-deadline:
			t.Fatalf("server did not say where it serves within 10s; stdout so far:\n%s", welcome.String())
		}
	}
	// The rest of the welcome text follows at once; collect it until a pause.
	for collecting := true; collecting; {
		select {
		case line, ok := <-lines:
			if ok {
				welcome.WriteString(line + "\n")
			}
			collecting = ok
		case <-time.After(300 * time.Millisecond):
			collecting = false
		}
	}
	go func() { // keep draining so the server never blocks on a full pipe
		for range lines {
		}
	}()
	s.welcome = welcome.String()
	if chapter >= 2 {
		s.kubeconfig = filepath.Join(dataDir, "kubeconfig")
	}
	if chapter >= 3 {
		s.client = s.clientFor(t, s.kubeconfig)
	}
	return s
}

// clientFor builds an HTTPS client from a kubeconfig the chapter wrote:
// its CA, and the user's client certificate or bearer token.
func (s *server) clientFor(t *testing.T, kubeconfig string) *http.Client {
	t.Helper()
	data, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatalf("the chapter wrote no kubeconfig: %v", err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	s.caFile = fields["certificate-authority"]
	var certs []tls.Certificate
	if fields["client-certificate"] != "" {
		cert, err := tls.LoadX509KeyPair(fields["client-certificate"], fields["client-key"])
		if err != nil {
			t.Fatalf("kubeconfig client certificate: %v", err)
		}
		certs = append(certs, cert)
	}
	return s.httpsClient(t, fields["token"], certs...)
}

// httpsClient trusts the chapter's CA and presents a token, client
// certificates, or nothing at all (an anonymous client).
func (s *server) httpsClient(t *testing.T, token string, certs ...tls.Certificate) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(s.caFile)
	if err != nil {
		t.Fatalf("the chapter's CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the chapter's CA file holds no certificate")
	}
	var transport http.RoundTripper = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}
	if token != "" {
		transport = bearer{token, transport}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: transport}
}

// as returns a copy of the server handle whose requests use another client.
func (s *server) as(client *http.Client) *server {
	c := *s
	c.client = client
	return &c
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// kill stops the server the hard way (SIGKILL), as a crash would.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the server: %v", err)
	}
	_, _ = s.cmd.Process.Wait()
}

// response is what a request returned, with the body decoded when it is JSON.
type response struct {
	code   int
	header http.Header
	raw    []byte
	obj    map[string]any
}

// do sends a request; body may be nil, a []byte, a string or a value to marshal.
func (s *server) do(t *testing.T, method, path, contentType string, body any) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	out := response{code: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.obj)
	return out
}

func (s *server) get(t *testing.T, path string) response {
	t.Helper()
	return s.do(t, http.MethodGet, path, "", nil)
}

func (s *server) post(t *testing.T, path string, body any) response {
	t.Helper()
	return s.do(t, http.MethodPost, path, "application/json", body)
}

// expect fails the test unless the response has the code (and, for errors,
// is a metav1.Status with the reason).
func expect(t *testing.T, r response, code int, reason string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got HTTP %d, want %d; body: %s", r.code, code, r.raw)
	}
	if reason == "" {
		return
	}
	if r.obj["kind"] != "Status" || r.obj["apiVersion"] != "v1" || r.obj["status"] != "Failure" {
		t.Fatalf("error body is not a metav1.Status: %s", r.raw)
	}
	if r.obj["reason"] != reason || fmt.Sprint(r.obj["code"]) != strconv.Itoa(code) {
		t.Fatalf("Status reason %v code %v, want %s %d: %s", r.obj["reason"], r.obj["code"], reason, code, r.raw)
	}
	if msg, _ := r.obj["message"].(string); msg == "" {
		t.Fatalf("Status has no message: %s", r.raw)
	}
}

// field digs into decoded JSON: field(obj, "metadata", "name").
func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := field(v, path...).(string)
	return s
}

// names lists metadata.name of a list response's items.
func names(t *testing.T, r response) []string {
	t.Helper()
	items, ok := r.obj["items"].([]any)
	if !ok {
		t.Fatalf("list has no items array: %s", r.raw)
	}
	out := []string{}
	for _, it := range items {
		out = append(out, str(it, "metadata", "name"))
	}
	return out
}

// needKubectl finds kubectl; without it, a check fails under CI and skips elsewhere.
func needKubectl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is required under CI=true: %v", err)
		}
		t.Skipf("kubectl not found: %v", err)
	}
	return path
}

// kubectl runs the real kubectl against the server's admin kubeconfig.
func (s *server) kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(needKubectl(t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.dataDir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustKubectl runs kubectl and fails the check if it fails.
func (s *server) mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := s.kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
