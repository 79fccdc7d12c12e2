// Exercise 09: is an APIService available?
//
// An APIService hands a group version to an extension API server behind a
// Service. Before the aggregator sends it a single request, and before
// discovery lists its resources, it checks that the extension is there:
// the Service exists and has the port, the Endpoints have a ready address
// for it, and the extension answers its discovery document over TLS, as
// the Service's DNS name, with a certificate the APIService's caBundle
// trusts. The answer is the APIService's Available condition.
//
// Edit this file. The tests in availability_test.go are the specification;
// README.md explains the rules.
package apiserviceavailability

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// APIService is the part of an apiregistration.k8s.io/v1 APIService the
// check reads.
type APIService struct {
	Name    string // version.group: "v1alpha1.notes.example.com"
	Group   string
	Version string
	// Service is where the extension runs; nil for a group version the
	// main API server serves itself (a local APIService).
	Service *ServiceReference
	// CABundle is the PEM of the CA that signed the extension's serving
	// certificate.
	CABundle              []byte
	InsecureSkipTLSVerify bool
}

// ServiceReference names a Service and one of its ports.
type ServiceReference struct {
	Namespace string
	Name      string
	Port      int32 // 0: 443, the API's default
}

// Service is the part of a core/v1 Service the check reads.
type Service struct {
	Ports []ServicePort
}

type ServicePort struct {
	Name string // may be "" when the Service has one port
	Port int32
}

// Endpoints is the part of a core/v1 Endpoints the check reads: which pods
// back the Service of the same name, on which ports.
type Endpoints struct {
	Subsets []EndpointSubset
}

// EndpointSubset is a set of addresses that all have the same ports.
type EndpointSubset struct {
	Addresses         []string // the IPs of ready pods
	NotReadyAddresses []string // the IPs of pods that are not ready
	Ports             []EndpointPort
}

// EndpointPort is a pod's port, named as the Service's port it serves.
type EndpointPort struct {
	Name string
	Port int32
}

// Condition is an APIService's status condition.
type Condition struct {
	Type               string // "Available"
	Status             string // "True" or "False"
	Reason             string
	Message            string
	LastTransitionTime time.Time
}

// Checker checks APIServices against the Services and Endpoints it knows:
// the aggregator's informers' view of the cluster.
type Checker struct {
	Services  map[string]Service   // by "namespace/name"
	Endpoints map[string]Endpoints // by "namespace/name"
	// ClientCert is the aggregator's front-proxy client certificate
	// (--proxy-client-cert-file); nil: the check presents none.
	ClientCert *tls.Certificate
}

// ---- What you write ---------------------------------------------------------------------

// Resolve finds the address (host:port) behind a Service's port: the
// Service's port of that number gives a port name, and the Endpoints give
// a ready address with a port of that name. If there is none, reason and
// message say why, as the Available condition will.
func (c *Checker) Resolve(ref ServiceReference) (endpoint, reason, message string) {
	port := ref.Port
	if port == 0 {
		port = 443
	}
	key := ref.Namespace + "/" + ref.Name
	svc, ok := c.Services[key]
	if !ok {
		return "", "ServiceNotFound", fmt.Sprintf("service/%s in %q is not present", ref.Name, ref.Namespace)
	}
	// The APIService names the Service's port by number; the pods' port
	// may be another number, and only the name ties the two together.
	i := slices.IndexFunc(svc.Ports, func(p ServicePort) bool { return p.Port == port })
	if i < 0 {
		return "", "ServicePortError", fmt.Sprintf("service/%s in %q is not listening on port %d", ref.Name, ref.Namespace, port)
	}
	portName := svc.Ports[i].Name
	eps, ok := c.Endpoints[key]
	if !ok {
		return "", "EndpointsNotFound", fmt.Sprintf("cannot find endpoints for service/%s in %q", ref.Name, ref.Namespace)
	}
	for _, subset := range eps.Subsets {
		if len(subset.Addresses) == 0 { // only not-ready pods: nobody to ask
			continue
		}
		for _, p := range subset.Ports {
			if p.Name == portName {
				return net.JoinHostPort(subset.Addresses[0], strconv.Itoa(int(p.Port))), "", ""
			}
		}
	}
	return "", "MissingEndpoints", fmt.Sprintf("endpoints for service/%s in %q have no addresses with port name %q", ref.Name, ref.Namespace, portName)
}

// TLSConfig is how the aggregator talks to the extension behind a: it
// trusts the caBundle (or, without one, the system's roots), expects the
// certificate of the Service's DNS name, and presents clientCert.
func TLSConfig(a APIService, clientCert *tls.Certificate) (*tls.Config, error) {
	if a.Service == nil {
		return nil, errors.New("a local APIService is not reached over TLS")
	}
	if len(a.CABundle) > 0 && a.InsecureSkipTLSVerify {
		return nil, errors.New("specifying a root certificates file with the insecure flag is not allowed")
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The connection goes to a pod's IP, but the certificate names the
		// Service, as every client inside the cluster knows it.
		ServerName:         a.Service.Name + "." + a.Service.Namespace + ".svc",
		InsecureSkipVerify: a.InsecureSkipTLSVerify, //nolint:gosec // the APIService asks for it
	}
	if len(a.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(a.CABundle) {
			return nil, errors.New("unable to load root certificates: unable to parse bytes as PEM block")
		}
		cfg.RootCAs = pool
	}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	return cfg, nil
}

// Check works out a's Available condition (its LastTransitionTime is left
// to SetCondition). An error means the check could not be made at all, and
// the condition must stay as it was.
func (c *Checker) Check(ctx context.Context, a APIService) (Condition, error) {
	cond := Condition{Type: "Available", Status: "False"}
	if a.Service == nil {
		cond.Status, cond.Reason, cond.Message = "True", "Local", "Local APIServices are always available"
		return cond, nil
	}
	endpoint, reason, message := c.Resolve(*a.Service)
	if reason != "" {
		cond.Reason, cond.Message = reason, message
		return cond, nil
	}
	cfg, err := TLSConfig(a, c.ClientCert)
	if err != nil {
		return Condition{}, err
	}
	transport := &http.Transport{TLSClientConfig: cfg}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		// A redirect is an answer, and not a 2xx one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// A URL the extension must serve: its discovery document.
	url := "https://" + endpoint + "/apis/" + a.Group + "/" + a.Version
	failed := func(err error) (Condition, error) {
		cond.Reason, cond.Message = "FailedDiscoveryCheck", fmt.Sprintf("failing or missing response from %s: %v", url, err)
		return cond, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return failed(err)
	}
	// As the aggregator, a cluster admin, so that authorization cannot fail
	// the check.
	req.Header.Set("X-Remote-User", "system:kube-aggregator")
	req.Header.Set("X-Remote-Group", "system:masters")
	resp, err := client.Do(req)
	if err != nil {
		return failed(err)
	}
	resp.Body.Close()
	if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
		return failed(fmt.Errorf("bad status from %s: %d", url, resp.StatusCode))
	}
	cond.Status, cond.Reason, cond.Message = "True", "Passed", "all checks passed"
	return cond, nil
}

// SetCondition returns conditions with c in the place of the condition of
// its type: its reason and message always, its status and the time of the
// transition, now, only when the status changed. The slice it was given is
// not changed.
func SetCondition(conditions []Condition, c Condition, now time.Time) []Condition {
	out := slices.Clone(conditions)
	for i := range out {
		if out[i].Type != c.Type {
			continue
		}
		if out[i].Status != c.Status {
			out[i].Status, out[i].LastTransitionTime = c.Status, now
		}
		out[i].Reason, out[i].Message = c.Reason, c.Message
		return out
	}
	c.LastTransitionTime = now
	return append(out, c)
}
