package aggregator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// extension is a TLS extension server for the availability check: its
// certificate names api.ext.svc and is signed by a CA of its own; it demands
// a client certificate of the front-proxy CA, as a real one would before
// believing X-Remote-* headers.
type extension struct {
	*httptest.Server
	caBundle   string          // base64 PEM of its CA, as an APIService carries it
	clientCert tls.Certificate // the front proxy's, for the aggregator
	failing    atomic.Bool     // answer discovery with 500

	mu       sync.Mutex
	identity []string // X-Remote-User and X-Remote-Group of each discovery request
}

func startExtension(t *testing.T) *extension {
	t.Helper()
	dir := t.TempDir()
	serverCA, err := pki.LoadOrCreateCA(dir, "extension-ca")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := serverCA.EnsureCert(dir, "serving", &x509.Certificate{Subject: pkix.Name{CommonName: "api.ext.svc"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"api.ext.svc"}})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	proxyCA, err := pki.LoadOrCreateCA(dir, "front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = proxyCA.EnsureCert(dir, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client"))
	if err != nil {
		t.Fatal(err)
	}
	e := &extension{}
	if e.clientCert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "extension-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	e.caBundle = base64.StdEncoding.EncodeToString(caPEM)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(proxyCA.Cert)

	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.identity = append(e.identity, r.Header.Get("X-Remote-User")+" "+strings.Join(r.Header.Values("X-Remote-Group"), ","))
		e.mu.Unlock()
		if e.failing.Load() || r.URL.Path != "/apis/test.example.com/v1" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"kind":"APIResourceList","groupVersion":"test.example.com/v1","resources":[
			{"name":"things","singularName":"thing","namespaced":true,"kind":"Thing","verbs":["get","list"],"shortNames":["th"]},
			{"name":"things/status","namespaced":true,"kind":"Thing","verbs":["get"]}]}`))
	}))
	e.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: clientCAs, MinVersion: tls.VersionTLS12}
	e.StartTLS()
	t.Cleanup(e.Close)
	return e
}

func (e *extension) port() string {
	_, port, _ := net.SplitHostPort(e.Listener.Addr().String())
	return port
}

func testRegistry() *registry.Registry {
	return registry.New([]*registry.Resource{
		{Group: "apiregistration.k8s.io", Version: "v1", Name: "apiservices", Kind: "APIService", StatusSubresource: true},
		{Version: "v1", Name: "services", Kind: "Service", Namespaced: true},
		{Version: "v1", Name: "endpoints", Kind: "Endpoints", Namespaced: true},
	}, object.ValidateDNS1123Subdomain)
}

// env is an aggregator over a SQLite store, and helpers to write into it.
type env struct {
	t   *testing.T
	reg *registry.Registry
	st  *store.Store
	agg *Aggregator
}

func newEnv(t *testing.T, clientCert tls.Certificate) *env {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	reg, st := testRegistry(), store.New(backend)
	return &env{t: t, reg: reg, st: st, agg: New(st, reg, clientCert)}
}

func (e *env) create(resource, body string) {
	e.t.Helper()
	obj, err := object.Decode([]byte(body))
	if err != nil {
		e.t.Fatal(err)
	}
	res := e.reg.Lookup("", resource)
	if resource == "apiservices" {
		res = e.reg.Lookup("apiregistration.k8s.io", resource)
	}
	if _, err := e.st.Create(context.Background(), res, obj); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) apiService(name string) object.Object {
	e.t.Helper()
	obj, err := e.st.Get(context.Background(), e.reg.Lookup("apiregistration.k8s.io", "apiservices"), "", name)
	if err != nil {
		e.t.Fatal(err)
	}
	return obj
}

// available is the Available condition of an APIService.
func (e *env) available(name string) map[string]any {
	e.t.Helper()
	var a struct {
		Status struct {
			Conditions []map[string]any `json:"conditions"`
		} `json:"status"`
	}
	_ = decodeInto(e.apiService(name), &a)
	for _, c := range a.Status.Conditions {
		if c["type"] == "Available" {
			return c
		}
	}
	return nil
}

func apiServiceJSON(name, spec string) string {
	group, version := name[strings.Index(name, ".")+1:], name[:strings.Index(name, ".")]
	return `{"metadata":{"name":"` + name + `"},"spec":{"group":"` + group + `","version":"` + version +
		`","groupPriorityMinimum":1000,"versionPriority":15` + spec + `}}`
}

const (
	serviceHTTPS   = `{"metadata":{"name":"api","namespace":"ext"},"spec":{"ports":[{"name":"https","port":443}]}}`
	serviceOther   = `{"metadata":{"name":"api","namespace":"ext"},"spec":{"ports":[{"name":"https","port":8443}]}}`
	endpointsOther = `{"metadata":{"name":"api","namespace":"ext"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"metrics","port":1}]}]}`
)

func endpointsJSON(port string) string {
	return `{"metadata":{"name":"api","namespace":"ext"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"https","port":` + port + `}]}]}`
}

// Each way an APIService can be unavailable has its reason, and the one
// way to be available is to pass the discovery check over verified TLS.
func TestAvailabilityReasons(t *testing.T) {
	ext := startExtension(t)
	trusted := `,"service":{"namespace":"ext","name":"api","port":443},"caBundle":"` + ext.caBundle + `"`
	tests := []struct {
		name    string
		objects [][2]string // resource, body
		spec    string      // what the APIService adds to its spec
		reason  string
		message string
	}{
		{"a local APIService", nil, ``, "Local", "Local APIServices are always available"},
		{"no Service", nil, trusted, "ServiceNotFound", `service/api in "ext" is not present`},
		{"no such port", [][2]string{{"services", serviceOther}}, trusted, "ServicePortError", `service/api in "ext" is not listening on port 443`},
		{"no Endpoints", [][2]string{{"services", serviceHTTPS}}, trusted, "EndpointsNotFound", `cannot find endpoints for service/api in "ext"`},
		{"no address for the port's name", [][2]string{{"services", serviceHTTPS}, {"endpoints", endpointsOther}}, trusted,
			"MissingEndpoints", `endpoints for service/api in "ext" have no addresses with port name "https"`},
		{"reachable and trusted", [][2]string{{"services", serviceHTTPS}, {"endpoints", endpointsJSON(ext.port())}}, trusted, "Passed", "all checks passed"},
		{"the port defaults to 443", [][2]string{{"services", serviceHTTPS}, {"endpoints", endpointsJSON(ext.port())}},
			`,"service":{"namespace":"ext","name":"api"},"caBundle":"` + ext.caBundle + `"`, "Passed", "all checks passed"},
		{"no caBundle: not trusted", [][2]string{{"services", serviceHTTPS}, {"endpoints", endpointsJSON(ext.port())}},
			`,"service":{"namespace":"ext","name":"api","port":443}`, "FailedDiscoveryCheck", "certificate signed by unknown authority"},
		{"insecureSkipTLSVerify is honoured", [][2]string{{"services", serviceHTTPS}, {"endpoints", endpointsJSON(ext.port())}},
			`,"service":{"namespace":"ext","name":"api","port":443},"insecureSkipTLSVerify":true`, "Passed", "all checks passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ext.clientCert)
			for _, o := range tt.objects {
				e.create(o[0], o[1])
			}
			e.create("apiservices", apiServiceJSON("v1.test.example.com", tt.spec))
			e.agg.check(context.Background())
			c := e.available("v1.test.example.com")
			wantStatus := "False"
			if tt.reason == "Passed" || tt.reason == "Local" {
				wantStatus = "True"
			}
			if c["status"] != wantStatus || c["reason"] != tt.reason || !strings.Contains(c["message"].(string), tt.message) {
				t.Errorf("Available = %v, want %s %s %q", c, wantStatus, tt.reason, tt.message)
			}
			if c["lastTransitionTime"] == "" {
				t.Errorf("no lastTransitionTime: %v", c)
			}
		})
	}
}

// The extension's certificate is checked against <service>.<namespace>.svc,
// whatever address the Endpoints give.
func TestAvailabilityChecksTheServiceName(t *testing.T) {
	ext := startExtension(t)
	e := newEnv(t, ext.clientCert)
	e.create("services", strings.ReplaceAll(serviceHTTPS, `"name":"api"`, `"name":"other"`))
	e.create("endpoints", strings.ReplaceAll(endpointsJSON(ext.port()), `"name":"api"`, `"name":"other"`))
	e.create("apiservices", apiServiceJSON("v1.test.example.com", `,"service":{"namespace":"ext","name":"other","port":443},"caBundle":"`+ext.caBundle+`"`))
	e.agg.check(context.Background())
	if c := e.available("v1.test.example.com"); c["reason"] != "FailedDiscoveryCheck" || !strings.Contains(c["message"].(string), "other.ext.svc") {
		t.Errorf("a certificate for api.ext.svc passed as other.ext.svc: %v", c)
	}
}

// The check asks as system:kube-aggregator in system:masters; the condition
// is written only when it changes, keeps its lastTransitionTime while the
// status stays, and an extension that stops answering stays in aggregated
// discovery, Stale, with what it last served.
func TestAvailabilityOverTime(t *testing.T) {
	ext := startExtension(t)
	e := newEnv(t, ext.clientCert)
	e.create("apiservices", apiServiceJSON("v1.test.example.com", `,"service":{"namespace":"ext","name":"api","port":443},"caBundle":"`+ext.caBundle+`"`))
	ctx := context.Background()

	e.agg.check(ctx)
	first := e.available("v1.test.example.com")
	if first["reason"] != "ServiceNotFound" {
		t.Fatalf("Available = %v", first)
	}
	rv := e.apiService("v1.test.example.com").MetaString("resourceVersion")
	e.agg.check(ctx)
	if again := e.apiService("v1.test.example.com").MetaString("resourceVersion"); again != rv {
		t.Errorf("an unchanged condition was written again: resourceVersion %s -> %s", rv, again)
	}
	time.Sleep(1100 * time.Millisecond) // timestamps have seconds
	e.create("services", serviceHTTPS)
	e.agg.check(ctx)
	if c := e.available("v1.test.example.com"); c["reason"] != "EndpointsNotFound" || c["lastTransitionTime"] != first["lastTransitionTime"] {
		t.Errorf("still False, other reason: %v (was %v)", c, first)
	}
	if got := e.agg.Discovery(true); len(got) != 0 {
		t.Errorf("aggregated discovery lists a version never reached: %v", got)
	}

	e.create("endpoints", endpointsJSON(ext.port()))
	e.agg.check(ctx)
	passed := e.available("v1.test.example.com")
	if passed["status"] != "True" || passed["lastTransitionTime"] == first["lastTransitionTime"] {
		t.Errorf("Available = %v", passed)
	}
	ext.mu.Lock()
	identity := ext.identity[len(ext.identity)-1]
	ext.mu.Unlock()
	if identity != "system:kube-aggregator system:masters" {
		t.Errorf("the check asked as %q", identity)
	}
	if d := discoveryJSON(e.agg.Discovery(true)); !strings.Contains(d, `"freshness":"Current"`) || !strings.Contains(d, `"resource":"things"`) ||
		strings.Contains(d, "things/status") || !strings.Contains(d, `"shortNames":["th"]`) {
		t.Errorf("aggregated discovery: %s", d)
	}

	ext.failing.Store(true)
	e.agg.check(ctx)
	if c := e.available("v1.test.example.com"); c["status"] != "False" || c["reason"] != "FailedDiscoveryCheck" || !strings.Contains(c["message"].(string), "bad status") {
		t.Errorf("Available = %v", c)
	}
	if d := discoveryJSON(e.agg.Discovery(true)); !strings.Contains(d, `"freshness":"Stale"`) || !strings.Contains(d, `"resource":"things"`) {
		t.Errorf("aggregated discovery of an extension gone quiet: %s", d)
	}
	if paths := e.agg.OpenAPIPaths(); len(paths) != 0 {
		t.Errorf("OpenAPI lists an unavailable extension: %v", paths)
	}
}

func discoveryJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// Run checks at once, again after Changed, and returns when its context ends.
func TestRunFollowsChangesAndStops(t *testing.T) {
	e := newEnv(t, tls.Certificate{})
	e.create("apiservices", apiServiceJSON("v1.test.example.com", `,"service":{"namespace":"ext","name":"api","port":443},"insecureSkipTLSVerify":true`))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.agg.Run(ctx); close(done) }()
	waitFor(t, func() bool {
		c := e.available("v1.test.example.com")
		return c != nil && c["reason"] == "ServiceNotFound"
	})
	e.create("services", serviceHTTPS)
	e.agg.Changed()
	waitFor(t, func() bool { return e.available("v1.test.example.com")["reason"] == "EndpointsNotFound" })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not within 5 s")
		}
	}
}
