package ipalloc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

func newPorts(backend storage.Backend, r PortRange) *Ports {
	return &Ports{Backend: backend, Key: NodePortsKey, Range: r}
}

func TestParsePortRange(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want PortRange
		err  bool
	}{
		{in: "30000-32767", want: PortRange{30000, 2768}},
		{in: "30000+2767", want: PortRange{30000, 2768}},
		{in: "8080", want: PortRange{8080, 1}},
		{in: "32767-30000", err: true},
		{in: "0-10", err: true},
		{in: "60000-70000", err: true},
		{in: "a-b", err: true},
	} {
		got, err := ParsePortRange(tt.in)
		if tt.err != (err != nil) || !tt.err && got != tt.want {
			t.Errorf("ParsePortRange(%q) = %v, %v", tt.in, got, err)
		}
	}
	if s := (PortRange{30000, 2768}).String(); s != "30000-32767" {
		t.Errorf("String() = %s", s)
	}
}

func TestAllocatePorts(t *testing.T) {
	backend, _ := openBackend(t)
	ports := newPorts(backend, PortRange{30000, 10})
	ctx := context.Background()
	got, err := ports.Allocate(ctx, []int{0, 30005, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != 30005 || got[0] == got[2] || got[0] == 30005 || got[2] == 30005 || !ports.Range.Contains(got[0]) || !ports.Range.Contains(got[2]) {
		t.Fatalf("got %v", got)
	}
	var pe *PortError
	if _, err := ports.Allocate(ctx, []int{0, 30005}); !errors.As(err, &pe) || pe.Index != 1 || !errors.Is(err, ErrPortAllocated) {
		t.Errorf("a taken port: %v", err)
	}
	if _, err := ports.Allocate(ctx, []int{20000}); !errors.As(err, &pe) || pe.Err.Error() != "provided port is not in the valid range. The range of valid ports is 30000-30009" {
		t.Errorf("a port out of range: %v", err)
	}
	// What failed took nothing: 7 ports are left, then the range is full.
	if _, err := ports.Check(ctx, []int{0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatalf("Check of the 7 left: %v", err)
	}
	if _, err := ports.Allocate(ctx, []int{0, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrFull) {
		t.Errorf("8 of 7: %v", err)
	}
	if _, err := ports.Allocate(ctx, []int{0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	taken, err := ports.Taken(ctx)
	if err != nil || len(taken) != 10 {
		t.Fatalf("taken %v, %v", taken, err)
	}
	if err := ports.Release(ctx, []int{30005, 40000}); err != nil {
		t.Fatal(err)
	}
	if got, err := ports.Allocate(ctx, []int{0}); err != nil || got[0] != 30005 {
		t.Errorf("the one released port: %v, %v", got, err)
	}
}

// racingBackend lets another writer change the key between an allocator's
// read and its write, once: the allocator's compare-and-swap loses, and it
// must read again rather than overwrite the other's port.
type racingBackend struct {
	storage.Backend
	once  sync.Once
	other func()
	lost  int
}

func (b *racingBackend) Update(ctx context.Context, key string, value []byte, rev int64) (storage.KeyValue, error) {
	b.once.Do(b.other)
	kv, err := b.Backend.Update(ctx, key, value, rev)
	if errors.Is(err, storage.ErrConflict) {
		b.lost++
	}
	return kv, err
}

func TestPortsCompareAndSwap(t *testing.T) {
	backend, _ := openBackend(t)
	r := PortRange{30000, 100}
	ctx := context.Background()
	if _, err := newPorts(backend, r).Allocate(ctx, []int{30001}); err != nil { // the bitmap exists
		t.Fatal(err)
	}
	other := newPorts(backend, r)
	racing := &racingBackend{Backend: backend, other: func() {
		if _, err := other.Allocate(ctx, []int{30002}); err != nil {
			t.Error(err)
		}
	}}
	got, err := newPorts(racing, r).Allocate(ctx, []int{30003})
	if err != nil || got[0] != 30003 {
		t.Fatalf("got %v, %v", got, err)
	}
	if racing.lost != 1 {
		t.Errorf("the first write lost %d times, want 1", racing.lost)
	}
	taken, _ := other.Taken(ctx)
	if !slices.Equal(taken, []int{30001, 30002, 30003}) {
		t.Errorf("taken %v, want the three", taken)
	}
}

// Replicas racing for the ports of a small range: every port once, all of
// them handed out.
func TestConcurrentPortsNeverCollide(t *testing.T) {
	backend, _ := openBackend(t)
	r := PortRange{30000, 64}
	replicas := []*Ports{newPorts(backend, r), newPorts(backend, r)}
	ctx := context.Background()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for {
				ports, err := replicas[g%2].Allocate(ctx, []int{0})
				if errors.Is(err, ErrFull) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[ports[0]]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 64 {
		t.Errorf("%d ports handed out, want 64", len(got))
	}
	for port, n := range got {
		if n != 1 {
			t.Errorf("port %d handed out %d times", port, n)
		}
	}
}

// The bitmap is in the store: a restarted server's allocator sees it, and
// one started with another range keeps the ports both ranges have.
func TestPortsSurviveARestartAndARangeChange(t *testing.T) {
	backend, reopen := openBackend(t)
	ctx := context.Background()
	if _, err := newPorts(backend, PortRange{30000, 10}).Allocate(ctx, []int{30002, 30008}); err != nil {
		t.Fatal(err)
	}
	backend.Close()
	backend = reopen()
	again := newPorts(backend, PortRange{30000, 10})
	if _, err := again.Allocate(ctx, []int{30008}); !errors.Is(err, ErrPortAllocated) {
		t.Errorf("30008 after the restart: %v", err)
	}
	moved := newPorts(backend, PortRange{30005, 10})
	if taken, _ := moved.Taken(ctx); !slices.Equal(taken, []int{30008}) {
		t.Errorf("in 30005-30014: %v, want [30008]", taken)
	}
	if _, err := moved.Allocate(ctx, []int{30008}); !errors.Is(err, ErrPortAllocated) {
		t.Errorf("30008 in the new range: %v", err)
	}
}

// Repair marks what Services hold, and gives back what none holds once it
// has been so for the grace period.
func TestPortsRepair(t *testing.T) {
	backend, _ := openBackend(t)
	ports := newPorts(backend, PortRange{30000, 10})
	ctx := context.Background()
	if _, err := ports.Allocate(ctx, []int{30001, 30002}); err != nil {
		t.Fatal(err)
	}
	held := func(context.Context) (map[int]bool, error) { return map[int]bool{30002: true, 30003: true}, nil }
	now := time.Now()
	if err := ports.Repair(ctx, held, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if taken, _ := ports.Taken(ctx); !slices.Equal(taken, []int{30001, 30002, 30003}) {
		t.Errorf("after the first repair: %v (30001 is in its grace period)", taken)
	}
	if err := ports.Repair(ctx, held, now.Add(59*time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	if taken, _ := ports.Taken(ctx); !slices.Equal(taken, []int{30001, 30002, 30003}) {
		t.Errorf("59 s on: %v", taken)
	}
	if err := ports.Repair(ctx, held, now.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	if taken, _ := ports.Taken(ctx); !slices.Equal(taken, []int{30002, 30003}) {
		t.Errorf("a minute on: %v, want 30001 given back", taken)
	}
}
