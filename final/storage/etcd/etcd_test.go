package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/etcd"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

// endpoint is the client URL of the etcd that TestMain started; "" when
// there is no etcd on PATH.
var endpoint string

// TestMain starts one etcd for the package, on loopback ports of its own,
// with its data in a temporary directory, and kills it at the end. Each test
// works under a key prefix of its own.
func TestMain(m *testing.M) {
	os.Exit(runWithEtcd(m))
}

func runWithEtcd(m *testing.M) int {
	url, stop, err := storagetest.StartEtcd()
	if err != nil {
		log.Print(err)
		return 1
	}
	defer stop()
	endpoint = url
	return m.Run()
}

var prefixes atomic.Int64

// newStore connects to the test etcd with a prefix no other test uses (of
// one length, so none is a prefix of another).
func newStore(t testing.TB) *etcd.Store {
	t.Helper()
	return connect(t, fmt.Sprintf("/storagetest/%06d", prefixes.Add(1)))
}

func requireEtcd(t testing.TB) {
	t.Helper()
	storagetest.RequireEtcd(t, endpoint)
}

func connect(t testing.TB, prefix string) *etcd.Store {
	t.Helper()
	requireEtcd(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := etcd.New(ctx, []string{endpoint}, nil, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	requireEtcd(t)
	storagetest.Run(t, func(t *testing.T) storage.Backend { return newStore(t) })
}

// BenchmarkEtcd runs the backend benchmarks on the etcd of TestMain, each
// on a prefix of its own. Skipped without etcd.
func BenchmarkEtcd(b *testing.B) {
	requireEtcd(b)
	storagetest.Bench(b, func(b *testing.B) storage.Backend { return newStore(b) })
}

// Two API servers on one etcd share one state: each sees the other's
// writes, in its reads and through its watches, and their compare-and-swaps
// decide between them.
func TestTwoStoresShareOneState(t *testing.T) {
	ctx := t.Context()
	first := newStore(t)
	second := connect(t, fmt.Sprintf("/storagetest/%06d", prefixes.Load())) // the same prefix
	fromSecond, err := second.Watch(ctx, "/shared/", 0)
	if err != nil {
		t.Fatal(err)
	}
	fromFirst, err := first.Watch(ctx, "/shared/", 0)
	if err != nil {
		t.Fatal(err)
	}
	created, err := first.Create(ctx, "/shared/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, fromSecond); ev.Type != storage.Put || ev.KV.ModRevision != created.ModRevision {
		t.Fatalf("the second store saw %+v, want the first's create", ev)
	}
	updated, err := second.Update(ctx, "/shared/a", []byte("2"), created.ModRevision)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, fromFirst) // its own create
	if ev := receive(t, fromFirst); ev.KV.ModRevision != updated.ModRevision || string(ev.PrevKV.Value) != "1" {
		t.Fatalf("the first store saw %+v, want the second's update", ev)
	}
	// The first store's stale write loses to the second's.
	_, err = first.Update(ctx, "/shared/a", []byte("lost"), created.ModRevision)
	var conflict *storage.ConflictError
	if !errors.As(err, &conflict) || conflict.Current.ModRevision != updated.ModRevision {
		t.Fatalf("a stale update from the first store: %v, want a conflict with the second's write", err)
	}
	if kvs, _, _, err := first.List(ctx, "/shared/", "", 0, 0); err != nil || len(kvs) != 1 || string(kvs[0].Value) != "2" {
		t.Fatalf("the first store lists %+v, %v", kvs, err)
	}
}

// Stores with different prefixes on one etcd do not see each other's keys.
func TestPrefixesKeepStoresApart(t *testing.T) {
	ctx := t.Context()
	first, second := newStore(t), newStore(t)
	w, err := second.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Create(ctx, "/a", []byte("first's")); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Get(ctx, "/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the second store reads the first's key: %v", err)
	}
	if kvs, _, _, err := second.List(ctx, "", "", 0, 0); err != nil || len(kvs) != 0 {
		t.Fatalf("the second store lists %+v, %v", kvs, err)
	}
	mine, err := second.Create(ctx, "/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, w); ev.KV.Key != "/b" || ev.KV.ModRevision != mine.ModRevision {
		t.Fatalf("the second store's watch saw %+v first, want its own /b", ev)
	}
}

// A store may have no prefix at all: it sees the whole cluster.
func TestEmptyPrefix(t *testing.T) {
	ctx := t.Context()
	prefix := fmt.Sprintf("/storagetest/%06d", prefixes.Add(1))
	other, whole := connect(t, prefix), connect(t, "")
	w, err := whole.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := other.Create(ctx, "/x", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := receive(t, w); ev.KV.Key != prefix+"/x" || ev.KV.ModRevision != kv.ModRevision {
		t.Fatalf("the whole cluster's watch saw %+v, want %s/x", ev.KV, prefix)
	}
	if rev, err := whole.Revision(ctx); err != nil || rev != kv.ModRevision {
		t.Fatalf("Revision: %d, %v; want %d", rev, err, kv.ModRevision)
	}
	kvs, _, _, err := whole.List(ctx, "", "", 0, 0)
	if err != nil || len(kvs) == 0 || kvs[len(kvs)-1].Key != prefix+"/x" {
		t.Fatalf("List of the whole cluster: %d keys, %v; want %s/x last", len(kvs), err, prefix)
	}
}

func receive(t *testing.T, w <-chan storage.Event) storage.Event {
	t.Helper()
	select {
	case ev, open := <-w:
		if !open {
			t.Fatal("the watch closed")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event in 20s")
	}
	panic("unreachable")
}
