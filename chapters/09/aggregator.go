// API aggregation: an APIService object hands one group version to another
// server. Requests for it are authenticated and authorized here, then
// proxied over TLS to the extension server named by the APIService's
// Service, with the caller's identity in X-Remote-* headers and this
// server's front-proxy client certificate to prove the headers come from
// us. An availability check keeps each APIService's Available condition
// true or false; discovery merges the extension's groups.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// availabilityInterval is how often every APIService is checked, besides
// after each change to the APIServices, Services and Endpoints.
const availabilityInterval = 10 * time.Second

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
	resources []any // the extension's APIResourceList, from the last check
}

// apiServiceSpec is the part of an APIService this chapter reads.
type apiServiceSpec struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Group                 string `json:"group"`
		Version               string `json:"version"`
		GroupPriorityMinimum  int64  `json:"groupPriorityMinimum"`
		VersionPriority       int64  `json:"versionPriority"`
		InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
		CABundle              string `json:"caBundle"`
		Service               *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			Port      *int64 `json:"port"`
		} `json:"service"`
	} `json:"spec"`
}

func readAPIService(obj object) (*apiServiceSpec, error) {
	var a apiServiceSpec
	if err := remarshal(obj, &a); err != nil {
		return nil, errBadRequest("APIService in version \"v1\" cannot be handled as a APIService: %v", err)
	}
	return &a, nil
}

// validateAPIService checks an APIService as Kubernetes does: its name is
// version.group, priorities are in range, a CA bundle is valid base64 and
// not combined with insecureSkipTLSVerify.
func validateAPIService(obj object) ([]cause, error) {
	a, err := readAPIService(obj)
	if err != nil {
		return nil, err
	}
	spec := a.Spec
	var causes []cause
	invalid := func(field, format string, args ...any) {
		causes = append(causes, cause{"FieldValueInvalid", "Invalid value: " + fmt.Sprintf(format, args...), field})
	}
	if want := spec.Version + "." + spec.Group; a.Metadata.Name != want {
		invalid("metadata.name", "%q: must be spec.version+\".\"+spec.group", a.Metadata.Name)
	}
	if spec.Version == "" {
		causes = append(causes, cause{"FieldValueRequired", "Required value", "spec.version"})
	}
	if spec.Group == "" && spec.Version != "v1" {
		causes = append(causes, cause{"FieldValueRequired", "Required value: only v1 may have an empty group and it better be legacy kube", "spec.group"})
	}
	if spec.GroupPriorityMinimum <= 0 || spec.GroupPriorityMinimum > 20000 {
		invalid("spec.groupPriorityMinimum", "%d: must be positive and less than 20000", spec.GroupPriorityMinimum)
	}
	if spec.VersionPriority <= 0 || spec.VersionPriority > 1000 {
		invalid("spec.versionPriority", "%d: must be positive and less than 1000", spec.VersionPriority)
	}
	if s := spec.Service; s != nil {
		if s.Name == "" || s.Namespace == "" {
			causes = append(causes, cause{"FieldValueRequired", "Required value: a service needs a namespace and a name", "spec.service"})
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			invalid("spec.service.port", "%d: must be between 1 and 65535", *s.Port)
		}
	}
	if spec.CABundle != "" {
		if _, err := base64.StdEncoding.DecodeString(spec.CABundle); err != nil {
			invalid("spec.caBundle", "must be base64: %v", err)
		}
		if spec.InsecureSkipTLSVerify {
			invalid("spec.insecureSkipTLSVerify", "true: may not be true if caBundle is present")
		}
	}
	return causes, nil
}

// aggregator keeps the APIServices, checks them, and proxies to them.
type aggregator struct {
	s          *server
	resource   *resource // apiservices
	clientCert tls.Certificate
	trigger    chan struct{}
	transports map[string]*http.Transport // used by check only

	mu       sync.RWMutex
	services map[string]*apiService // by group/version
}

func newAggregator(s *server, clientCert tls.Certificate) *aggregator {
	return &aggregator{s: s, resource: s.registry.lookup("apiregistration.k8s.io", "apiservices"),
		clientCert: clientCert, trigger: make(chan struct{}, 1), services: map[string]*apiService{},
		transports: map[string]*http.Transport{}}
}

// run checks the APIServices when something they depend on changes
// (an APIService, a Service, an Endpoints), and every interval anyway:
// an extension server may stop answering without any write here.
func (a *aggregator) run(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		a.check()
		select {
		case <-a.trigger:
		case <-ticker.C:
		}
	}
}

// changed asks for a check soon; many changes in a row make one check.
func (a *aggregator) changed() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

// check reads every APIService, resolves and asks each extension, writes
// the Available conditions, and swaps in the new view.
func (a *aggregator) check() {
	items, _ := a.s.store.list(a.resource, "")
	services := map[string]*apiService{}
	for _, item := range items {
		spec, err := readAPIService(item)
		if err != nil {
			continue
		}
		svc := a.build(spec)
		if !svc.local {
			a.probe(svc)
		}
		if !svc.available { // discovery keeps what it last knew, marked Stale
			a.mu.RLock()
			if old := a.services[svc.group+"/"+svc.version]; old != nil {
				svc.resources = old.resources
			}
			a.mu.RUnlock()
		}
		a.writeCondition(svc)
		services[svc.group+"/"+svc.version] = svc
	}
	a.mu.Lock()
	a.services = services
	a.mu.Unlock()
}

// build turns an APIService into the aggregator's view, with its transport.
func (a *aggregator) build(spec *apiServiceSpec) *apiService {
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
	roots := x509.NewCertPool()
	ca, _ := base64.StdEncoding.DecodeString(spec.Spec.CABundle)
	roots.AppendCertsFromPEM(ca)
	// The extension's certificate names the Service's DNS name, as in a
	// cluster; the connection goes to the endpoint's address. Transports are
	// kept while their settings stay the same, with their connections.
	serverName := svc.serviceName + "." + svc.serviceNamespace + ".svc"
	key := fmt.Sprintf("%s|%s|%t", spec.Spec.CABundle, serverName, spec.Spec.InsecureSkipTLSVerify)
	if t := a.transports[key]; t != nil {
		svc.transport = t
		return svc
	}
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

// probe resolves the Service to an endpoint and asks the extension for its
// discovery document, as Kubernetes' availability controller does.
func (a *aggregator) probe(svc *apiService) {
	svc.available = false
	endpoint, reason, message := a.resolve(svc)
	if reason != "" {
		svc.reason, svc.message = reason, message
		return
	}
	svc.endpoint = endpoint
	discovery := "https://" + endpoint + "/apis/" + svc.group + "/" + svc.version
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, discovery, nil)
	// The check itself is made as the aggregator, a cluster admin.
	req.Header.Set("X-Remote-User", "system:kube-aggregator")
	req.Header.Set("X-Remote-Group", "system:masters")
	resp, err := (&http.Client{Transport: svc.transport}).Do(req)
	if err != nil {
		svc.reason, svc.message = "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: %v", discovery, err)
		return
	}
	defer resp.Body.Close()
	var list struct {
		Resources []any `json:"resources"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if resp.StatusCode != http.StatusOK {
		svc.reason, svc.message = "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: bad status from %s: %d", discovery, discovery, resp.StatusCode)
		return
	}
	if err := json.Unmarshal(body, &list); err != nil {
		svc.reason, svc.message = "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: %v", discovery, err)
		return
	}
	svc.available, svc.reason, svc.message, svc.resources = true, "Passed", "all checks passed", list.Resources
}

// resolve finds the address behind the APIService's Service: the Service's
// port of that number, then an Endpoints address with that port's name.
func (a *aggregator) resolve(svc *apiService) (endpoint, reason, message string) {
	where := fmt.Sprintf("service/%s in %q", svc.serviceName, svc.serviceNamespace)
	service, err := a.s.store.get(a.s.registry.lookup("", "services"), svc.serviceNamespace, svc.serviceName)
	if err != nil {
		return "", "ServiceNotFound", where + " is not present"
	}
	var spec struct {
		Spec struct {
			Ports []struct {
				Name string `json:"name"`
				Port int64  `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	_ = remarshal(service, &spec)
	portName, found := "", false
	for _, p := range spec.Spec.Ports {
		if p.Port == svc.servicePort {
			portName, found = p.Name, true
		}
	}
	if !found {
		return "", "ServicePortError", fmt.Sprintf("%s is not listening on port %d", where, svc.servicePort)
	}
	endpoints, err := a.s.store.get(a.s.registry.lookup("", "endpoints"), svc.serviceNamespace, svc.serviceName)
	if err != nil {
		return "", "EndpointsNotFound", "cannot find endpoints for " + where
	}
	var eps struct {
		Subsets []struct {
			Addresses []struct {
				IP string `json:"ip"`
			} `json:"addresses"`
			Ports []struct {
				Name string `json:"name"`
				Port int64  `json:"port"`
			} `json:"ports"`
		} `json:"subsets"`
	}
	_ = remarshal(endpoints, &eps)
	for _, subset := range eps.Subsets {
		for _, p := range subset.Ports {
			if p.Name == portName && len(subset.Addresses) > 0 {
				return net.JoinHostPort(subset.Addresses[0].IP, strconv.FormatInt(p.Port, 10)), "", ""
			}
		}
	}
	return "", "MissingEndpoints", fmt.Sprintf("endpoints for %s have no addresses with port name %q", where, portName)
}

// writeCondition stores the Available condition when it changed.
func (a *aggregator) writeCondition(svc *apiService) {
	status := "False"
	if svc.available {
		status = "True"
	}
	_, err := a.s.store.update(a.resource, "", svc.name, func(current object) (object, error) {
		var previous struct {
			Status struct {
				Conditions []map[string]any `json:"conditions"`
			} `json:"status"`
		}
		_ = remarshal(current, &previous)
		cond := map[string]any{"type": "Available", "status": status, "reason": svc.reason, "message": svc.message,
			"lastTransitionTime": now()}
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
	if err != nil && err != errUnchanged && !isNotFound(err) {
		log.Printf("APIService %s: writing its status: %v", svc.name, err)
	}
}

// lookup finds the remote APIService that serves a path, if any:
// /apis/{group}/{version} and everything below it, and the OpenAPI document
// of that group version, /openapi/v3/apis/{group}/{version}.
func (a *aggregator) lookup(path string) *apiService {
	path = strings.TrimPrefix(path, "/openapi/v3")
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if len(parts) < 3 || parts[0] != "apis" {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if svc := a.services[parts[1]+"/"+parts[2]]; svc != nil && !svc.local {
		return svc
	}
	return nil
}

// handler sends the requests of remote APIServices to their servers and
// everything else to this server's own routes. It runs after
// authentication and authorization: an extension sees only requests this
// server allowed.
func (a *aggregator) handler(local http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if group, ok := strings.CutPrefix(r.URL.Path, "/apis/"); ok && !strings.Contains(group, "/") {
			if versions := a.remoteVersions(group); len(versions) > 0 && r.Method == http.MethodGet {
				writeJSON(w, http.StatusOK, apiGroupOf(group, versions))
				return
			}
		}
		svc := a.lookup(r.URL.Path)
		if svc == nil {
			local.ServeHTTP(w, r)
			return
		}
		if !svc.available {
			writeError(w, &statusError{http.StatusServiceUnavailable, "ServiceUnavailable",
				fmt.Sprintf("the APIService %s is not available: %s: %s", svc.name, svc.reason, svc.message), nil})
			return
		}
		a.proxy(svc).ServeHTTP(w, r)
	})
}

// proxy forwards one request to the extension. Whatever identity headers
// the client sent are dropped; the ones set here are the only ones the
// extension sees, and our client certificate is what makes it believe them.
func (a *aggregator) proxy(svc *apiService) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = "https", svc.endpoint, ""
			for name := range pr.Out.Header {
				if canonical := http.CanonicalHeaderKey(name); strings.HasPrefix(canonical, "X-Remote-") || strings.HasPrefix(canonical, "Impersonate-") {
					delete(pr.Out.Header, name) // as sent: Del would canonicalise the name
				}
			}
			user := userFrom(pr.In.Context())
			pr.Out.Header.Set("X-Remote-User", user.Name)
			for _, g := range user.Groups {
				pr.Out.Header.Add("X-Remote-Group", g)
			}
			for key, values := range user.Extra {
				for _, v := range values {
					pr.Out.Header.Add("X-Remote-Extra-"+escapeHeaderKey(key), v)
				}
			}
		},
		Transport:     svc.transport,
		FlushInterval: -1, // watches stream through at once
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, &statusError{http.StatusServiceUnavailable, "ServiceUnavailable",
				fmt.Sprintf("error trying to reach service: %v", err), nil})
		},
	}
}

// escapeHeaderKey percent-encodes what may not appear in a header name
// (and "%" itself), so that an extra key such as "example.com/scopes" can
// travel in one; the extension URL-unescapes it.
func escapeHeaderKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c != '%' && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&'*+-.^_`|~", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// remoteVersions lists the remote APIServices of a group, the preferred first:
// the highest versionPriority, then Kubernetes' version order.
func (a *aggregator) remoteVersions(group string) []*apiService {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []*apiService
	for _, svc := range a.services {
		if svc.group == group && !svc.local {
			out = append(out, svc)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].versionPriority != out[j].versionPriority {
			return out[i].versionPriority > out[j].versionPriority
		}
		return versionPriority(out[i].version, out[j].version)
	})
	return out
}

// remoteGroups lists the groups served by extensions, highest
// groupPriorityMinimum first, as /apis orders them.
func (a *aggregator) remoteGroups() []string {
	a.mu.RLock()
	priority := map[string]int64{}
	for _, svc := range a.services {
		if !svc.local && svc.groupPriority > priority[svc.group] {
			priority[svc.group] = svc.groupPriority
		}
	}
	a.mu.RUnlock()
	var groups []string
	for g := range priority {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if priority[groups[i]] != priority[groups[j]] {
			return priority[groups[i]] > priority[groups[j]]
		}
		return groups[i] < groups[j]
	})
	return groups
}

// apiGroupOf is the classic APIGroup of an extension's group.
func apiGroupOf(group string, versions []*apiService) map[string]any {
	list := []map[string]any{}
	for _, svc := range versions {
		list = append(list, map[string]any{"groupVersion": group + "/" + svc.version, "version": svc.version})
	}
	return map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": list, "preferredVersion": list[0]}
}

// groupDiscovery is an extension's group in aggregated discovery, built
// from the resource lists the availability check fetched. A version that
// stopped answering is still listed, marked Stale, as Kubernetes does.
func groupDiscoveryOf(group string, versions []*apiService) map[string]any {
	list := []map[string]any{}
	for _, svc := range versions {
		if svc.resources == nil {
			continue
		}
		freshness := "Current"
		if !svc.available {
			freshness = "Stale"
		}
		resources := []map[string]any{}
		for _, raw := range svc.resources {
			r, _ := raw.(map[string]any)
			name, _ := r["name"].(string)
			if name == "" || strings.Contains(name, "/") {
				continue // subresources are left out of this summary
			}
			scope := "Cluster"
			if r["namespaced"] == true {
				scope = "Namespaced"
			}
			entry := map[string]any{"resource": name, "scope": scope, "singularResource": r["singularName"], "verbs": r["verbs"],
				"responseKind": map[string]any{"group": group, "version": svc.version, "kind": r["kind"]}}
			for _, key := range []string{"shortNames", "categories"} {
				if v, ok := r[key]; ok {
					entry[key] = v
				}
			}
			resources = append(resources, entry)
		}
		list = append(list, map[string]any{"version": svc.version, "resources": resources, "freshness": freshness})
	}
	return map[string]any{"metadata": map[string]any{"name": group}, "versions": list}
}

// openAPIPaths are the index entries of the extensions' OpenAPI documents,
// which kubectl reads before it creates an object.
func (a *aggregator) openAPIPaths() map[string]any {
	paths := map[string]any{}
	if a == nil {
		return paths
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, svc := range a.services {
		if !svc.local && svc.available {
			gv := "apis/" + svc.group + "/" + svc.version
			paths[gv] = map[string]any{"serverRelativeURL": "/openapi/v3/" + gv}
		}
	}
	return paths
}

// discovery lists the extensions' groups for /apis: classic APIGroups, or
// aggregated APIGroupDiscovery entries.
func (a *aggregator) discovery(aggregated bool) []map[string]any {
	var out []map[string]any
	if a == nil { // tests of other parts run without one
		return nil
	}
	for _, group := range a.remoteGroups() {
		versions := a.remoteVersions(group)
		if !aggregated {
			out = append(out, apiGroupOf(group, versions))
		} else if d := groupDiscoveryOf(group, versions); len(d["versions"].([]map[string]any)) > 0 {
			out = append(out, d)
		}
	}
	return out
}
