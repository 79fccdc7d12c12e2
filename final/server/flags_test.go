package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

// Flags refused at start-up, in kube-apiserver's words.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Removed from kube-apiserver (1.24): v1.37 knows them no more
		// than any other unknown flag.
		{[]string{"--insecure-port=8080"}, "unknown flag: --insecure-port"},
		{[]string{"--insecure-bind-address", "0.0.0.0"}, "unknown flag: --insecure-bind-address"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"--feature-gates=Foo=true"}, "--feature-gates: unrecognized feature gate: Foo"},
		{[]string{"--feature-gates=AllAlpha=true,WatchList"}, "--feature-gates: missing bool value for WatchList"},
		{[]string{"--feature-gates=WatchList=false", "--feature-gates=kube:RemoteRequestHeaderUID=false"},
			"--feature-gates: set kube feature gates with default empty prefix or kube: prefix consistently, do not mix use"},
		{[]string{"--tls-min-version=VersionTLS14"}, `--tls-min-version: unknown tls version "VersionTLS14"`},
		{[]string{"--tls-cipher-suites=TLS_AES_128_GCM_SHA256,FOO"}, "--tls-cipher-suites: Cipher suite FOO not supported or doesn't exist"},
		{[]string{"--cors-allowed-origins=example.com"}, `--cors-allowed-origins has an invalid regular expression: example.com: regular expression does not pin to start/end of host in the origin header (pin it with ^ or //, and $ or :, as in //example\.com(:|$))`},
		{[]string{"--oidc-groups-claim=groups"}, "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set"},
		{[]string{"--oidc-issuer-url=https://idp.example"}, "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set"},
		{[]string{"--oidc-issuer-url=http://idp.example", "--oidc-client-id=k"}, `--oidc-issuer-url "http://idp.example": must be an https URL`},
		{[]string{"--oidc-issuer-url=https://idp.example", "--oidc-client-id=k", "--oidc-signing-algs=RS256,HS256"}, `--oidc-signing-algs: oidc: unsupported signing alg: "HS256"`},
		{[]string{"--authentication-token-webhook-version=v1beta1"}, "--authentication-token-webhook-version=v1beta1: only v1 is implemented"},
		{[]string{"--authorization-mode=RBAC,Webhook"}, "authorization-mode Webhook's authorization config file not passed"},
		{[]string{"--authorization-webhook-config-file=x"}, "cannot specify --authorization-webhook-config-file without mode Webhook"},
	} {
		var usage strings.Builder
		_, err := ParseOptions(tc.args, &usage)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
		if usage.Len() > 0 {
			t.Errorf("%v: the usage was printed", tc.args)
		}
	}
	o, err := ParseOptions([]string{"--feature-gates=AllAlpha=false", "--watch-cache=true", "--etcd-count-metric-poll-period=1m",
		"--tls-min-version=VersionTLS13", "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_RSA_WITH_RC4_128_SHA"}, io.Discard)
	if err != nil || !o.WatchCache || o.EtcdCountMetricPollPeriod != time.Minute || len(o.TLSCipherSuites) != 2 {
		t.Errorf("%+v, %v", o, err)
	}
	// The OIDC and webhook flags' defaults are kube-apiserver's.
	o, err = ParseOptions([]string{"--oidc-issuer-url=https://idp.example", "--oidc-client-id=k", "--oidc-required-claim=hd=example.com",
		"--oidc-required-claim=tier=a=b"}, io.Discard)
	if err != nil || o.OIDCUsernameClaim != "sub" || strings.Join(o.OIDCSigningAlgs, ",") != "RS256" || o.OIDCRequiredClaims["hd"] != "example.com" ||
		o.OIDCRequiredClaims["tier"] != "a=b" || o.AuthenticationTokenWebhookCacheTTL != 2*time.Minute ||
		o.AuthorizationWebhookCacheAuthorizedTTL != 5*time.Minute || o.AuthorizationWebhookCacheUnauthorizedTTL != 30*time.Second {
		t.Errorf("OIDC and webhook defaults: %+v, %v", o, err)
	}
}

// watchLines reads a watch to its end (timeoutSeconds) as "TYPE name" lines,
// a bookmark as "BOOKMARK initial-events-end" when it says so.
func watchLines(t *testing.T, ts *testServer, path string) ([]string, response) {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		r := response{code: resp.StatusCode, raw: string(raw)}
		_ = json.Unmarshal(raw, &r.obj)
		return nil, r
	}
	var lines []string
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		var ev struct {
			Type   string         `json:"type"`
			Object map[string]any `json:"object"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &ev); err != nil {
			t.Fatalf("%s: %v", scanner.Text(), err)
		}
		name, _ := field(ev.Object, "metadata", "name").(string)
		if ev.Type == "BOOKMARK" && field(ev.Object, "metadata", "annotations", "k8s.io/initial-events-end") == "true" {
			name = "initial-events-end"
		}
		lines = append(lines, ev.Type+" "+name)
	}
	return lines, response{code: resp.StatusCode}
}

// The WatchList gate: on (1.37's default), a watch from "" or "0" is a
// watch list, its initial events closed by a bookmark, and sendInitialEvents
// is accepted; off, the bookmark is not sent and sendInitialEvents is 422.
func TestWatchListFeatureGate(t *testing.T) {
	const cms = "/api/v1/namespaces/wl/configmaps"
	legacy := cms + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
	watchList := cms + "?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
	for _, tc := range []struct {
		flags []string
		on    bool
	}{{nil, true}, {[]string{"--feature-gates=WatchList=false"}, false}, {[]string{"--feature-gates=AllBeta=false"}, false}} {
		t.Run(strings.Join(append([]string{"gates"}, tc.flags...), " "), func(t *testing.T) {
			ts := startServer(t, tc.flags...)
			expect(t, ts.do(t, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"wl"}}`), 201, "")
			expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"one"}}`), 201, "")
			want := "ADDED " + strings.Join(itemNames(t, ts.do(t, "GET", cms, "", "")), ",ADDED ")
			if tc.on {
				want += ",BOOKMARK initial-events-end"
			}
			for _, rv := range []string{"", "&resourceVersion=0"} {
				if got, _ := watchLines(t, ts, legacy+rv); strings.Join(got, ",") != want {
					t.Errorf("watch%s: %v, want %s", rv, got, want)
				}
			}
			got, refused := watchLines(t, ts, watchList)
			if tc.on {
				if strings.Join(got, ",") != want {
					t.Errorf("sendInitialEvents: %v, want %s (%s)", got, want, refused.raw)
				}
				return
			}
			expect(t, refused, 422, "Invalid")
			if msg := refused.obj["message"]; msg != `ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled` {
				t.Errorf("message %q", msg)
			}
		})
	}
}

// The RemoteRequestHeaderUID gate: on (1.37's default), an extension server
// learns the user's UID in X-Remote-Uid; off, it does not.
func TestRemoteRequestHeaderUIDFeatureGate(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte(`carol-token,carol,uid-carol,"system:masters"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		want  []string
	}{{nil, []string{"uid-carol"}}, {[]string{"--feature-gates=RemoteRequestHeaderUID=false"}, nil}} {
		seen := make(chan []string, 1)
		ext := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/apis/uid.example.com/v1" { // discovery: the availability check
				_, _ = w.Write([]byte(`{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"uid.example.com/v1","resources":[]}`))
				return
			}
			if r.Header.Get("X-Remote-User") == "carol" {
				seen <- r.Header.Values("X-Remote-Uid")
			}
			_, _ = w.Write([]byte(`{}`))
		}))
		defer ext.Close()
		port := ext.Listener.Addr().(*net.TCPAddr).Port
		ts := startServer(t, append(tc.flags, "--token-auth-file="+tokens)...)
		expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/services", "application/json",
			fmt.Sprintf(`{"metadata":{"name":"uid-api"},"spec":{"ports":[{"port":443,"targetPort":%d}]}}`, port)), 201, "")
		expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/endpoints", "application/json",
			fmt.Sprintf(`{"metadata":{"name":"uid-api"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"port":%d}]}]}`, port)), 201, "")
		expect(t, ts.do(t, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", "application/json",
			`{"metadata":{"name":"v1.uid.example.com"},"spec":{"group":"uid.example.com","version":"v1","groupPriorityMinimum":1000,
			"versionPriority":15,"service":{"namespace":"default","name":"uid-api","port":443},"insecureSkipTLSVerify":true}}`), 201, "")
		waitForAvailable(t, ts, "v1.uid.example.com", "True")
		carol := &tokenUser{ts: ts, token: "carol-token", client: tlsClient(t, ts.dir, nil)}
		expect(t, carol.do(t, "GET", "/apis/uid.example.com/v1/namespaces/default/things", "", nil), 200, "")
		select {
		case got := <-seen:
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%v: X-Remote-Uid %q, want %q", tc.flags, got, tc.want)
			}
		default:
			t.Errorf("%v: the extension did not see carol's request", tc.flags)
		}
		ts.stop()
	}
}

// metricValue is the value of one series of /metrics, or "" if absent.
func metricValue(t *testing.T, ts *testServer, series string) string {
	t.Helper()
	r := ts.do(t, "GET", "/metrics", "", "")
	expect(t, r, 200, "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(r.raw)
	if m == nil {
		return ""
	}
	return m[1]
}

// --watch-cache: on, resourceVersion=0 lists come from the cache, whole
// (limit does not apply, as in kube-apiserver), and so do the initial events
// of a watch from "0"; off, they come from the storage, in pages. The list
// counter says where each list was served from.
func TestWatchCache(t *testing.T) {
	const cms = "/api/v1/namespaces/cache/configmaps"
	seriesOf := func(storage string) string {
		return `apiserver_storage_list_total{group="",index="",resource="configmaps",storage="` + storage + `"}`
	}
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("--watch-cache=%t", on), func(t *testing.T) {
			ts := startServer(t, fmt.Sprintf("--watch-cache=%t", on))
			expect(t, ts.do(t, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"cache"}}`), 201, "")
			for _, name := range []string{"a", "b", "c"} {
				expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"`+name+`"}}`), 201, "")
			}
			want := len(itemNames(t, ts.do(t, "GET", cms, "", ""))) // with the namespace's kube-root-ca.crt, if any
			if want < 3 {
				t.Fatalf("the list has %d items", want)
			}
			cachedBefore, storageBefore := metricValue(t, ts, seriesOf("watchcache")), metricValue(t, ts, seriesOf("etcd"))
			var page response
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				// The cache may be a moment behind the storage: resourceVersion "0" allows it.
				page = ts.do(t, "GET", cms+"?resourceVersion=0&limit=2", "", "")
				expect(t, page, 200, "")
				if n := len(itemNames(t, page)); !on || n == want || time.Now().After(deadline) {
					break
				}
			}
			cont, _ := field(page.obj, "metadata", "continue").(string)
			if on && (len(itemNames(t, page)) != want || cont != "") {
				t.Errorf("from the cache: %v, continue %q; want all %d, no continue", itemNames(t, page), cont, want)
			}
			if !on && (len(itemNames(t, page)) != 2 || cont == "") {
				t.Errorf("from the storage: %v, continue %q; want a page of 2", itemNames(t, page), cont)
			}
			cached, fromStorage := metricValue(t, ts, seriesOf("watchcache")), metricValue(t, ts, seriesOf("etcd"))
			if on && (cached == "" || cached == cachedBefore || fromStorage != storageBefore) {
				t.Errorf("watch cache lists %q -> %q, storage lists %q -> %q", cachedBefore, cached, storageBefore, fromStorage)
			}
			if !on && (cached != "" || fromStorage == storageBefore) {
				t.Errorf("watch cache lists %q, storage lists %q -> %q", cached, storageBefore, fromStorage)
			}
			// Watches work either way: the state, then the changes.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			events := ts.watch(t, ctx, cms+"?watch=true&resourceVersion=0")
			seen := map[string]bool{}
			for range want {
				typ, obj := next(t, events)
				seen[typ+" "+field(obj, "metadata", "name").(string)] = true
			}
			expect(t, ts.do(t, "DELETE", cms+"/a", "", ""), 200, "")
			if typ, obj := next(t, events); typ != "DELETED" || field(obj, "metadata", "name") != "a" || !seen["ADDED c"] {
				t.Errorf("the watch: %v, then %s %v", seen, typ, obj)
			}
		})
	}
}

// --etcd-compaction-interval compacts on both backends: two ticks after a
// write, the revisions before it answer 410 Expired; with 0, never.
func TestCompactionInterval(t *testing.T) {
	backends := map[string][]string{"sqlite": nil}
	if etcdEndpoint != "" {
		backends["etcd"] = []string{"--etcd-servers=" + etcdEndpoint, "--etcd-prefix=/compaction-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/registry"}
	} else {
		storagetest.RequireEtcd(t, etcdEndpoint) // skips, or fails under CI
	}
	const cms = "/api/v1/namespaces/default/configmaps"
	for name, flags := range backends {
		t.Run(name, func(t *testing.T) {
			// rvs writes a configmap twice: the revision of the first write.
			rvs := func(ts *testServer, name string) string {
				created := ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"`+name+`"},"data":{"v":"1"}}`)
				expect(t, created, 201, "")
				expect(t, ts.do(t, "PUT", cms+"/"+name, "application/json", `{"metadata":{"name":"`+name+`"},"data":{"v":"2"}}`), 200, "")
				return field(created.obj, "metadata", "resourceVersion").(string)
			}
			exact := func(rv string) string { return cms + "?resourceVersion=" + rv + "&resourceVersionMatch=Exact" }

			never := startServer(t, append(flags, "--etcd-compaction-interval=0")...)
			old := rvs(never, "kept")
			expect(t, never.do(t, "GET", exact(old), "", ""), 200, "")
			never.stop()

			ts := startServer(t, append(flags, "--etcd-compaction-interval=200ms")...)
			old = rvs(ts, "old")
			var r response
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if r = ts.do(t, "GET", exact(old), "", ""); r.code != 200 {
					break
				}
			}
			expect(t, r, 410, "Expired")
			if want := "too old resource version: " + old; r.obj["message"] != want {
				t.Errorf("message %q, want %q", r.obj["message"], want)
			}
			if r := ts.do(t, "GET", cms+"/old", "", ""); field(r.obj, "data", "v") != "2" {
				t.Errorf("the object after compaction: %s", r.raw)
			}
		})
	}
}

// --etcd-count-metric-poll-period: apiserver_resource_objects counts each
// resource's objects, on both backends, and follows creates and deletes.
func TestObjectCountMetric(t *testing.T) {
	backends := map[string][]string{"sqlite": nil}
	if etcdEndpoint != "" {
		backends["etcd"] = []string{"--etcd-servers=" + etcdEndpoint, "--etcd-prefix=/counts-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/registry"}
	}
	const series = `apiserver_resource_objects{group="",resource="configmaps"}`
	for name, flags := range backends {
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, append(flags, "--etcd-count-metric-poll-period=100ms")...)
			wantCount := func() {
				t.Helper()
				var got, want string
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					want = strconv.Itoa(len(itemNames(t, ts.do(t, "GET", "/api/v1/configmaps", "", ""))))
					if got = metricValue(t, ts, series); got == want {
						return
					}
				}
				t.Fatalf("%s is %q, the list has %s", series, got, want)
			}
			wantCount()
			expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"counted"}}`), 201, "")
			wantCount()
			if v := metricValue(t, ts, `apiserver_resource_objects{group="rbac.authorization.k8s.io",resource="clusterroles"}`); v == "" || v == "0" {
				t.Errorf("clusterroles: %q", v)
			}
		})
	}
	ts := startServer(t, "--etcd-count-metric-poll-period=0")
	if v := metricValue(t, ts, series); v != "" {
		t.Errorf("with 0, %s is %s", series, v)
	}
}

// tlsClient connects anew each time (no keep-alive), trusting the data
// directory's CA, optionally with a client certificate and TLS limits.
func tlsClient(t *testing.T, dir string, configure func(*tls.Config)) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	config := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if configure != nil {
		configure(config)
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: config, DisableKeepAlives: true}}
}

// --tls-min-version and --tls-cipher-suites limit what a client may
// negotiate.
func TestTLSVersionAndCipherSuites(t *testing.T) {
	ts := startServer(t, "--tls-min-version=VersionTLS13")
	tls12 := tlsClient(t, ts.dir, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	if _, err := tls12.Get(ts.url + "/livez"); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.2 against --tls-min-version=VersionTLS13: %v", err)
	}
	resp, err := tlsClient(t, ts.dir, nil).Get(ts.url + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("version %x", resp.TLS.Version)
	}

	// The serving certificate's key is ECDSA.
	const suite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	ts = startServer(t, "--tls-cipher-suites="+suite+",TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
	other := tlsClient(t, ts.dir, func(c *tls.Config) {
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	})
	if _, err := other.Get(ts.url + "/livez"); err == nil {
		t.Error("a suite not in --tls-cipher-suites was accepted")
	}
	resp, err = tlsClient(t, ts.dir, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }).Get(ts.url + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if name := tls.CipherSuiteName(resp.TLS.CipherSuite); name != suite {
		t.Errorf("negotiated %s", name)
	}
}

// --cors-allowed-origins: an allowed origin's preflight is answered before
// authentication (it carries no credentials), its requests get the CORS
// headers; any other origin gets none and goes through authentication.
func TestCORS(t *testing.T) {
	ts := startServer(t, `--cors-allowed-origins=//ui\.example\.com(:|$),^http://127\.0\.0\.1:`, "--anonymous-auth=false")
	anonymous := tlsClient(t, ts.dir, nil)
	send := func(client *http.Client, method, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, ts.url+"/api/v1/namespaces", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := send(anonymous, "OPTIONS", "https://ui.example.com")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://ui.example.com" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = send(ts.client, "GET", "http://127.0.0.1:8001")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8001" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "Date" {
		t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	for _, origin := range []string{"https://ui.example.com.evil.test", "http://localhost:8001"} {
		resp = send(anonymous, "OPTIONS", origin)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d %v", origin, resp.StatusCode, resp.Header)
		}
	}
}

// replaceFile puts new content in place at once, as a certificate manager
// does (a rename), so that no reader sees half a file.
func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// The serving certificate and the client CA are read again when their files
// change: the next connection gets the new certificate, and a client
// certificate of a CA added to --client-ca-file logs in, without a restart.
func TestCertificatesReloadFromDisk(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca") // the server's, made ahead so that the client CA file can hold it
	if err != nil {
		t.Fatal(err)
	}
	clientCA := filepath.Join(other, "client-ca.crt")
	replaceFile(t, filepath.Join(dir, "ca.crt"), clientCA)
	ts := startServer(t, "--data-dir="+dir, "--client-ca-file="+clientCA)

	serial := func() string {
		t.Helper()
		resp, err := tlsClient(t, dir, nil).Get(ts.url + "/livez")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	newCert, newKey, err := ca.EnsureCert(other, "serving", pki.ServingCertTemplate("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := pki.LoadKeyPair(newCert, newKey)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, newKey, filepath.Join(dir, "serving.key"))
	replaceFile(t, newCert, filepath.Join(dir, "serving.crt"))
	if after := serial(); after != cert.SerialNumber.String() || after == before {
		t.Errorf("serving certificate %s before, %s after, want %s", before, after, cert.SerialNumber)
	}

	// carol's certificate is from another CA: refused until it is trusted.
	otherCA, err := pki.LoadOrCreateCA(other, "other-ca")
	if err != nil {
		t.Fatal(err)
	}
	carolCert, carolKey, err := otherCA.EnsureCert(other, "carol", pki.ClientCertTemplate("carol", "devs"))
	if err != nil {
		t.Fatal(err)
	}
	// whoami is who the server takes a client with carol's certificate for.
	// (A TLS client sends only a certificate of a CA the server names in
	// its handshake: without, it is anonymous.)
	whoami := func() string {
		t.Helper()
		pair, err := tls.LoadX509KeyPair(carolCert, carolKey)
		if err != nil {
			t.Fatal(err)
		}
		client := tlsClient(t, dir, func(c *tls.Config) { c.Certificates = []tls.Certificate{pair} })
		resp, err := client.Post(ts.url+"/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
			strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var review map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&review)
		if resp.StatusCode != 201 {
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return fmt.Sprint(field(review, "status", "userInfo", "username"))
	}
	if who := whoami(); who == "carol" {
		t.Fatalf("carol, of an untrusted CA, is %s", who)
	}
	bundle := filepath.Join(other, "bundle.crt")
	a, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	b, _ := os.ReadFile(filepath.Join(other, "other-ca.crt"))
	if err := os.WriteFile(bundle, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, bundle, clientCA)
	if who := whoami(); who != "carol" {
		t.Errorf("carol, once her CA is in --client-ca-file, is %s", who)
	}
	// The admin, of the first CA, still logs in.
	expect(t, ts.do(t, "GET", "/api/v1/namespaces/default", "", ""), 200, "")
}
