// Package proxy is how this server reaches what a Service stands for: the
// address of one of its Endpoints (ResolveEndpoint, which the aggregator
// uses to reach extension servers too), and the services/proxy
// subresource, which forwards a client's HTTP request there. This server
// has no cluster IPs that route anywhere, so it goes to an endpoint's
// address itself, as kube-apiserver does for the service proxy (and for
// APIServices with --enable-aggregator-routing).
//
// In Kubernetes: k8s.io/apiserver/pkg/util/proxy (ResolveEndpoint,
// RandomEndpoint), pkg/registry/core/service/proxy.go and storage.go's
// ResourceLocation (the subresource), and
// k8s.io/apimachinery/pkg/util/proxy (UpgradeAwareHandler, the Transport
// that rewrites redirects).
package proxy

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Why a Service could not be resolved, in the words of kube-aggregator's
// Available condition.
const (
	ServiceNotFound   = "ServiceNotFound"   // no such Service (or it could not be read)
	ServicePortError  = "ServicePortError"  // the Service has no port of that number
	EndpointsNotFound = "EndpointsNotFound" // no Endpoints of that name
	MissingEndpoints  = "MissingEndpoints"  // the Endpoints have no address with that port
)

// ResolveError says why ResolveEndpoint found no address.
type ResolveError struct {
	Reason   string // one of the constants above
	PortName string // the port name looked for in the Endpoints (MissingEndpoints)
	Err      error  // the store's error, when reading failed
}

func (e *ResolveError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *ResolveError) Unwrap() error { return e.Err }

// Resolver finds Services' endpoints in the store.
type Resolver struct {
	Store               *store.Store
	Services, Endpoints *registry.Resource
}

// ResolveEndpoint returns the host:port of one address of the Service's
// Endpoints, picked at random as Kubernetes does, serving port: a port
// number is the Service's port of that number, whose name the Endpoints
// use; anything else is that name ("" for a Service's one unnamed port).
// Only a number needs the Service itself, as in Kubernetes: a name goes
// straight to the Endpoints.
//
// Every address is allowed, loopback included. Kubernetes' service proxy
// takes only addresses whose targetRef is a Pod of the namespace that has
// that IP, so an API client cannot point the API server at itself or at
// the node's loopback; here Endpoints are written by hand, so the check is
// left out (docs/final.md, "What we left out").
func (r *Resolver) ResolveEndpoint(ctx context.Context, namespace, name, port string) (string, error) {
	portName := port
	if number, err := strconv.ParseInt(port, 10, 64); err == nil {
		service, err := r.Store.Get(ctx, r.Services, namespace, name)
		if err != nil {
			return "", &ResolveError{Reason: ServiceNotFound, Err: err}
		}
		var svc struct {
			Spec struct {
				Ports []struct {
					Name string `json:"name"`
					Port int64  `json:"port"`
				} `json:"ports"`
			} `json:"spec"`
		}
		_ = remarshal(service, &svc) // a stored Service was validated: a field that does not decode is absent
		found := false
		for _, p := range svc.Spec.Ports {
			if p.Port == number {
				portName, found = p.Name, true
				break
			}
		}
		if !found {
			return "", &ResolveError{Reason: ServicePortError}
		}
	}
	endpoints, err := r.Store.Get(ctx, r.Endpoints, namespace, name)
	if apierrors.IsNotFound(err) {
		return "", &ResolveError{Reason: EndpointsNotFound}
	}
	if err != nil {
		return "", &ResolveError{Reason: EndpointsNotFound, Err: err}
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
	var candidates []string
	for _, subset := range eps.Subsets {
		for _, p := range subset.Ports {
			if p.Name != portName {
				continue
			}
			for _, a := range subset.Addresses {
				candidates = append(candidates, net.JoinHostPort(a.IP, strconv.FormatInt(p.Port, 10)))
			}
		}
	}
	if len(candidates) == 0 {
		return "", &ResolveError{Reason: MissingEndpoints, PortName: portName}
	}
	return candidates[rand.IntN(len(candidates))], nil // spread the load, as Kubernetes' RandomEndpoint
}

// remarshal reads a stored object into a struct of the fields wanted.
func remarshal(obj any, v any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
