// The kubernetes Service in default: how Pods find the API server. Its
// cluster IP is the range's first address, its port 443 leads to the secure
// port, and its Endpoints and EndpointSlice name the advertised address of
// every replica that is serving. Each replica keeps them true, as every
// kube-apiserver does (pkg/controlplane/controller/kubernetesservice and the
// lease reconciler, pkg/controlplane/reconcilers/lease.go): it renews a
// lease on its own address every 10 seconds, and writes the Endpoints from
// the leases that have not expired; on a graceful shutdown it removes its
// lease and its address at once. A replica that crashed drops out when its
// lease expires, 15 seconds later.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/ipalloc"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

const (
	masterLeases      = "/registry/masterleases/" // kube-apiserver's key prefix for these leases
	masterLeaseTTL    = 15 * time.Second
	endpointsInterval = 10 * time.Second
)

// masterLease says that a replica serves at an address and port, until
// RenewTime plus masterLeaseTTL. (etcd would expire the key itself, with a
// lease; the store here has no TTLs, so readers compare times.)
type masterLease struct {
	IP        string    `json:"ip"`
	Port      int       `json:"port"`
	RenewTime time.Time `json:"renewTime"`
}

// kubernetesEndpoints keeps the kubernetes Service, its Endpoints and its
// EndpointSlices for one replica.
type kubernetesEndpoints struct {
	s        *Server
	ip       netip.Addr // advertised
	port     int        // the secure port
	services *registry.Resource

	mu      sync.Mutex
	stopped bool // after stop, nothing adds this replica again
}

func (s *Server) newKubernetesEndpoints(port int) *kubernetesEndpoints {
	return &kubernetesEndpoints{s: s, ip: advertiseAddress(s.opts), port: port, services: s.registry.Lookup("", "services")}
}

// run reconciles every endpointsInterval until ctx ends.
func (e *kubernetesEndpoints) run(ctx context.Context) {
	ticker := time.NewTicker(endpointsInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := e.reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Printf("the kubernetes Service's endpoints: %v", err)
		}
	}
}

// reconcile makes sure the kubernetes Service exists, renews this
// replica's lease and writes the endpoints of all live leases.
func (e *kubernetesEndpoints) reconcile(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	value, _ := json.Marshal(masterLease{IP: e.ip.String(), Port: e.port, RenewTime: time.Now().UTC()})
	backend := e.s.store.Backend()
	key := e.leaseKey()
	if _, err := backend.Update(ctx, key, value, 0); errors.Is(err, storage.ErrNotFound) {
		_, err = backend.Create(ctx, key, value)
		if err != nil && !errors.Is(err, storage.ErrKeyExists) {
			return err
		}
	} else if err != nil {
		return err
	}
	return e.write(ctx)
}

// stop takes this replica out of the endpoints, for good: the server is
// shutting down.
func (e *kubernetesEndpoints) stop(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	if _, err := e.s.store.Backend().Delete(ctx, e.leaseKey(), 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return e.write(ctx)
}

// leaseKey names this replica by address and port: two replicas on one
// host, on two ports, are two endpoints.
func (e *kubernetesEndpoints) leaseKey() string {
	return masterLeases + net.JoinHostPort(e.ip.String(), strconv.Itoa(e.port))
}

// live reads the leases that have not expired, and deletes the others.
func (e *kubernetesEndpoints) live(ctx context.Context) ([]masterLease, error) {
	backend := e.s.store.Backend()
	kvs, _, _, err := backend.List(ctx, masterLeases, "", 0, 0)
	if err != nil {
		return nil, err
	}
	var leases []masterLease
	for _, kv := range kvs {
		var l masterLease
		if err := json.Unmarshal(kv.Value, &l); err != nil || time.Since(l.RenewTime) > masterLeaseTTL {
			if _, err := backend.Delete(ctx, kv.Key, kv.ModRevision); err != nil && !errors.Is(err, storage.ErrConflict) && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			continue
		}
		leases = append(leases, l)
	}
	return leases, nil
}

// write makes the Service, the Endpoints and the EndpointSlices agree with
// the live leases. Endpoints has one subset per port (replicas normally
// share one), with the addresses in order; each subset is also an
// EndpointSlice: "kubernetes", then "kubernetes-1", ... .
func (e *kubernetesEndpoints) write(ctx context.Context) error {
	leases, err := e.live(ctx)
	if err != nil {
		return err
	}
	if err := e.ensureService(ctx, leases); err != nil {
		return err
	}
	byPort := map[int][]string{}
	for _, l := range leases {
		byPort[l.Port] = append(byPort[l.Port], l.IP)
	}
	ports := make([]int, 0, len(byPort))
	for port := range byPort {
		ports = append(ports, port)
	}
	slices.Sort(ports)
	subsets := []any{}
	var slicesWanted []object.Object
	for i, port := range ports {
		ips := byPort[port]
		slices.SortFunc(ips, func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) })
		addresses, endpoints := []any{}, []any{}
		for _, ip := range ips {
			addresses = append(addresses, map[string]any{"ip": ip})
			endpoints = append(endpoints, map[string]any{"addresses": []any{ip}, "conditions": map[string]any{"ready": true}})
		}
		endpointPorts := []any{map[string]any{"name": "https", "port": port, "protocol": "TCP"}}
		subsets = append(subsets, map[string]any{"addresses": addresses, "ports": endpointPorts})
		addressType := "IPv4"
		if netip.MustParseAddr(ips[0]).Is6() {
			addressType = "IPv6"
		}
		name := "kubernetes"
		if i > 0 {
			name = fmt.Sprintf("kubernetes-%d", i)
		}
		slicesWanted = append(slicesWanted, object.Object{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata":    map[string]any{"name": name, "namespace": "default", "labels": map[string]any{"kubernetes.io/service-name": "kubernetes"}},
			"addressType": addressType, "endpoints": endpoints, "ports": endpointPorts})
	}
	if len(slicesWanted) == 0 { // no replica serves: an empty slice, as Kubernetes leaves it
		slicesWanted = append(slicesWanted, object.Object{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
			"metadata":    map[string]any{"name": "kubernetes", "namespace": "default", "labels": map[string]any{"kubernetes.io/service-name": "kubernetes"}},
			"addressType": "IPv4", "endpoints": []any{}, "ports": []any{}})
	}
	endpoints := object.Object{"apiVersion": "v1", "kind": "Endpoints",
		"metadata": map[string]any{"name": "kubernetes", "namespace": "default",
			"labels": map[string]any{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		"subsets": subsets}
	if err := e.put(ctx, e.s.registry.Lookup("", "endpoints"), endpoints, "subsets"); err != nil {
		return fmt.Errorf("writing the Endpoints: %w", err)
	}
	return e.putSlices(ctx, slicesWanted)
}

// putSlices writes the wanted EndpointSlices and deletes the kubernetes
// Service's others.
func (e *kubernetesEndpoints) putSlices(ctx context.Context, wanted []object.Object) error {
	res := e.s.registry.Lookup("discovery.k8s.io", "endpointslices")
	names := map[string]bool{}
	for _, slice := range wanted {
		names[slice.MetaString("name")] = true
		if err := e.put(ctx, res, slice, "addressType", "endpoints", "ports"); err != nil {
			return fmt.Errorf("writing the EndpointSlice %s: %w", slice.MetaString("name"), err)
		}
	}
	for i := len(wanted); ; i++ { // the ones a departed port left
		name := fmt.Sprintf("kubernetes-%d", i)
		if i == 0 {
			name = "kubernetes"
		}
		if names[name] {
			continue
		}
		if _, err := e.s.store.Delete(ctx, res, "default", name, nil); apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// put creates obj in default, or brings the fields named (and its labels)
// of the stored one to obj's, writing nothing when they are so already.
func (e *kubernetesEndpoints) put(ctx context.Context, res *registry.Resource, obj object.Object, fields ...string) error {
	name := obj.MetaString("name")
	current, err := e.s.store.Get(ctx, res, "default", name)
	if apierrors.IsNotFound(err) {
		obj.Metadata()["uid"], obj.Metadata()["creationTimestamp"] = object.NewUID(), object.Now()
		if _, err := e.s.store.Create(ctx, res, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil // created, or another replica did: the next round agrees
	}
	if err != nil {
		return err
	}
	if sameFields(current, obj, fields) {
		return nil
	}
	_, err = e.s.store.Update(ctx, res, "default", name, func(current object.Object) (object.Object, error) {
		for _, f := range fields {
			current[f] = obj[f]
		}
		labels, _ := current.Metadata()["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
			current.Metadata()["labels"] = labels
		}
		for k, v := range obj.Metadata()["labels"].(map[string]any) {
			labels[k] = v
		}
		return current, nil
	})
	return err
}

// sameFields compares the fields and labels as JSON: a stored number is a
// json.Number, a wanted one an int.
func sameFields(current, wanted object.Object, fields []string) bool {
	labels, _ := current.Metadata()["labels"].(map[string]any)
	for k, v := range wanted.Metadata()["labels"].(map[string]any) {
		if labels[k] != v {
			return false
		}
	}
	for _, f := range fields {
		if object.JSONString(current[f]) != object.JSONString(wanted[f]) {
			return false
		}
	}
	return true
}

// ensureService creates the kubernetes Service, taking the range's first
// address as its cluster IP, or points its target port at a live replica's
// port when no live replica serves on the one it names.
func (e *kubernetesEndpoints) ensureService(ctx context.Context, leases []masterLease) error {
	current, err := e.s.store.Get(ctx, e.services, "default", "kubernetes")
	if apierrors.IsNotFound(err) {
		return e.createService(ctx)
	}
	if err != nil {
		return err
	}
	spec, _ := current["spec"].(map[string]any)
	ports, _ := spec["ports"].([]any)
	if len(ports) != 1 {
		return nil // someone changed it: leave it
	}
	port, _ := ports[0].(map[string]any)
	target := object.JSONString(port["targetPort"])
	if target == strconv.Itoa(e.port) || slices.ContainsFunc(leases, func(l masterLease) bool { return strconv.Itoa(l.Port) == target }) {
		return nil
	}
	_, err = e.s.store.Update(ctx, e.services, "default", "kubernetes", func(svc object.Object) (object.Object, error) {
		spec, _ := svc["spec"].(map[string]any)
		if ports, _ := spec["ports"].([]any); len(ports) == 1 {
			if port, ok := ports[0].(map[string]any); ok {
				port["targetPort"] = json.Number(strconv.Itoa(e.port))
			}
		}
		return svc, nil
	})
	return err
}

// createService creates the kubernetes Service as kube-apiserver does,
// taking its cluster IP as any Service's is taken.
func (e *kubernetesEndpoints) createService(ctx context.Context) error {
	svc := object.Object{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "kubernetes", "namespace": "default", "uid": object.NewUID(), "creationTimestamp": object.Now(),
			"labels": map[string]any{"component": "apiserver", "provider": "kubernetes"}},
		"spec": map[string]any{"type": "ClusterIP", "clusterIP": ipalloc.KubernetesServiceIP(e.s.opts.ServiceClusterIPRange).String(),
			"sessionAffinity": "None",
			"ports":           []any{map[string]any{"name": "https", "port": json.Number("443"), "protocol": "TCP", "targetPort": json.Number(strconv.Itoa(e.port))}}}}
	apis.Default(e.services, svc)
	finish, err := e.s.services.Begin(ctx, svc, nil, false)
	if err != nil {
		return fmt.Errorf("creating the kubernetes Service: %w", err)
	}
	_, err = e.s.store.Create(ctx, e.services, svc)
	finish(err == nil)
	if apierrors.IsAlreadyExists(err) { // another replica was first
		return nil
	}
	return err
}

// startKubernetesEndpoints puts this replica, listening on addr, in the
// kubernetes Service's endpoints before it serves, and keeps it there.
func (s *Server) startKubernetesEndpoints(ctx context.Context, addr net.Addr) {
	port := 0
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = tcp.Port
	}
	s.kubernetesEndpoints = s.newKubernetesEndpoints(port)
	if err := s.kubernetesEndpoints.reconcile(ctx); err != nil {
		log.Printf("the kubernetes Service's endpoints: %v", err)
	}
	go s.kubernetesEndpoints.run(ctx)
}

// stopKubernetesEndpoints takes this replica out of the endpoints at the
// start of a graceful shutdown, so that clients go elsewhere.
func (s *Server) stopKubernetesEndpoints() {
	if s.kubernetesEndpoints == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.kubernetesEndpoints.stop(ctx); err != nil {
		log.Printf("removing %s from the kubernetes Service's endpoints: %v", s.kubernetesEndpoints.ip, err)
	}
}
