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
	// TODO: the Service (ServiceNotFound), its port of that number, 443 if
	//       none is given (ServicePortError), and that port's name.
	// TODO: the Endpoints of the same name (EndpointsNotFound); the first
	//       subset with a ready address and a port of that name: its first
	//       address and that port. None: MissingEndpoints.
	panic("Please implement Resolve")
}

// TLSConfig is how the aggregator talks to the extension behind a: it
// trusts the caBundle (or, without one, the system's roots), expects the
// certificate of the Service's DNS name, and presents clientCert.
func TLSConfig(a APIService, clientCert *tls.Certificate) (*tls.Config, error) {
	// TODO: the name to verify: the Service's DNS name inside the cluster.
	// TODO: the roots: a pool of the caBundle's certificates, or nil.
	//       Refuse a bundle without one, and a bundle together with
	//       insecureSkipTLSVerify, with client-go's words.
	// TODO: the client certificate, if any; TLS 1.2 at least.
	panic("Please implement TLSConfig")
}

// Check works out a's Available condition (its LastTransitionTime is left
// to SetCondition). An error means the check could not be made at all, and
// the condition must stay as it was.
func (c *Checker) Check(ctx context.Context, a APIService) (Condition, error) {
	// TODO: a local APIService is available. Otherwise Resolve, and stop
	//       at the first reason.
	// TODO: GET the discovery document, /apis/<group>/<version>, from the
	//       endpoint, with TLSConfig, as system:kube-aggregator in
	//       system:masters, without following redirects, within ctx.
	// TODO: no answer, or not a 2xx: FailedDiscoveryCheck, in Kubernetes'
	//       words. Otherwise Passed.
	panic("Please implement Check")
}

// SetCondition returns conditions with c in the place of the condition of
// its type: its reason and message always, its status and the time of the
// transition, now, only when the status changed. The slice it was given is
// not changed.
func SetCondition(conditions []Condition, c Condition, now time.Time) []Condition {
	// TODO: find the condition of c's type in a copy of conditions; update
	//       it, or add c at the end. Only a new status is a transition.
	panic("Please implement SetCondition")
}
