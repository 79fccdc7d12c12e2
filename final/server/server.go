// Package server assembles the API server from final/'s packages, the way
// kube-apiserver's app package does (cmd/kube-apiserver/app/server.go and
// k8s.io/apiserver/pkg/server/config.go): storage, the registry, the
// authenticators, the authorizers, admission, the API handlers and the
// filter chain around them, then serves HTTPS until its context ends, and
// shuts down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/aggregator"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis/autoscaling"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/audit"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authz"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/crd"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/ipalloc"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/leaderelection"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/metrics"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/proxy"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/etcd"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/watchcache"
)

// Server is the assembled API server.
type Server struct {
	opts      *Options
	creds     *credentials
	backend   storage.Backend
	store     *store.Store
	registry  *registry.Registry
	rbac      *authz.RBAC
	api       *apiserver.APIServer
	handler   http.Handler
	tls       *tls.Config
	storeDesc string
	tokens    authn.TokenAuthenticators // what TokenReview asks

	aggregator   *aggregator.Aggregator // APIServices: proxy, availability, discovery
	serviceProxy *proxy.ServiceProxy    // the services/proxy subresource

	elector   *leaderelection.Elector // one replica runs the controllers
	stopping  chan struct{}           // closed when shutdown starts: readyz fails
	endWatch  chan struct{}           // closed when the listener closes: watches end
	auditSink *audit.LogBackend
	metrics   *metrics.Metrics

	tokenController *tokenController // fills legacy token Secrets, on the leader

	services            *ipalloc.Services    // Services' cluster IPs and node ports
	kubernetesEndpoints *kubernetesEndpoints // this replica in the kubernetes Service's endpoints

	rootCA string // the CA bundle every namespace's kube-root-ca.crt holds
}

// New builds the server: it opens the store, bootstraps what a new cluster
// has, and wires the request pipeline. Nothing listens yet.
func New(ctx context.Context, o *Options) (*Server, error) {
	creds, err := bootstrapCredentials(o)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	s := &Server{opts: o, creds: creds, stopping: make(chan struct{}), endWatch: make(chan struct{})}
	if s.backend, s.storeDesc, err = openBackend(ctx, o, creds.dir); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.store = store.New(s.backend)
	s.store.SoleWriter = len(o.EtcdServers) == 0 // SQLite: this process is the only writer
	m := metrics.New()
	s.store.Observe = m.ObserveStorage // before any goroutine uses the store
	s.store.Listed = func(res *registry.Resource, fromCache bool) {
		from := metrics.FromStorage
		if fromCache {
			from = metrics.FromWatchCache
		}
		m.ObserveList(res.Group, res.Name, from)
	}
	if o.WatchCache {
		// Its storage watches end when the store closes, at the end of a
		// graceful shutdown, not when ctx does: watches are served until then.
		s.store.Cache = watchcache.New(context.WithoutCancel(ctx), s.backend)
	}
	s.metrics = m
	logFeatureGates(o.FeatureGates)
	s.registry = registry.New(BuiltinResources(), object.ValidateDNS1123Subdomain)
	host, _ := os.Hostname()
	s.elector = &leaderelection.Elector{Store: s.store, Leases: s.registry.Lookup("coordination.k8s.io", "leases"),
		Namespace: "kube-system", Name: "final-controllers", Identity: host + "_" + object.NewUID()}
	lookup := s.registry.Lookup
	s.rbac = &authz.RBAC{Store: s.store, Roles: lookup(authz.Group, "roles"), ClusterRoles: lookup(authz.Group, "clusterroles"),
		RoleBindings: lookup(authz.Group, "rolebindings"), ClusterRoleBindings: lookup(authz.Group, "clusterrolebindings")}
	node := &authz.Node{Store: s.store, Pods: lookup("", "pods")}
	webhook, err := authorizationWebhook(o)
	if err != nil {
		return nil, err
	}
	authorizer, err := authz.New(o.AuthorizationMode, s.rbac, node, webhook)
	if err != nil {
		return nil, err
	}
	var admissionConfigs admission.Configs
	if o.AdmissionControlConfigFile != "" {
		if admissionConfigs, err = admission.ReadAdmissionConfiguration(o.AdmissionControlConfigFile); err != nil {
			return nil, fmt.Errorf("--admission-control-config-file: %w", err)
		}
	}
	chain, err := admission.NewChain(o.EnableAdmissionPlugins, o.DisableAdmissionPlugins,
		admission.Dependencies{Store: s.store, Registry: s.registry, Configs: admissionConfigs})
	if err != nil {
		return nil, err
	}
	if err := s.bootstrapObjects(ctx); err != nil {
		return nil, err
	}
	if err := s.publishRootCAs(ctx); err != nil { // kube-root-ca.crt in every namespace
		return nil, err
	}
	crds := &crd.Controller{Store: s.store, Registry: s.registry, CRDs: lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	if err := crds.Sync(ctx); err != nil { // serve the CRDs stored before a restart
		return nil, err
	}
	go crds.Run(ctx)
	authenticator, sas, err := s.authenticators(o, creds)
	if err != nil {
		return nil, fmt.Errorf("authentication: %w", err)
	}
	if s.tokenController, err = newTokenController(s, sas); err != nil {
		return nil, err
	}
	s.api = &apiserver.APIServer{
		Registry: s.registry, Store: s.store, Admission: chain,
		Default:  defaults(crds.CRDs),
		Validate: validation(crds.CRDs),
		Escalation: func(ctx context.Context, user *request.User, res *registry.Resource, obj object.Object) error {
			return s.rbac.CheckEscalation(ctx, authorizer, user, res, obj)
		},
		BookmarkInterval: o.WatchBookmarkInterval,
		Features:         o.FeatureGates,
		Stop:             s.endWatch,
		Version:          versionInfo(),
	}
	s.api.AfterWrite = append(s.api.AfterWrite, func(ctx context.Context, res *registry.Resource, event apiserver.Event, obj object.Object) {
		if res.Namespaced {
			if err := chain.RefreshQuota(ctx, res, obj.MetaString("namespace")); err != nil {
				log.Printf("refreshing quota in %s: %v", obj.MetaString("namespace"), err)
			}
		}
		if res.Group == "" && res.Name == "namespaces" && event == apiserver.Created {
			if err := admission.CreateDefaultServiceAccount(ctx, s.store, s.registry, obj.MetaString("name")); err != nil {
				log.Printf("creating the default ServiceAccount of %s: %v", obj.MetaString("name"), err)
			}
		}
		s.republishRootCA(ctx, res, event, obj) // a new namespace, or kube-root-ca.crt changed or deleted
	})
	s.api.AfterWrite = append(s.api.AfterWrite, crds.AfterWrite)
	if err := s.serviceAllocation(ctx); err != nil {
		return nil, err
	}
	s.api.Handlers = s.authAPIs(authorizer, sas)
	s.api.Deleters = map[string]apiserver.VerbHandler{"namespaces": s.deleteNamespace}
	if err := s.aggregate(creds); err != nil {
		return nil, err
	}
	s.serviceProxy = proxy.NewServiceProxy(&proxy.Resolver{Store: s.store, Services: lookup("", "services"), Endpoints: lookup("", "endpoints")})

	if s.tls, err = s.servingTLS(creds); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	policy, sink, err := openAudit(o)
	if err != nil {
		return nil, err
	}
	s.auditSink = sink
	s.handler = s.filters(s.routes(m), authenticator, authorizer, m, policy, sink)
	return s, nil
}

// defaults are final/apis' defaults, crd's for CustomResourceDefinitions,
// and final/apis/autoscaling's, per version, for HorizontalPodAutoscalers.
func defaults(crds *registry.Resource) func(*registry.Resource, object.Object) {
	return func(res *registry.Resource, obj object.Object) {
		if res == crds {
			crd.Default(obj)
			return
		}
		if isHPA(res) {
			autoscaling.Default(obj)
			return
		}
		apis.Default(res, obj)
	}
}

// validation is final/apis' validation, and crd's for CustomResourceDefinitions
// and final/apis/autoscaling's for HorizontalPodAutoscalers besides.
func validation(crds *registry.Resource) func(res *registry.Resource, obj, old object.Object) ([]apierrors.Cause, error) {
	return func(res *registry.Resource, obj, old object.Object) ([]apierrors.Cause, error) {
		causes, err := apis.Validate(res, obj, old)
		if err != nil || (res != crds && !isHPA(res)) {
			return causes, err
		}
		var more []apierrors.Cause
		if isHPA(res) {
			more, err = autoscaling.Validate(obj)
		} else {
			more, err = crd.Validate(obj, old)
		}
		return append(causes, more...), err
	}
}

// isHPA: the HorizontalPodAutoscaler, in any of its versions.
func isHPA(res *registry.Resource) bool {
	return res.Custom == nil && res.Group == autoscaling.Group && res.Kind == autoscaling.Kind
}

// aggregate sets up API aggregation: the aggregator, with the front proxy's
// client certificate; the extensions' groups in discovery and OpenAPI; and a
// check soon after any write to what availability depends on.
func (s *Server) aggregate(c *credentials) error {
	proxyCert, err := tls.LoadX509KeyPair(c.proxyClientCert, c.proxyClientKey)
	if err != nil {
		return fmt.Errorf("--proxy-client-cert-file: %w", err)
	}
	s.aggregator = aggregator.New(s.store, s.registry, proxyCert)
	s.aggregator.Leader = s.elector.IsLeader
	s.aggregator.Features = s.opts.FeatureGates
	s.api.ExtraDiscovery, s.api.ExtraOpenAPIPaths = s.aggregator.Discovery, s.aggregator.OpenAPIPaths
	s.api.GroupPriority = s.groupPriority // /apis in kube-aggregator's order
	s.api.AfterWrite = append(s.api.AfterWrite, func(_ context.Context, res *registry.Resource, _ apiserver.Event, _ object.Object) {
		switch res.QualifiedName() {
		case "apiservices.apiregistration.k8s.io", "services", "endpoints":
			s.aggregator.Changed()
		}
	})
	return nil
}

// openBackend opens SQLite in the data directory, or etcd with --etcd-servers.
func openBackend(ctx context.Context, o *Options, dir string) (storage.Backend, string, error) {
	if len(o.EtcdServers) == 0 {
		file := stateDB(dir)
		b, err := sqlite.Open(file)
		return b, file + " (SQLite, WAL, synchronous=FULL)", err
	}
	var tlsConfig *tls.Config
	if o.EtcdCAFile != "" || o.EtcdCertFile != "" {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if o.EtcdCAFile != "" {
			pool, err := certPool(o.EtcdCAFile)
			if err != nil {
				return nil, "", fmt.Errorf("--etcd-cafile: %w", err)
			}
			tlsConfig.RootCAs = pool
		}
		if o.EtcdCertFile != "" {
			cert, err := tls.LoadX509KeyPair(o.EtcdCertFile, o.EtcdKeyFile)
			if err != nil {
				return nil, "", fmt.Errorf("--etcd-certfile: %w", err)
			}
			tlsConfig.Certificates = []tls.Certificate{cert}
		}
	}
	// Keys start with /registry; --etcd-prefix replaces that root, as in
	// kube-apiserver: the default /registry leaves them as they are, and
	// /foo/registry puts them below /foo. (A prefix that does not end in
	// /registry is put in front of it.)
	prefix := strings.TrimSuffix(o.EtcdPrefix, "/registry")
	b, err := etcd.New(ctx, o.EtcdServers, tlsConfig, prefix)
	return b, "etcd " + strings.Join(o.EtcdServers, ","), err
}

// authenticators builds the union, in kube-apiserver's order: request
// headers from the front proxy, client certificates, then bearer tokens
// (token file, service-account JWTs).
func (s *Server) authenticators(o *Options, c *credentials) (authn.Authenticator, *authn.ServiceAccounts, error) {
	signingKey, publicKeys, err := serviceAccountKeys(o, c)
	if err != nil {
		return nil, nil, err
	}
	sas := &authn.ServiceAccounts{Issuer: o.ServiceAccountIssuer, Audiences: o.APIAudiences, SigningKey: signingKey,
		PublicKeys: publicKeys, Store: s.store, Accounts: s.registry.Lookup("", "serviceaccounts")}
	clientCAs, err := watchCertPool(c.clientCA) // read again when the file changes
	if err != nil {
		return nil, nil, fmt.Errorf("--client-ca-file: %w", err)
	}
	frontProxyCAs, err := watchCertPool(c.frontProxyCA)
	if err != nil {
		return nil, nil, fmt.Errorf("--requestheader-client-ca-file: %w", err)
	}
	tokens := authn.TokenAuthenticators{c.tokens, sas, &authn.LegacyTokens{Accounts: sas, Secrets: s.registry.Lookup("", "secrets")}}
	if o.EnableBootstrapTokenAuth { // after the token file and service accounts, as in kube-apiserver
		tokens = append(tokens, &authn.BootstrapTokens{Store: s.store, Secrets: s.registry.Lookup("", "secrets")})
	}
	// Then OIDC and the token webhook, last, as in kube-apiserver.
	if tokens, err = appendTokenAuthenticators(o, tokens, sas.APIAudiences()); err != nil {
		return nil, nil, err
	}
	s.tokens = tokens
	return authn.Union{
		reloadingRequestHeader{authn.RequestHeader{AllowedNames: o.RequestHeaderAllowedNames, UsernameHeaders: o.RequestHeaderUsernameHeaders,
			GroupHeaders: o.RequestHeaderGroupHeaders, ExtraHeaderPrefixes: o.RequestHeaderExtraHeaderPrefix}, frontProxyCAs},
		reloadingX509{clientCAs},
		authn.BearerToken{Tokens: tokens},
	}, sas, nil
}

func certPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Run listens, prints how to connect, and serves until ctx ends; then it
// stops accepting, lets running requests finish, ends the watches and
// closes the store.
func (s *Server) Run(ctx context.Context, out io.Writer) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.BindAddress, fmt.Sprint(s.opts.SecurePort)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Clients of a server listening on every address reach it on loopback.
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(host, port)
	if err := writeKubeconfigs(url, s.creds); err != nil {
		return fmt.Errorf("writing kubeconfigs: %w", err)
	}
	s.startKubernetesEndpoints(ctx, ln.Addr())
	s.printWelcome(out, url)
	go s.compactEvery(ctx, s.opts.EtcdCompactionInterval)
	go s.countObjects(ctx, s.opts.EtcdCountMetricPollPeriod)
	go s.aggregator.Run(ctx) // the APIServices' availability, until ctx ends
	go s.elector.Run(ctx, s.runControllers)

	srv := &http.Server{Handler: s.handler, TLSConfig: s.tls, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		s.close()
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown, as kube-apiserver's: /readyz fails at once, so a
	// load balancer stops sending requests here; after the delay the
	// listener closes, running requests finish, watches end (clients watch
	// again elsewhere), and only then does the store close.
	close(s.stopping)
	s.stopKubernetesEndpoints() // and out of the kubernetes Service's endpoints
	time.Sleep(s.opts.ShutdownDelay)
	shutdown, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	close(s.endWatch)
	err = srv.Shutdown(shutdown)
	if closeErr := s.close(); err == nil {
		err = closeErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// close releases the store, the audit log and idle proxied connections.
func (s *Server) close() error {
	s.serviceProxy.Close()
	err := s.backend.Close()
	if s.auditSink != nil {
		err = errors.Join(err, s.auditSink.Close())
	}
	return err
}

// openAudit reads --audit-policy-file and opens --audit-log-path; without
// both, nothing is audited.
func openAudit(o *Options) (*audit.Policy, *audit.LogBackend, error) {
	if o.AuditPolicyFile == "" || o.AuditLogPath == "" {
		if o.AuditPolicyFile != "" || o.AuditLogPath != "" {
			log.Printf("auditing needs both --audit-policy-file and --audit-log-path: nothing is audited")
		}
		return nil, nil, nil
	}
	policy, err := audit.LoadPolicy(o.AuditPolicyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-policy-file: %w", err)
	}
	sink, err := audit.OpenLogBackend(o.AuditLogPath)
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-log-path: %w", err)
	}
	return policy, sink, nil
}

// compactEvery compacts, each interval, to the revision the previous tick
// saw: history always covers at least one interval, as in kube-apiserver.
func (s *Server) compactEvery(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var previous int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if previous > 0 {
			if err := s.backend.Compact(ctx, previous); err != nil && !errors.Is(err, storage.ErrCompacted) {
				log.Printf("compaction to %d: %v", previous, err)
			}
		}
		previous, _ = s.backend.Revision(ctx)
	}
}

// versionInfo is /version, in the shape of k8s.io/apimachinery's version.Info.
func versionInfo() map[string]any {
	return map[string]any{"major": "1", "minor": "37", "gitVersion": "v1.37.0-scratch", "gitCommit": "", "gitTreeState": "clean",
		"buildDate": "", "goVersion": runtime.Version(), "compiler": runtime.Compiler, "platform": runtime.GOOS + "/" + runtime.GOARCH}
}

// printWelcome prints the address first (tests read it), then how to connect.
func (s *Server) printWelcome(out io.Writer, url string) {
	c := s.creds
	fmt.Fprintf(out, "final serving on %s\n\n", url)
	fmt.Fprintf(out, "Credentials: %s (CA, admin client certificate in system:masters, token file %s)\n", c.dir, c.tokenFile)
	fmt.Fprintf(out, "Storage: %s\n", s.storeDesc)
	fmt.Fprintf(out, "Admission plugins: %s\n", strings.Join(s.api.Admission.Enabled(), ", "))
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Try:")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", filepath.Join(c.dir, "kubeconfig"))
	fmt.Fprintln(out, "  kubectl get namespaces")
	fmt.Fprintf(out, "  curl -s --cacert %s --cert %s --key %s %s/readyz?verbose\n", c.caCert, c.adminCert, c.adminKey, url)
}
