package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// testCA is a CA made by final/pki, as the server's bootstrap makes them.
type testCA struct {
	*pki.CA
	dir  string
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return &testCA{ca, dir, pool}
}

// issue makes a certificate for template and returns it, and as a TLS client certificate.
func (c *testCA) issue(t *testing.T, name string, template *x509.Certificate) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	certPath, keyPath, err := c.EnsureCert(c.dir, name, template)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf, pair
}

// sign makes a certificate by hand, for what final/pki does not make
// (intermediate CAs, CAs of strangers).
func sign(t *testing.T, template, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = big.NewInt(time.Now().UnixNano())
	template.NotBefore, template.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil { // self-signed
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func caTemplate(name string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
}

// withCerts is a request whose TLS handshake presented certs and, as far as
// the listener is concerned, verified them: the authenticators must not take
// its word for it.
func withCerts(certs ...*x509.Certificate) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: certs, VerifiedChains: [][]*x509.Certificate{certs}}
	return r
}

func TestX509(t *testing.T) {
	clientCA, frontProxyCA := newCA(t, "ca"), newCA(t, "front-proxy-ca")
	auth := X509{Roots: clientCA.pool}

	alice, _ := clientCA.issue(t, "alice", pki.ClientCertTemplate("alice", "dev", "ops"))
	user, ok, err := auth.AuthenticateRequest(withCerts(alice))
	if !ok || err != nil || user.Name != "alice" || !slices.Equal(user.Groups, []string{"dev", "ops"}) || user.UID != "" {
		t.Fatalf("verified certificate: %+v %v %v", user, ok, err)
	}
	if id := user.Extra[credentialIDKey]; len(id) != 1 || !strings.HasPrefix(id[0], "X509SHA256=") {
		t.Errorf("credential id = %v", id)
	}

	// The listener trusts the front-proxy CA too; this authenticator must not.
	proxy, _ := frontProxyCA.issue(t, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client", "system:masters"))
	if _, ok, err := auth.AuthenticateRequest(withCerts(proxy)); ok || err == nil {
		t.Errorf("front-proxy certificate: ok=%v err=%v, want refused", ok, err)
	}

	// A certificate for servers, not clients.
	serving, _ := clientCA.issue(t, "serving", pki.ServingCertTemplate("127.0.0.1"))
	if _, ok, err := auth.AuthenticateRequest(withCerts(serving)); ok || err == nil {
		t.Errorf("serving certificate: ok=%v err=%v, want refused", ok, err)
	}

	nameless, _ := clientCA.issue(t, "nameless", pki.ClientCertTemplate("", "system:masters"))
	if _, ok, err := auth.AuthenticateRequest(withCerts(nameless)); ok || err == nil {
		t.Errorf("certificate with no common name: ok=%v err=%v, want refused", ok, err)
	}

	// Through an intermediate CA the client sends along.
	intermediate, intermediateKey := sign(t, caTemplate("intermediate"), clientCA.Cert, clientCA.Key)
	carol, _ := sign(t, pki.ClientCertTemplate("carol"), intermediate, intermediateKey)
	if user, ok, err := auth.AuthenticateRequest(withCerts(carol, intermediate)); !ok || err != nil || user.Name != "carol" {
		t.Errorf("via an intermediate: %+v %v %v", user, ok, err)
	}
	if _, ok, err := auth.AuthenticateRequest(withCerts(carol)); ok || err == nil {
		t.Errorf("intermediate not sent: ok=%v err=%v, want refused", ok, err)
	}

	if _, ok, err := auth.AuthenticateRequest(httptest.NewRequest(http.MethodGet, "/api", nil)); ok || err != nil {
		t.Errorf("no TLS: ok=%v err=%v, want not mine", ok, err)
	}
	if _, ok, err := auth.AuthenticateRequest(withCerts()); ok || err != nil {
		t.Errorf("no certificate: ok=%v err=%v, want not mine", ok, err)
	}
	if _, ok, err := (X509{}).AuthenticateRequest(withCerts(alice)); ok || err != nil {
		t.Errorf("no CA configured: ok=%v err=%v, want not mine (never the system's CAs)", ok, err)
	}
}

func frontProxy(roots *x509.CertPool) RequestHeader {
	return RequestHeader{
		Roots:               roots,
		AllowedNames:        []string{"front-proxy-client"},
		UsernameHeaders:     []string{"X-Remote-User"},
		GroupHeaders:        []string{"X-Remote-Group"},
		ExtraHeaderPrefixes: []string{"X-Remote-Extra-"},
	}
}

func TestRequestHeader(t *testing.T) {
	frontProxyCA := newCA(t, "front-proxy-ca")
	auth := frontProxy(frontProxyCA.pool)
	proxy, _ := frontProxyCA.issue(t, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client"))

	r := withCerts(proxy)
	r.Header.Set("X-Remote-User", "alice")
	r.Header.Add("X-Remote-Group", "dev")
	r.Header.Add("X-Remote-Group", "a,b") // a comma belongs to the group's name
	r.Header.Add("X-Remote-Group", "")
	r.Header.Add("X-Remote-Extra-Scopes", "read")
	r.Header.Add("X-Remote-Extra-Scopes", "write")
	r.Header.Set("X-Remote-Extra-Example.com%2fTeam", "blue")
	r.Header.Set("X-Remote-Extra-Bad%zz", "kept")
	r.Header.Set("Accept", "application/json")
	user, ok, err := auth.AuthenticateRequest(r)
	if !ok || err != nil {
		t.Fatalf("the proxy's headers: %v %v", ok, err)
	}
	if user.Name != "alice" || !slices.Equal(user.Groups, []string{"dev", "a,b"}) {
		t.Errorf("user = %+v", user)
	}
	if !slices.Equal(user.Extra["scopes"], []string{"read", "write"}) || !slices.Equal(user.Extra["example.com/team"], []string{"blue"}) ||
		!slices.Equal(user.Extra["bad%zz"], []string{"kept"}) || len(user.Extra) != 3 {
		t.Errorf("extra = %v", user.Extra)
	}
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-remote-") {
			t.Errorf("identity header %s left on the request", name)
		}
	}
	if r.Header.Get("Accept") != "application/json" {
		t.Errorf("other headers should stay")
	}

	// The first username header with a value wins.
	two := auth
	two.UsernameHeaders = []string{"X-Remote-User", "X-Other-User"}
	r = withCerts(proxy)
	r.Header.Set("X-Remote-User", "")
	r.Header.Set("X-Other-User", "bob")
	if user, ok, err := two.AuthenticateRequest(r); !ok || err != nil || user.Name != "bob" || user.Groups != nil || user.Extra != nil {
		t.Errorf("second username header: %+v %v %v", user, ok, err)
	}

	// Any common name, when none is listed.
	anyName := auth
	anyName.AllowedNames = nil
	other, _ := frontProxyCA.issue(t, "other-proxy", pki.ClientCertTemplate("other-proxy"))
	r = withCerts(other)
	r.Header.Set("X-Remote-User", "alice")
	if user, ok, err := anyName.AuthenticateRequest(r); !ok || err != nil || user.Name != "alice" {
		t.Errorf("no allowed names: %+v %v %v", user, ok, err)
	}

	// A proxy that names nobody: not this authenticator's business, and
	// nothing is removed.
	r = withCerts(proxy)
	r.Header.Set("X-Remote-Group", "system:masters")
	if _, ok, err := auth.AuthenticateRequest(r); ok || err != nil || r.Header.Get("X-Remote-Group") == "" {
		t.Errorf("no user header: ok=%v err=%v", ok, err)
	}
	if _, ok, err := (RequestHeader{UsernameHeaders: []string{"X-Remote-User"}}).AuthenticateRequest(r); ok || err != nil {
		t.Errorf("no CA configured: ok=%v err=%v, want not mine", ok, err)
	}
}

// Every way to make the server believe identity headers without being the
// front proxy.
func TestRequestHeaderForgery(t *testing.T) {
	clientCA, frontProxyCA := newCA(t, "ca"), newCA(t, "front-proxy-ca")
	auth := frontProxy(frontProxyCA.pool)
	forge := func(r *http.Request) *http.Request {
		r.Header.Set("X-Remote-User", "system:admin")
		r.Header.Set("X-Remote-Group", "system:masters")
		return r
	}

	// No client certificate at all: the headers are not believed, and this
	// is "not mine", so a bearer token may still authenticate the request.
	r := forge(httptest.NewRequest(http.MethodGet, "/api", nil))
	if _, ok, err := auth.AuthenticateRequest(r); ok || err != nil {
		t.Errorf("headers without a certificate: ok=%v err=%v, want not mine", ok, err)
	}

	// The lower-case spelling of the same headers, as they could come on the
	// wire or be put into a header map by hand.
	r = httptest.NewRequest(http.MethodGet, "/api", nil)
	r.Header["x-remote-user"] = []string{"system:admin"}
	r.Header["x-remote-group"] = []string{"system:masters"}
	if _, ok, err := auth.AuthenticateRequest(r); ok || err != nil {
		t.Errorf("lower-case headers without a certificate: ok=%v err=%v, want not mine", ok, err)
	}

	// A user's certificate from the cluster CA, with the proxy's common name:
	// the listener accepts it, this authenticator must not.
	impostor, _ := clientCA.issue(t, "impostor", pki.ClientCertTemplate("front-proxy-client"))
	if _, ok, err := auth.AuthenticateRequest(forge(withCerts(impostor))); ok || err == nil {
		t.Errorf("certificate of another CA: ok=%v err=%v, want refused", ok, err)
	}

	// A stranger's CA, and a chain that claims the front-proxy CA's name.
	strangerCA, strangerKey := sign(t, caTemplate(frontProxyCA.Cert.Subject.CommonName), nil, nil)
	stranger, _ := sign(t, pki.ClientCertTemplate("front-proxy-client"), strangerCA, strangerKey)
	if _, ok, err := auth.AuthenticateRequest(forge(withCerts(stranger, strangerCA))); ok || err == nil {
		t.Errorf("look-alike CA: ok=%v err=%v, want refused", ok, err)
	}

	// The right CA, the wrong common name: any client certificate the
	// front-proxy CA signed is not a proxy.
	wrongCN, _ := frontProxyCA.issue(t, "someone", pki.ClientCertTemplate("someone"))
	_, ok, err := auth.AuthenticateRequest(forge(withCerts(wrongCN)))
	if ok || err == nil || !strings.Contains(err.Error(), "cn=someone is not in the allowed list") {
		t.Errorf("wrong common name: ok=%v err=%v, want refused", ok, err)
	}

	// A serving certificate of the front-proxy CA is not for clients.
	serving, _ := frontProxyCA.issue(t, "front-proxy-serving", &x509.Certificate{
		Subject: pkix.Name{CommonName: "front-proxy-client"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if _, ok, err := auth.AuthenticateRequest(forge(withCerts(serving))); ok || err == nil {
		t.Errorf("server-auth certificate: ok=%v err=%v, want refused", ok, err)
	}

	// Through the real proxy, a lower-case group header the proxy passed on
	// is still an identity header: read as such, and removed.
	proxy, _ := frontProxyCA.issue(t, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client"))
	r = withCerts(proxy)
	r.Header.Set("X-Remote-User", "alice")
	r.Header["x-remote-group"] = []string{"dev"}
	r.Header["x-remote-extra-scopes"] = []string{"read"}
	user, ok, err := auth.AuthenticateRequest(r)
	if !ok || err != nil || user.Name != "alice" || !slices.Equal(user.Groups, []string{"dev"}) || !slices.Equal(user.Extra["scopes"], []string{"read"}) {
		t.Errorf("lower-case headers from the proxy: %+v %v %v", user, ok, err)
	}
	if len(r.Header) != 0 {
		t.Errorf("headers left on the request: %v", r.Header)
	}
}

// The authenticators in kube-apiserver's order, behind a real TLS listener
// whose pool holds both CAs, as the server's will.
func TestCertificateAuthenticatorsOverTLS(t *testing.T) {
	clientCA, frontProxyCA := newCA(t, "ca"), newCA(t, "front-proxy-ca")
	chain := Union{
		frontProxy(frontProxyCA.pool),
		X509{Roots: clientCA.pool},
		BearerToken{TokenFile{"bob-token": {Name: "bob"}}},
	}
	srv := httptest.NewUnstartedServer(WithAuthentication(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := request.UserFrom(r.Context())
		io.WriteString(w, u.Name+" "+strings.Join(u.Groups, ","))
	}), chain, true))
	listenerPool := clientCA.pool.Clone()
	listenerPool.AddCert(frontProxyCA.Cert)
	srv.TLS = &tls.Config{ClientCAs: listenerPool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()

	_, admin := clientCA.issue(t, "admin", pki.ClientCertTemplate("admin", "system:masters"))
	_, proxy := frontProxyCA.issue(t, "front-proxy-client", pki.ClientCertTemplate("front-proxy-client"))
	call := func(cert *tls.Certificate, headers map[string]string) (int, string) {
		t.Helper()
		transport := srv.Client().Transport.(*http.Transport).Clone() // a new connection each time
		if cert != nil {
			transport.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
		for k, v := range headers {
			req.Header[k] = []string{v} // as written: lower case goes on the wire lower case
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	forged := map[string]string{"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}
	lowerForged := map[string]string{"x-remote-user": "system:admin", "x-remote-group": "system:masters"}

	cases := []struct {
		name     string
		cert     *tls.Certificate
		headers  map[string]string
		wantCode int
		wantBody string
	}{
		{"admin certificate", &admin, nil, 200, "admin system:masters,system:authenticated"},
		{"admin certificate with forged headers", &admin, forged, 200, "admin system:masters,system:authenticated"},
		{"proxy with headers", &proxy, map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "dev"}, 200, "alice dev,system:authenticated"},
		{"proxy, lower-case headers", &proxy, map[string]string{"x-remote-user": "alice"}, 200, "alice system:authenticated"},
		{"proxy naming nobody is not a user", &proxy, nil, 401, ""},
		{"forged headers, no certificate", nil, forged, 200, "system:anonymous system:unauthenticated"},
		{"lower-case forged headers, no certificate", nil, lowerForged, 200, "system:anonymous system:unauthenticated"},
		{"forged headers with a token", nil, map[string]string{"Authorization": "Bearer bob-token", "X-Remote-User": "system:admin"}, 200, "bob system:authenticated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := call(c.cert, c.headers)
			if code != c.wantCode || (c.wantBody != "" && body != c.wantBody) {
				t.Errorf("HTTP %d %q, want %d %q", code, body, c.wantCode, c.wantBody)
			}
		})
	}
}
