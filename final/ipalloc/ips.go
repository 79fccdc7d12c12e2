// Cluster IPs: one IPAddress object per address taken. Creating the object
// is taking the address; deleting it is giving the address back.

package ipalloc

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// The labels Kubernetes' allocator puts on the IPAddresses it creates; the
// repair leaves other IPAddresses (a user's, another allocator's) alone.
const (
	LabelIPFamily  = "ipaddress.kubernetes.io/ip-family"
	LabelManagedBy = "ipaddress.kubernetes.io/managed-by"
	ManagedBy      = "ipallocator.k8s.io"
)

// IPs allocates cluster IPs from one range. The network address is never
// handed out, nor an IPv4 range's broadcast address.
type IPs struct {
	Store     *store.Store
	Addresses *registry.Resource // networking.k8s.io/v1 ipaddresses
	Range     netip.Prefix
}

// Contains reports whether ip may be handed out: in the range, and neither
// its network address nor (IPv4) its broadcast address.
func (a *IPs) Contains(ip netip.Addr) bool {
	first, last := a.bounds()
	return a.Range.Contains(ip) && !ip.Less(first) && !last.Less(ip)
}

// Allocate takes ip for parent: ErrMismatchedNetwork outside the range,
// ErrAllocated if it is taken.
func (a *IPs) Allocate(ctx context.Context, ip netip.Addr, parent Parent) error {
	if !a.Contains(ip) {
		return ErrMismatchedNetwork
	}
	return a.create(ctx, ip, parent)
}

// AllocateNext takes a free address for parent: a random one of the
// dynamic band, or of the static band once the dynamic one is full.
// ErrFull when every address is taken.
func (a *IPs) AllocateNext(ctx context.Context, parent Parent) (netip.Addr, error) {
	taken, err := a.taken(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.scan(taken, func(ip netip.Addr) (bool, error) {
		switch err := a.create(ctx, ip, parent); {
		case err == nil:
			return true, nil
		case errors.Is(err, ErrAllocated): // another replica was quicker
			return false, nil
		default:
			return false, err
		}
	})
}

// Check is Allocate on a dry run: it says what Allocate would, and takes
// nothing.
func (a *IPs) Check(ctx context.Context, ip netip.Addr) error {
	if !a.Contains(ip) {
		return ErrMismatchedNetwork
	}
	_, err := a.Store.Get(ctx, a.Addresses, "", ip.String())
	switch {
	case err == nil:
		return ErrAllocated
	case apierrors.IsNotFound(err):
		return nil
	}
	return err
}

// Peek is AllocateNext on a dry run: an address that is free now, taken by
// nobody. The real create may well get another.
func (a *IPs) Peek(ctx context.Context) (netip.Addr, error) {
	taken, err := a.taken(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.scan(taken, func(netip.Addr) (bool, error) { return true, nil })
}

// Release gives ip back if parent holds it: its IPAddress is deleted when
// the parentRef names parent and, if before is not 0, the IPAddress was
// last written before that revision. A Service deleted at revision R so
// gives back what it held, never what a newer Service of the same name
// took since. An address nobody holds is no error.
func (a *IPs) Release(ctx context.Context, ip netip.Addr, parent Parent, before int64) error {
	_, err := a.Store.Delete(ctx, a.Addresses, "", ip.String(), func(current object.Object) error {
		if ParentOf(current) != parent {
			return errNotOurs
		}
		if before != 0 && revisionOf(current) >= before {
			return errNotOurs
		}
		return nil
	})
	if err == nil || errors.Is(err, errNotOurs) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

var errNotOurs = errors.New("held by another")

// List returns every IPAddress in the store, of any range and any owner.
func (a *IPs) List(ctx context.Context) ([]object.Object, error) {
	items, _, _, err := a.Store.List(ctx, a.Addresses, "", store.ListOptions{})
	return items, err
}

// ParentOf reads an IPAddress's spec.parentRef, when it names a Service.
func ParentOf(ipAddress object.Object) Parent {
	spec, _ := ipAddress["spec"].(map[string]any)
	ref, _ := spec["parentRef"].(map[string]any)
	group, _ := ref["group"].(string)
	resource, _ := ref["resource"].(string)
	if group != "" || resource != "services" {
		return Parent{}
	}
	namespace, _ := ref["namespace"].(string)
	name, _ := ref["name"].(string)
	return Parent{Namespace: namespace, Name: name}
}

// create writes the IPAddress that takes ip for parent, as Kubernetes'
// allocator writes it.
func (a *IPs) create(ctx context.Context, ip netip.Addr, parent Parent) error {
	family := "IPv4"
	if ip.Is6() {
		family = "IPv6"
	}
	obj := object.Object{"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
		"metadata": map[string]any{"name": ip.String(), "uid": object.NewUID(), "creationTimestamp": object.Now(),
			"labels": map[string]any{LabelIPFamily: family, LabelManagedBy: ManagedBy}},
		"spec": map[string]any{"parentRef": map[string]any{"resource": "services", "namespace": parent.Namespace, "name": parent.Name}}}
	_, err := a.Store.Create(ctx, a.Addresses, obj)
	if apierrors.IsAlreadyExists(err) {
		return ErrAllocated
	}
	return err
}

// taken is the set of addresses that have an IPAddress.
func (a *IPs) taken(ctx context.Context) (map[netip.Addr]bool, error) {
	items, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	taken := make(map[netip.Addr]bool, len(items))
	for _, item := range items {
		if ip, err := netip.ParseAddr(item.MetaString("name")); err == nil {
			taken[ip] = true
		}
	}
	return taken, nil
}

// scan offers try the free addresses, the dynamic band's from a random
// start (wrapping around), then the static band's, until try accepts one.
func (a *IPs) scan(taken map[netip.Addr]bool, try func(netip.Addr) (bool, error)) (netip.Addr, error) {
	first, _ := a.bounds()
	size := a.size()
	hostBits := a.Range.Addr().BitLen() - a.Range.Bits()
	rangeSize := uint64(math.MaxUint64) // the whole prefix, network address included
	if hostBits < 64 {
		rangeSize = 1 << hostBits
	}
	static := staticBand(rangeSize, 16, 256, 16)
	bands := [][2]uint64{{static, size - static}, {0, static}} // start offset, length
	for _, band := range bands {
		start, length := band[0], band[1]
		if length == 0 {
			continue
		}
		r := rand.Uint64N(length)
		// At most len(taken) addresses are taken: past that many, the scan
		// has found a free one or covered the band.
		for i := uint64(0); i < length && i <= uint64(len(taken)); i++ {
			k := r + i
			if k < r || k >= length { // wrap around (k < r: it overflowed)
				k -= length
			}
			ip := addOffset(first, start+k)
			if taken[ip] {
				continue
			}
			ok, err := try(ip)
			if err != nil {
				return netip.Addr{}, err
			}
			if ok {
				return ip, nil
			}
			taken[ip] = true
		}
	}
	return netip.Addr{}, ErrFull
}

// bounds are the first and the last address handed out.
func (a *IPs) bounds() (first, last netip.Addr) {
	network := a.Range.Masked().Addr()
	span := uint64(math.MaxUint64) // from the network address to the last one
	if hostBits := network.BitLen() - a.Range.Bits(); hostBits < 64 {
		span = 1<<hostBits - 1
	}
	first, last = network.Next(), addOffset(network, span)
	if network.Is4() {
		last = last.Prev() // not the broadcast address
	}
	return first, last
}

// size is how many addresses may be handed out (at most MaxUint64).
func (a *IPs) size() uint64 {
	hostBits := a.Range.Addr().BitLen() - a.Range.Bits()
	if hostBits >= 64 {
		return math.MaxUint64
	}
	n := uint64(1)<<hostBits - 1 // not the network address
	if a.Range.Addr().Is4() {
		n-- // nor the broadcast address
	}
	return n
}

// addOffset is the address n after ip, in 128-bit arithmetic.
func addOffset(ip netip.Addr, n uint64) netip.Addr {
	b := ip.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	sum := lo + n
	if sum < lo {
		hi++
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], sum)
	out := netip.AddrFrom16(b)
	if ip.Is4() {
		return out.Unmap()
	}
	return out
}

func revisionOf(obj object.Object) int64 {
	rev, _ := strconv.ParseInt(obj.MetaString("resourceVersion"), 10, 64)
	return rev
}
