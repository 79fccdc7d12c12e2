package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// proxyBackend is a Service's backend on loopback: it records what reached
// it and answers by path.
type proxyBackend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request // with their bodies read into body
	body []string
}

func startProxyBackend(t *testing.T) *proxyBackend {
	b := &proxyBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen, b.body = append(b.seen, r), append(b.body, string(body))
		b.mu.Unlock()
		switch r.URL.Path {
		case "/login":
			http.Redirect(w, r, "/login/form?next=%2F", http.StatusFound) // to itself, by an absolute path
		case "/away":
			w.Header().Set("Location", "https://example.com/elsewhere")
			w.WriteHeader(http.StatusFound)
		case "/cors":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			fmt.Fprint(w, "cors")
		case "/echo":
			if r.Header.Get("Upgrade") != "echo" {
				http.Error(w, "upgrade required", http.StatusUpgradeRequired)
				return
			}
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			rw.Flush()
			line, _ := rw.ReadString('\n')
			rw.WriteString("echo: " + line)
			rw.Flush()
		default:
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
		}
	}))
	t.Cleanup(b.Close)
	return b
}

// last is the last request the backend got, and its body.
func (b *proxyBackend) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("nothing reached the backend")
	}
	return b.seen[len(b.seen)-1], b.body[len(b.body)-1]
}

// The services/proxy subresource: a request reaches the Service's endpoint
// on loopback with its path, query and body, without the caller's
// credentials or hop-by-hop headers; authorization is on services/proxy
// with the method's verb; redirects stay below the proxy; errors are
// Kubernetes'; an Upgrade is passed through.
func TestServiceProxy(t *testing.T) {
	ts := startServer(t)
	backend := startProxyBackend(t)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/services", "application/json",
		`{"metadata":{"name":"ui"},"spec":{"ports":[{"name":"http","port":80,"targetPort":`+port+`}]}}`), 201, "")
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/endpoints", "application/json",
		`{"metadata":{"name":"ui"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"http","port":`+port+`}]}]}`), 201, "")
	const base = "/api/v1/namespaces/default/services/"

	// bob may get (GET, HEAD) services/proxy, nothing else.
	expect(t, ts.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", "application/json",
		`{"metadata":{"name":"proxy-get"},"rules":[{"apiGroups":[""],"resources":["services/proxy"],"verbs":["get"]}]}`), 201, "")
	expect(t, ts.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", "application/json",
		`{"metadata":{"name":"bob-proxy-get"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"proxy-get"},
		  "subjects":[{"kind":"User","name":"bob","apiGroup":"rbac.authorization.k8s.io"}]}`), 201, "")
	bob := ts.as(t, "bob")
	r := bob.do(t, "GET", base+"ui:80/proxy/hello/world?a=1&b=2", "", http.Header{
		"Connection":          {"X-Hop"},
		"X-Hop":               {"dropped: Connection names it"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic c2VjcmV0"},
		"Te":                  {"deflate, trailers"},
		"X-Remote-User":       {"system:admin"},
		"X-Kept":              {"yes"},
	})
	if r.code != 200 || r.raw != "GET /hello/world?a=1&b=2" {
		t.Fatalf("GET through the proxy: %d %s", r.code, r.raw)
	}
	seen, _ := backend.last(t)
	for _, h := range []string{"Authorization", "X-Hop", "Keep-Alive", "Proxy-Authorization", "X-Remote-User", "Connection"} {
		if v := seen.Header.Get(h); v != "" {
			t.Errorf("the backend got %s: %s", h, v)
		}
	}
	// TE is the proxy's own: it passes trailers through, and says only that.
	if seen.Header.Get("X-Kept") != "yes" || seen.Header.Get("Te") != "trailers" || seen.Header.Get("X-Forwarded-Uri") != base+"ui:80/proxy/hello/world" {
		t.Errorf("the backend got %v", seen.Header)
	}
	r = bob.do(t, "POST", base+"ui:http/proxy/form", "a=1", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	expect(t, r, 403, "Forbidden")
	if msg := fmt.Sprint(r.obj["message"]); msg != `services "ui:http" is forbidden: User "bob" cannot create resource "services/proxy" in API group "" in the namespace "default"` {
		t.Errorf("forbidden: %s", msg)
	}
	expect(t, ts.as(t, "alice").do(t, "GET", base+"ui/proxy/", "", nil), 403, "Forbidden")

	// The admin may do anything: a POST goes through with its body.
	r = ts.do(t, "POST", base+"http:ui:http/proxy/form", "text/plain", "payload")
	if _, body := backend.last(t); r.code != 200 || r.raw != "POST /form" || body != "payload" {
		t.Errorf("POST: %d %s, the backend read %q", r.code, r.raw, body)
	}

	// Redirects to the backend itself stay below the proxy; others do not.
	noFollow := *ts.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for path, want := range map[string]string{
		base + "ui:80/proxy/login": base + "ui:80/proxy/login/form?next=%2F",
		base + "ui:80/proxy/away":  "https://example.com/elsewhere",
		base + "ui:80/proxy":       base + "ui:80/proxy/", // a page's relative links need the slash
	} {
		resp, err := noFollow.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d to %q, want %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	resp, err := ts.client.Get(ts.url + base + "ui:80/proxy/cors")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("the backend's CORS header reached the client: %q", v)
	}

	// Errors, as Kubernetes words them.
	for _, tc := range []struct {
		method, path string
		code         int
		reason, msg  string
	}{
		{"GET", base + "nope:80/proxy/", 404, "NotFound", `services "nope" not found`},
		{"GET", base + "nope/proxy/", 503, "ServiceUnavailable", `no endpoints available for service "nope"`},
		{"GET", base + "ui:81/proxy/", 503, "ServiceUnavailable", `no service port 81 found for service "ui"`},
		{"GET", base + "ui:https/proxy/", 503, "ServiceUnavailable", `no endpoints available for service "ui"`},
		{"GET", base + "ftp:ui:80/proxy/", 400, "BadRequest", `invalid service request "ftp:ui:80"`},
		{"GET", base + "a:b:c:d/proxy/", 400, "BadRequest", `invalid service request "a:b:c:d"`},
		{"PROPFIND", base + "ui:80/proxy/", 405, "MethodNotAllowed", "the server does not allow this method on the requested resource"},
	} {
		r := ts.do(t, tc.method, tc.path, "", "")
		if r.code != tc.code || r.obj["reason"] != tc.reason || r.obj["message"] != tc.msg {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.code, r.raw)
		}
	}

	// An Upgrade goes through, and the connections are joined.
	upgradeThroughProxy(t, ts, base+"ui:80/proxy/echo")

	// A backend that does not answer is a 503 too.
	backend.Close()
	r = ts.do(t, "GET", base+"ui:80/proxy/", "", "")
	if r.code != 503 || !strings.HasPrefix(fmt.Sprint(r.obj["message"]), "error trying to reach service: ") {
		t.Errorf("backend down: %d %s", r.code, r.raw)
	}
}

// upgradeThroughProxy sends an HTTP/1.1 Upgrade over a TLS connection of
// the admin's, and talks the upgraded protocol.
func upgradeThroughProxy(t *testing.T, ts *testServer, path string) {
	t.Helper()
	config := ts.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(ts.url, "https://"), config)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: final\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", path)
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	fmt.Fprint(conn, "ping\n")
	if line, err := rd.ReadString('\n'); err != nil || line != "echo: ping\n" {
		t.Errorf("after the upgrade: %q %v", line, err)
	}
}

// kubectl get --raw reaches a Service's backend through the proxy, by
// port number and by port name.
func TestKubectlServiceProxy(t *testing.T) {
	kubectl := requireKubectl(t)
	ts := startServer(t)
	backend := startProxyBackend(t)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	k := &seedKubectl{t: t, kubectl: kubectl, ts: ts}
	manifest := filepath.Join(t.TempDir(), "ui.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Service
metadata: {name: ui}
spec:
  ports: [{name: http, port: 80, targetPort: `+port+`}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ui}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: `+port+`}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	k.must("apply", "-f", manifest)
	for _, id := range []string{"ui:80", "ui:http", "http:ui:http"} {
		if out := k.must("get", "--raw", "/api/v1/namespaces/default/services/"+id+"/proxy/index.html?x=1"); out != "GET /index.html?x=1" {
			t.Errorf("%s: %q", id, out)
		}
	}
	if _, stderr, code := k.run("", "get", "--raw", "/api/v1/namespaces/default/services/ui:81/proxy/"); code == 0 ||
		!strings.Contains(stderr, `Error from server (ServiceUnavailable): no service port 81 found for service "ui"`) {
		t.Errorf("ui:81: exit %d: %s", code, stderr)
	}
}
