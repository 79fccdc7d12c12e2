package leaderelection

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

var leases = &registry.Resource{Group: "coordination.k8s.io", Version: "v1", Name: "leases", Kind: "Lease", Namespaced: true}

func TestOneLeaderAtATime(t *testing.T) {
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	st := store.New(backend)
	elector := func(id string) *Elector {
		return &Elector{Store: st, Leases: leases, Namespace: "kube-system", Name: "controllers", Identity: id,
			LeaseDuration: time.Second, RetryPeriod: 20 * time.Millisecond}
	}
	a, b := elector("a"), elector("b")
	var leaders, maxLeaders atomic.Int32
	lead := func(ctx context.Context) {
		n := leaders.Add(1)
		for m := maxLeaders.Load(); n > m && !maxLeaders.CompareAndSwap(m, n); m = maxLeaders.Load() {
		}
		<-ctx.Done()
		leaders.Add(-1)
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan struct{})
	go func() { a.Run(ctxA, lead); close(doneA) }()
	go b.Run(ctxB, lead)

	waitFor(t, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	first, second := a, b
	stopFirst := stopA
	if b.IsLeader() {
		first, second = b, a
		stopFirst = stopB
	}
	time.Sleep(100 * time.Millisecond) // several rounds: the other must not take over a renewed lease
	if second.IsLeader() {
		t.Fatal("both replicas lead")
	}
	stopFirst() // the leader goes away without releasing: the lease expires
	waitFor(t, "the other replica to take over", second.IsLeader)
	if first.IsLeader() {
		t.Error("the stopped replica still says it leads")
	}
	if maxLeaders.Load() != 1 {
		t.Errorf("%d replicas led at once", maxLeaders.Load())
	}
	lease, err := st.Get(context.Background(), leases, "kube-system", "controllers")
	if err != nil {
		t.Fatal(err)
	}
	spec := lease["spec"].(map[string]any)
	if spec["holderIdentity"] != second.Identity || spec["leaseTransitions"] == nil {
		t.Errorf("lease %v", spec)
	}
	if first == a {
		<-doneA
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// A replica that stops leading on purpose releases the lease: the next one
// takes it at once, not after the lease would have expired.
func TestReleaseOnStop(t *testing.T) {
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	st := store.New(backend)
	first := &Elector{Store: st, Leases: leases, Namespace: "kube-system", Name: "controllers", Identity: "first",
		LeaseDuration: time.Hour, RetryPeriod: 20 * time.Millisecond}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { first.Run(ctx, func(ctx context.Context) { <-ctx.Done() }); close(done) }()
	waitFor(t, "the first replica to lead", first.IsLeader)
	stop()
	<-done
	second := &Elector{Store: st, Leases: leases, Namespace: "kube-system", Name: "controllers", Identity: "second",
		LeaseDuration: time.Hour, RetryPeriod: 20 * time.Millisecond}
	if !second.tryAcquireOrRenew(context.Background()) {
		t.Fatal("the released lease (of an hour) was not free")
	}
}
