// Options: kube-apiserver's flags, for everything this server implements.
// A flag it does not implement is an error, never silently ignored: a server
// started with a real cluster's flags either behaves like one or says why not.
package server

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
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

	EtcdServers                                       []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile, EtcdPrefix string
	EtcdCompactionInterval                            time.Duration

	MaxRequestsInflight, MaxMutatingRequestsInflight int
	RequestTimeout                                   time.Duration
	ShutdownDelay                                    time.Duration

	AuditLogPath, AuditPolicyFile string

	WatchBookmarkInterval time.Duration
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
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "IP address advertised to clients (default: the bind address)")
	fs.IntVar(&o.SecurePort, "secure-port", 6443, "HTTPS port to listen on (0 picks a free one)")
	fs.StringVar(&o.DataDir, "data-dir", "data/final", "directory for the SQLite store, certificates, keys, the token file and kubeconfigs (this project's flag)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serving certificate (default: one issued by the data directory's CA)")
	fs.StringVar(&o.TLSPrivateKeyFile, "tls-private-key-file", "", "key of --tls-cert-file")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "CA that signs client certificates (default: the data directory's CA)")
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", "", `static tokens, CSV token,user,uid,"group1,group2" (default: the data directory's tokens.csv)`)
	fs.BoolVar(&o.AnonymousAuth, "anonymous-auth", true, "serve requests without credentials as system:anonymous")
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
	fs.StringVar(&o.AuthorizationMode, "authorization-mode", "RBAC", "comma-separated authorizers, tried in order: RBAC, AlwaysAllow, AlwaysDeny")
	fs.StringVar(&o.EnableAdmissionPlugins, "enable-admission-plugins", "", "admission plugins to enable besides the default ones")
	fs.StringVar(&o.DisableAdmissionPlugins, "disable-admission-plugins", "", "admission plugins to disable, even default ones")
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
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, pair := range [][2]string{{o.TLSCertFile, o.TLSPrivateKeyFile}, {o.ProxyClientCertFile, o.ProxyClientKeyFile}, {o.EtcdCertFile, o.EtcdKeyFile}} {
		if (pair[0] == "") != (pair[1] == "") {
			return nil, fmt.Errorf("a certificate and its key go together: %q and %q", pair[0], pair[1])
		}
	}
	return o, nil
}
