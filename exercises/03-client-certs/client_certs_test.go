package clientcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the time the tests' certificates are valid at. It is years from
// the time the tests run, so an authenticator that checks at time.Now
// instead of a.Now finds every certificate not yet valid.
var now = time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// testCA is a certificate authority made for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64 = 100

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign makes a certificate from template for key, signed by parent
// (self-signed when parent is nil). Unset serials and validity get
// defaults: the next serial, and an hour either side of now.
func sign(t *testing.T, template *x509.Certificate, key *ecdsa.PrivateKey, parent *testCA) *x509.Certificate {
	t.Helper()
	if template.SerialNumber == nil {
		serial++
		template.SerialNumber = big.NewInt(serial)
	}
	if template.NotBefore.IsZero() {
		template.NotBefore, template.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
	}
	signer, signerKey := template, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func caTemplate(cn string, skid []byte, usages ...x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		SubjectKeyId:          skid,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
	}
}

func newCA(t *testing.T, cn string, skid []byte) *testCA {
	key := newKey(t)
	return &testCA{sign(t, caTemplate(cn, skid), key, nil), key}
}

// intermediate is a CA that ca signed, limited to these extended key
// usages if any are given.
func (ca *testCA) intermediate(t *testing.T, cn string, skid []byte, usages ...x509.ExtKeyUsage) *testCA {
	key := newKey(t)
	return &testCA{sign(t, caTemplate(cn, skid, usages...), key, ca), key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a leaf certificate from template.
func (ca *testCA) issue(t *testing.T, template *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	template.KeyUsage = x509.KeyUsageDigitalSignature
	key := newKey(t)
	return sign(t, template, key, ca), key
}

// client is a client certificate for a user in groups.
func (ca *testCA) client(t *testing.T, cn string, groups ...string) *x509.Certificate {
	cert, _ := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return cert
}

// withUIDs is a client certificate whose subject holds these UID attributes.
func (ca *testCA) withUIDs(t *testing.T, cn string, uids ...string) *x509.Certificate {
	var extra []pkix.AttributeTypeAndValue
	for _, uid := range uids {
		extra = append(extra, pkix.AttributeTypeAndValue{Type: UIDOID, Value: uid})
	}
	cert, _ := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn, ExtraNames: extra},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return cert
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "X509SHA256=" + hex.EncodeToString(sum[:])
}

// user is the User a certificate stands for.
func user(cert *x509.Certificate, uid string) *User {
	return &User{Name: cert.Subject.CommonName, UID: uid, Groups: cert.Subject.Organization,
		Extra: map[string][]string{CredentialIDKey: {fingerprint(cert)}}}
}

func sameUser(a, b *User) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Name == b.Name && a.UID == b.UID && slices.Equal(a.Groups, b.Groups) && reflect.DeepEqual(a.Extra, b.Extra)
}

// request is a request whose TLS client presented chain; nil is a request
// without TLS.
func request(chain ...*x509.Certificate) *http.Request {
	r := httptest.NewRequest("GET", "https://kube-apiserver.example/api/v1/namespaces/default/pods", nil)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: chain}
	return r
}

func TestCertificateIdentifier(t *testing.T) {
	ca := newCA(t, "client-ca", []byte{0xca, 0xfe})
	withSKID, _ := ca.issue(t, &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "alice"},
		SubjectKeyId: []byte{0x01, 0xab, 0xcd}})
	withoutSKID, _ := ca.issue(t, &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bob"}})
	bigSerial, _ := ca.issue(t, &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(1), 100), Subject: pkix.Name{CommonName: "carol"},
		SubjectKeyId: []byte{0x00, 0x0f}})
	selfSigned := sign(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "mallory"}}, newKey(t), nil)
	tests := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"serial in decimal, key ids in upper-case hex with colons", withSKID, "SN=42, SKID=01:AB:CD, AKID=CA:FE"},
		{"no subject key id is empty", withoutSKID, "SN=7, SKID=, AKID=CA:FE"},
		{"a serial beyond int64, and leading zero bytes", bigSerial, "SN=1267650600228229401496703205376, SKID=00:0F, AKID=CA:FE"},
		{"neither key id", selfSigned, "SN=3, SKID=, AKID="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CertificateIdentifier(tt.cert); got != tt.want {
				t.Errorf("CertificateIdentifier(%s) = %q, want %q", tt.cert.Subject.CommonName, got, tt.want)
			}
		})
	}
}

func TestUserFromCertificate(t *testing.T) {
	ca := newCA(t, "client-ca", []byte{0xca, 0xfe})
	alice := ca.client(t, "alice", "dev", "ops")
	admin := ca.client(t, "kubernetes-admin", "system:masters")
	loner := ca.client(t, "loner")
	nobody := ca.client(t, "", "system:masters")
	withUID := ca.withUIDs(t, "bob", "5b4a0a47-1c6f-4d8e-9c1e-0b7c2a3d4e5f")
	twoUIDs := ca.withUIDs(t, "bob", "u1", "u2")
	emptyUID := ca.withUIDs(t, "bob", "")
	tests := []struct {
		name    string
		cert    *x509.Certificate
		want    *User
		wantErr string
	}{
		{"the common name is the user, the organizations the groups, in order", alice, user(alice, ""), ""},
		{"system:masters is just an organization", admin, user(admin, ""), ""},
		{"no organization: no groups", loner, user(loner, ""), ""},
		{"no common name: nobody, however privileged the groups", nobody, nil, ""},
		{"a UID attribute is the UID", withUID, user(withUID, "5b4a0a47-1c6f-4d8e-9c1e-0b7c2a3d4e5f"), ""},
		{"two UID attributes are an error", twoUIDs, nil, "expected 1 UID, but found multiple: [u1 u2]"},
		{"an empty UID is an error", emptyUID, nil, "UID cannot be an empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := UserFromCertificate(tt.cert)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr || ok || got != nil {
					t.Errorf("UserFromCertificate = %+v, %v, %v; want nil, false, %q", got, ok, err, tt.wantErr)
				}
			case tt.want == nil:
				if got != nil || ok || err != nil {
					t.Errorf("UserFromCertificate = %+v, %v, %v; want nil, false, nil", got, ok, err)
				}
			default:
				if !ok || err != nil || !sameUser(got, tt.want) {
					t.Errorf("UserFromCertificate =\n\t%+v, %v, %v\nwant\n\t%+v, true, nil", got, ok, err, tt.want)
				}
			}
		})
	}
}

// failure is how a certificate fails to verify.
type failure int

const (
	noFailure failure = iota
	unknownAuthority
	expired
	incompatibleUsage
)

func (f failure) check(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch f {
	case unknownAuthority:
		return errors.As(err, &unknown)
	case expired:
		return errors.As(err, &invalid) && invalid.Reason == x509.Expired
	case incompatibleUsage:
		return errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage
	}
	return false
}

func (f failure) String() string {
	return [...]string{"no failure", "x509.UnknownAuthorityError", "x509.CertificateInvalidError{Reason: x509.Expired}",
		"x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}"}[f]
}

func TestAuthenticateRequest(t *testing.T) {
	ca := newCA(t, "client-ca", []byte{0xca, 0x01})
	stranger := newCA(t, "client-ca", []byte{0xca, 0x02}) // the same name, another key
	other := newCA(t, "other-ca", []byte{0xca, 0x03})
	inter := ca.intermediate(t, "client-intermediate", []byte{0x1a, 0x7e})
	serverOnlyInter := ca.intermediate(t, "serving-intermediate", []byte{0x5e, 0x7e}, x509.ExtKeyUsageServerAuth)
	both := x509.NewCertPool()
	both.AddCert(other.cert)
	both.AddCert(ca.cert)

	alice := ca.client(t, "alice", "dev", "system:authenticated")
	nobody := ca.client(t, "", "system:masters")
	withUID := ca.withUIDs(t, "bob", "u-123")
	twoUIDs := ca.withUIDs(t, "bob", "u1", "u2")
	viaInter := inter.client(t, "carol", "dev")
	fromOther := other.client(t, "dave")
	strangers, _ := stranger.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1001), Subject: pkix.Name{CommonName: "alice", Organization: []string{"system:masters"}},
		SubjectKeyId: []byte{0x10, 0x01}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	serverOnly, _ := ca.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1002), Subject: pkix.Name{CommonName: "kube-apiserver"},
		SubjectKeyId: []byte{0x10, 0x02}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	serverAndClient, _ := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "node-1", Organization: []string{"system:nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	anyUsage, _ := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "erin"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	noUsage, _ := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "frank"}})
	expiredCert, _ := ca.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1003), Subject: pkix.Name{CommonName: "alice"},
		SubjectKeyId: []byte{0x10, 0x03}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: now.AddDate(0, 0, -30), NotAfter: now.AddDate(0, 0, -1)})
	notYetValid, _ := ca.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1004), Subject: pkix.Name{CommonName: "alice"},
		SubjectKeyId: []byte{0x10, 0x04}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: now.AddDate(0, 0, 1), NotAfter: now.AddDate(0, 0, 30)})
	orphan, _ := inter.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1005), Subject: pkix.Name{CommonName: "carol"},
		SubjectKeyId: []byte{0x10, 0x05}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	underServerOnly, _ := serverOnlyInter.issue(t, &x509.Certificate{SerialNumber: big.NewInt(1006), Subject: pkix.Name{CommonName: "grace"},
		SubjectKeyId: []byte{0x10, 0x06}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	// A CA valid for a year around today, and a certificate it issued, for
	// the authenticator without a clock of its own.
	today := time.Now()
	todayCA := &testCA{key: newKey(t)}
	todayCA.cert = sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "today-ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: today.AddDate(0, 0, -1), NotAfter: today.AddDate(1, 0, 0)}, todayCA.key, nil)
	todays, _ := todayCA.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "heidi"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: today.AddDate(0, 0, -1), NotAfter: today.AddDate(0, 1, 0)})

	noTLS := httptest.NewRequest("GET", "http://kube-apiserver.example/api", nil)
	standard := &Authenticator{ClientCA: ca.pool(), Now: at(now)}

	tests := []struct {
		name    string
		auth    *Authenticator // standard if nil
		r       *http.Request
		want    *User   // nil: not authenticated
		failure failure // how verification fails
		errText string  // the whole message (UID errors), or its start (verification)
	}{
		// Not this authenticator's request.
		{name: "no TLS: not mine", r: noTLS},
		{name: "TLS without a client certificate: not mine", r: request()},
		{name: "no client CA: no opinion, even on a good certificate", auth: &Authenticator{Now: at(now)}, r: request(alice)},

		// Good certificates.
		{name: "a client certificate the CA signed", r: request(alice), want: user(alice, "")},
		{name: "one of two CAs in the pool", auth: &Authenticator{ClientCA: both, Now: at(now)}, r: request(alice), want: user(alice, "")},
		{name: "the other one", auth: &Authenticator{ClientCA: both, Now: at(now)}, r: request(fromOther), want: user(fromOther, "")},
		{name: "good for server and client authentication", r: request(serverAndClient), want: user(serverAndClient, "")},
		{name: "good for any usage", r: request(anyUsage), want: user(anyUsage, "")},
		{name: "no extended key usage means any", r: request(noUsage), want: user(noUsage, "")},
		{name: "through an intermediate the client sent", r: request(viaInter, inter.cert), want: user(viaInter, "")},
		{name: "a UID attribute", r: request(withUID), want: user(withUID, "u-123")},
		{name: "checked at a.Now, not at the time of the test", auth: &Authenticator{ClientCA: ca.pool(), Now: at(now.Add(50 * time.Minute))},
			r: request(alice), want: user(alice, "")},
		{name: "no clock: time.Now", auth: &Authenticator{ClientCA: todayCA.pool()}, r: request(todays), want: user(todays, "")},

		// Verified, but nobody.
		{name: "no common name: not authenticated, not an error", r: request(nobody)},
		{name: "two UID attributes: an error", r: request(twoUIDs), errText: "expected 1 UID, but found multiple: [u1 u2]"},

		// Certificates that do not verify.
		{name: "another CA with the same name", r: request(strangers), failure: unknownAuthority,
			errText: "verifying certificate SN=1001, SKID=10:01, AKID=CA:02 failed: "},
		{name: "a CA the server does not trust", auth: &Authenticator{ClientCA: other.pool(), Now: at(now)}, r: request(alice),
			failure: unknownAuthority, errText: "verifying certificate " + identifierOf(alice) + " failed: "},
		{name: "a server certificate of the same CA", r: request(serverOnly), failure: incompatibleUsage,
			errText: "verifying certificate SN=1002, SKID=10:02, AKID=CA:01 failed: "},
		{name: "expired", r: request(expiredCert), failure: expired,
			errText: "verifying certificate SN=1003, SKID=10:03, AKID=CA:01 failed: "},
		{name: "not yet valid", r: request(notYetValid), failure: expired,
			errText: "verifying certificate SN=1004, SKID=10:04, AKID=CA:01 failed: "},
		{name: "valid at now, expired two hours later", auth: &Authenticator{ClientCA: ca.pool(), Now: at(now.Add(2 * time.Hour))},
			r: request(alice), failure: expired, errText: "verifying certificate " + identifierOf(alice) + " failed: "},
		{name: "an intermediate the client did not send", r: request(orphan), failure: unknownAuthority,
			errText: "verifying certificate SN=1005, SKID=10:05, AKID=1A:7E failed: "},
		{name: "an intermediate only good for servers", r: request(underServerOnly, serverOnlyInter.cert), failure: incompatibleUsage,
			errText: "verifying certificate SN=1006, SKID=10:06, AKID=5E:7E failed: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := tt.auth
			if auth == nil {
				auth = standard
			}
			got, ok, err := auth.AuthenticateRequest(tt.r)
			switch {
			case tt.errText != "":
				if err == nil {
					t.Fatalf("AuthenticateRequest = %+v, %v, nil; want an error", got, ok)
				}
				if ok || got != nil {
					t.Errorf("AuthenticateRequest returned %+v, %v with its error; want nil, false", got, ok)
				}
				if tt.failure == noFailure && err.Error() != tt.errText {
					t.Errorf("error %q, want %q", err, tt.errText)
				}
				if tt.failure != noFailure && !strings.HasPrefix(err.Error(), tt.errText) {
					t.Errorf("error %q, want it to start with %q", err, tt.errText)
				}
				if tt.failure != noFailure && !tt.failure.check(err) {
					t.Errorf("error %q wraps no %s: return Verify's error with %%w", err, tt.failure)
				}
			case tt.want == nil:
				if got != nil || ok || err != nil {
					t.Errorf("AuthenticateRequest = %+v, %v, %v; want nil, false, nil", got, ok, err)
				}
			default:
				if !ok || err != nil || !sameUser(got, tt.want) {
					t.Errorf("AuthenticateRequest =\n\t%+v, %v, %v\nwant\n\t%+v, true, nil", got, ok, err, tt.want)
				}
			}
		})
	}
}

// identifierOf is the identifier of a certificate whose serial and key ids
// the test did not choose, computed independently.
func identifierOf(c *x509.Certificate) string {
	hexes := func(b []byte) string {
		s := strings.ToUpper(hex.EncodeToString(b))
		var parts []string
		for i := 0; i < len(s); i += 2 {
			parts = append(parts, s[i:i+2])
		}
		return strings.Join(parts, ":")
	}
	return "SN=" + c.SerialNumber.String() + ", SKID=" + hexes(c.SubjectKeyId) + ", AKID=" + hexes(c.AuthorityKeyId)
}

// Over real TLS, as kube-apiserver runs it: the handshake asks for a client
// certificate but does not check it (tls.RequestClientCert), and the
// authenticator decides.
func TestOverTLS(t *testing.T) {
	ca := newCA(t, "client-ca", []byte{0xca, 0x01})
	stranger := newCA(t, "client-ca", []byte{0xca, 0x02})
	inter := ca.intermediate(t, "client-intermediate", []byte{0x1a, 0x7e})
	auth := &Authenticator{ClientCA: ca.pool(), Now: at(now)}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := auth.AuthenticateRequest(r)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case !ok:
			_, _ = w.Write([]byte(`"system:anonymous"`))
		default:
			_ = json.NewEncoder(w).Encode(u)
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()

	// call sends a request presenting chain, signed for with key.
	call := func(key *ecdsa.PrivateKey, chain ...*x509.Certificate) (int, string) {
		t.Helper()
		transport := srv.Client().Transport.(*http.Transport).Clone() // trusts the server's certificate
		if len(chain) > 0 {
			var raw [][]byte
			for _, c := range chain {
				raw = append(raw, c.Raw)
			}
			transport.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: raw, PrivateKey: key}}
		}
		defer transport.CloseIdleConnections()
		resp, err := (&http.Client{Transport: transport}).Get(srv.URL + "/api")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return resp.StatusCode, strings.TrimSpace(string(body))
	}

	aliceCert, aliceKey := ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"dev"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	carolCert, carolKey := inter.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "carol"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	malloryCert, malloryKey := stranger.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	t.Run("alice", func(t *testing.T) {
		code, body := call(aliceKey, aliceCert)
		var got User
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || !sameUser(&got, user(aliceCert, "")) {
			t.Errorf("alice's certificate: %d %s; want 200 and %+v", code, body, user(aliceCert, ""))
		}
	})
	t.Run("carol, through the intermediate she sends", func(t *testing.T) {
		code, body := call(carolKey, carolCert, inter.cert)
		var got User
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || !sameUser(&got, user(carolCert, "")) {
			t.Errorf("carol's chain: %d %s; want 200 and %+v", code, body, user(carolCert, ""))
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		if code, body := call(nil); code != http.StatusOK || body != `"system:anonymous"` {
			t.Errorf("no certificate: %d %s; want 200 and anonymous", code, body)
		}
	})
	t.Run("mallory's own CA", func(t *testing.T) {
		if code, body := call(malloryKey, malloryCert); code != http.StatusUnauthorized || !strings.HasPrefix(body, "verifying certificate SN=") {
			t.Errorf("a certificate of another CA: %d %s; want 401 and the verification error", code, body)
		}
	})
}
