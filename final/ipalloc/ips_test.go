package ipalloc

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

var (
	ipAddresses = &registry.Resource{Group: "networking.k8s.io", Version: "v1", Name: "ipaddresses", Kind: "IPAddress"}
	servicesRes = &registry.Resource{Version: "v1", Name: "services", Kind: "Service", Namespaced: true}
)

// openBackend opens a SQLite store in a file of its own; reopen opens the
// same file again, as a restarted server would.
func openBackend(t *testing.T) (storage.Backend, func() storage.Backend) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "state.db")
	open := func() storage.Backend {
		b, err := sqlite.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	return open(), open
}

func newIPs(t *testing.T, backend storage.Backend, cidr string) *IPs {
	t.Helper()
	prefix, err := ParseServiceCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return &IPs{Store: store.New(backend), Addresses: ipAddresses, Range: prefix}
}

var web = Parent{Namespace: "default", Name: "web"}

func TestParseServiceCIDR(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{in: "10.96.0.0/12", want: "10.96.0.0/12"},
		{in: "10.96.0.5/12", want: "10.96.0.0/12"}, // masked, as net.ParseCIDR does
		{in: "fd00::/108", want: "fd00::/108"},
		{in: "10.0.0.0/29", want: "10.0.0.0/29"},
		{in: "10.0.0.0/30", err: `"10.0.0.0/30": the service cluster IP range must be at least 8 IP addresses`},
		{in: "fd00::/48", err: `"fd00::/48": the shortest allowed prefix length for an IPv6 service CIDR is 64`},
		{in: "10.0.0.0/24,fd00::/108", err: `"10.0.0.0/24,fd00::/108": dual-stack Services (two ranges) are not supported here; give one CIDR`},
		{in: "10.0.0.0", err: `"10.0.0.0" is not a valid CIDR`},
	} {
		got, err := ParseServiceCIDR(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseServiceCIDR(%q) = %v, %v; want error %s", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseServiceCIDR(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if got := KubernetesServiceIP(netip.MustParsePrefix("10.96.0.0/12")); got.String() != "10.96.0.1" {
		t.Errorf("KubernetesServiceIP = %s, want 10.96.0.1", got)
	}
}

// A /29 has 8 addresses: the network and broadcast addresses are never
// handed out, the other 6 are, once each; then the range is full.
func TestAllocateNextUntilFull(t *testing.T) {
	backend, _ := openBackend(t)
	ips := newIPs(t, backend, "10.0.0.8/29")
	ctx := context.Background()
	seen := map[netip.Addr]bool{}
	for range 6 {
		ip, err := ips.AllocateNext(ctx, web)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ip] || !netip.MustParsePrefix("10.0.0.8/29").Contains(ip) || ip.String() == "10.0.0.8" || ip.String() == "10.0.0.15" {
			t.Fatalf("handed out %s (seen: %v)", ip, seen)
		}
		seen[ip] = true
	}
	if ip, err := ips.AllocateNext(ctx, web); !errors.Is(err, ErrFull) {
		t.Fatalf("a 7th address: %s, %v; want ErrFull", ip, err)
	}
	// Each taken address is an IPAddress naming its Service.
	items, err := ips.List(ctx)
	if err != nil || len(items) != 6 {
		t.Fatalf("%d IPAddresses, %v", len(items), err)
	}
	for _, item := range items {
		if ParentOf(item) != web || item.Metadata()["labels"].(map[string]any)[LabelManagedBy] != ManagedBy {
			t.Errorf("IPAddress %v", item)
		}
	}
}

func TestAllocateSpecific(t *testing.T) {
	backend, _ := openBackend(t)
	ips := newIPs(t, backend, "10.0.0.0/24")
	ctx := context.Background()
	ip := netip.MustParseAddr("10.0.0.10")
	if err := ips.Check(ctx, ip); err != nil {
		t.Fatalf("Check of a free address: %v", err)
	}
	if err := ips.Allocate(ctx, ip, web); err != nil {
		t.Fatal(err)
	}
	if err := ips.Allocate(ctx, ip, Parent{Namespace: "default", Name: "other"}); !errors.Is(err, ErrAllocated) {
		t.Errorf("taking a taken address: %v, want ErrAllocated", err)
	}
	if err := ips.Check(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Errorf("Check of a taken address: %v, want ErrAllocated", err)
	}
	for _, outside := range []string{"10.0.1.5", "10.0.0.0", "10.0.0.255", "fd00::1"} {
		if err := ips.Allocate(ctx, netip.MustParseAddr(outside), web); !errors.Is(err, ErrMismatchedNetwork) {
			t.Errorf("Allocate(%s): %v, want ErrMismatchedNetwork", outside, err)
		}
	}
	// The message clients see, in Kubernetes' words.
	if ErrAllocated.Error() != "provided IP is already allocated" || ErrMismatchedNetwork.Error() != "the provided network does not match the current range" {
		t.Errorf("messages: %q, %q", ErrAllocated, ErrMismatchedNetwork)
	}
}

// IPv6 has no broadcast address: the last one is handed out too.
func TestIPv6Bounds(t *testing.T) {
	backend, _ := openBackend(t)
	ips := newIPs(t, backend, "fd00::/125")
	ctx := context.Background()
	if err := ips.Allocate(ctx, netip.MustParseAddr("fd00::7"), web); err != nil {
		t.Errorf("the last address: %v", err)
	}
	if err := ips.Allocate(ctx, netip.MustParseAddr("fd00::"), web); !errors.Is(err, ErrMismatchedNetwork) {
		t.Errorf("the network address: %v", err)
	}
	for range 6 {
		if _, err := ips.AllocateNext(ctx, web); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ips.AllocateNext(ctx, web); !errors.Is(err, ErrFull) {
		t.Errorf("an 8th address: %v", err)
	}
}

// Random allocation leaves the first addresses (16 of a /24) to clients
// that ask for one, until the rest of the range is full.
func TestStaticBand(t *testing.T) {
	backend, _ := openBackend(t)
	ips := newIPs(t, backend, "10.0.0.0/24")
	ctx := context.Background()
	for i := range 254 {
		ip, err := ips.AllocateNext(ctx, web)
		if err != nil {
			t.Fatal(err)
		}
		inStatic := ip.Compare(netip.MustParseAddr("10.0.0.16")) <= 0
		if i < 238 && inStatic || i >= 238 && !inStatic {
			t.Fatalf("allocation %d got %s", i, ip)
		}
	}
}

func TestRelease(t *testing.T) {
	backend, _ := openBackend(t)
	ips := newIPs(t, backend, "10.0.0.8/29")
	ctx := context.Background()
	ip := netip.MustParseAddr("10.0.0.9")
	if err := ips.Allocate(ctx, ip, web); err != nil {
		t.Fatal(err)
	}
	// Another Service cannot give it back.
	if err := ips.Release(ctx, ip, Parent{Namespace: "default", Name: "other"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := ips.Check(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Fatalf("released by another Service: %v", err)
	}
	// A Service deleted before the address was taken (a newer web took it
	// since) does not give it back either.
	item, err := ips.Store.Get(ctx, ipAddresses, "", "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	if err := ips.Release(ctx, ip, web, revisionOf(item)); err != nil {
		t.Fatal(err)
	}
	if err := ips.Check(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Fatalf("released by an older web: %v", err)
	}
	if err := ips.Release(ctx, ip, web, revisionOf(item)+1); err != nil {
		t.Fatal(err)
	}
	if err := ips.Allocate(ctx, ip, web); err != nil {
		t.Fatalf("taking it again after the release: %v", err)
	}
	if err := ips.Release(ctx, netip.MustParseAddr("10.0.0.10"), web, 0); err != nil {
		t.Errorf("releasing an address nobody holds: %v", err)
	}
}

// Two allocators on one store are two replicas: racing for the addresses
// of a small range, they never hand out one twice, and together they hand
// out all of them.
func TestConcurrentAllocationsNeverCollide(t *testing.T) {
	backend, _ := openBackend(t)
	replicas := []*IPs{newIPs(t, backend, "10.0.0.0/26"), newIPs(t, backend, "10.0.0.0/26")}
	ctx := context.Background()
	var mu sync.Mutex
	got := map[netip.Addr]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for {
				ip, err := replicas[g%2].AllocateNext(ctx, Parent{Namespace: "default", Name: "svc"})
				if errors.Is(err, ErrFull) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[ip]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 62 {
		t.Errorf("%d addresses handed out, want all 62", len(got))
	}
	for ip, n := range got {
		if n != 1 {
			t.Errorf("%s handed out %d times", ip, n)
		}
	}
}

// The allocations are in the store: a new allocator on the same store (a
// restarted server) knows what is taken.
func TestStateSurvivesANewAllocator(t *testing.T) {
	backend, reopen := openBackend(t)
	first := newIPs(t, backend, "10.0.0.8/29")
	ctx := context.Background()
	taken := map[netip.Addr]bool{}
	for range 3 {
		ip, err := first.AllocateNext(ctx, web)
		if err != nil {
			t.Fatal(err)
		}
		taken[ip] = true
	}
	backend.Close()
	second := newIPs(t, reopen(), "10.0.0.8/29")
	for ip := range taken {
		if err := second.Allocate(ctx, ip, web); !errors.Is(err, ErrAllocated) {
			t.Errorf("%s after the restart: %v, want ErrAllocated", ip, err)
		}
	}
	for range 3 {
		ip, err := second.AllocateNext(ctx, web)
		if err != nil || taken[ip] {
			t.Fatalf("after the restart: %s, %v", ip, err)
		}
	}
	if _, err := second.AllocateNext(ctx, web); !errors.Is(err, ErrFull) {
		t.Errorf("a 7th address after the restart: %v", err)
	}
}
