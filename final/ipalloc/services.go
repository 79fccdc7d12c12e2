// What a Service takes and gives back as it is written: the server calls
// Begin after admission, just before the Service is stored, and Release after
// it is deleted. Kubernetes does this in the Service's storage
// (pkg/registry/core/service/storage/alloc.go: allocateCreate,
// allocateUpdate, releaseAllocatedResources) with a transaction that is
// committed or reverted once the write is known to have been stored or not.

package ipalloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Services gives Services their cluster IPs and node ports.
type Services struct {
	IPs      *IPs
	Ports    *Ports
	Store    *store.Store
	Services *registry.Resource // v1 services, for Repair
	// Grace is how long Repair leaves an allocation no Service holds
	// before it gives it back (0: a minute, as Kubernetes waits).
	Grace time.Duration
}

// Begin takes what a Service being created (old nil) or updated needs,
// and fills it in: a cluster IP unless it is headless or ExternalName, a
// node port per port of a NodePort or LoadBalancer Service. It first
// prepares the Service as apis.PrepareService does. A 422 says what cannot
// be had; a full range is a 500, as in Kubernetes. On a dry run it checks
// the same and takes nothing. finish(true) gives back what the update left
// behind (the old cluster IP of a Service that became ExternalName, node
// ports no port uses any more); finish(false) gives back what Begin took.
func (s *Services) Begin(ctx context.Context, svc, old object.Object, dryRun bool) (func(stored bool), error) {
	apis.PrepareService(svc, old)
	spec, ok := svc["spec"].(map[string]any)
	if !ok {
		return nil, nil // validation has refused it already
	}
	t := &txn{s: s, ctx: context.WithoutCancel(ctx), dryRun: dryRun,
		parent: Parent{Namespace: svc.MetaString("namespace"), Name: svc.MetaString("name")}}
	if err := s.beginClusterIP(ctx, t, svc, spec, old); err != nil {
		t.finish(false)
		return nil, err
	}
	if err := s.beginNodePorts(ctx, t, svc, spec, old); err != nil {
		t.finish(false)
		return nil, err
	}
	return t.finish, nil
}

// txn is what one write took, and what it leaves behind once stored.
type txn struct {
	s      *Services
	ctx    context.Context
	parent Parent
	dryRun bool

	takenIPs, freedIPs     []netip.Addr
	takenPorts, freedPorts []int
}

func (t *txn) finish(stored bool) {
	if t.dryRun {
		return
	}
	ips, ports := t.takenIPs, t.takenPorts
	if stored {
		ips, ports = t.freedIPs, t.freedPorts
	}
	for _, ip := range ips {
		if err := t.s.IPs.Release(t.ctx, ip, t.parent, 0); err != nil {
			log.Printf("giving back cluster IP %s of Service %s: %v (the repair will)", ip, t.parent, err)
		}
	}
	if len(ports) > 0 {
		if err := t.s.Ports.Release(t.ctx, ports); err != nil {
			log.Printf("giving back node ports %v of Service %s: %v (the repair will)", ports, t.parent, err)
		}
	}
}

// beginClusterIP: a Service that keeps its type keeps its cluster IP (the
// checks made sure it did not change it); one that gets a cluster IP, on a
// create or on leaving ExternalName, takes the one it asks for or a free one.
func (s *Services) beginClusterIP(ctx context.Context, t *txn, svc object.Object, spec map[string]any, old object.Object) error {
	oldIPs := clusterIPsOf(old)
	if !apis.ServiceNeedsClusterIP(svc) {
		t.freedIPs = oldIPs // ExternalName now; PrepareService dropped the fields
		return nil
	}
	if err := s.checkFamilies(svc, spec); err != nil {
		return err
	}
	clusterIP, _ := spec["clusterIP"].(string)
	if old != nil && apis.ServiceNeedsClusterIP(old) && (len(oldIPs) > 0 || clusterIP == "None") {
		s.defaultFamilies(spec, old)
		return nil
	}
	switch clusterIP {
	case "None": // headless: no address
		spec["clusterIPs"] = []any{"None"}
	case "":
		ip, err := s.nextIP(ctx, t)
		if err != nil {
			if errors.Is(err, ErrFull) {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP for Service %q: %w", t.parent.Name, err))
			}
			return err
		}
		spec["clusterIP"], spec["clusterIPs"] = ip.String(), []any{ip.String()}
	default:
		if err := s.requestedIP(ctx, t, svc, spec, clusterIP); err != nil {
			return err
		}
	}
	s.defaultFamilies(spec, nil)
	return nil
}

func (s *Services) nextIP(ctx context.Context, t *txn) (netip.Addr, error) {
	if t.dryRun {
		return s.IPs.Peek(ctx)
	}
	ip, err := s.IPs.AllocateNext(ctx, t.parent)
	if err == nil {
		t.takenIPs = append(t.takenIPs, ip)
	}
	return ip, err
}

// requestedIP takes the cluster IP the client asked for.
func (s *Services) requestedIP(ctx context.Context, t *txn, svc object.Object, spec map[string]any, clusterIP string) error {
	requested := clusterIPsOf(svc)
	if len(requested) > 1 { // the checks let two through, for dual-stack
		family := "IPv4"
		if requested[1].Is6() {
			family = "IPv6"
		}
		why := family + " is not configured on this cluster"
		if family == Family(s.IPs.Range) {
			why = "may specify no more than one IP for each IP family"
		}
		return invalid(svc, "spec.clusterIPs[1]", spec["clusterIPs"], why)
	}
	ip, err := netip.ParseAddr(clusterIP)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("failed to parse service IP %q", clusterIP))
	}
	if t.dryRun {
		err = s.IPs.Check(ctx, ip)
	} else if err = s.IPs.Allocate(ctx, ip, t.parent); err == nil {
		t.takenIPs = append(t.takenIPs, ip)
	}
	if errors.Is(err, ErrMismatchedNetwork) || errors.Is(err, ErrAllocated) {
		return invalid(svc, "spec.clusterIPs", spec["clusterIPs"], fmt.Sprintf("failed to allocate IP %s: %v", clusterIP, err))
	}
	return err
}

// checkFamilies refuses what a single-stack cluster cannot give: the other
// family, or dual-stack required of a Service that needs an address.
func (s *Services) checkFamilies(svc object.Object, spec map[string]any) error {
	families, _ := spec["ipFamilies"].([]any)
	for i, f := range families {
		if f != Family(s.IPs.Range) {
			return invalid(svc, fmt.Sprintf("spec.ipFamilies[%d]", i), f, "not configured on this cluster")
		}
	}
	if spec["ipFamilyPolicy"] == "RequireDualStack" && spec["clusterIP"] != "None" {
		return invalid(svc, "spec.ipFamilyPolicy", "RequireDualStack", "this cluster is not configured for dual-stack services")
	}
	return nil
}

// defaultFamilies fills in spec.ipFamilies and spec.ipFamilyPolicy, from
// the stored Service on an update. A headless Service without a selector
// gets both families, as in Kubernetes: its endpoints may be of either.
func (s *Services) defaultFamilies(spec map[string]any, old object.Object) {
	if oldSpec, _ := old["spec"].(map[string]any); oldSpec != nil {
		if spec["ipFamilies"] == nil && oldSpec["ipFamilies"] != nil {
			spec["ipFamilies"] = object.DeepCopy(oldSpec["ipFamilies"])
		}
		if spec["ipFamilyPolicy"] == nil && oldSpec["ipFamilyPolicy"] != nil {
			spec["ipFamilyPolicy"] = oldSpec["ipFamilyPolicy"]
		}
	}
	family := Family(s.IPs.Range)
	if selector, _ := spec["selector"].(map[string]any); spec["clusterIP"] == "None" && len(selector) == 0 && spec["ipFamilyPolicy"] == nil {
		other := map[string]string{"IPv4": "IPv6", "IPv6": "IPv4"}[family]
		setIfUnset(spec, "ipFamilyPolicy", "RequireDualStack")
		setIfUnset(spec, "ipFamilies", []any{family, other})
		return
	}
	setIfUnset(spec, "ipFamilyPolicy", "SingleStack")
	setIfUnset(spec, "ipFamilies", []any{family})
}

// beginNodePorts gives each port that needs one a node port: the one it
// asks for, the one it had, or a free one. Ports of the same number (one
// for TCP, one for UDP) share one node port, as in Kubernetes.
func (s *Services) beginNodePorts(ctx context.Context, t *txn, svc object.Object, spec map[string]any, old object.Object) error {
	had := nodePortsOf(old)
	if spec["type"] != "NodePort" && spec["type"] != "LoadBalancer" {
		t.freedPorts = had // PrepareService dropped them from the ports
		return nil
	}
	needs := apis.ServiceNeedsNodePorts(svc) // false: a LoadBalancer keeps only the node ports it names
	ports := portMaps(spec)
	shared := map[int64]int{} // service port -> the node port its ports share
	for _, p := range ports {
		if n := intOf(p["nodePort"]); n != 0 && shared[intOf64(p["port"])] == 0 {
			shared[intOf64(p["port"])] = n
		}
	}
	// What to ask the allocator for: node ports by number (ones the
	// Service did not hold already), then one free port per port number
	// that has none.
	var want []int
	wantIndex := map[int]int{} // a wanted port number -> the first port asking for it
	fresh := map[int64]int{}   // service port -> its index in want
	for i, p := range ports {
		n := intOf(p["nodePort"])
		switch {
		case n != 0:
			if !slices.Contains(had, n) && !slices.Contains(want, n) {
				wantIndex[n] = i
				want = append(want, n)
			}
		case needs && shared[intOf64(p["port"])] == 0:
			if _, ok := fresh[intOf64(p["port"])]; !ok {
				fresh[intOf64(p["port"])] = -1
			}
		}
	}
	specific := len(want)
	for port := range fresh {
		fresh[port] = len(want)
		want = append(want, 0)
	}
	var got []int
	var err error
	switch {
	case len(want) == 0:
	case t.dryRun:
		got, err = s.Ports.Check(ctx, want)
	default:
		got, err = s.Ports.Allocate(ctx, want)
	}
	var portErr *PortError
	switch {
	case errors.As(err, &portErr) && portErr.Index < specific:
		i := wantIndex[portErr.Port]
		return invalid(svc, fmt.Sprintf("spec.ports[%d].nodePort", i), portErr.Port, portErr.Err.Error())
	case errors.Is(err, ErrFull):
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
	case err != nil:
		return err
	}
	if !t.dryRun {
		t.takenPorts = got
	}
	var holds []int
	for _, p := range ports {
		n := intOf(p["nodePort"])
		if n == 0 && needs {
			if n = shared[intOf64(p["port"])]; n == 0 {
				n = got[fresh[intOf64(p["port"])]]
			}
			p["nodePort"] = json.Number(strconv.Itoa(n))
		}
		if n != 0 {
			holds = append(holds, n)
		}
	}
	for _, n := range had {
		if !slices.Contains(holds, n) {
			t.freedPorts = append(t.freedPorts, n)
		}
	}
	return nil
}

// Release gives back what a deleted Service held. svc is the Service as
// it was deleted: its resourceVersion is the revision of the delete, so an
// address a newer Service of the same name took since stays taken.
func (s *Services) Release(ctx context.Context, svc object.Object) {
	parent := Parent{Namespace: svc.MetaString("namespace"), Name: svc.MetaString("name")}
	for _, ip := range clusterIPsOf(svc) {
		if err := s.IPs.Release(ctx, ip, parent, revisionOf(svc)); err != nil {
			log.Printf("giving back cluster IP %s of Service %s: %v (the repair will)", ip, parent, err)
		}
	}
	if ports := nodePortsOf(svc); len(ports) > 0 {
		if err := s.Ports.Release(ctx, ports); err != nil {
			log.Printf("giving back node ports %v of Service %s: %v (the repair will)", ports, parent, err)
		}
	}
}

// Repair makes the allocations agree with the Services, as Kubernetes'
// repair controllers do (pkg/registry/core/service/ipallocator/controller
// and portallocator/controller): an IPAddress of this allocator whose
// Service is gone or holds another address, a node port no Service holds,
// are given back once they have been so for Grace (a Service being created
// takes them a moment before it is stored); a Service's cluster IP without
// its IPAddress gets one again.
func (s *Services) Repair(ctx context.Context, now time.Time) error {
	grace := s.Grace
	if grace == 0 {
		grace = time.Minute
	}
	err := s.Ports.Repair(ctx, func(ctx context.Context) (map[int]bool, error) {
		services, err := s.list(ctx)
		held := map[int]bool{}
		for _, svc := range services {
			for _, n := range nodePortsOf(svc) {
				held[n] = true
			}
		}
		return held, err
	}, now, grace)
	if err != nil {
		return fmt.Errorf("node ports: %w", err)
	}
	addresses, err := s.IPs.List(ctx) // before the Services: see Ports.Repair
	if err != nil {
		return err
	}
	services, err := s.list(ctx)
	if err != nil {
		return err
	}
	held := map[netip.Addr]Parent{}
	for _, svc := range services {
		for _, ip := range clusterIPsOf(svc) {
			held[ip] = Parent{Namespace: svc.MetaString("namespace"), Name: svc.MetaString("name")}
		}
	}
	for _, address := range addresses {
		ip, err := netip.ParseAddr(address.MetaString("name"))
		labels, _ := address.Metadata()["labels"].(map[string]any)
		if err != nil || labels[LabelManagedBy] != ManagedBy {
			continue // not ours to judge
		}
		parent, holder := ParentOf(address), held[ip]
		delete(held, ip)
		created, _ := time.Parse(time.RFC3339, address.MetaString("creationTimestamp"))
		if parent == holder || now.Sub(created) < grace {
			continue
		}
		log.Printf("IPAddress %s appears to have leaked (Service %s does not hold it): cleaning up", ip, parent)
		if err := s.IPs.Release(ctx, ip, parent, revisionOf(address)+1); err != nil {
			return err
		}
	}
	for ip, parent := range held { // Services whose address has no IPAddress
		if !s.IPs.Contains(ip) {
			log.Printf("the cluster IP %s of Service %s is not in --service-cluster-ip-range %s", ip, parent, s.IPs.Range)
			continue
		}
		switch err := s.IPs.create(ctx, ip, parent); {
		case err == nil:
			log.Printf("the cluster IP %s of Service %s was not allocated: repaired", ip, parent)
		case !errors.Is(err, ErrAllocated):
			return err
		}
	}
	return nil
}

func (s *Services) list(ctx context.Context) ([]object.Object, error) {
	items, _, _, err := s.Store.List(ctx, s.Services, "", store.ListOptions{})
	return items, err
}

// clusterIPsOf lists the addresses a Service holds: none if it is headless
// or ExternalName (or nil).
func clusterIPsOf(svc object.Object) []netip.Addr {
	if svc == nil || !apis.ServiceNeedsClusterIP(svc) {
		return nil
	}
	spec, _ := svc["spec"].(map[string]any)
	list, _ := spec["clusterIPs"].([]any)
	if len(list) == 0 && spec["clusterIP"] != nil {
		list = []any{spec["clusterIP"]}
	}
	var ips []netip.Addr
	for _, item := range list {
		s, _ := item.(string)
		if ip, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// nodePortsOf lists the node ports a Service holds, each once: only
// NodePort and LoadBalancer Services hold any.
func nodePortsOf(svc object.Object) []int {
	spec, _ := svc["spec"].(map[string]any)
	if spec["type"] != "NodePort" && spec["type"] != "LoadBalancer" {
		return nil
	}
	var ports []int
	for _, p := range portMaps(spec) {
		if n := intOf(p["nodePort"]); n != 0 && !slices.Contains(ports, n) {
			ports = append(ports, n)
		}
	}
	return ports
}

func portMaps(spec map[string]any) []map[string]any {
	list, _ := spec["ports"].([]any)
	var out []map[string]any
	for _, item := range list {
		if p, ok := item.(map[string]any); ok {
			out = append(out, p)
		}
	}
	return out
}

func intOf(v any) int { return int(intOf64(v)) }

func intOf64(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}

func setIfUnset(m map[string]any, key string, value any) {
	if m[key] == nil {
		m[key] = value
	}
}

// invalid is the 422 of one field of a Service.
func invalid(svc object.Object, field string, value any, why string) error {
	var shown string
	switch v := value.(type) {
	case string:
		shown = strconv.Quote(v)
	case []any:
		data, _ := json.Marshal(v)
		shown = string(data)
	default:
		shown = fmt.Sprint(v)
	}
	return apierrors.NewInvalid("", "Service", svc.MetaString("name"), []apierrors.Cause{
		{Reason: "FieldValueInvalid", Message: fmt.Sprintf("Invalid value: %s: %s", shown, why), Field: field}})
}
