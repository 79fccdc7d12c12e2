// A sample extension API server for chapter 09, in the spirit of metrics-server:
// it serves notes.example.com/v1alpha1 behind the main server's aggregator. It
// has no users of its own; it believes the identity the main server sends in
// X-Remote-* headers, and only over a front-proxy client certificate.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// serviceDNSName is the name the main server checks the serving certificate
// against: <service>.<namespace>.svc of the Service in register.yaml, as
// Kubernetes' aggregator does.
const serviceDNSName = "notes-api.default.svc"

// options are kube-apiserver's flag names, where it has them.
type options struct {
	bindAddress, dataDir string
	securePort           int
	clientCAFile         string // --requestheader-client-ca-file
	allowedNames         string
	usernameHeaders      string
	groupHeaders         string
	extraHeadersPrefix   string
}

// parseFlags reads the command line; a problem is reported on stderr and
// returned, and main exits 2 on it, as the flag package does.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("extension", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "IP address to listen on")
	fs.IntVar(&o.securePort, "secure-port", 8443, "HTTPS port (0 picks a free one)")
	fs.StringVar(&o.dataDir, "data-dir", "data/09-extension", "where the CA, the serving certificate and register.yaml are kept")
	fs.StringVar(&o.clientCAFile, "requestheader-client-ca-file", "", "the front-proxy CA: only client certificates it signed may assert an identity (required)")
	fs.StringVar(&o.allowedNames, "requestheader-allowed-names", "front-proxy-client", "comma-separated common names allowed to assert an identity; empty: any the CA signed")
	fs.StringVar(&o.usernameHeaders, "requestheader-username-headers", "X-Remote-User", "comma-separated headers holding the user name; the first non-empty one wins")
	fs.StringVar(&o.groupHeaders, "requestheader-group-headers", "X-Remote-Group", "comma-separated headers holding the groups, one group per value")
	fs.StringVar(&o.extraHeadersPrefix, "requestheader-extra-headers-prefix", "X-Remote-Extra-", "comma-separated prefixes of headers holding extra user information")
	if err := fs.Parse(args); err != nil {
		return nil, err // the flag package has said what is wrong
	}
	var problem error
	switch {
	case fs.NArg() > 0:
		problem = fmt.Errorf("unexpected arguments: %v", fs.Args())
	case o.clientCAFile == "":
		problem = errors.New("--requestheader-client-ca-file is required: the front-proxy CA whose client certificates may say who the caller is (the main server's front-proxy CA)")
	case len(splitList(o.usernameHeaders)) == 0:
		problem = errors.New("--requestheader-username-headers may not be empty: no request could carry a user")
	}
	if problem != nil {
		fmt.Fprintln(stderr, problem)
	}
	return o, problem
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}
	srv, ln, err := start(o, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// start does everything but serving: certificates, the listener,
// register.yaml and the welcome text. The caller serves with srv.ServeTLS(ln, "", "").
func start(o *options, stdout io.Writer) (*http.Server, net.Listener, error) {
	authn, err := newRequestHeaderAuthenticator(o)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return nil, nil, err
	}
	ca, err := loadOrIssue(o.dataDir, "ca", caTemplate(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("CA: %w", err)
	}
	serving, err := loadOrIssue(o.dataDir, "serving", servingTemplate(), &ca)
	if err != nil {
		return nil, nil, fmt.Errorf("serving certificate: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.bindAddress, strconv.Itoa(o.securePort)))
	if err != nil {
		return nil, nil, err
	}
	ip, port := advertisedIP(o.bindAddress), ln.Addr().(*net.TCPAddr).Port
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Leaf.Raw})
	registration, err := writeRegistration(o.dataDir, ip, port, caPEM)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("writing register.yaml: %w", err)
	}
	printWelcome(stdout, "https://"+net.JoinHostPort(ip, strconv.Itoa(port)), registration, o)

	srv := &http.Server{
		Handler: withAuthentication(newNotesAPI().routes(), authn),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving},
			// A client certificate is optional (discovery and health are
			// open), but one that is sent must chain to the front-proxy CA.
			ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs:  authn.clientCA,
			MinVersion: tls.VersionTLS12,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	return srv, ln, nil
}

// advertisedIP is the address the main server should dial: the bind address,
// or 127.0.0.1 when it listens on all addresses.
func advertisedIP(bindAddress string) string {
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	return "127.0.0.1"
}

func printWelcome(w io.Writer, url, registration string, o *options) {
	names := o.allowedNames
	if names == "" {
		names = "any"
	}
	fmt.Fprintf(w, "notes extension serving on %s\n\n", url)
	fmt.Fprintf(w, "Identity is believed only from client certificates signed by %s (CN: %s).\n", o.clientCAFile, names)
	fmt.Fprintln(w, "Register it with the main server (chapter 09), then try:")
	fmt.Fprintf(w, "  kubectl apply -f %s\n", registration)
	fmt.Fprintln(w, "  kubectl get apiservices")
	fmt.Fprintln(w, "  kubectl get --raw /apis/notes.example.com/v1alpha1")
	fmt.Fprintln(w, `  echo '{"apiVersion":"notes.example.com/v1alpha1","kind":"Note","metadata":{"name":"hello"},"spec":{"text":"hi","author":"someone-else"}}' | kubectl create -f -`)
	fmt.Fprintln(w, "  kubectl get notes")
	fmt.Fprintln(w, "  kubectl get notes -o custom-columns=NAME:.metadata.name,AUTHOR:.spec.author,TEXT:.spec.text")
	fmt.Fprintln(w, "The author is whoever the main server says created the note; only they (or system:masters) may delete it.")
}

// writeRegistration writes the three objects that make the main server proxy
// /apis/notes.example.com/v1alpha1 here: a Service without a selector, its
// Endpoints (this process), and the APIService naming the Service, with this
// server's CA as caBundle. Returns the file's absolute path.
func writeRegistration(dataDir, ip string, port int, caPEM []byte) (string, error) {
	path, err := filepath.Abs(filepath.Join(dataDir, "register.yaml"))
	if err != nil {
		return "", err
	}
	yaml := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: notes-api
  namespace: default
spec:
  ports:
  - name: https
    port: 443
    targetPort: %[2]d
---
apiVersion: v1
kind: Endpoints
metadata:
  name: notes-api
  namespace: default
subsets:
- addresses:
  - ip: %[1]q
  ports:
  - name: https
    port: %[2]d
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
  caBundle: %[3]s
`, ip, port, base64.StdEncoding.EncodeToString(caPEM))
	return path, os.WriteFile(path, []byte(yaml), 0o644)
}

// Certificates. The main server checks this server's certificate against the
// APIService's caBundle, so the server needs a CA of its own; both are kept in
// the data directory so that a restart does not invalidate a registration.

func caTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: "notes-extension-ca"},
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func servingTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: serviceDNSName},
		NotAfter:    time.Now().AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", serviceDNSName},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
}

// loadOrIssue returns <name>.crt and <name>.key from dir when they are still
// good, and otherwise issues new ones from template, signed by parent (or by
// themselves when parent is nil). A serving certificate is good if the
// current CA signed it for the service's name: a new CA means a new one.
func loadOrIssue(dir, name string, template *x509.Certificate, parent *tls.Certificate) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil && parent == nil && time.Now().Before(pair.Leaf.NotAfter):
		return pair, nil
	case err == nil && parent != nil:
		roots := x509.NewCertPool()
		roots.AddCert(parent.Leaf)
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: serviceDNSName}); err == nil {
			return pair, nil
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return tls.Certificate{}, err // unreadable, not missing: leave it to a human
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	template.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	template.NotBefore = time.Now().Add(-time.Hour)       // tolerate clocks a little behind
	issuer, issuerKey := template, crypto.PrivateKey(key) // self-signed, unless a parent signs
	if parent != nil {
		issuer, issuerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, template, issuer, key.Public(), issuerKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
