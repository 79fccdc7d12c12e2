// Chapter 09: API aggregation. An APIService object hands a group version
// to an extension server: this server authenticates and authorizes each
// request, then proxies it over TLS with the caller's identity in X-Remote-*
// headers and its front-proxy client certificate. Discovery merges the
// extension's groups; an availability check answers 503 for one that is down.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// options are kube-apiserver's flags for what this chapter implements.
type options struct {
	bindAddress, dataDir                    string
	securePort                              int
	tlsCertFile, tlsKeyFile, clientCAFile   string
	tokenAuthFile                           string
	saIssuer, saKeyFile, saSigningKeyFile   string
	apiAudiences                            string
	anonymousAuth                           bool
	authorizationMode                       string
	enableAdmission, disableAdmission       string
	compactionInterval                      time.Duration
	bookmarkInterval                        time.Duration
	proxyClientCertFile, proxyClientKeyFile string
}

func parseFlags() *options {
	o := &options{}
	flag.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "IP address to listen on")
	flag.IntVar(&o.securePort, "secure-port", 6443, "HTTPS port to listen on (0 picks a free one)")
	flag.StringVar(&o.dataDir, "data-dir", "data/09", "directory for certificates, keys, the token file and kubeconfigs")
	flag.StringVar(&o.tlsCertFile, "tls-cert-file", "", "serving certificate (default: one issued by the data directory's CA)")
	flag.StringVar(&o.tlsKeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	flag.StringVar(&o.clientCAFile, "client-ca-file", "", "CA that signs client certificates (default: the data directory's CA)")
	flag.StringVar(&o.tokenAuthFile, "token-auth-file", "", "static tokens, CSV token,user,uid,\"group1,group2\" (default: the data directory's tokens.csv)")
	flag.StringVar(&o.saIssuer, "service-account-issuer", "https://kubernetes.default.svc.cluster.local", "iss of service-account tokens")
	flag.StringVar(&o.saKeyFile, "service-account-key-file", "", "PEM public (or private) keys that verify service-account tokens (default: the signing key's)")
	flag.StringVar(&o.saSigningKeyFile, "service-account-signing-key-file", "", "RSA private key that signs service-account tokens (default: the data directory's sa.key)")
	flag.StringVar(&o.apiAudiences, "api-audiences", "", "comma-separated audiences a service-account token must name (default: the issuer)")
	flag.BoolVar(&o.anonymousAuth, "anonymous-auth", true, "serve requests without credentials as system:anonymous")
	flag.StringVar(&o.authorizationMode, "authorization-mode", "RBAC", "comma-separated authorizers, tried in order: RBAC, AlwaysAllow, AlwaysDeny")
	flag.StringVar(&o.enableAdmission, "enable-admission-plugins", "", "admission plugins to enable besides the default ones ("+strings.Join(defaultPlugins, ",")+")")
	flag.StringVar(&o.disableAdmission, "disable-admission-plugins", "", "admission plugins to disable, even default ones")
	flag.DurationVar(&o.compactionInterval, "etcd-compaction-interval", 5*time.Minute, "how often history older than one interval is compacted (0: never)")
	flag.DurationVar(&o.bookmarkInterval, "watch-bookmark-interval", time.Minute, "how often watches that allow bookmarks get one (this project's flag; kube-apiserver has none)")
	flag.StringVar(&o.proxyClientCertFile, "proxy-client-cert-file", "", "client certificate shown to extension servers when proxying (default: the data directory's front-proxy-client.crt)")
	flag.StringVar(&o.proxyClientKeyFile, "proxy-client-key-file", "", "key of --proxy-client-cert-file")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %v\n", flag.Args())
		os.Exit(2)
	}
	if (o.tlsCertFile == "") != (o.tlsKeyFile == "") {
		fmt.Fprintln(os.Stderr, "--tls-cert-file and --tls-private-key-file go together")
		os.Exit(2)
	}
	if (o.proxyClientCertFile == "") != (o.proxyClientKeyFile == "") {
		fmt.Fprintln(os.Stderr, "--proxy-client-cert-file and --proxy-client-key-file go together")
		os.Exit(2)
	}
	return o
}

func main() {
	o := parseFlags()
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		log.Fatalf("creating data directory: %v", err)
	}
	creds, err := bootstrapCredentials(o)
	if err != nil {
		log.Fatalf("bootstrap: %v", err)
	}

	reg := newRegistry(builtinResources())
	st, err := openStore(filepath.Join(o.dataDir, "state.db"))
	if err != nil {
		log.Fatalf("storage: %v", err)
	}
	go compactEvery(st, o.compactionInterval)
	s := &server{registry: reg, store: st, namespaces: reg.lookup("", "namespaces"), bookmarkInterval: o.bookmarkInterval,
		tokenRequests: &resource{group: "authentication.k8s.io", version: "v1", name: "tokenrequests", kind: "TokenRequest"}}
	s.createBootstrapNamespaces()
	s.rbac = &rbacAuthorizer{store: s.store, roles: reg.lookup(rbacGroup, "roles"), clusterRoles: reg.lookup(rbacGroup, "clusterroles"),
		roleBindings: reg.lookup(rbacGroup, "rolebindings"), clusterRoleBindings: reg.lookup(rbacGroup, "clusterrolebindings")}
	s.createBootstrapPolicy()
	s.crds = &crdController{s: s, resource: reg.lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	s.crds.sync() // serve the CRDs stored before a restart
	proxyCert, err := tls.LoadX509KeyPair(creds.proxyClientCert, creds.proxyClientKey)
	if err != nil {
		log.Fatalf("loading the proxy client certificate: %v", err)
	}
	s.aggregator = newAggregator(s, proxyCert)
	go s.aggregator.run(availabilityInterval)
	authorizers, err := newAuthorizers(o.authorizationMode, s.rbac)
	if err != nil {
		log.Fatal(err)
	}
	s.authorizer = authorizers
	if s.admission, err = s.newAdmissionChain(o.enableAdmission, o.disableAdmission); err != nil {
		log.Fatal(err)
	}

	chain, err := s.authenticators(o, creds)
	if err != nil {
		log.Fatalf("authentication: %v", err)
	}
	tlsConfig, err := serverTLS(o, creds)
	if err != nil {
		log.Fatalf("TLS: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.bindAddress, fmt.Sprint(o.securePort)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	url := "https://" + ln.Addr().String()
	if err := writeKubeconfigs(o.dataDir, url, creds); err != nil {
		log.Fatalf("writing kubeconfigs: %v", err)
	}
	examplesDir, err := writeExamples(o.dataDir)
	if err != nil {
		log.Fatalf("writing the example manifests: %v", err)
	}
	printWelcome(url, o.dataDir, examplesDir, creds, s.admission.enabled)
	srv := &http.Server{Handler: s.filters(s.routes(), chain, o.anonymousAuth), TLSConfig: tlsConfig}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// filters wraps the router in kube-apiserver's order: the RequestInfo is
// resolved, the user authenticated, impersonation applied, then authorized;
// only then does the aggregator send a request to an extension server.
func (s *server) filters(routes http.Handler, chain requestAuthenticator, anonymous bool) http.Handler {
	h := withAuthorization(s.aggregator.handler(routes), s.authorizer)
	h = withImpersonation(h, s.authorizer)
	h = withAuthentication(h, chain, anonymous)
	return withRequestInfoFilter(h)
}

// createBootstrapPolicy creates the default ClusterRoles and their bindings.
func (s *server) createBootstrapPolicy() {
	roles, bindings := bootstrapPolicy()
	for name, rules := range roles {
		role := object{"apiVersion": rbacGroup + "/v1", "kind": "ClusterRole", "rules": rules,
			"metadata": map[string]any{"name": name, "uid": newUID(), "creationTimestamp": now()}}
		if _, err := s.store.create(s.rbac.clusterRoles, mustJSON(role)); err != nil {
			if !isAlreadyExists(err) { // a restart: the store kept it
				log.Fatalf("creating ClusterRole %s: %v", name, err)
			}
		}
	}
	for _, b := range bindings {
		binding := object{"apiVersion": rbacGroup + "/v1", "kind": "ClusterRoleBinding",
			"metadata": map[string]any{"name": b.name, "uid": newUID(), "creationTimestamp": now()},
			"roleRef":  roleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: b.role},
			"subjects": []subject{{Kind: "Group", APIGroup: rbacGroup, Name: b.group}}}
		if _, err := s.store.create(s.rbac.clusterRoleBindings, mustJSON(binding)); err != nil {
			if !isAlreadyExists(err) {
				log.Fatalf("creating ClusterRoleBinding %s: %v", b.name, err)
			}
		}
	}
}

// mustJSON turns an object built from Go values into plain decoded JSON,
// the form every stored object has.
func mustJSON(obj object) object {
	var out object
	if err := remarshal(obj, &out); err != nil {
		log.Fatalf("encoding %v: %v", obj["kind"], err)
	}
	return out
}

// authenticators builds the union, in kube-apiserver's order: client
// certificates, then bearer tokens (token file, service-account JWTs).
func (s *server) authenticators(o *options, creds *credentials) (requestAuthenticator, error) {
	tokens, err := loadTokenFile(creds.tokenFile)
	if err != nil {
		return nil, err
	}
	signingKey, publicKeys, err := serviceAccountKeys(o, creds)
	if err != nil {
		return nil, err
	}
	audiences := []string{o.saIssuer}
	if o.apiAudiences != "" {
		audiences = strings.Split(o.apiAudiences, ",")
	}
	s.tokens = &serviceAccountTokens{issuer: o.saIssuer, audiences: audiences, signingKey: signingKey,
		publicKeys: publicKeys, store: s.store, accounts: s.registry.lookup("", "serviceaccounts")}
	s.tokenAuthenticators = tokenAuthenticators{tokens, s.tokens}
	return union{x509Authenticator{}, bearerToken{s.tokenAuthenticators}}, nil
}

// serverTLS loads the serving certificate and the CA that client
// certificates must chain to. A client certificate is optional: tokens and
// anonymous requests come without one.
func serverTLS(o *options, creds *credentials) (*tls.Config, error) {
	certFile, keyFile := o.tlsCertFile, o.tlsKeyFile
	if certFile == "" {
		certFile, keyFile = creds.servingCert, creds.servingKey
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the serving certificate: %w", err)
	}
	caFile := o.clientCAFile
	if caFile == "" {
		caFile = creds.caCert
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// createBootstrapNamespaces creates the namespaces every cluster starts with,
// each with its default ServiceAccount.
func (s *server) createBootstrapNamespaces() {
	for _, name := range protectedNamespaces {
		ns := object{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "uid": newUID(), "creationTimestamp": now()},
			"status":   map[string]any{"phase": "Active"}}
		applyDefaults(s.namespaces, ns) // the kubernetes.io/metadata.name label
		if _, err := s.store.create(s.namespaces, ns); err != nil {
			if !isAlreadyExists(err) {
				log.Fatalf("creating namespace %s: %v", name, err)
			}
		}
		s.createDefaultServiceAccount(name)
	}
}

// compactEvery compacts, each interval, to the revision the previous tick
// saw: history always covers at least one interval, as in kube-apiserver.
func compactEvery(st *store, interval time.Duration) {
	if interval <= 0 {
		return
	}
	var previous int64
	for range time.Tick(interval) {
		if previous > 0 {
			if err := st.compact(previous); err != nil {
				log.Printf("compaction to %d: %v", previous, err)
			}
		}
		previous = st.revision()
	}
}

// printWelcome prints the address first (tests read it), then lines to try.
func printWelcome(url, dataDir, examplesDir string, creds *credentials, plugins []string) {
	dir, _ := filepath.Abs(dataDir)
	fmt.Printf("chapter 09 (API aggregation) serving on %s\n\n", url)
	fmt.Printf("Credentials: %s (CA and admin client certificate, group system:masters), token file %s\n", dir, creds.tokenFile)
	fmt.Printf("Admission plugins: %s\n", strings.Join(plugins, ", "))
	fmt.Printf("Storage: %s (SQLite, WAL, synchronous=FULL)\n", filepath.Join(dir, "state.db"))
	fmt.Printf("Example manifests: %s\n", examplesDir)
	fmt.Printf("Front proxy: %s signs %s, the certificate this server shows extension servers\n",
		creds.frontProxyCA, creds.proxyClientCert)
	fmt.Println("Start the example extension server in another terminal, from the project's root, and apply what it prints:")
	fmt.Printf("  go run ./chapters/09/extension --requestheader-client-ca-file=%s\n", creds.frontProxyCA)
	fmt.Println()
	fmt.Println("Try:")
	fmt.Printf("  export KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
	fmt.Println("  kubectl get apiservices")
	fmt.Printf("  kubectl apply -f %s\n", filepath.Join(examplesDir, "widget-crd.yaml"))
	fmt.Printf("  curl -s --cacert %s --cert %s --key %s %s/apis\n", creds.caCert, creds.adminCert, creds.adminKey, url)
}
