package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// Group commit, seen from inside: these tests hold the committer (writeMu)
// while writes queue, so which writes share a batch does not depend on
// timing, and count the commits.

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// holdCommits keeps the committer from starting a batch until release, which
// may be called more than once (the test defers it: Close waits for it).
func holdCommits(s *Store) (release func()) {
	s.writeMu.Lock()
	return sync.OnceFunc(s.writeMu.Unlock)
}

// waitQueued waits until n writes wait for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.queueMu.Lock()
		queued := len(s.queue)
		s.queueMu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Writes that wait together commit together, each at a revision of its own.
func TestConcurrentWritesShareACommit(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	r0, _ := s.Revision(ctx)
	commits0 := s.commits.Load()
	w, err := s.Watch(ctx, "/w/", 0)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 50
	release := holdCommits(s)
	defer release()
	written := make([]storage.KeyValue, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() { written[i], errs[i] = s.Create(ctx, fmt.Sprintf("/w/%02d", i), []byte{byte(i)}) })
	}
	waitQueued(t, s, writers)
	release()
	wg.Wait()

	if commits := s.commits.Load() - commits0; commits >= writers {
		t.Fatalf("%d writes took %d commits", writers, commits)
	} else {
		t.Logf("%d writes took %d commits", writers, commits)
	}
	// Every write is there, each at its own revision: r0+1 … r0+writers.
	byRevision := map[int64]storage.KeyValue{}
	for i, kv := range written {
		if errs[i] != nil {
			t.Fatalf("write %d: %v", i, errs[i])
		}
		if got, err := s.Get(ctx, kv.Key); err != nil || got.ModRevision != kv.ModRevision || got.Value[0] != byte(i) {
			t.Fatalf("Get(%q): %+v, %v; want %+v", kv.Key, got, err, kv)
		}
		byRevision[kv.ModRevision] = kv
	}
	if rev, _ := s.Revision(ctx); rev != r0+writers {
		t.Fatalf("revision %d after %d writes from %d", rev, writers, r0)
	}
	// The watch has them in revision order, strictly increasing.
	for rev := r0 + 1; rev <= r0+writers; rev++ {
		ev := receive(t, w)
		if want, ok := byRevision[rev]; !ok || ev.KV.ModRevision != rev || ev.KV.Key != want.Key {
			t.Fatalf("event at revision %d: %+v, want %+v", rev, ev.KV, want)
		}
	}
}

// A write that fails in a batch (a lost compare-and-swap, a key that
// exists, a request that ended) fails alone: the others are written, at
// consecutive revisions, and see each other as if they had come one by one.
func TestAFailedWriteInABatchFailsAlone(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a, _ := s.Create(ctx, "/a", []byte("a"))
	b, err := s.Create(ctx, "/b", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	steps := []struct {
		name  string
		write func() (storage.KeyValue, error)
		err   error // nil: written, at the next revision
	}{
		{"update a at a stale revision", func() (storage.KeyValue, error) { return s.Update(ctx, "/a", []byte("x"), a.ModRevision-1) }, storage.ErrConflict},
		{"update b", func() (storage.KeyValue, error) { return s.Update(ctx, "/b", []byte("b2"), b.ModRevision) }, nil},
		{"create a, which exists", func() (storage.KeyValue, error) { return s.Create(ctx, "/a", []byte("x")) }, storage.ErrKeyExists},
		{"create c", func() (storage.KeyValue, error) { return s.Create(ctx, "/c", []byte("c")) }, nil},
		{"update b at the revision the batch replaced", func() (storage.KeyValue, error) { return s.Update(ctx, "/b", []byte("x"), b.ModRevision) }, storage.ErrConflict},
		{"a write whose request ended", func() (storage.KeyValue, error) { return s.Create(ended, "/ended", nil) }, context.Canceled},
		{"delete a", func() (storage.KeyValue, error) { return s.Delete(ctx, "/a", a.ModRevision) }, nil},
		{"update a, deleted", func() (storage.KeyValue, error) { return s.Update(ctx, "/a", []byte("x"), 0) }, storage.ErrNotFound},
	}
	commits0 := s.commits.Load()
	release := holdCommits(s)
	defer release()
	results := make([]storage.KeyValue, len(steps))
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { results[i], errs[i] = step.write() })
		waitQueued(t, s, i+1) // one at a time: the queue is in this order
	}
	release()
	wg.Wait()

	if commits := s.commits.Load() - commits0; commits != 1 {
		t.Fatalf("the batch took %d commits, want 1", commits)
	}
	want := b.ModRevision // the revision before the batch
	for i, step := range steps {
		if step.err != nil {
			if !errors.Is(errs[i], step.err) {
				t.Fatalf("%s: %v, want %v", step.name, errs[i], step.err)
			}
			continue
		}
		want++
		if errs[i] != nil || results[i].ModRevision != want {
			t.Fatalf("%s: %+v, %v; want it written at %d", step.name, results[i], errs[i], want)
		}
		// Its event, in revision order.
		if ev := receive(t, w); fmt.Sprint(ev.KV) != fmt.Sprint(results[i]) {
			t.Fatalf("%s: event %+v, want %+v", step.name, ev.KV, results[i])
		}
	}
	// The conflict inside the batch is with the write before it.
	var conflict *storage.ConflictError
	if !errors.As(errs[4], &conflict) || conflict.Current.ModRevision != results[1].ModRevision {
		t.Fatalf("conflict on b: %v, want one with the batch's update at %d", errs[4], results[1].ModRevision)
	}
	if rev, _ := s.Revision(ctx); rev != want {
		t.Fatalf("revision %d, want %d", rev, want)
	}
	if _, err := s.Get(ctx, "/ended"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the ended request's key: %v, want ErrNotFound", err)
	}
	if kvs, _, _, err := s.List(ctx, "/", "", 0, 0); err != nil || len(kvs) != 2 || string(kvs[0].Value) != "b2" || string(kvs[1].Value) != "c" {
		t.Fatalf("List after the batch: %+v, %v", kvs, err)
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
