// Serving TLS as kube-apiserver does: --tls-min-version and
// --tls-cipher-suites by the names Kubernetes takes (Go's), and the serving
// certificate and the client CAs read again when their files change, so
// that a rotated certificate or CA bundle applies to the next connection
// without a restart (k8s.io/apiserver's pkg/server/dynamiccertificates).

package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// tlsVersion reads --tls-min-version; "" is Kubernetes' default, TLS 1.2.
func tlsVersion(name string) (uint16, error) {
	versions := map[string]uint16{"VersionTLS10": tls.VersionTLS10, "VersionTLS11": tls.VersionTLS11,
		"VersionTLS12": tls.VersionTLS12, "VersionTLS13": tls.VersionTLS13}
	if name == "" {
		return tls.VersionTLS12, nil
	}
	if v, ok := versions[name]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown tls version %q", name)
}

// cipherSuites reads --tls-cipher-suites: Go's names for its suites, secure
// and insecure, and the two short ChaCha20 names Kubernetes also accepts.
// None (nil) is Go's default choice. Go does not let TLS 1.3's suites be
// chosen: they are always on.
func cipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := map[string]uint16{
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	for _, suite := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		known[suite.Name] = suite.ID
	}
	ids := make([]uint16, 0, len(names))
	for _, name := range names {
		id, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("Cipher suite %s not supported or doesn't exist", name) //nolint:staticcheck // Kubernetes' words
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// watchedFiles is what some files hold, parsed, and parsed again when one
// of them changes (its inode, size or modification time), which each get
// checks with a stat: a handshake costs a few stats, and a new certificate
// applies to the next connection. A change that does not parse (a
// certificate written before its key) keeps the previous value and logs
// why; the next change is tried again.
type watchedFiles[T any] struct {
	files []string
	parse func(data [][]byte) (T, error)

	mu    sync.Mutex
	stats []os.FileInfo
	value T
}

// watchFiles reads and parses the files once; an error then is the server's.
func watchFiles[T any](parse func([][]byte) (T, error), files ...string) (*watchedFiles[T], error) {
	w := &watchedFiles[T]{files: files, parse: parse, stats: make([]os.FileInfo, len(files))}
	stats, data, err := w.read()
	if err != nil {
		return nil, err
	}
	if w.value, err = parse(data); err != nil {
		return nil, err
	}
	w.stats = stats
	return w, nil
}

func (w *watchedFiles[T]) read() ([]os.FileInfo, [][]byte, error) {
	stats := make([]os.FileInfo, len(w.files))
	data := make([][]byte, len(w.files))
	for i, file := range w.files {
		var err error
		if stats[i], err = os.Stat(file); err != nil {
			return nil, nil, err
		}
		if data[i], err = os.ReadFile(file); err != nil {
			return nil, nil, err
		}
	}
	return stats, data, nil
}

// get returns the value, parsed again first if a file changed.
func (w *watchedFiles[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := false
	for i, file := range w.files {
		st, err := os.Stat(file)
		if err != nil {
			return w.value // being replaced: the next use looks again
		}
		old := w.stats[i]
		changed = changed || !os.SameFile(st, old) || st.Size() != old.Size() || !st.ModTime().Equal(old.ModTime())
	}
	if !changed {
		return w.value
	}
	stats, data, err := w.read()
	if err == nil {
		var value T
		if value, err = w.parse(data); err == nil {
			w.value = value
		}
	}
	if err != nil {
		log.Printf("reloading %s: %v; keeping what it held before", strings.Join(w.files, " and "), err)
	}
	if stats != nil {
		w.stats = stats
	}
	return w.value
}

func parseKeyPair(data [][]byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(data[0], data[1])
	return &cert, err
}

// parseCertPool reads CA bundles, each of which must hold a certificate.
func parseCertPool(data [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, pem := range data {
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate found")
		}
	}
	return pool, nil
}

// watchCertPool is a CA bundle file, read again when it changes.
func watchCertPool(file string) (*watchedFiles[*x509.CertPool], error) {
	return watchFiles(parseCertPool, file)
}

// reloadingX509 is authn.X509 with the client CA as its file holds it now.
type reloadingX509 struct{ roots *watchedFiles[*x509.CertPool] }

func (a reloadingX509) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	if !hasClientCert(r) { // no stat for a request with a token
		return nil, false, nil
	}
	return authn.X509{Roots: a.roots.get()}.AuthenticateRequest(r)
}

func hasClientCert(r *http.Request) bool { return r.TLS != nil && len(r.TLS.PeerCertificates) > 0 }

// reloadingRequestHeader is authn.RequestHeader with the front-proxy CA as
// its file holds it now.
type reloadingRequestHeader struct {
	authn.RequestHeader
	roots *watchedFiles[*x509.CertPool]
}

func (a reloadingRequestHeader) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	if !hasClientCert(r) {
		return nil, false, nil
	}
	h := a.RequestHeader
	h.Roots = a.roots.get()
	return h.AuthenticateRequest(r)
}

// servingTLS is the listener's TLS: each connection gets the serving
// certificate and the client CAs (the client CA and the front-proxy CA) as
// their files hold them then. The handshake asks for a client certificate
// and verifies none, as kube-apiserver's (tls.RequestClientCert): each
// authenticator verifies against its own CA, so a certificate of a foreign
// CA, or an expired one, is a 401 and not a broken handshake, and a bearer
// token sent with it may still authenticate the request. The CAs are only
// the hint the handshake gives clients.
func (s *Server) servingTLS(c *credentials) (*tls.Config, error) {
	minVersion, err := tlsVersion(s.opts.TLSMinVersion)
	if err != nil {
		return nil, err
	}
	suites, err := cipherSuites(s.opts.TLSCipherSuites)
	if err != nil {
		return nil, err
	}
	cert, err := watchFiles(parseKeyPair, c.servingCert, c.servingKey)
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	clientCAs, err := watchFiles(parseCertPool, c.clientCA, c.frontProxyCA)
	if err != nil {
		return nil, fmt.Errorf("loading the client CAs: %w", err)
	}
	base := &tls.Config{MinVersion: minVersion, CipherSuites: suites, ClientAuth: tls.RequestClientCert,
		NextProtos: []string{"h2", "http/1.1"}}
	config := base.Clone()
	config.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		conn := base.Clone() // shares base's session ticket keys
		conn.Certificates = []tls.Certificate{*cert.get()}
		conn.ClientCAs = clientCAs.get()
		return conn, nil
	}
	return config, nil
}
