// Webhooks behind a Service: clientConfig.service names a Service instead of
// a URL. The request goes to https://{name}.{namespace}.svc:{port}{path}, so
// the webhook's certificate must name that DNS name, and the connection goes
// to an address of the Service's Endpoints: this server has no cluster IPs,
// so it routes as kube-apiserver does with --enable-aggregator-routing
// (k8s.io/apiserver/pkg/util/proxy's ResolveEndpoint, through
// pkg/util/webhook's service resolver). What cannot be resolved fails the
// call with Kubernetes' words, after which failurePolicy decides.

package admission

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// serviceRef is a webhook's clientConfig.service.
type serviceRef struct {
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Path      *string `json:"path"`
	Port      *int    `json:"port"` // 443 when unset
}

func (s *serviceRef) port() int {
	if s.Port == nil {
		return 443
	}
	return *s.Port
}

// url is where the AdmissionReview is posted: the Service's DNS name, which
// is also the name TLS verifies.
func (s *serviceRef) url() string {
	path := "/"
	if s.Path != nil {
		path = *s.Path
	}
	return "https://" + net.JoinHostPort(s.Name+"."+s.Namespace+".svc", strconv.Itoa(s.port())) + path
}

// dialService connects to an endpoint of the Service, whatever address the
// HTTP client asks for: the request's URL names the Service, not a host.
func (w *webhooks) dialService(ref *serviceRef) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		address, err := w.resolveService(ctx, ref)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
}

// resolveService finds the Service's port of that number, then the first
// address of its Endpoints with that port's name.
func (w *webhooks) resolveService(ctx context.Context, ref *serviceRef) (string, error) {
	services, err := lookup(w.deps.Registry, "", "services")
	if err != nil {
		return "", err
	}
	service, err := w.deps.Store.Get(ctx, services, ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("service %q not found", ref.Name) // a lister's words, as Kubernetes reports it
	}
	if err != nil {
		return "", err
	}
	var svc struct {
		Spec struct {
			Type  string `json:"type"`
			Ports []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"ports"`
		} `json:"spec"`
	}
	if err := remarshal(service, &svc); err != nil {
		return "", err
	}
	switch svc.Spec.Type {
	case "", "ClusterIP", "NodePort", "LoadBalancer":
	default:
		return "", fmt.Errorf("unsupported service type %q", svc.Spec.Type)
	}
	portName, found := "", false
	for _, p := range svc.Spec.Ports {
		if p.Port == ref.port() {
			portName, found = p.Name, true
			break
		}
	}
	if !found {
		return "", fmt.Errorf("no service port %d found for service %q", ref.port(), ref.Name)
	}
	noEndpoints := fmt.Errorf("no endpoints available for service %q", ref.Name)
	endpointsResource, err := lookup(w.deps.Registry, "", "endpoints")
	if err != nil {
		return "", err
	}
	endpoints, err := w.deps.Store.Get(ctx, endpointsResource, ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return "", noEndpoints
	}
	if err != nil {
		return "", err
	}
	var eps struct {
		Subsets []struct {
			Addresses []struct {
				IP string `json:"ip"`
			} `json:"addresses"`
			Ports []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"ports"`
		} `json:"subsets"`
	}
	if err := remarshal(endpoints, &eps); err != nil {
		return "", err
	}
	for _, subset := range eps.Subsets {
		for _, p := range subset.Ports {
			if p.Name == portName && len(subset.Addresses) > 0 {
				return net.JoinHostPort(subset.Addresses[0].IP, strconv.Itoa(p.Port)), nil
			}
		}
	}
	return "", noEndpoints
}
