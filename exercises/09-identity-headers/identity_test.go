package identityheaders

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test: the front-proxy CA,
// an intermediate of it, or a stranger's.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
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

// sign makes a certificate from template for key, signed by ca (self-signed
// when ca is nil).
func sign(t *testing.T, template *x509.Certificate, key *ecdsa.PrivateKey, ca *testCA) *x509.Certificate {
	t.Helper()
	serial++
	template.SerialNumber = big.NewInt(serial)
	if template.NotBefore.IsZero() {
		template.NotBefore = time.Now().Add(-time.Hour)
		template.NotAfter = time.Now().Add(time.Hour)
	}
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

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
}

func newCA(t *testing.T, cn string) *testCA {
	key := newKey(t)
	return &testCA{sign(t, caTemplate(cn), key, nil), key}
}

func (ca *testCA) intermediate(t *testing.T, cn string) *testCA {
	key := newKey(t)
	return &testCA{sign(t, caTemplate(cn), key, ca), key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf is a certificate ca signed for cn, valid for client authentication
// unless other usages are given.
func (ca *testCA) leaf(t *testing.T, cn string, usages ...x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	return ca.leafFrom(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, ExtKeyUsage: usages})
}

func (ca *testCA) leafFrom(t *testing.T, template *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	if template.ExtKeyUsage == nil {
		template.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	template.KeyUsage = x509.KeyUsageDigitalSignature
	key := newKey(t)
	return sign(t, template, key, ca), key
}

// request is a request to an extension server whose client presented
// chain (nil: a connection without TLS).
func request(chain []*x509.Certificate, h http.Header) *http.Request {
	r := httptest.NewRequest("GET", "https://extension.example/apis/notes.example.com/v1alpha1/notes", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: chain}
	if chain == nil {
		r.TLS = nil
	}
	r.Header = h.Clone()
	return r
}

func sameUser(a, b User) bool {
	return a.Name == b.Name && slices.Equal(a.Groups, b.Groups) &&
		maps.EqualFunc(a.Extra, b.Extra, func(x, y []string) bool { return slices.Equal(x, y) })
}

func TestAuthenticate(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	stranger := newCA(t, "front-proxy-ca") // the same name, another key
	inter := frontProxy.intermediate(t, "front-proxy-intermediate")
	proxy, _ := frontProxy.leaf(t, "front-proxy-client")
	otherName, _ := frontProxy.leaf(t, "some-other-client")
	strangers, _ := stranger.leaf(t, "front-proxy-client")
	serverOnly, _ := frontProxy.leaf(t, "front-proxy-client", x509.ExtKeyUsageServerAuth)
	expired, _ := frontProxy.leafFrom(t, &x509.Certificate{Subject: pkix.Name{CommonName: "front-proxy-client"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	viaIntermediate, _ := inter.leaf(t, "front-proxy-client")

	alice := http.Header{"X-Remote-User": {"alice"}, "X-Remote-Group": {"dev", "system:authenticated"}}
	opts := Options{CA: frontProxy.pool(), AllowedNames: []string{"front-proxy-client"}}

	tests := []struct {
		name    string
		chain   []*x509.Certificate // nil: no TLS at all
		header  http.Header
		opts    *Options // opts if nil
		want    User
		ok      bool
		wantErr bool
	}{
		{name: "the front-proxy's certificate vouches for the headers", chain: []*x509.Certificate{proxy}, header: alice,
			want: User{Name: "alice", Groups: []string{"dev", "system:authenticated"}}, ok: true},
		{name: "no TLS: the headers are not believed, and no error", header: alice},
		{name: "TLS without a client certificate: the same", chain: []*x509.Certificate{}, header: alice},
		{name: "a certificate from another CA, with the same names", chain: []*x509.Certificate{strangers}, header: alice, wantErr: true},
		{name: "a common name that is not allowed", chain: []*x509.Certificate{otherName}, header: alice, wantErr: true},
		{name: "any common name when none are listed", chain: []*x509.Certificate{otherName}, header: alice,
			opts: &Options{CA: frontProxy.pool()},
			want: User{Name: "alice", Groups: []string{"dev", "system:authenticated"}}, ok: true},
		{name: "a server certificate is not a client's", chain: []*x509.Certificate{serverOnly}, header: alice, wantErr: true},
		{name: "an expired certificate", chain: []*x509.Certificate{expired}, header: alice, wantErr: true},
		{name: "a chain through an intermediate the client sent", chain: []*x509.Certificate{viaIntermediate, inter.cert}, header: alice,
			want: User{Name: "alice", Groups: []string{"dev", "system:authenticated"}}, ok: true},
		{name: "the intermediate not sent", chain: []*x509.Certificate{viaIntermediate}, header: alice, wantErr: true},
		{name: "no user name: groups alone say nothing", chain: []*x509.Certificate{proxy},
			header: http.Header{"X-Remote-Group": {"system:masters"}}},
		{name: "an empty user name", chain: []*x509.Certificate{proxy},
			header: http.Header{"X-Remote-User": {""}, "X-Remote-Group": {"system:masters"}}},
		{name: "no groups", chain: []*x509.Certificate{proxy}, header: http.Header{"X-Remote-User": {"bob"}},
			want: User{Name: "bob"}, ok: true},
		{name: "every group value, in order; a comma is part of a name; empty values skipped", chain: []*x509.Certificate{proxy},
			header: http.Header{"X-Remote-User": {"bob"}, "X-Remote-Group": {"ops", "", "dev,qa", "system:authenticated"}},
			want:   User{Name: "bob", Groups: []string{"ops", "dev,qa", "system:authenticated"}}, ok: true},
		{name: "extra: keys lower case and unescaped, every value", chain: []*x509.Certificate{proxy},
			header: http.Header{
				"X-Remote-User":                       {"bob"},
				"X-Remote-Extra-Example.com%2fscope":  {"read", "write"},
				"X-Remote-Extra-Reason":               {"on call"},
				"X-Remote-Extra-Credential%2d%2dname": {"x"},
				"X-Remote-Extra-Bad%zz":               {"kept as sent"},
			},
			want: User{Name: "bob", Extra: map[string][]string{
				"example.com/scope": {"read", "write"},
				"reason":            {"on call"},
				"credential--name":  {"x"},
				"bad%zz":            {"kept as sent"},
			}}, ok: true},
		{name: "configured headers replace the defaults; the first user name that is there wins", chain: []*x509.Certificate{proxy},
			header: http.Header{
				"X-Remote-User":        {"mallory"},
				"X-Remote-Group":       {"system:masters"},
				"X-Remote-Extra-Scope": {"all"},
				"X-Proxy-User":         {""},
				"X-Forwarded-User":     {"carol"},
				"X-Proxy-Group":        {"ops"},
				"X-Forwarded-Groups":   {"dev"},
				"X-Proxy-Extra-Scope":  {"read"},
			},
			opts: &Options{CA: frontProxy.pool(), AllowedNames: []string{"front-proxy-client"},
				UsernameHeaders:     []string{"X-Proxy-User", "X-Forwarded-User"},
				GroupHeaders:        []string{"X-Proxy-Group", "X-Forwarded-Groups"},
				ExtraHeaderPrefixes: []string{"X-Proxy-Extra-"}},
			want: User{Name: "carol", Groups: []string{"ops", "dev"}, Extra: map[string][]string{"scope": {"read"}}}, ok: true},
		{name: "configured headers: X-Remote-User is not read any more", chain: []*x509.Certificate{proxy},
			header: http.Header{"X-Remote-User": {"mallory"}, "X-Remote-Group": {"system:masters"}},
			opts:   &Options{CA: frontProxy.pool(), UsernameHeaders: []string{"X-Proxy-User"}}},
		{name: "header names and prefixes are compared without case", chain: []*x509.Certificate{proxy},
			header: http.Header{"X-Remote-User": {"bob"}, "X-Remote-Group": {"dev"}, "X-Remote-Extra-Scope": {"read"}},
			opts: &Options{CA: frontProxy.pool(),
				UsernameHeaders: []string{"x-remote-user"}, GroupHeaders: []string{"x-REMOTE-group"}, ExtraHeaderPrefixes: []string{"x-remote-extra-"}},
			want: User{Name: "bob", Groups: []string{"dev"}, Extra: map[string][]string{"scope": {"read"}}}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			got, ok, err := Authenticate(request(tt.chain, tt.header), o)
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("Authenticate = %+v, %v, nil; want an error: this certificate must not vouch for anyone", got, ok)
			case !tt.wantErr && err != nil:
				t.Fatalf("Authenticate: unexpected error %v", err)
			case ok != tt.ok:
				t.Fatalf("Authenticate = %+v, ok=%v; want ok=%v", got, ok, tt.ok)
			case !sameUser(got, tt.want):
				t.Errorf("Authenticate = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Once believed, the identity headers are used up: a handler further on
// must not read them as if a client had just sent them. Other headers stay.
func TestAuthenticateConsumesTheHeaders(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	proxy, _ := frontProxy.leaf(t, "front-proxy-client")
	r := request([]*x509.Certificate{proxy}, http.Header{
		"X-Remote-User":         {"alice"},
		"X-Remote-Group":        {"dev"},
		"X-Remote-Extra-Reason": {"on call"},
		"x-remote-extra-scope":  {"read"}, // not canonical: compared without case
		"Accept":                {"application/json"},
	})
	if _, ok, err := Authenticate(r, Options{CA: frontProxy.pool()}); !ok || err != nil {
		t.Fatalf("Authenticate = %v, %v; want alice", ok, err)
	}
	want := http.Header{"Accept": {"application/json"}}
	if !maps.EqualFunc(r.Header, want, slices.Equal) {
		t.Errorf("after Authenticate the request's headers are %v, want %v", r.Header, want)
	}
}

func TestSetIdentityHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		user User
		want http.Header
	}{
		{
			name: "the user's identity, and nothing the client said about it",
			in: http.Header{
				"Accept":                 {"application/json"},
				"User-Agent":             {"kubectl/v1.37.1"},
				"x-remote-user":          {"mallory"}, // lower case, as a client could set it
				"X-Remote-Group":         {"system:masters"},
				"X-Remote-Extra-Scopes":  {"all"},
				"X-REMOTE-EXTRA-REASON":  {"forged"},
				"X-Remote-Uid":           {"0"},
				"Impersonate-User":       {"admin"},
				"Impersonate-Group":      {"system:masters"},
				"impersonate-extra-team": {"root"},
				"Impersonate-Uid":        {"0"},
			},
			user: User{Name: "alice", Groups: []string{"dev", "system:authenticated"},
				Extra: map[string][]string{"example.com/scope": {"read", "write"}, "reason": {"on call"}}},
			want: http.Header{
				"Accept":                             {"application/json"},
				"User-Agent":                         {"kubectl/v1.37.1"},
				"X-Remote-User":                      {"alice"},
				"X-Remote-Group":                     {"dev", "system:authenticated"},
				"X-Remote-Extra-Example.com%2fscope": {"read", "write"},
				"X-Remote-Extra-Reason":              {"on call"},
			},
		},
		{
			name: "a user without groups or extra removes the client's",
			in:   http.Header{"X-Remote-User": {"mallory"}, "X-Remote-Group": {"system:masters"}, "X-Remote-Extra-Scope": {"all"}},
			user: User{Name: "bob"},
			want: http.Header{"X-Remote-User": {"bob"}},
		},
		{
			name: "a group with a comma is one value; extra keys are escaped",
			in:   http.Header{},
			user: User{Name: "carol", Groups: []string{"dev,qa"},
				Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=ab12"}, "on call": {"yes"}}},
			want: http.Header{
				"X-Remote-User":  {"carol"},
				"X-Remote-Group": {"dev,qa"},
				"X-Remote-Extra-Authentication.kubernetes.io%2fcredential-Id": {"X509SHA256=ab12"},
				"X-Remote-Extra-On%20call":                                    {"yes"},
			},
		},
		{
			name: "headers that only look alike stay",
			in:   http.Header{"X-Remoteuser": {"x"}, "Remote-User": {"y"}, "X-Impersonate-User": {"z"}},
			user: User{Name: "dave"},
			want: http.Header{"X-Remoteuser": {"x"}, "Remote-User": {"y"}, "X-Impersonate-User": {"z"}, "X-Remote-User": {"dave"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.in.Clone()
			SetIdentityHeaders(h, tt.user)
			if !maps.EqualFunc(h, tt.want, slices.Equal) {
				t.Errorf("SetIdentityHeaders gave\n  %v\nwant\n  %v", h, tt.want)
			}
		})
	}
}

// The two halves together: what one side writes, the other reads back.
func TestRoundTrip(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	proxy, _ := frontProxy.leaf(t, "front-proxy-client")
	users := []User{
		{Name: "alice"},
		{Name: "system:serviceaccount:default:builder", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"},
			Extra: map[string][]string{
				"authentication.kubernetes.io/credential-id": {"JTI=7f3c"},
				"authentication.kubernetes.io/pod-name":      {"builder-7d9"},
				"scopes.example.com":                         {"read", "write"},
				"on call":                                    {"yes"},
				"100%":                                       {"sure"},
			}},
	}
	for _, u := range users {
		h := http.Header{"X-Remote-Group": {"system:masters"}}
		SetIdentityHeaders(h, u)
		got, ok, err := Authenticate(request([]*x509.Certificate{proxy}, h), Options{CA: frontProxy.pool(), AllowedNames: []string{"front-proxy-client"}})
		if err != nil || !ok || !sameUser(got, u) {
			t.Errorf("sent %+v as\n  %v\nread back %+v, %v, %v", u, h, got, ok, err)
		}
	}
}

// Over real TLS, as chapter 09's aggregator talks to its extension server:
// Go's server canonicalises header names, so a lower-case header the proxy
// forgot to remove arrives as the real one.
func TestOverTLS(t *testing.T) {
	frontProxy := newCA(t, "front-proxy-ca")
	opts := Options{CA: frontProxy.pool(), AllowedNames: []string{"front-proxy-client"}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := Authenticate(r, opts)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case !ok:
			w.WriteHeader(http.StatusNoContent) // anonymous
		default:
			_ = json.NewEncoder(w).Encode(u)
		}
	}))
	// Ask for a certificate, check none: Authenticate is the check.
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	call := func(client *http.Client, h http.Header) (int, User) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/apis/notes.example.com/v1alpha1/notes", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var u User
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, u
	}
	withCert := func(ca *testCA, cn string) *http.Client {
		cert, key := ca.leaf(t, cn)
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
		return &http.Client{Transport: tr}
	}

	// The aggregator: the client's request with its forged headers, then
	// SetIdentityHeaders for the user the main server authenticated.
	h := http.Header{"Accept": {"application/json"}}
	h["x-remote-group"] = []string{"system:masters"}
	h["x-remote-user"] = []string{"mallory"}
	SetIdentityHeaders(h, User{Name: "alice", Groups: []string{"dev"}})
	code, u := call(withCert(frontProxy, "front-proxy-client"), h)
	if want := (User{Name: "alice", Groups: []string{"dev"}}); code != http.StatusOK || !sameUser(u, want) {
		t.Errorf("through the proxy: %d %+v, want 200 %+v", code, u, want)
	}

	// Clients that talk to the extension directly.
	if code, u := call(srv.Client(), http.Header{"X-Remote-User": {"admin"}, "X-Remote-Group": {"system:masters"}}); code != http.StatusNoContent {
		t.Errorf("without a client certificate: %d %+v, want 204 (anonymous)", code, u)
	}
	if code, u := call(withCert(newCA(t, "front-proxy-ca"), "front-proxy-client"), http.Header{"X-Remote-User": {"admin"}}); code != http.StatusUnauthorized {
		t.Errorf("with a stranger's certificate: %d %+v, want 401", code, u)
	}
	if code, u := call(withCert(frontProxy, "alice"), http.Header{"X-Remote-User": {"admin"}}); code != http.StatusUnauthorized {
		t.Errorf("with a front-proxy certificate for another name: %d %+v, want 401", code, u)
	}
}
