// Package aggregator is API aggregation: an APIService object hands one group
// version to another server. Requests for it are authenticated and authorized
// here, then proxied over TLS to the extension server behind the APIService's
// Service, with the caller's identity in X-Remote-* headers and this server's
// front-proxy client certificate to prove the headers come from us. An
// availability check keeps each APIService's Available condition true or
// false; discovery and the OpenAPI index list what the extensions serve.
//
// In Kubernetes this is k8s.io/kube-aggregator: pkg/apiserver/handler_proxy.go
// (the proxy), pkg/controllers/status/remote (the availability controller)
// and pkg/apiserver/handler_apis.go with pkg/controllers/openapiv3 (discovery
// and OpenAPI). This file holds the availability check.
package aggregator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/proxy"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// checkInterval is how often every APIService is checked, besides after each
// change to the APIServices, Services and Endpoints: an extension server may
// stop answering without any write here.
const checkInterval = 10 * time.Second

// probeTimeout bounds one discovery request to an extension.
const probeTimeout = 5 * time.Second

// Aggregator keeps the APIServices, checks them, and proxies to them.
type Aggregator struct {
	store                            *store.Store
	apiServices, services, endpoints *registry.Resource
	clientCert                       tls.Certificate
	trigger                          chan struct{}
	transports                       map[string]*http.Transport // by TLS settings; used by check only

	mu     sync.RWMutex
	served map[string]*apiService // by group/version, as of the last check

	// Leader, if set, says whether this replica writes the conditions.
	// Every replica checks for itself (it proxies on what it sees); only
	// the leader records it, so replicas that see differently do not flap
	// the APIService's status.
	Leader func() bool
	// Features are the feature gates (nil: each at its default):
	// RemoteRequestHeaderUID decides whether extensions get X-Remote-Uid.
	Features *features.Gates
}

// apiService is what the aggregator knows of one APIService.
type apiService struct {
	name, group, version           string
	groupPriority, versionPriority int64
	local                          bool // no service: served by this server
	serviceNamespace, serviceName  string
	servicePort                    int64

	transport *http.Transport // TLS to the extension: its CA, our client certificate
	endpoint  string          // host:port the Service resolved to
	available bool
	reason    string
	message   string
	resources []any // the extension's APIResourceList, from the last check that reached it
}

// apiServiceSpec is the part of an APIService the aggregator reads, the
// same final/apis validates.
type apiServiceSpec = apis.APIService

// New returns an aggregator over the APIServices, Services and Endpoints in
// st. clientCert is the front-proxy client certificate
// (--proxy-client-cert-file) the extensions trust identity headers from.
func New(st *store.Store, reg *registry.Registry, clientCert tls.Certificate) *Aggregator {
	return &Aggregator{store: st, clientCert: clientCert,
		apiServices: reg.Lookup("apiregistration.k8s.io", "apiservices"),
		services:    reg.Lookup("", "services"), endpoints: reg.Lookup("", "endpoints"),
		trigger: make(chan struct{}, 1), transports: map[string]*http.Transport{}, served: map[string]*apiService{}}
}

// Run checks the APIServices at once, then whenever Changed is called and
// every interval anyway, until ctx ends.
func (a *Aggregator) Run(ctx context.Context) {
	ticker := time.NewTicker(checkInterval)
	defer ticker.Stop()
	defer a.closeTransports(nil)
	for {
		a.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.trigger:
		case <-ticker.C:
		}
	}
}

// Changed asks for a check soon: something an APIService depends on (an
// APIService, a Service, an Endpoints) was written. Many changes in a row
// make one check.
func (a *Aggregator) Changed() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

// check reads every APIService, resolves and asks each extension, writes
// the Available conditions, and swaps in the new view.
func (a *Aggregator) check(ctx context.Context) {
	items, _, _, err := a.store.List(ctx, a.apiServices, "", store.ListOptions{})
	if err != nil {
		if ctx.Err() == nil {
			log.Printf("aggregator: listing APIServices: %v", err)
		}
		return
	}
	var checked []*apiService
	used := map[*http.Transport]bool{}
	for _, item := range items {
		var spec apiServiceSpec
		if err := decodeInto(item, &spec); err != nil {
			continue // validation let no such object in
		}
		svc := a.build(&spec)
		used[svc.transport] = true
		checked = append(checked, svc)
	}
	a.closeTransports(used)
	var wg sync.WaitGroup // one slow extension does not hold up the others
	for _, svc := range checked {
		if !svc.local {
			wg.Go(func() { a.probe(ctx, svc) })
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // the server is stopping: what the probes saw says nothing
	}
	served := map[string]*apiService{}
	for _, svc := range checked {
		key := svc.group + "/" + svc.version
		if !svc.available { // discovery keeps what it last knew, marked Stale
			a.mu.RLock()
			if old := a.served[key]; old != nil {
				svc.resources = old.resources
			}
			a.mu.RUnlock()
		}
		a.writeCondition(ctx, svc)
		served[key] = svc
	}
	a.mu.Lock()
	a.served = served
	a.mu.Unlock()
}

// build turns an APIService into the aggregator's view, with its transport.
func (a *Aggregator) build(spec *apiServiceSpec) *apiService {
	svc := &apiService{name: spec.Metadata.Name, group: spec.Spec.Group, version: spec.Spec.Version,
		groupPriority: spec.Spec.GroupPriorityMinimum, versionPriority: spec.Spec.VersionPriority,
		local: spec.Spec.Service == nil, available: true, reason: "Local", message: "Local APIServices are always available"}
	if svc.local {
		return svc
	}
	svc.serviceNamespace, svc.serviceName, svc.servicePort = spec.Spec.Service.Namespace, spec.Spec.Service.Name, 443
	if p := spec.Spec.Service.Port; p != nil {
		svc.servicePort = *p
	}
	// The extension's certificate names the Service's DNS name, as in a
	// cluster; the connection goes to the endpoint's address. A transport is
	// kept, with its connections, while its settings stay the same.
	serverName := svc.serviceName + "." + svc.serviceNamespace + ".svc"
	key := fmt.Sprintf("%s|%s|%t", spec.Spec.CABundle, serverName, spec.Spec.InsecureSkipTLSVerify)
	if t := a.transports[key]; t != nil {
		svc.transport = t
		return svc
	}
	roots := x509.NewCertPool()
	ca, _ := base64.StdEncoding.DecodeString(spec.Spec.CABundle)
	roots.AppendCertsFromPEM(ca)
	svc.transport = &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:            roots,
			ServerName:         serverName,
			InsecureSkipVerify: spec.Spec.InsecureSkipTLSVerify, //nolint:gosec // the APIService asks for it
			Certificates:       []tls.Certificate{a.clientCert},
			MinVersion:         tls.VersionTLS12,
		},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 5 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}
	a.transports[key] = svc.transport
	return svc
}

// closeTransports forgets the transports no APIService uses any more (all of
// them for nil) and closes their idle connections, whose goroutines would
// otherwise outlive them. A request still proxying through one finishes.
func (a *Aggregator) closeTransports(used map[*http.Transport]bool) {
	for key, t := range a.transports {
		if !used[t] {
			t.CloseIdleConnections()
			delete(a.transports, key)
		}
	}
}

// probe resolves the Service to an endpoint and asks the extension for its
// discovery document, as Kubernetes' availability controller does.
func (a *Aggregator) probe(ctx context.Context, svc *apiService) {
	svc.available = false
	endpoint, reason, message := a.resolve(ctx, svc)
	if reason != "" {
		svc.reason, svc.message = reason, message
		return
	}
	svc.endpoint = endpoint
	resources, err := a.discover(ctx, svc)
	if err != nil {
		svc.reason, svc.message = "FailedDiscoveryCheck", err.Error()
		return
	}
	svc.available, svc.reason, svc.message, svc.resources = true, "Passed", "all checks passed", resources
}

// discover GETs /apis/{group}/{version} from the extension and returns the
// resources it lists.
func (a *Aggregator) discover(ctx context.Context, svc *apiService) ([]any, error) {
	discovery := "https://" + svc.endpoint + "/apis/" + svc.group + "/" + svc.version
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discovery, nil)
	if err != nil {
		return nil, fmt.Errorf("failing or missing response from %s: %w", discovery, err)
	}
	// The check itself is made as the aggregator, a cluster admin.
	req.Header.Set("X-Remote-User", "system:kube-aggregator")
	req.Header.Set("X-Remote-Group", "system:masters")
	resp, err := (&http.Client{Transport: svc.transport}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("failing or missing response from %s: %w", discovery, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("failing or missing response from %s: bad status from %s: %d", discovery, discovery, resp.StatusCode)
	}
	var list struct {
		Resources []any `json:"resources"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, object.MaxBodyBytes))
	if err == nil {
		err = json.Unmarshal(body, &list)
	}
	if err != nil {
		return nil, fmt.Errorf("failing or missing response from %s: %w", discovery, err)
	}
	if list.Resources == nil {
		list.Resources = []any{} // reached, serving nothing: not "never reached"
	}
	return list.Resources, nil
}

// resolve finds the address behind the APIService's Service: the Service's
// port of that number, then an Endpoints address with that port's name
// (final/proxy's ResolveEndpoint, which the services/proxy subresource uses
// too). A failure is worded for the Available condition.
func (a *Aggregator) resolve(ctx context.Context, svc *apiService) (endpoint, reason, message string) {
	resolver := proxy.Resolver{Store: a.store, Services: a.services, Endpoints: a.endpoints}
	endpoint, err := resolver.ResolveEndpoint(ctx, svc.serviceNamespace, svc.serviceName, strconv.FormatInt(svc.servicePort, 10))
	if err == nil {
		return endpoint, "", ""
	}
	where := fmt.Sprintf("service/%s in %q", svc.serviceName, svc.serviceNamespace)
	var re *proxy.ResolveError
	if !errors.As(err, &re) {
		return "", proxy.EndpointsNotFound, err.Error()
	}
	switch re.Reason {
	case proxy.ServiceNotFound:
		message = where + " is not present"
	case proxy.ServicePortError:
		message = fmt.Sprintf("%s is not listening on port %d", where, svc.servicePort)
	case proxy.EndpointsNotFound:
		message = "cannot find endpoints for " + where
	default:
		message = fmt.Sprintf("endpoints for %s have no addresses with port name %q", where, re.PortName)
	}
	return "", re.Reason, message
}

// errUnchanged ends an update that would write what is already stored.
var errUnchanged = errors.New("unchanged")

// writeCondition stores the Available condition when it changed, keeping
// lastTransitionTime while the status stays the same.
func (a *Aggregator) writeCondition(ctx context.Context, svc *apiService) {
	if a.Leader != nil && !a.Leader() {
		return
	}
	status := "False"
	if svc.available {
		status = "True"
	}
	_, err := a.store.Update(ctx, a.apiServices, "", svc.name, func(current object.Object) (object.Object, error) {
		var previous struct {
			Status struct {
				Conditions []map[string]any `json:"conditions"`
			} `json:"status"`
		}
		_ = decodeInto(current, &previous)
		cond := map[string]any{"type": "Available", "status": status, "reason": svc.reason, "message": svc.message,
			"lastTransitionTime": object.Now()}
		for _, c := range previous.Status.Conditions {
			if c["type"] != "Available" {
				continue
			}
			if c["status"] == status && c["reason"] == svc.reason && c["message"] == svc.message {
				return nil, errUnchanged
			}
			if c["status"] == status {
				cond["lastTransitionTime"] = c["lastTransitionTime"]
			}
		}
		current["status"] = map[string]any{"conditions": []any{cond}}
		return current, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		log.Printf("aggregator: APIService %s: writing its status: %v", svc.name, err)
	}
}

// decodeInto reads a stored object into a struct of the fields wanted.
func decodeInto(obj object.Object, v any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
