// Options: kube-apiserver's flags, for everything this server implements.
// A flag it does not implement is an error, never silently ignored: a server
// started with a real cluster's flags either behaves like one or says why not.
package server

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
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

	AuthorizationMode string

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
	fs.StringVar(&o.DataDir, "data-dir", "data/final", "directory for the SQLite store, certificates, keys, the token file and kubeconfigs (this project's flag)")
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
	fs.StringVar(&o.AuthorizationMode, "authorization-mode", "RBAC", "comma-separated authorizers, tried in order: Node, RBAC, AlwaysAllow, AlwaysDeny")
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
	fs.BoolVar(&o.WatchCache, "watch-cache", true, "serve watches and resourceVersion=0 lists from a cache in memory")
	fs.DurationVar(&o.EtcdCountMetricPollPeriod, "etcd-count-metric-poll-period", time.Minute, "how often apiserver_resource_objects counts the objects of each resource (0: never)")
	fs.StringVar(&o.TLSMinVersion, "tls-min-version", "", "minimum TLS version: VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13 (default VersionTLS12)")
	fs.Var(stringList{&o.TLSCipherSuites}, "tls-cipher-suites", "comma-separated cipher suites, by Go's names (default: Go's)")
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
