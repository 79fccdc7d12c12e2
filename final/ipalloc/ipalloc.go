// Package ipalloc hands out what Services share: cluster IPs from
// --service-cluster-ip-range and node ports from --service-node-port-range.
// Neither is ever handed out twice, across restarts and across replicas on
// one store, because the allocations live in the store and are taken with
// the store's own atomic writes, never with a lock in one process:
//
//   - a cluster IP is taken by creating an IPAddress object
//     (networking.k8s.io/v1) named by the address, whose parentRef names the
//     Service: creating a key that exists fails, so of two replicas racing
//     for one address exactly one wins. The IPAddresses are the allocation
//     table, and "kubectl get ipaddresses" shows it. This is the allocator
//     Kubernetes has used since 1.33 (MultiCIDRServiceAllocator, alone since
//     1.34), in pkg/registry/core/service/ipallocator/ipallocator.go.
//   - node ports are one bitmap, a RangeAllocation at
//     /registry/ranges/servicenodeports, rewritten with compare-and-swap on
//     its revision: a write that lost to another replica's reads the bitmap
//     again and retries. This is still how Kubernetes 1.37 keeps node ports
//     (pkg/registry/core/service/portallocator, allocator/storage).
//
// Services (services.go) is what the API server calls around a Service's
// writes: it takes what a create or an update needs before the Service is
// stored and gives it back if the write is not stored, or when the Service
// is deleted; its Repair finds what a crash left taken. Kubernetes does this
// in pkg/registry/core/service/storage/alloc.go and the repair controllers.
package ipalloc

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The allocators' errors, in Kubernetes' words: clients see them in the 422
// that refuses a Service.
var (
	ErrFull              = errors.New("range is full")
	ErrAllocated         = errors.New("provided IP is already allocated")
	ErrMismatchedNetwork = errors.New("the provided network does not match the current range")
	ErrPortAllocated     = errors.New("provided port is already allocated")
)

// PortNotInRangeError is a node port outside --service-node-port-range.
type PortNotInRangeError struct{ Range PortRange }

func (e *PortNotInRangeError) Error() string {
	return "provided port is not in the valid range. The range of valid ports is " + e.Range.String()
}

// ParseServiceCIDR reads --service-cluster-ip-range: one CIDR, IPv4 or IPv6,
// of at least 8 addresses (an IPv6 prefix of /64 or longer), as
// kube-apiserver requires. Kubernetes also takes a second CIDR of the other
// family for dual-stack Services; this server allocates from one.
func ParseServiceCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, ",") {
		return netip.Prefix{}, fmt.Errorf("%q: dual-stack Services (two ranges) are not supported here; give one CIDR", s)
	}
	prefix, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	if prefix.Addr().Zone() != "" || prefix.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR", s)
	}
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits < 3 {
		return netip.Prefix{}, fmt.Errorf("%q: the service cluster IP range must be at least 8 IP addresses", s)
	}
	if prefix.Addr().Is6() && prefix.Bits() < 64 {
		return netip.Prefix{}, fmt.Errorf("%q: the shortest allowed prefix length for an IPv6 service CIDR is 64", s)
	}
	return prefix.Masked(), nil
}

// KubernetesServiceIP is the range's first address, the ClusterIP of the
// "kubernetes" Service in default (kube-apiserver's APIServerServiceIP).
func KubernetesServiceIP(prefix netip.Prefix) netip.Addr {
	return prefix.Masked().Addr().Next()
}

// Family is the range's IP family as a Service's spec.ipFamilies names it.
func Family(prefix netip.Prefix) string {
	if prefix.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// PortRange is a range of ports, both ends included: Base up to
// Base+Size-1, as k8s.io/apimachinery's net.PortRange.
type PortRange struct{ Base, Size int }

// ParsePortRange reads --service-node-port-range: "30000-32767" (both ends
// included), "30000+2768" (a base and a size) or one port.
func ParsePortRange(s string) (PortRange, error) {
	bad := fmt.Errorf("%q is not a port range: want, for example, 30000-32767", s)
	s = strings.TrimSpace(s)
	low, high := s, s
	size := -1
	if a, b, ok := strings.Cut(s, "-"); ok {
		low, high = a, b
	} else if a, b, ok := strings.Cut(s, "+"); ok {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 {
			return PortRange{}, bad
		}
		low, size = a, n+1
	}
	base, err := strconv.Atoi(low)
	if err != nil {
		return PortRange{}, bad
	}
	if size < 0 {
		last, err := strconv.Atoi(high)
		if err != nil || last < base {
			return PortRange{}, bad
		}
		size = last - base + 1
	}
	r := PortRange{Base: base, Size: size}
	if base < 1 || r.last() > 65535 {
		return PortRange{}, fmt.Errorf("%q: ports must be between 1 and 65535", s)
	}
	return r, nil
}

func (r PortRange) last() int { return r.Base + r.Size - 1 }

// Contains reports whether port is in the range.
func (r PortRange) Contains(port int) bool { return port >= r.Base && port <= r.last() }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Base, r.last()) }

// Parent is what an allocation belongs to: a Service, by namespace and
// name (an IPAddress's spec.parentRef).
type Parent struct{ Namespace, Name string }

func (p Parent) String() string { return p.Namespace + "/" + p.Name }

// staticBand is how many addresses or ports at the start of a range are
// left for clients that ask for a particular one: random allocation tries
// the rest first, and falls back to them only when the rest is full
// (KEP-3070 for cluster IPs, KEP-3668 for node ports):
// min(max(low, size/step), high).
func staticBand(size uint64, low, high, step uint64) uint64 {
	if size <= low {
		return 0
	}
	return min(max(low, size/step), high)
}
