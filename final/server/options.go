// Options: kube-apiserver's flags, for everything this server implements.
// A flag it does not implement is an error, never silently ignored: a server
// started with a real cluster's flags either behaves like one or says why not.
package server

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/filters"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/ipalloc"
)

// Options are the server's settings, by their kube-apiserver flag names.
type Options struct {
	BindAddress, AdvertiseAddress string
	SecurePort                    int
	DataDir                       string

	TLSCertFile, TLSPrivateKeyFile string
	ClientCAFile                   string
	TokenAuthFile                  string
	AnonymousAuth                  bool
	EnableBootstrapTokenAuth       bool

	ServiceAccountIssuer         string
	ServiceAccountKeyFiles       []string
	ServiceAccountSigningKeyFile string
	APIAudiences                 []string

	RequestHeaderClientCAFile      string
	RequestHeaderAllowedNames      []string
	RequestHeaderUsernameHeaders   []string
	RequestHeaderGroupHeaders      []string
	RequestHeaderExtraHeaderPrefix []string
	ProxyClientCertFile            string
	ProxyClientKeyFile             string

	// OIDC ID tokens as bearer tokens (final/authn's OIDC).
	OIDCIssuerURL, OIDCClientID, OIDCCAFile string
	OIDCUsernameClaim, OIDCUsernamePrefix   string
	OIDCGroupsClaim, OIDCGroupsPrefix       string
	OIDCSigningAlgs                         []string
	OIDCRequiredClaims                      map[string]string

	AuthenticationTokenWebhookConfigFile string
	AuthenticationTokenWebhookVersion    string
	AuthenticationTokenWebhookCacheTTL   time.Duration

	AuthorizationMode string

	AuthorizationWebhookConfigFile           string
	AuthorizationWebhookVersion              string
	AuthorizationWebhookCacheAuthorizedTTL   time.Duration
	AuthorizationWebhookCacheUnauthorizedTTL time.Duration

	EnableAdmissionPlugins, DisableAdmissionPlugins string
	AdmissionControlConfigFile                      string
	ServiceAccountLookup                            bool

	EtcdServers                                       []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile, EtcdPrefix string
	EtcdCompactionInterval                            time.Duration

	MaxRequestsInflight, MaxMutatingRequestsInflight int
	RequestTimeout                                   time.Duration
	ShutdownDelay                                    time.Duration

	AuditLogPath, AuditPolicyFile string

	WatchBookmarkInterval time.Duration

	FeatureGates              *features.Gates // nil: each at its default
	WatchCache                bool
	EtcdCountMetricPollPeriod time.Duration
	TLSMinVersion             string
	TLSCipherSuites           []string

	CORSAllowedOrigins []string // regular expressions an Origin must match (final/filters' WithCORS)

	Profiling           bool // serve Go's profiles under /debug/pprof/ (RBAC lets only admins read them)
	ContentionProfiling bool // also sample mutex and blocking contention

	ServiceClusterIPRange netip.Prefix      // Services' cluster IPs (final/ipalloc)
	ServiceNodePortRange  ipalloc.PortRange // NodePort Services' node ports
}

// stringList is a comma-separated flag, like kube-apiserver's StringSlice.
type stringList struct{ list *[]string }

func (s stringList) String() string {
	if s.list == nil {
		return ""
	}
	return strings.Join(*s.list, ",")
}

func (s stringList) Set(v string) error {
	*s.list = nil
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*s.list = append(*s.list, item)
		}
	}
	return nil
}

// ParseOptions reads the flags. Errors (unknown flags, stray arguments,
// flags that go together) are returned, with the usage written to out.
func ParseOptions(args []string, out io.Writer) (*Options, error) {
	o := &Options{
		RequestHeaderUsernameHeaders:   []string{"X-Remote-User"},
		RequestHeaderGroupHeaders:      []string{"X-Remote-Group"},
		RequestHeaderExtraHeaderPrefix: []string{"X-Remote-Extra-"},
	}
	fs := flag.NewFlagSet("final", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.BindAddress, "bind-address", "127.0.0.1", "IP address to listen on")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "IP address the kubernetes Service's endpoints name (default: the bind address; for 0.0.0.0, the host's)")
	o.ServiceClusterIPRange = netip.MustParsePrefix("10.0.0.0/24") // kube-apiserver's default
	fs.Func("service-cluster-ip-range", "CIDR the Services' cluster IPs come from; its first address is the kubernetes Service's (default 10.0.0.0/24)", func(v string) (err error) {
		o.ServiceClusterIPRange, err = ipalloc.ParseServiceCIDR(v)
		return err
	})
	o.ServiceNodePortRange = ipalloc.PortRange{Base: 30000, Size: 2768}
	fs.Func("service-node-port-range", "ports NodePort Services get their node ports from, both ends included (default 30000-32767)", func(v string) (err error) {
		o.ServiceNodePortRange, err = ipalloc.ParsePortRange(v)
		return err
	})
	fs.IntVar(&o.SecurePort, "secure-port", 6443, "HTTPS port to listen on (0 picks a free one)")
	fs.StringVar(&o.DataDir, "data-dir", defaultDataDir, "directory for the SQLite store, certificates, keys, the token file and kubeconfigs (this project's flag)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate (default: one issued by the data directory's CA)")
	fs.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA that signs client certificates (default: the data directory's CA)")
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", "", `static tokens, CSV token,user,uid,"group1,group2" (default: the data directory's tokens.csv)`)
	fs.BoolVar(&o.AnonymousAuth, "anonymous-auth", true, "serve requests without credentials as system:anonymous")
	fs.BoolVar(&o.EnableBootstrapTokenAuth, "enable-bootstrap-token-auth", false, "accept bootstrap tokens <id>.<secret>, kept as bootstrap.kubernetes.io/token Secrets in kube-system")
	fs.StringVar(&o.ServiceAccountIssuer, "service-account-issuer", "https://kubernetes.default.svc.cluster.local", "iss of service-account tokens")
	fs.Var(stringList{&o.ServiceAccountKeyFiles}, "service-account-key-file", "PEM files of public (or private) keys that verify service-account tokens (default: the signing key's)")
	fs.StringVar(&o.ServiceAccountSigningKeyFile, "service-account-signing-key-file", "", "RSA private key that signs service-account tokens (default: the data directory's sa.key)")
	fs.Var(stringList{&o.APIAudiences}, "api-audiences", "audiences a service-account token must name (default: the issuer)")
	fs.StringVar(&o.RequestHeaderClientCAFile, "requestheader-client-ca-file", "", "CA of the client certificates allowed to assert identities in request headers (default: the data directory's front-proxy CA)")
	fs.Var(stringList{&o.RequestHeaderAllowedNames}, "requestheader-allowed-names", "common names allowed to assert identities (empty: any the CA signed)")
	fs.Var(stringList{&o.RequestHeaderUsernameHeaders}, "requestheader-username-headers", "headers to read the user name from")
	fs.Var(stringList{&o.RequestHeaderGroupHeaders}, "requestheader-group-headers", "headers to read groups from")
	fs.Var(stringList{&o.RequestHeaderExtraHeaderPrefix}, "requestheader-extra-headers-prefix", "header prefixes to read extra from")
	fs.StringVar(&o.ProxyClientCertFile, "proxy-client-cert-file", "", "client certificate shown to extension servers (default: the data directory's front-proxy-client.crt)")
	fs.StringVar(&o.ProxyClientKeyFile, "proxy-client-key-file", "", "key of --proxy-client-cert-file")
	fs.StringVar(&o.OIDCIssuerURL, "oidc-issuer-url", "", "https URL of the OpenID Connect provider whose ID tokens are accepted (its discovery document and keys are fetched from there)")
	fs.StringVar(&o.OIDCClientID, "oidc-client-id", "", "the client ID an ID token's aud must name; required with --oidc-issuer-url")
	fs.StringVar(&o.OIDCCAFile, "oidc-ca-file", "", "CA of the provider's serving certificate (default: the host's)")
	fs.StringVar(&o.OIDCUsernameClaim, "oidc-username-claim", "sub", "claim to use as the user name")
	fs.StringVar(&o.OIDCUsernamePrefix, "oidc-username-prefix", "", "prefix of every OIDC user name (default: the issuer URL and #, except for the email claim; - for none)")
	fs.StringVar(&o.OIDCGroupsClaim, "oidc-groups-claim", "", "claim (a string or a list of strings) to read groups from")
	fs.StringVar(&o.OIDCGroupsPrefix, "oidc-groups-prefix", "", "prefix of every OIDC group")
	o.OIDCSigningAlgs = []string{"RS256"}
	fs.Var(stringList{&o.OIDCSigningAlgs}, "oidc-signing-algs", "accepted signing algorithms, of "+strings.Join(authn.OIDCSigningAlgs, ", ")+" (default RS256)")
	fs.Func("oidc-required-claim", "key=value: a claim an ID token must have, with that value (repeatable)", func(v string) error {
		key, value, ok := strings.Cut(v, "=")
		if !ok || key == "" {
			return fmt.Errorf("%q is not key=value", v)
		}
		if o.OIDCRequiredClaims == nil {
			o.OIDCRequiredClaims = map[string]string{}
		}
		o.OIDCRequiredClaims[key] = value
		return nil
	})
	fs.StringVar(&o.AuthenticationTokenWebhookConfigFile, "authentication-token-webhook-config-file", "", "kubeconfig of a webhook that answers TokenReviews for bearer tokens")
	fs.StringVar(&o.AuthenticationTokenWebhookVersion, "authentication-token-webhook-version", "v1", "TokenReview version to send (only v1 is implemented)")
	fs.DurationVar(&o.AuthenticationTokenWebhookCacheTTL, "authentication-token-webhook-cache-ttl", 2*time.Minute, "how long the token webhook's answers are cached")
	fs.StringVar(&o.AuthorizationMode, "authorization-mode", "RBAC", "comma-separated authorizers, tried in order: Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny")
	fs.StringVar(&o.AuthorizationWebhookConfigFile, "authorization-webhook-config-file", "", "kubeconfig of the webhook the Webhook mode sends SubjectAccessReviews to")
	fs.StringVar(&o.AuthorizationWebhookVersion, "authorization-webhook-version", "v1", "SubjectAccessReview version to send (only v1 is implemented)")
	fs.DurationVar(&o.AuthorizationWebhookCacheAuthorizedTTL, "authorization-webhook-cache-authorized-ttl", 5*time.Minute, "how long the webhook's allowed answers are cached")
	fs.DurationVar(&o.AuthorizationWebhookCacheUnauthorizedTTL, "authorization-webhook-cache-unauthorized-ttl", 30*time.Second, "how long the webhook's other answers are cached")
	fs.StringVar(&o.EnableAdmissionPlugins, "enable-admission-plugins", "", "admission plugins to enable besides the default ones")
	fs.StringVar(&o.DisableAdmissionPlugins, "disable-admission-plugins", "", "admission plugins to disable, even default ones")
	fs.StringVar(&o.AdmissionControlConfigFile, "admission-control-config-file", "", "AdmissionConfiguration with the plugins' configurations (ResourceQuota's limitedResources)")
	fs.BoolVar(&o.ServiceAccountLookup, "service-account-lookup", true, "check that a legacy service-account token's Secret and ServiceAccount still exist (only true is implemented)")
	fs.Var(stringList{&o.EtcdServers}, "etcd-servers", "etcd endpoints (https://host:2379,...): store in etcd instead of SQLite")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA of the etcd servers")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for etcd")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "key of --etcd-certfile")
	fs.StringVar(&o.EtcdPrefix, "etcd-prefix", "/registry", "the prefix of every key in etcd")
	fs.DurationVar(&o.EtcdCompactionInterval, "etcd-compaction-interval", 5*time.Minute, "how often history older than one interval is compacted (0: never)")
	fs.IntVar(&o.MaxRequestsInflight, "max-requests-inflight", 400, "the most read requests served at once; more get 429 (0: no limit)")
	fs.IntVar(&o.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", 200, "the most writes served at once; more get 429 (0: no limit)")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", time.Minute, "the longest a request (not a watch) may take")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay-duration", 0, "how long to keep serving after SIGTERM before draining")
	fs.StringVar(&o.AuditLogPath, "audit-log-path", "", "write audit events to this file as JSON lines (- for stdout)")
	fs.StringVar(&o.AuditPolicyFile, "audit-policy-file", "", "audit policy (audit.k8s.io/v1 Policy)")
	fs.DurationVar(&o.WatchBookmarkInterval, "watch-bookmark-interval", time.Minute, "how often watches that allow bookmarks get one (this project's flag)")
	var gates []string // every --feature-gates, in order
	fs.Func("feature-gates", features.Usage(), func(v string) error { gates = append(gates, v); return nil })
	fs.BoolVar(&o.Profiling, "profiling", true, "serve profiles at /debug/pprof/ (to users RBAC allows)")
	fs.BoolVar(&o.ContentionProfiling, "contention-profiling", false, "with --profiling, also profile lock contention")
	fs.BoolVar(&o.WatchCache, "watch-cache", true, "serve watches and resourceVersion=0 lists (on SQLite, gets and whole lists too) from a cache in memory")
	fs.DurationVar(&o.EtcdCountMetricPollPeriod, "etcd-count-metric-poll-period", time.Minute, "how often apiserver_resource_objects counts the objects of each resource (0: never)")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", "", "minimum TLS version: VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13 (default VersionTLS12)")
	fs.Var(stringList{&o.TLSCipherSuites}, "tls-cipher-suites", "comma-separated cipher suites, by Go's names (default: Go's)")
	fs.Func("cors-allowed-origins", "comma-separated regular expressions of the origins allowed CORS, each pinned to the host's start (^ or //) and end ($ or :), e.g. //example\\.com(:|$) (empty: no CORS)", func(v string) error {
		o.CORSAllowedOrigins = nil
		if v != "" { // empty items are kept: they are an error, as in kube-apiserver
			o.CORSAllowedOrigins = strings.Split(v, ",")
		}
		return nil
	})
	if err := parseFlags(fs, args, out); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var err error
	if o.FeatureGates, err = features.Parse(gates); err != nil {
		return nil, fmt.Errorf("--feature-gates: %w", err)
	}
	if _, err := tlsVersion(o.TLSMinVersion); err != nil {
		return nil, fmt.Errorf("--tls-min-version: %w", err)
	}
	if _, err := cipherSuites(o.TLSCipherSuites); err != nil {
		return nil, fmt.Errorf("--tls-cipher-suites: %w", err)
	}
	if _, err := filters.CompileCORSOrigins(o.CORSAllowedOrigins); err != nil {
		return nil, err
	}
	if a := o.AdvertiseAddress; a != "" && net.ParseIP(a) == nil {
		return nil, fmt.Errorf("--advertise-address: %q is not an IP address", a)
	}
	if !o.ServiceAccountLookup {
		// In kube-apiserver the flag only decides whether legacy (Secret)
		// service-account tokens are checked against storage; bound tokens
		// always are, and the ServiceAccount admission plugin always refuses
		// a pod whose account does not exist. This server always checks.
		return nil, fmt.Errorf("--service-account-lookup=false is not implemented: this server always checks that a service-account token's Secret and ServiceAccount still exist")
	}
	if err := validateAuthOptions(o, fs); err != nil {
		return nil, err
	}
	for _, pair := range [][2]string{{o.TLSCertFile, o.TLSPrivateKeyFile}, {o.ProxyClientCertFile, o.ProxyClientKeyFile}, {o.EtcdCertFile, o.EtcdKeyFile}} {
		if (pair[0] == "") != (pair[1] == "") {
			return nil, fmt.Errorf("a certificate and its key go together: %q and %q", pair[0], pair[1])
		}
	}
	return o, nil
}

// parseFlags parses the flags and words an unknown one as kube-apiserver
// does, "unknown flag: --insecure-port", without the usage: a flag
// Kubernetes removed (--insecure-port, --insecure-bind-address) is just
// unknown there too. Other errors, and --help, write the usage to out.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer) error {
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if name, ok := strings.CutPrefix(fmt.Sprint(err), "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag: --%s", name)
	}
	_, _ = out.Write(usage.Bytes())
	return err
}

// validateAuthOptions checks the OIDC and webhook flags, with
// kube-apiserver's words where it has them.
func validateAuthOptions(o *Options, fs *flag.FlagSet) error {
	oidcSet := false
	fs.Visit(func(f *flag.Flag) { oidcSet = oidcSet || strings.HasPrefix(f.Name, "oidc-") })
	if oidcSet && (o.OIDCIssuerURL == "" || o.OIDCClientID == "") {
		return errors.New("oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set")
	}
	if o.OIDCIssuerURL != "" {
		if u, err := url.Parse(o.OIDCIssuerURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--oidc-issuer-url %q: must be an https URL", o.OIDCIssuerURL)
		}
	}
	for _, alg := range o.OIDCSigningAlgs {
		if !slices.Contains(authn.OIDCSigningAlgs, alg) {
			return fmt.Errorf("--oidc-signing-algs: oidc: unsupported signing alg: %q", alg)
		}
	}
	for flagName, version := range map[string]string{"authentication-token-webhook-version": o.AuthenticationTokenWebhookVersion,
		"authorization-webhook-version": o.AuthorizationWebhookVersion} {
		if version != "v1" {
			return fmt.Errorf("--%s=%s: only v1 is implemented", flagName, version)
		}
	}
	webhookMode := slices.Contains(strings.Split(strings.ReplaceAll(o.AuthorizationMode, " ", ""), ","), "Webhook")
	switch {
	case webhookMode && o.AuthorizationWebhookConfigFile == "":
		return errors.New("authorization-mode Webhook's authorization config file not passed")
	case !webhookMode && o.AuthorizationWebhookConfigFile != "":
		return errors.New("cannot specify --authorization-webhook-config-file without mode Webhook")
	}
	return nil
}
