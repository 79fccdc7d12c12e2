package apiserviceavailability

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- Certificates made for the test -----------------------------------------------------

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t *testing.T, template *x509.Certificate, key *ecdsa.PrivateKey, ca *testCA) *x509.Certificate {
	t.Helper()
	serial++
	template.SerialNumber = big.NewInt(serial)
	template.NotBefore, template.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, parentKey := template, key
	if ca != nil {
		parent, parentKey = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newCA(t *testing.T, cn string) *testCA {
	key := newKey(t)
	cert := sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, key, nil)
	return &testCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue makes a certificate for a server's DNS names or a client's common
// name.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, dnsNames ...string) tls.Certificate {
	key := newKey(t)
	cert := sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: dnsNames,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}, key, ca)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// ---- The extension API server -----------------------------------------------------------

// extension is an httptest server with its own serving certificate for
// notes-api.notes.svc, signed by its own CA, as an extension API server in
// a cluster has. It records what the check sent.
type extension struct {
	*httptest.Server
	ca   *testCA
	host string // 127.0.0.1
	port int32

	mu       sync.Mutex
	requests []seen
}

type seen struct {
	path, user, client string
	groups             []string
}

func startExtension(t *testing.T, frontProxy *testCA) *extension {
	t.Helper()
	e := &extension{ca: newCA(t, "notes-api-ca")}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{path: r.URL.Path, user: r.Header.Get("X-Remote-User"), groups: r.Header.Values("X-Remote-Group")}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		e.mu.Lock()
		e.requests = append(e.requests, s)
		e.mu.Unlock()
		switch r.URL.Path {
		case "/apis/notes.example.com/v1alpha1":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"notes.example.com/v1alpha1","resources":[{"name":"notes","namespaced":true,"kind":"Note","verbs":["get","list"]}]}`)
		case "/apis/broken.example.com/v1":
			http.Error(w, "etcd is down", http.StatusServiceUnavailable)
		case "/apis/moved.example.com/v1":
			http.Redirect(w, r, "/apis/notes.example.com/v1alpha1", http.StatusFound)
		case "/apis/quiet.example.com/v1":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	e.TLS = &tls.Config{
		Certificates: []tls.Certificate{e.ca.issue(t, "notes-api", x509.ExtKeyUsageServerAuth, "notes-api.notes.svc")},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    frontProxy.pool(),
	}
	// The failed handshakes are the point of some cases: not worth a log line.
	e.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.StartTLS()
	t.Cleanup(e.Close)
	host, port, err := net.SplitHostPort(e.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	e.host, e.port = host, int32(p)
	return e
}

func (e *extension) seen() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.requests...)
}

// ---- Resolve ----------------------------------------------------------------------------

func TestResolve(t *testing.T) {
	c := &Checker{
		Services: map[string]Service{
			"notes/notes-api":   {Ports: []ServicePort{{Name: "metrics", Port: 9090}, {Name: "https", Port: 443}}},
			"notes/plain":       {Ports: []ServicePort{{Port: 443}}},
			"notes/custom":      {Ports: []ServicePort{{Name: "api", Port: 8443}}},
			"notes/unready":     {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/misnamed":    {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/v6":          {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/no-eps":      {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/empty":       {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"other/notes-api":   {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/second-half": {Ports: []ServicePort{{Name: "https", Port: 443}}},
		},
		Endpoints: map[string]Endpoints{
			"notes/notes-api": {Subsets: []EndpointSubset{{Addresses: []string{"10.0.0.1", "10.0.0.2"},
				Ports: []EndpointPort{{Name: "metrics", Port: 443}, {Name: "https", Port: 8443}}}}},
			"notes/plain":   {Subsets: []EndpointSubset{{Addresses: []string{"10.0.1.1"}, Ports: []EndpointPort{{Port: 6443}}}}},
			"notes/custom":  {Subsets: []EndpointSubset{{Addresses: []string{"10.0.2.1"}, Ports: []EndpointPort{{Name: "api", Port: 9443}}}}},
			"notes/unready": {Subsets: []EndpointSubset{{NotReadyAddresses: []string{"10.0.3.1"}, Ports: []EndpointPort{{Name: "https", Port: 8443}}}}},
			"notes/misnamed": {Subsets: []EndpointSubset{{Addresses: []string{"10.0.4.1"},
				Ports: []EndpointPort{{Name: "http", Port: 8080}, {Name: "HTTPS", Port: 8443}}}}},
			"notes/v6":    {Subsets: []EndpointSubset{{Addresses: []string{"fd00::5"}, Ports: []EndpointPort{{Name: "https", Port: 8443}}}}},
			"notes/empty": {},
			"notes/second-half": {Subsets: []EndpointSubset{
				{NotReadyAddresses: []string{"10.0.5.1"}, Ports: []EndpointPort{{Name: "https", Port: 8443}}},
				{Addresses: []string{"10.0.5.2"}, Ports: []EndpointPort{{Name: "metrics", Port: 9091}}},
				{Addresses: []string{"10.0.5.3", "10.0.5.4"}, Ports: []EndpointPort{{Name: "https", Port: 6443}}},
			}},
		},
	}
	tests := []struct {
		name                      string
		ref                       ServiceReference
		endpoint, reason, message string
	}{
		{name: "the Service's port by number, the pod's port by its name, not its number",
			ref: ServiceReference{"notes", "notes-api", 443}, endpoint: "10.0.0.1:8443"},
		{name: "port 0 is 443, the API's default",
			ref: ServiceReference{"notes", "notes-api", 0}, endpoint: "10.0.0.1:8443"},
		{name: "an unnamed port matches an unnamed port",
			ref: ServiceReference{"notes", "plain", 443}, endpoint: "10.0.1.1:6443"},
		{name: "another port number",
			ref: ServiceReference{"notes", "custom", 8443}, endpoint: "10.0.2.1:9443"},
		{name: "IPv6 needs brackets",
			ref: ServiceReference{"notes", "v6", 443}, endpoint: "[fd00::5]:8443"},
		{name: "the first subset with a ready address and the port",
			ref: ServiceReference{"notes", "second-half", 443}, endpoint: "10.0.5.3:6443"},
		{name: "no such Service",
			ref:    ServiceReference{"notes", "gone", 443},
			reason: "ServiceNotFound", message: `service/gone in "notes" is not present`},
		{name: "the name in another namespace is another Service",
			ref:    ServiceReference{"other", "plain", 443},
			reason: "ServiceNotFound", message: `service/plain in "other" is not present`},
		{name: "the Service does not have the port",
			ref:    ServiceReference{"notes", "notes-api", 8443},
			reason: "ServicePortError", message: `service/notes-api in "notes" is not listening on port 8443`},
		{name: "port 0 is 443, which this Service does not have",
			ref:    ServiceReference{"notes", "custom", 0},
			reason: "ServicePortError", message: `service/custom in "notes" is not listening on port 443`},
		{name: "no Endpoints",
			ref:    ServiceReference{"notes", "no-eps", 443},
			reason: "EndpointsNotFound", message: `cannot find endpoints for service/no-eps in "notes"`},
		{name: "Endpoints without subsets",
			ref:    ServiceReference{"notes", "empty", 443},
			reason: "MissingEndpoints", message: `endpoints for service/empty in "notes" have no addresses with port name "https"`},
		{name: "only pods that are not ready",
			ref:    ServiceReference{"notes", "unready", 443},
			reason: "MissingEndpoints", message: `endpoints for service/unready in "notes" have no addresses with port name "https"`},
		{name: "port names are compared exactly",
			ref:    ServiceReference{"notes", "misnamed", 443},
			reason: "MissingEndpoints", message: `endpoints for service/misnamed in "notes" have no addresses with port name "https"`},
		{name: "Endpoints in another namespace do not count",
			ref:    ServiceReference{"other", "notes-api", 443},
			reason: "EndpointsNotFound", message: `cannot find endpoints for service/notes-api in "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, reason, message := c.Resolve(tt.ref)
			if endpoint != tt.endpoint || reason != tt.reason || message != tt.message {
				t.Errorf("Resolve(%+v) = %q, %q, %q\nwant         %q, %q, %q", tt.ref, endpoint, reason, message, tt.endpoint, tt.reason, tt.message)
			}
		})
	}
}

// ---- TLSConfig --------------------------------------------------------------------------

func TestTLSConfig(t *testing.T) {
	ca := newCA(t, "notes-api-ca")
	client := newCA(t, "front-proxy-ca").issue(t, "front-proxy-client", x509.ExtKeyUsageClientAuth)
	svc := &ServiceReference{Namespace: "notes", Name: "notes-api", Port: 443}

	cfg, err := TLSConfig(APIService{Service: svc, CABundle: ca.pem}, &client)
	if err != nil {
		t.Fatalf("TLSConfig: %v", err)
	}
	if cfg.ServerName != "notes-api.notes.svc" {
		t.Errorf("ServerName %q, want notes-api.notes.svc: the Service's DNS name, which its certificate names", cfg.ServerName)
	}
	if cfg.RootCAs == nil || !cfg.RootCAs.Equal(ca.pool()) {
		t.Errorf("RootCAs do not hold exactly the caBundle's CA")
	}
	if cfg.InsecureSkipVerify {
		t.Errorf("InsecureSkipVerify without insecureSkipTLSVerify")
	}
	if len(cfg.Certificates) != 1 || cfg.Certificates[0].Leaf != client.Leaf {
		t.Errorf("Certificates: %d, want the front-proxy client certificate", len(cfg.Certificates))
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2 (%x), as client-go's", cfg.MinVersion, tls.VersionTLS12)
	}

	cfg, err = TLSConfig(APIService{Service: &ServiceReference{Namespace: "kube-system", Name: "metrics-server"}}, nil)
	if err != nil {
		t.Fatalf("TLSConfig without a caBundle: %v", err)
	}
	if cfg.RootCAs != nil || cfg.InsecureSkipVerify || len(cfg.Certificates) != 0 || cfg.ServerName != "metrics-server.kube-system.svc" {
		t.Errorf("without a caBundle or a client certificate: RootCAs %v, InsecureSkipVerify %v, %d certificates, ServerName %q; want nil (the system's roots), false, 0, metrics-server.kube-system.svc",
			cfg.RootCAs, cfg.InsecureSkipVerify, len(cfg.Certificates), cfg.ServerName)
	}

	cfg, err = TLSConfig(APIService{Service: svc, InsecureSkipTLSVerify: true}, nil)
	if err != nil || !cfg.InsecureSkipVerify {
		t.Errorf("insecureSkipTLSVerify: %+v, %v; want InsecureSkipVerify", cfg, err)
	}

	for _, tt := range []struct {
		name string
		a    APIService
		want string
	}{
		{"a caBundle and insecureSkipTLSVerify", APIService{Service: svc, CABundle: ca.pem, InsecureSkipTLSVerify: true},
			"specifying a root certificates file with the insecure flag is not allowed"},
		{"a caBundle that is not PEM", APIService{Service: svc, CABundle: []byte("not a certificate")},
			"unable to load root certificates: unable to parse bytes as PEM block"},
	} {
		if cfg, err := TLSConfig(tt.a, nil); err == nil || err.Error() != tt.want {
			t.Errorf("%s: TLSConfig = %v, %v; want the error %q", tt.name, cfg, err, tt.want)
		}
	}
}

// ---- Check ------------------------------------------------------------------------------

func TestCheck(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	clientCert := frontProxy.issue(t, "front-proxy-client", x509.ExtKeyUsageClientAuth)
	ext := startExtension(t, frontProxy)
	stranger := newCA(t, "someone-else-ca")

	// A port where nothing listens: listen, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().(*net.TCPAddr)
	l.Close()

	eps := Endpoints{Subsets: []EndpointSubset{{Addresses: []string{ext.host}, Ports: []EndpointPort{{Name: "https", Port: ext.port}}}}}
	c := &Checker{
		Services: map[string]Service{
			"notes/notes-api": {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/other-api": {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/dead-api":  {Ports: []ServicePort{{Name: "https", Port: 443}}},
			"notes/unready":   {Ports: []ServicePort{{Name: "https", Port: 443}}},
		},
		Endpoints: map[string]Endpoints{
			"notes/notes-api": eps,
			"notes/other-api": eps, // the same pod, behind another name
			"notes/dead-api":  {Subsets: []EndpointSubset{{Addresses: []string{"127.0.0.1"}, Ports: []EndpointPort{{Name: "https", Port: int32(deadAddr.Port)}}}}},
			"notes/unready":   {Subsets: []EndpointSubset{{NotReadyAddresses: []string{ext.host}, Ports: []EndpointPort{{Name: "https", Port: ext.port}}}}},
		},
		ClientCert: &clientCert,
	}
	remote := func(group, version, service string, caBundle []byte) APIService {
		return APIService{Name: version + "." + group, Group: group, Version: version, CABundle: caBundle,
			Service: &ServiceReference{Namespace: "notes", Name: service, Port: 443}}
	}
	url := func(group, version string) string {
		return fmt.Sprintf("https://%s/apis/%s/%s", net.JoinHostPort(ext.host, strconv.Itoa(int(ext.port))), group, version)
	}
	notes := url("notes.example.com", "v1alpha1")
	insecure := remote("notes.example.com", "v1alpha1", "other-api", nil)
	insecure.InsecureSkipTLSVerify = true

	tests := []struct {
		name    string
		a       APIService
		status  string
		reason  string
		message string // exact, unless prefix is set
		prefix  string // the message starts with prefix (the rest is the operating system's words)
	}{
		{name: "a local APIService is always available",
			a:      APIService{Name: "v1.apps", Group: "apps", Version: "v1"},
			status: "True", reason: "Local", message: "Local APIServices are always available"},
		{name: "the extension answers its discovery document",
			a:      remote("notes.example.com", "v1alpha1", "notes-api", ext.ca.pem),
			status: "True", reason: "Passed", message: "all checks passed"},
		{name: "any 2xx will do",
			a:      remote("quiet.example.com", "v1", "notes-api", ext.ca.pem),
			status: "True", reason: "Passed", message: "all checks passed"},
		{name: "a version the extension does not serve",
			a:      remote("notes.example.com", "v1beta1", "notes-api", ext.ca.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			message: fmt.Sprintf("failing or missing response from %s: bad status from %s: 404", url("notes.example.com", "v1beta1"), url("notes.example.com", "v1beta1"))},
		{name: "an extension that fails",
			a:      remote("broken.example.com", "v1", "notes-api", ext.ca.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			message: fmt.Sprintf("failing or missing response from %s: bad status from %s: 503", url("broken.example.com", "v1"), url("broken.example.com", "v1"))},
		{name: "a redirect is not followed: it is not a 2xx",
			a:      remote("moved.example.com", "v1", "notes-api", ext.ca.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			message: fmt.Sprintf("failing or missing response from %s: bad status from %s: 302", url("moved.example.com", "v1"), url("moved.example.com", "v1"))},
		{name: "a caBundle from another CA",
			a:      remote("notes.example.com", "v1alpha1", "notes-api", stranger.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			message: fmt.Sprintf("failing or missing response from %s: Get %q: tls: failed to verify certificate: x509: certificate signed by unknown authority", notes, notes)},
		{name: "no caBundle: the system's roots do not know the extension's CA",
			a:      remote("notes.example.com", "v1alpha1", "notes-api", nil),
			status: "False", reason: "FailedDiscoveryCheck",
			prefix: fmt.Sprintf("failing or missing response from %s: Get %q: tls: failed to verify certificate: x509: ", notes, notes)},
		{name: "the certificate names another Service",
			a:      remote("notes.example.com", "v1alpha1", "other-api", ext.ca.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			message: fmt.Sprintf("failing or missing response from %s: Get %q: tls: failed to verify certificate: x509: certificate is valid for notes-api.notes.svc, not other-api.notes.svc", notes, notes)},
		{name: "insecureSkipTLSVerify believes any certificate",
			a:      insecure,
			status: "True", reason: "Passed", message: "all checks passed"},
		{name: "nothing listens at the endpoint",
			a:      remote("notes.example.com", "v1alpha1", "dead-api", ext.ca.pem),
			status: "False", reason: "FailedDiscoveryCheck",
			prefix: fmt.Sprintf("failing or missing response from https://%s/apis/notes.example.com/v1alpha1: Get \"https://%s/apis/notes.example.com/v1alpha1\": dial tcp %s: ", deadAddr, deadAddr, deadAddr)},
		{name: "the Service is missing: no request at all",
			a:      remote("notes.example.com", "v1alpha1", "gone-api", ext.ca.pem),
			status: "False", reason: "ServiceNotFound", message: `service/gone-api in "notes" is not present`},
		{name: "the pod is not ready: no request at all",
			a:      remote("notes.example.com", "v1alpha1", "unready", ext.ca.pem),
			status: "False", reason: "MissingEndpoints", message: `endpoints for service/unready in "notes" have no addresses with port name "https"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ext.seen())
			got, err := c.Check(t.Context(), tt.a)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got.Type != "Available" || got.Status != tt.status || got.Reason != tt.reason || !got.LastTransitionTime.IsZero() {
				t.Errorf("Check = %+v\nwant type Available, status %s, reason %s, no LastTransitionTime (SetCondition's job)", got, tt.status, tt.reason)
			}
			switch {
			case tt.prefix == "" && got.Message != tt.message:
				t.Errorf("message\n  %q\nwant\n  %q", got.Message, tt.message)
			case tt.prefix != "" && !strings.HasPrefix(got.Message, tt.prefix):
				t.Errorf("message\n  %q\nwant one that starts with\n  %q", got.Message, tt.prefix)
			}
			if (tt.reason == "ServiceNotFound" || tt.reason == "MissingEndpoints" || tt.reason == "Local") && len(ext.seen()) != before {
				t.Errorf("the extension was called, although the check had failed before it (or needs none)")
			}
		})
	}

	// What the extension saw of the passing check: the path, who asked,
	// and over which certificate.
	var found bool
	for _, s := range ext.seen() {
		if s.path != "/apis/notes.example.com/v1alpha1" || s.client == "" {
			continue
		}
		found = true
		if s.user != "system:kube-aggregator" || len(s.groups) != 1 || s.groups[0] != "system:masters" || s.client != "front-proxy-client" {
			t.Errorf("the extension saw user %q, groups %q, client certificate %q; want system:kube-aggregator, [system:masters], front-proxy-client", s.user, s.groups, s.client)
		}
	}
	if !found {
		t.Errorf("the extension never saw a request for /apis/notes.example.com/v1alpha1 with a client certificate; it saw %+v", ext.seen())
	}
}

func TestCheckErrors(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	ext := startExtension(t, frontProxy)
	c := &Checker{
		Services:  map[string]Service{"notes/notes-api": {Ports: []ServicePort{{Name: "https", Port: 443}}}},
		Endpoints: map[string]Endpoints{"notes/notes-api": {Subsets: []EndpointSubset{{Addresses: []string{ext.host}, Ports: []EndpointPort{{Name: "https", Port: ext.port}}}}}},
	}
	a := APIService{Name: "v1alpha1.notes.example.com", Group: "notes.example.com", Version: "v1alpha1",
		Service: &ServiceReference{Namespace: "notes", Name: "notes-api"}, CABundle: ext.ca.pem}

	// No client certificate: the extension lets the check through anyway
	// (it would treat it as anonymous).
	if got, err := c.Check(t.Context(), a); err != nil || got.Reason != "Passed" {
		t.Errorf("without a client certificate: %+v, %v; want Passed", got, err)
	}

	// A context that is done: the check does not go out.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := c.Check(ctx, a)
	notes := fmt.Sprintf("https://%s/apis/notes.example.com/v1alpha1", net.JoinHostPort(ext.host, strconv.Itoa(int(ext.port))))
	if want := fmt.Sprintf("failing or missing response from %s: Get %q: context canceled", notes, notes); err != nil || got.Reason != "FailedDiscoveryCheck" || got.Message != want {
		t.Errorf("with a canceled context: %+v, %v\nwant FailedDiscoveryCheck, %q", got, err, want)
	}

	// A check that cannot be made is an error, not a condition: the
	// condition stays as it was.
	bad := a
	bad.CABundle = []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
	if got, err := c.Check(t.Context(), bad); err == nil || got != (Condition{}) {
		t.Errorf("with a caBundle that holds no certificate: %+v, %v; want no condition and an error", got, err)
	}
}

// ---- SetCondition -----------------------------------------------------------------------

func TestSetCondition(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Minute)
	available := func(status, reason, message string, at time.Time) Condition {
		return Condition{Type: "Available", Status: status, Reason: reason, Message: message, LastTransitionTime: at}
	}
	other := Condition{Type: "Other", Status: "True", Reason: "Fine", LastTransitionTime: t0}
	tests := []struct {
		name string
		in   []Condition
		c    Condition
		want []Condition
	}{
		{"the first condition",
			nil, available("False", "ServiceNotFound", "m", time.Time{}),
			[]Condition{available("False", "ServiceNotFound", "m", now)}},
		{"the same status, another reason: the transition stays when it was",
			[]Condition{available("False", "ServiceNotFound", "m1", t0)}, available("False", "MissingEndpoints", "m2", time.Time{}),
			[]Condition{available("False", "MissingEndpoints", "m2", t0)}},
		{"another status: a transition, now",
			[]Condition{available("False", "MissingEndpoints", "m", t0)}, available("True", "Passed", "all checks passed", time.Time{}),
			[]Condition{available("True", "Passed", "all checks passed", now)}},
		{"nothing new: nothing changes",
			[]Condition{available("True", "Passed", "all checks passed", t0)}, available("True", "Passed", "all checks passed", time.Time{}),
			[]Condition{available("True", "Passed", "all checks passed", t0)}},
		{"a time in the new condition does not count: the transition is now",
			nil, available("True", "Local", "m", t0.Add(-time.Hour)),
			[]Condition{available("True", "Local", "m", now)}},
		{"other conditions stay, in their place",
			[]Condition{other, available("True", "Passed", "all checks passed", t0)}, available("False", "FailedDiscoveryCheck", "m", time.Time{}),
			[]Condition{other, available("False", "FailedDiscoveryCheck", "m", now)}},
		{"a new type goes at the end",
			[]Condition{other}, available("True", "Passed", "all checks passed", time.Time{}),
			[]Condition{other, available("True", "Passed", "all checks passed", now)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Condition(nil), tt.in...)
			got := SetCondition(in, tt.c, now)
			if len(got) != len(tt.want) {
				t.Fatalf("SetCondition = %+v\nwant %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("SetCondition = %+v\nwant %+v", got, tt.want)
					break
				}
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Errorf("SetCondition changed the slice it was given: %+v, was %+v (an informer's object is shared: copy, then change)", in, tt.in)
					break
				}
			}
		})
	}
}
