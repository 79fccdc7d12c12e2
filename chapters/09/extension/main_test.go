package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testCA is a CA made for one test: the front-proxy CA, or a stranger's.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate with the common name cn.
func (ca *testCA) client(t *testing.T, cn string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// testServer is the program as main runs it, on a free port.
type testServer struct {
	url, dataDir, stdout string
	port                 int
	roots                *x509.CertPool // the server's own CA, from its data directory
}

func startServer(t *testing.T, frontProxy *testCA, dataDir string, args ...string) *testServer {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "front-proxy-ca.crt")
	if err := os.WriteFile(caFile, frontProxy.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags(append([]string{"--secure-port=0", "--data-dir=" + dataDir, "--requestheader-client-ca-file=" + caFile}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	srv, ln, err := start(o, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	srv.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected here
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	caPEM, err := os.ReadFile(filepath.Join(dataDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	port := ln.Addr().(*net.TCPAddr).Port
	return &testServer{url: fmt.Sprintf("https://127.0.0.1:%d", port), dataDir: dataDir, stdout: stdout.String(), port: port, roots: roots}
}

// call sends one request, presenting cert (nil: no certificate) whatever CA
// the server asks for, as a client trying its luck would. It returns the
// status code and the decoded JSON body.
func (s *testServer) call(t *testing.T, cert *tls.Certificate, header http.Header, method, path, body string) (int, map[string]any, error) {
	t.Helper()
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		}}}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil && resp.Header.Get("Content-Type") == "application/json" {
		t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, data)
	}
	return resp.StatusCode, out, nil
}

// as is the identity headers the main server sends for a user.
func as(user string, groups ...string) http.Header {
	return http.Header{"X-Remote-User": {user}, "X-Remote-Group": groups}
}

// wantStatus checks a metav1.Status answer.
func wantStatus(t *testing.T, what string, code int, body map[string]any, wantCode int, wantReason string) {
	t.Helper()
	if code != wantCode || body["kind"] != "Status" || body["apiVersion"] != "v1" || body["status"] != "Failure" ||
		body["reason"] != wantReason || body["code"] != float64(wantCode) {
		t.Errorf("%s: %d %v, want a %d %s Status", what, code, body, wantCode, wantReason)
	}
}

const notesPath = "/apis/notes.example.com/v1alpha1/namespaces/default/notes"

func noteBody(name, text, author string) string {
	return fmt.Sprintf(`{"apiVersion":"notes.example.com/v1alpha1","kind":"Note","metadata":{"name":%q},"spec":{"text":%q,"author":%q}}`, name, text, author)
}

func itemNames(t *testing.T, list map[string]any) []string {
	t.Helper()
	items, ok := list["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", list)
	}
	names := []string{}
	for _, item := range items {
		names = append(names, item.(map[string]any)["metadata"].(map[string]any)["name"].(string))
	}
	return names
}

// Identity headers are believed only over a front-proxy client certificate
// with an allowed name; anything else is unauthenticated, and creates nothing.
func TestIdentityNeedsTheFrontProxyCertificate(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir())
	proxy := frontProxy.client(t, "front-proxy-client")

	code, body, err := s.call(t, nil, as("alice", "system:masters"), "POST", notesPath, noteBody("forged", "hi", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "headers without a certificate", code, body, 401, "Unauthorized")
	if body["message"] != "Unauthorized" {
		t.Errorf("message %q, want the bare Unauthorized", body["message"])
	}

	code, body, err = s.call(t, newTestCA(t, "front-proxy-ca").client(t, "front-proxy-client"), as("alice"), "POST", notesPath, noteBody("stranger", "hi", ""))
	if err == nil && code != 401 {
		t.Errorf("a certificate from another CA: %d %v, want the handshake refused or 401", code, body)
	}

	code, body, err = s.call(t, frontProxy.client(t, "someone-else"), as("alice"), "POST", notesPath, noteBody("other-cn", "hi", ""))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "a CN not in --requestheader-allowed-names", code, body, 401, "Unauthorized")

	code, body, _ = s.call(t, proxy, http.Header{"X-Remote-Group": {"system:masters"}}, "GET", notesPath, "")
	wantStatus(t, "the front-proxy certificate without a user name", code, body, 401, "Unauthorized")

	// Discovery and health are open to any TLS client, certificate or not.
	for _, path := range []string{"/healthz", "/apis", "/apis/notes.example.com/v1alpha1"} {
		if code, _, err := s.call(t, nil, nil, "GET", path, ""); err != nil || code != 200 {
			t.Errorf("GET %s without a certificate: %d %v, want 200", path, code, err)
		}
	}

	code, list, _ := s.call(t, proxy, as("alice"), "GET", "/apis/notes.example.com/v1alpha1/notes", "")
	if names := itemNames(t, list); code != 200 || len(names) != 0 {
		t.Errorf("after the refused requests: %d, notes %v; want none created", code, names)
	}
}

// With --requestheader-allowed-names= empty, any CN the CA signed may assert.
func TestEmptyAllowedNamesAllowsAnyCN(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir(), "--requestheader-allowed-names=")
	code, body, err := s.call(t, frontProxy.client(t, "some-other-proxy"), as("alice"), "GET", notesPath, "")
	if err != nil || code != 200 || body["kind"] != "NoteList" {
		t.Errorf("any CN: %d %v %v, want a NoteList", code, body, err)
	}
}

// The server uses the identity it is given: the author is the caller,
// whatever the body says, and only the author or system:masters may delete.
func TestNotesUseTheCallersIdentity(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir())
	proxy := frontProxy.client(t, "front-proxy-client")

	code, created, err := s.call(t, proxy, as("alice", "dev"), "POST", notesPath, noteBody("hello", "hi there", "mallory"))
	if err != nil || code != 201 {
		t.Fatalf("create: %d %v %v", code, created, err)
	}
	meta := created["metadata"].(map[string]any)
	spec := created["spec"].(map[string]any)
	if spec["author"] != "alice" || spec["text"] != "hi there" {
		t.Errorf("spec = %v, want author alice (not mallory) and the text", spec)
	}
	if created["apiVersion"] != "notes.example.com/v1alpha1" || created["kind"] != "Note" || meta["name"] != "hello" || meta["namespace"] != "default" {
		t.Errorf("created = %v", created)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(fmt.Sprint(meta["uid"])) ||
		meta["resourceVersion"] != "1" {
		t.Errorf("metadata = %v, want a v4 uid and resourceVersion 1", meta)
	}
	if ts, err := time.Parse(time.RFC3339, fmt.Sprint(meta["creationTimestamp"])); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("creationTimestamp %v: %v", meta["creationTimestamp"], err)
	}

	// generateName, in another namespace, by bob; apiVersion and kind filled in.
	code, generated, _ := s.call(t, proxy, as("bob"), "POST", "/apis/notes.example.com/v1alpha1/namespaces/team/notes",
		`{"metadata":{"generateName":"memo-"},"spec":{"text":"from bob"}}`)
	genName, _ := generated["metadata"].(map[string]any)["name"].(string)
	if code != 201 || !regexp.MustCompile(`^memo-[a-z0-9]{5}$`).MatchString(genName) || generated["kind"] != "Note" ||
		generated["spec"].(map[string]any)["author"] != "bob" {
		t.Errorf("generateName: %d %v", code, generated)
	}

	code, body, _ := s.call(t, proxy, as("bob"), "POST", notesPath, noteBody("hello", "again", ""))
	wantStatus(t, "a second hello", code, body, 409, "AlreadyExists")
	if body["message"] != `notes.notes.example.com "hello" already exists` {
		t.Errorf("message %q", body["message"])
	}

	code, list, _ := s.call(t, proxy, as("bob"), "GET", notesPath, "")
	if names := itemNames(t, list); code != 200 || !reflect.DeepEqual(names, []string{"hello"}) || list["kind"] != "NoteList" ||
		list["apiVersion"] != "notes.example.com/v1alpha1" || list["metadata"].(map[string]any)["resourceVersion"] != "2" {
		t.Errorf("list default: %d %v", code, list)
	}
	code, list, _ = s.call(t, proxy, as("bob"), "GET", "/apis/notes.example.com/v1alpha1/notes", "")
	if names := itemNames(t, list); code != 200 || !reflect.DeepEqual(names, []string{"hello", genName}) {
		t.Errorf("list across namespaces: %d %v, want hello and %s", code, names, genName)
	}
	code, got, _ := s.call(t, proxy, as("bob"), "GET", notesPath+"/hello", "")
	if code != 200 || !reflect.DeepEqual(got, created) {
		t.Errorf("get: %d %v, want %v", code, got, created)
	}
	code, body, _ = s.call(t, proxy, as("bob"), "GET", notesPath+"/nope", "")
	wantStatus(t, "get a missing note", code, body, 404, "NotFound")

	code, body, _ = s.call(t, proxy, as("bob", "dev"), "DELETE", notesPath+"/hello", "")
	wantStatus(t, "bob deletes alice's note", code, body, 403, "Forbidden")
	if want := `notes.notes.example.com "hello" is forbidden: only its author (alice) or a member of system:masters may delete it`; body["message"] != want {
		t.Errorf("message %q, want %q", body["message"], want)
	}
	if code, _, _ := s.call(t, proxy, as("bob"), "GET", notesPath+"/hello", ""); code != 200 {
		t.Errorf("after the refused delete: %d, want the note still there", code)
	}

	// Groups come one per header value: a repeated header adds groups.
	admin := http.Header{"X-Remote-User": {"carol"}, "X-Remote-Group": {"dev", "system:masters"}}
	code, deleted, _ := s.call(t, proxy, admin, "DELETE", notesPath+"/hello", "")
	if code != 200 || deleted["metadata"].(map[string]any)["name"] != "hello" {
		t.Errorf("system:masters deletes: %d %v", code, deleted)
	}
	code, body, _ = s.call(t, proxy, admin, "DELETE", notesPath+"/hello", "")
	wantStatus(t, "delete again", code, body, 404, "NotFound")

	path := "/apis/notes.example.com/v1alpha1/namespaces/team/notes/" + genName
	if code, _, _ := s.call(t, proxy, as("bob"), "DELETE", path, ""); code != 200 {
		t.Errorf("bob deletes his own note: %d", code)
	}
}

// Discovery must be exactly what Kubernetes serves, or kubectl will not map
// "kubectl get notes" to the URL.
func TestDiscovery(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir())
	documents := map[string]string{
		"/apis": `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"notes.example.com",
			"versions":[{"groupVersion":"notes.example.com/v1alpha1","version":"v1alpha1"}],
			"preferredVersion":{"groupVersion":"notes.example.com/v1alpha1","version":"v1alpha1"}}]}`,
		"/apis/notes.example.com": `{"kind":"APIGroup","apiVersion":"v1","name":"notes.example.com",
			"versions":[{"groupVersion":"notes.example.com/v1alpha1","version":"v1alpha1"}],
			"preferredVersion":{"groupVersion":"notes.example.com/v1alpha1","version":"v1alpha1"}}`,
		"/apis/notes.example.com/v1alpha1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"notes.example.com/v1alpha1",
			"resources":[{"name":"notes","singularName":"note","namespaced":true,"kind":"Note",
			"verbs":["create","delete","get","list"],"shortNames":["nt"]}]}`,
		"/openapi/v3": `{"paths":{"apis/notes.example.com/v1alpha1":{"serverRelativeURL":"/openapi/v3/apis/notes.example.com/v1alpha1"}}}`,
		"/openapi/v3/apis/notes.example.com/v1alpha1": `{"openapi":"3.0.0","info":{"title":"notes","version":"v1alpha1"},"components":{},
			"paths":{"/apis/notes.example.com/v1alpha1/namespaces/{namespace}/notes/{name}":{"patch":{
			"x-kubernetes-group-version-kind":{"group":"notes.example.com","version":"v1alpha1","kind":"Note"},
			"parameters":[{"name":"fieldValidation","in":"query","schema":{"type":"string"}}]}}}}`,
	}
	for path, doc := range documents {
		var want map[string]any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		code, got, err := s.call(t, nil, nil, "GET", path, "")
		if err != nil || code != 200 || !reflect.DeepEqual(got, want) {
			t.Errorf("GET %s: %d %v %v\nwant %v", path, code, got, err, want)
		}
	}

	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}).Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}

	code, body, _ := s.call(t, nil, nil, "GET", "/apis/other.example.com/v1", "")
	wantStatus(t, "an unknown path", code, body, 404, "NotFound")
	code, body, _ = s.call(t, nil, nil, "POST", "/apis", "{}")
	wantStatus(t, "POST /apis", code, body, 405, "MethodNotAllowed")
}

// Bad requests get the Status kube-apiserver would send, and change nothing.
func TestBadRequests(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir())
	proxy := frontProxy.client(t, "front-proxy-client")
	tests := []struct {
		name, method, path, body string
		code                     int
		reason                   string
		causes                   []cause
	}{
		{"malformed JSON", "POST", notesPath, `{"spec":`, 400, "BadRequest", nil},
		{"text of the wrong type", "POST", notesPath, `{"metadata":{"name":"a"},"spec":{"text":7}}`, 400, "BadRequest", nil},
		{"wrong kind", "POST", notesPath, `{"kind":"Pod","metadata":{"name":"a"},"spec":{"text":"x"}}`, 400, "BadRequest", nil},
		{"wrong apiVersion", "POST", notesPath, `{"apiVersion":"v1","metadata":{"name":"a"},"spec":{"text":"x"}}`, 400, "BadRequest", nil},
		{"another namespace in the body", "POST", notesPath, `{"metadata":{"name":"a","namespace":"kube-system"},"spec":{"text":"x"}}`, 400, "BadRequest", nil},
		{"no text", "POST", notesPath, `{"metadata":{"name":"a"},"spec":{}}`, 422, "Invalid",
			[]cause{{"FieldValueRequired", "Required value", "spec.text"}}},
		{"no name, bad namespace, no text", "POST", "/apis/notes.example.com/v1alpha1/namespaces/Bad_NS/notes", `{"spec":{"text":""}}`, 422, "Invalid",
			[]cause{{"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"},
				{"FieldValueInvalid", `Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')`, "metadata.namespace"},
				{"FieldValueRequired", "Required value", "spec.text"}}},
		{"a name that is no DNS subdomain", "POST", notesPath, `{"metadata":{"name":"Hello_World"},"spec":{"text":"x"}}`, 422, "Invalid",
			[]cause{{"FieldValueInvalid", `Invalid value: "Hello_World": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`, "metadata.name"}}},
		{"over 3 MiB", "POST", notesPath, `{"metadata":{"name":"big"},"spec":{"text":"` + strings.Repeat("x", 3<<20) + `"}}`, 413, "RequestEntityTooLarge", nil},
		{"PUT", "PUT", notesPath + "/a", noteBody("a", "x", ""), 405, "MethodNotAllowed", nil},
		{"watch", "GET", notesPath + "?watch=true", "", 405, "MethodNotAllowed", nil},
		{"dry run", "POST", notesPath + "?dryRun=All", noteBody("a", "x", ""), 400, "BadRequest", nil},
		{"label selector", "GET", notesPath + "?labelSelector=app%3Dx", "", 400, "BadRequest", nil},
		{"get across namespaces", "GET", "/apis/notes.example.com/v1alpha1/notes/a", "", 404, "NotFound", nil},
	}
	for _, tt := range tests {
		code, body, err := s.call(t, proxy, as("alice"), tt.method, tt.path, tt.body)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		wantStatus(t, tt.name, code, body, tt.code, tt.reason)
		if tt.causes == nil {
			continue
		}
		var details struct {
			Name, Group, Kind string
			Causes            []cause
		}
		data, _ := json.Marshal(body["details"])
		if err := json.Unmarshal(data, &details); err != nil || details.Group != "notes.example.com" || details.Kind != "Note" ||
			!reflect.DeepEqual(details.Causes, tt.causes) {
			t.Errorf("%s: details %s, want causes %v", tt.name, data, tt.causes)
		}
	}
	code, list, _ := s.call(t, proxy, as("alice"), "GET", "/apis/notes.example.com/v1alpha1/notes", "")
	if names := itemNames(t, list); code != 200 || len(names) != 0 || list["metadata"].(map[string]any)["resourceVersion"] != "0" {
		t.Errorf("after the bad requests: %v, want no notes and resourceVersion 0", list)
	}
}

// The first line is what scripts and tests read; register.yaml points the
// main server here, with a caBundle that verifies this server for the
// Service's DNS name.
func TestStartPrintsAndRegisters(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, frontProxy, dataDir)

	lines := strings.Split(s.stdout, "\n")
	if want := fmt.Sprintf("notes extension serving on https://127.0.0.1:%d", s.port); lines[0] != want || lines[1] != "" {
		t.Errorf("stdout begins %q, %q; want %q and a blank line", lines[0], lines[1], want)
	}
	registration := filepath.Join(dataDir, "register.yaml")
	for _, want := range []string{"kubectl apply -f " + registration + "\n", "kubectl get apiservices\n",
		"kubectl get --raw /apis/notes.example.com/v1alpha1\n", "| kubectl create -f -\n", "kubectl get notes\n"} {
		if !strings.Contains(s.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, s.stdout)
		}
	}

	caPEM, err := os.ReadFile(filepath.Join(dataDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(registration)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: notes-api
  namespace: default
spec:
  ports:
  - name: https
    port: 443
    targetPort: %[1]d
---
apiVersion: v1
kind: Endpoints
metadata:
  name: notes-api
  namespace: default
subsets:
- addresses:
  - ip: "127.0.0.1"
  ports:
  - name: https
    port: %[1]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.notes.example.com
spec:
  group: notes.example.com
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service:
    namespace: default
    name: notes-api
    port: 443
  caBundle: %[2]s
`, s.port, base64.StdEncoding.EncodeToString(caPEM))
	if string(data) != want {
		t.Errorf("register.yaml =\n%s\nwant\n%s", data, want)
	}

	// The main server dials the endpoint and checks the certificate against
	// the caBundle for notes-api.default.svc. Do the same.
	bundle := regexp.MustCompile(`(?m)^  caBundle: (.*)$`).FindStringSubmatch(string(data))
	decoded, err := base64.StdEncoding.DecodeString(bundle[1])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(decoded) {
		t.Fatal("the caBundle holds no PEM certificate")
	}
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), &tls.Config{RootCAs: pool, ServerName: "notes-api.default.svc"})
	if err != nil {
		t.Fatalf("TLS to the endpoint as the aggregator checks it: %v", err)
	}
	conn.Close()
}

// A restart reuses the CA and serving certificate, so a registration stays
// good; a new CA gets a new serving certificate.
func TestCertificatesAreReused(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	dataDir := t.TempDir()
	startServer(t, frontProxy, dataDir)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	ca, serving := read("ca.crt"), read("serving.crt")

	startServer(t, frontProxy, dataDir)
	if read("ca.crt") != ca || read("serving.crt") != serving {
		t.Error("a restart made new certificates")
	}

	os.Remove(filepath.Join(dataDir, "ca.crt"))
	os.Remove(filepath.Join(dataDir, "ca.key"))
	s := startServer(t, frontProxy, dataDir) // its client trusts the new CA only
	if read("ca.crt") == ca || read("serving.crt") == serving {
		t.Error("a new CA kept the old serving certificate")
	}
	if code, _, err := s.call(t, nil, nil, "GET", "/healthz", ""); err != nil || code != 200 {
		t.Errorf("with the new CA: %d %v", code, err)
	}
}

// The headers are read as k8s.io/apiserver reads them.
func TestRequestHeaderAuthenticator(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	pool := x509.NewCertPool()
	pool.AddCert(frontProxy.cert)
	a := &requestHeaderAuthenticator{clientCA: pool, allowedNames: []string{"front-proxy-client"},
		usernameHeaders: []string{"X-Remote-User", "X-User"}, groupHeaders: []string{"X-Remote-Group", "X-Group"},
		extraPrefixes: []string{"X-Remote-Extra-"}}
	request := func(cert *tls.Certificate, header http.Header) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header = header
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
		return r
	}
	proxy := frontProxy.client(t, "front-proxy-client")

	user, err := a.authenticate(request(proxy, http.Header{
		"X-Remote-User":                    {""},
		"X-User":                           {"alice", "ignored"},
		"X-Remote-Group":                   {"a,b", "", "c"},
		"X-Group":                          {"d"},
		"X-Remote-Extra-Scopes":            {"view", "edit"},
		"X-Remote-Extra-Example.com%2fkey": {"v"},
		"X-Remote-Extra-Bad%zz":            {"kept"},
	}))
	want := &userInfo{Name: "alice", Groups: []string{"a,b", "c", "d"},
		Extra: map[string][]string{"scopes": {"view", "edit"}, "example.com/key": {"v"}, "bad%zz": {"kept"}}}
	if err != nil || !reflect.DeepEqual(user, want) {
		t.Errorf("user = %+v, %v; want %+v", user, err, want)
	}

	if _, err := a.authenticate(request(frontProxy.client(t, "kube-apiserver"), as("alice"))); err == nil || !strings.Contains(err.Error(), "not in the allowed list") {
		t.Errorf("a CN not allowed: %v", err)
	}
	if _, err := a.authenticate(request(newTestCA(t, "other").client(t, "front-proxy-client"), as("alice"))); err == nil {
		t.Error("a certificate from another CA was believed")
	}
	noCert := httptest.NewRequest("GET", "/", nil)
	noCert.Header = as("alice", "system:masters")
	if user, err := a.authenticate(noCert); user != nil || err == nil {
		t.Errorf("headers without a certificate: %v %v", user, err)
	}
}

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"--secure-port=9443"}, &stderr); err == nil || !strings.Contains(stderr.String(), "--requestheader-client-ca-file is required") {
		t.Errorf("without the CA: %v, stderr %q", err, stderr.String())
	}
	stderr.Reset()
	if _, err := parseFlags([]string{"--requestheader-client-ca-file=ca.crt", "--port=1"}, &stderr); err == nil || !strings.Contains(stderr.String(), "flag provided but not defined: -port") {
		t.Errorf("an unknown flag: %v, stderr %q", err, stderr.String())
	}
	o, err := parseFlags([]string{"--requestheader-client-ca-file=ca.crt"}, io.Discard)
	want := &options{bindAddress: "127.0.0.1", securePort: 8443, dataDir: "data/09-extension", clientCAFile: "ca.crt",
		allowedNames: "front-proxy-client", usernameHeaders: "X-Remote-User", groupHeaders: "X-Remote-Group", extraHeadersPrefix: "X-Remote-Extra-"}
	if err != nil || !reflect.DeepEqual(o, want) {
		t.Errorf("defaults = %+v, %v; want %+v", o, err, want)
	}
}

// fieldValidation=Strict (kubectl's default) refuses unknown fields; without
// it they are dropped.
func TestStrictFieldValidation(t *testing.T) {
	frontProxy := newTestCA(t, "front-proxy-ca")
	s := startServer(t, frontProxy, t.TempDir())
	proxy := frontProxy.client(t, "front-proxy-client")
	body := `{"metadata":{"name":"typo"},"spec":{"text":"hi","txet":"oops"}}`
	code, got, err := s.call(t, proxy, as("alice"), "POST", notesPath+"?fieldValidation=Strict", body)
	if err != nil || code != 400 || !strings.Contains(fmt.Sprint(got["message"]), `strict decoding error: unknown field "txet"`) {
		t.Fatalf("Strict: %d %v %v", code, got, err)
	}
	code, got, err = s.call(t, proxy, as("alice"), "POST", notesPath, body)
	if err != nil || code != 201 {
		t.Fatalf("without Strict: %d %v %v", code, got, err)
	}
	if _, kept := got["spec"].(map[string]any)["txet"]; kept {
		t.Errorf("the unknown field was kept: %v", got)
	}
}
