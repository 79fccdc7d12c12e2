// Calling a webhook: clientConfig names a URL, or a Service instead of a
// URL. The request goes to https://{name}.{namespace}.svc:{port}{path}, so
// the webhook's certificate must name that DNS name, and the connection goes
// to an address of the Service's Endpoints: this server has no cluster IPs,
// so it routes as kube-apiserver does with --enable-aggregator-routing
// (k8s.io/apiserver/pkg/util/proxy's ResolveEndpoint, through
// pkg/util/webhook's service resolver). What cannot be resolved fails the
// call with Kubernetes' words, after which failurePolicy decides. Admission
// webhooks and CRD conversion webhooks are called alike: PostWebhook.

package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// ClientConfig is how a webhook is reached, admissionregistration.k8s.io's
// WebhookClientConfig, which a CRD's conversion webhook shares: an https
// URL, or a Service; the CA bundle to trust.
type ClientConfig struct {
	URL      string      `json:"url"`
	CABundle []byte      `json:"caBundle"` // base64 in JSON
	Service  *ServiceRef `json:"service"`
}

// ServiceRef is a webhook's clientConfig.service.
type ServiceRef struct {
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Path      *string `json:"path"`
	Port      *int    `json:"port"` // 443 when unset
}

func (s *ServiceRef) port() int {
	if s.Port == nil {
		return 443
	}
	return *s.Port
}

// url is where the AdmissionReview is posted: the Service's DNS name, which
// is also the name TLS verifies.
func (s *ServiceRef) url() string {
	path := "/"
	if s.Path != nil {
		path = *s.Path
	}
	return "https://" + net.JoinHostPort(s.Name+"."+s.Namespace+".svc", strconv.Itoa(s.port())) + path
}

// dialService connects to an endpoint of the Service, whatever address the
// HTTP client asks for: the request's URL names the Service, not a host.
func dialService(deps Dependencies, ref *ServiceRef) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		address, err := resolveService(ctx, deps, ref)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
}

// resolveService finds the Service's port of that number, then the first
// address of its Endpoints with that port's name.
func resolveService(ctx context.Context, deps Dependencies, ref *ServiceRef) (string, error) {
	services, err := lookup(deps.Registry, "", "services")
	if err != nil {
		return "", err
	}
	service, err := deps.Store.Get(ctx, services, ref.Namespace, ref.Name)
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
	endpointsResource, err := lookup(deps.Registry, "", "endpoints")
	if err != nil {
		return "", err
	}
	endpoints, err := deps.Store.Get(ctx, endpointsResource, ref.Namespace, ref.Name)
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

// PostWebhook posts a JSON review to a webhook over HTTPS, at
// clientConfig.url or at the Service clientConfig.service names, trusting
// only the caBundle (the system's roots when there is none), waiting at most
// timeout, and returns the body of its 200 answer. The URL carries the
// timeout, as client-go's requests do.
func PostWebhook(ctx context.Context, deps Dependencies, config ClientConfig, timeout time.Duration, body []byte) ([]byte, error) {
	target, transport := config.URL, &http.Transport{}
	if target == "" && config.Service != nil {
		target = config.Service.url()
		transport.DialContext = dialService(deps, config.Service)
	}
	if !strings.HasPrefix(target, "https://") {
		return nil, errors.New("clientConfig.url must be an https URL")
	}
	var pool *x509.CertPool
	if len(config.CABundle) > 0 {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(config.CABundle) {
			return nil, errors.New("clientConfig.caBundle holds no PEM certificate")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"?timeout="+timeout.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to call webhook: %w", err) // Post "https://...": what went wrong
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, object.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the webhook answered HTTP %d", resp.StatusCode)
	}
	return answer, nil
}
