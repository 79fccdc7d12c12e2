// Services' cluster IPs and node ports: final/ipalloc wired into the write
// path (taken before a Service is stored, given back after it is deleted),
// the default ServiceCIDR that shows the range, and the leader's repair of
// what a crash left taken.
package server

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"reflect"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/ipalloc"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// serviceAllocation gives Services their cluster IPs (from
// --service-cluster-ip-range) and node ports (from --service-node-port-range),
// and creates the ServiceCIDR "kubernetes" that names the range.
func (s *Server) serviceAllocation(ctx context.Context) error {
	lookup := s.registry.Lookup
	services := lookup("", "services")
	s.services = &ipalloc.Services{
		IPs:   &ipalloc.IPs{Store: s.store, Addresses: lookup("networking.k8s.io", "ipaddresses"), Range: s.opts.ServiceClusterIPRange},
		Ports: &ipalloc.Ports{Backend: s.store.Backend(), Key: ipalloc.NodePortsKey, Range: s.opts.ServiceNodePortRange},
		Store: s.store, Services: services,
	}
	s.api.BeginWrite = func(ctx context.Context, res *registry.Resource, obj, old object.Object, dryRun bool) (func(bool), error) {
		if res != services {
			return nil, nil
		}
		return s.services.Begin(ctx, obj, old, dryRun)
	}
	s.api.AfterWrite = append(s.api.AfterWrite, func(ctx context.Context, res *registry.Resource, event apiserver.Event, obj object.Object) {
		s.releaseDeletedService(ctx, res, event, obj)
	})
	return s.ensureServiceCIDR(ctx)
}

// releaseDeletedService gives back what a deleted Service held, however it
// was deleted: by a client, or with its namespace.
func (s *Server) releaseDeletedService(ctx context.Context, res *registry.Resource, event apiserver.Event, obj object.Object) {
	if event == apiserver.Deleted && res.Group == "" && res.Name == "services" {
		s.services.Release(context.WithoutCancel(ctx), obj)
	}
}

// ensureServiceCIDR creates the ServiceCIDR "kubernetes" with
// --service-cluster-ip-range, as kube-apiserver does since 1.33, Ready. Its
// range may not change; a server started with another one says so and
// allocates from the flag's.
func (s *Server) ensureServiceCIDR(ctx context.Context) error {
	cidrs := s.registry.Lookup("networking.k8s.io", "servicecidrs")
	want := []any{s.opts.ServiceClusterIPRange.String()}
	current, err := s.store.Get(ctx, cidrs, "", "kubernetes")
	if err == nil {
		spec, _ := current["spec"].(map[string]any)
		if !reflect.DeepEqual(spec["cidrs"], want) {
			log.Printf("the ServiceCIDR kubernetes has %v, --service-cluster-ip-range is %s: new cluster IPs come from the flag's range", spec["cidrs"], s.opts.ServiceClusterIPRange)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the ServiceCIDR kubernetes: %w", err)
	}
	now := object.Now()
	cidr := object.Object{"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
		"metadata": map[string]any{"name": "kubernetes", "uid": object.NewUID(), "creationTimestamp": now},
		"spec":     map[string]any{"cidrs": want},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "",
			"message": "Kubernetes default Service CIDR is ready", "lastTransitionTime": now}}}}
	if _, err := s.store.Create(ctx, cidrs, cidr); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the ServiceCIDR kubernetes: %w", err)
	}
	return nil
}

// repairServiceAllocations is the leader's: every minute, cluster IPs and
// node ports taken for no Service (a crash between taking them and storing
// the Service) are given back, and a Service's cluster IP without its
// IPAddress gets one again.
func (s *Server) repairServiceAllocations(ctx context.Context) {
	ticker := time.NewTicker(time.Minute)
	defer ticker.Stop()
	for {
		if err := s.services.Repair(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Printf("repairing the Services' cluster IPs and node ports: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// advertiseAddress is the address the kubernetes Service's endpoints name:
// --advertise-address, else the bind address. An unspecified address
// (0.0.0.0, ::) is never advertised: like kube-apiserver, the server then
// names an address of the host (the first up, non-loopback interface's),
// or loopback when the host has none. (kube-apiserver also replaces a
// loopback bind address; here a server bound to loopback advertises
// loopback, which is where it can be reached.)
func advertiseAddress(o *Options) netip.Addr {
	for _, a := range []string{o.AdvertiseAddress, o.BindAddress} {
		if ip, err := netip.ParseAddr(a); err == nil && !ip.IsUnspecified() {
			return ip.Unmap()
		}
	}
	want6 := false
	if ip, err := netip.ParseAddr(o.BindAddress); err == nil {
		want6 = ip.Is6() && !ip.Is4In6()
	}
	interfaces, _ := net.Interfaces()
	for _, i := range interfaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			prefix, err := netip.ParsePrefix(a.String())
			if ip := prefix.Addr().Unmap(); err == nil && ip.IsGlobalUnicast() && ip.Is6() == want6 {
				return ip
			}
		}
	}
	if want6 {
		return netip.IPv6Loopback()
	}
	return netip.MustParseAddr("127.0.0.1")
}
