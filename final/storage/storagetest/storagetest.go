// Package storagetest is the contract of storage.Backend, as tests: Run checks
// that a backend behaves as the storage package documents, which is how etcd
// behaves. Both backends run it (storage/sqlite against a file,
// storage/etcd against a real etcd), so what the API server sees does not
// depend on which one it was given.
//
// Each subtest opens its own backend and assumes nobody else writes to it
// while it runs: it checks revisions exactly. Timeouts only keep a broken
// backend from hanging the run; no test measures speed. Bench (bench.go)
// does, with go test -bench, on both backends alike.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// Run runs the contract tests. open returns a fresh, empty backend (or, for
// etcd, a fresh key prefix) and closes it when the test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		test func(t *testing.T, b storage.Backend)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"EveryWriteIsOneRevision", testEveryWriteIsOneRevision},
		{"UpdateIsCompareAndSwap", testUpdate},
		{"Delete", testDelete},
		{"ListPages", testListPages},
		{"ListAtPastRevisions", testListAtPastRevisions},
		{"Count", testCount},
		{"FutureRevisions", testFutureRevisions},
		{"Compaction", testCompaction},
		{"WatchFromNow", testWatchFromNow},
		{"WatchFromThePast", testWatchFromThePast},
		{"WatchResumesWhileWritesGoOn", testWatchResumesWhileWritesGoOn},
		{"WatchPrefix", testWatchPrefix},
		{"WatchEndsWithItsContext", testWatchEndsWithItsContext},
		{"WatcherThatFallsBehind", testWatcherThatFallsBehind},
		{"CloseEndsWatches", testCloseEndsWatches},
		{"ConcurrentCompareAndSwap", testConcurrentCompareAndSwap},
		{"OddKeysAndBinaryValues", testOddKeysAndBinaryValues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// timeout keeps a broken backend from hanging the tests.
const timeout = 20 * time.Second

func testCreateAndGet(t *testing.T, b storage.Backend) {
	r0 := revision(t, b)
	kv := create(t, b, "/kv/a", "1")
	if want := (storage.KeyValue{Key: "/kv/a", Value: []byte("1"), CreateRevision: r0 + 1, ModRevision: r0 + 1}); str(kv) != str(want) {
		t.Fatalf("Create returned %s, want %s", str(kv), str(want))
	}
	got, err := b.Get(t.Context(), "/kv/a")
	if err != nil || str(got) != str(kv) {
		t.Fatalf("Get: %s, %v; want %s", str(got), err, str(kv))
	}
	if _, err := b.Get(t.Context(), "/kv/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := b.Create(t.Context(), "/kv/a", []byte("2")); !errors.Is(err, storage.ErrKeyExists) {
		t.Fatalf("Create of an existing key: %v, want ErrKeyExists", err)
	}
	if got := get(t, b, "/kv/a"); str(got) != str(kv) {
		t.Fatalf("a failed Create changed the key: %s, want %s", str(got), str(kv))
	}
}

// Every write, of any key, is one revision; a refused one is none.
func testEveryWriteIsOneRevision(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	r0 := revision(t, b)
	steps := []struct {
		name  string
		write func() (storage.KeyValue, error)
		err   error // nil for a write that succeeds
	}{
		{"create a", func() (storage.KeyValue, error) { return b.Create(ctx, "/r/a", []byte("1")) }, nil},
		{"create b", func() (storage.KeyValue, error) { return b.Create(ctx, "/r/b", []byte("1")) }, nil},
		{"create a again", func() (storage.KeyValue, error) { return b.Create(ctx, "/r/a", []byte("x")) }, storage.ErrKeyExists},
		{"update a", func() (storage.KeyValue, error) { return b.Update(ctx, "/r/a", []byte("2"), r0+1) }, nil},
		{"update a at a stale revision", func() (storage.KeyValue, error) { return b.Update(ctx, "/r/a", []byte("x"), r0+1) }, storage.ErrConflict},
		{"update a missing key", func() (storage.KeyValue, error) { return b.Update(ctx, "/r/nope", []byte("x"), 0) }, storage.ErrNotFound},
		{"delete b at a stale revision", func() (storage.KeyValue, error) { return b.Delete(ctx, "/r/b", r0+1) }, storage.ErrConflict},
		{"delete b", func() (storage.KeyValue, error) { return b.Delete(ctx, "/r/b", r0+2) }, nil},
		{"delete b again", func() (storage.KeyValue, error) { return b.Delete(ctx, "/r/b", 0) }, storage.ErrNotFound},
		{"create b again", func() (storage.KeyValue, error) { return b.Create(ctx, "/r/b", []byte("2")) }, nil},
		{"create c, another prefix", func() (storage.KeyValue, error) { return b.Create(ctx, "/other/c", nil) }, nil},
	}
	want := r0
	for _, step := range steps {
		kv, err := step.write()
		if step.err == nil {
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			want++
			if kv.ModRevision != want {
				t.Fatalf("%s: ModRevision %d, want %d", step.name, kv.ModRevision, want)
			}
		} else if !errors.Is(err, step.err) {
			t.Fatalf("%s: %v, want %v", step.name, err, step.err)
		}
		if got := revision(t, b); got != want {
			t.Fatalf("%s: revision %d, want %d", step.name, got, want)
		}
	}
}

func testUpdate(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	created := create(t, b, "/u/a", "1")
	updated, err := b.Update(ctx, "/u/a", []byte("2"), created.ModRevision)
	if err != nil {
		t.Fatalf("Update at the current revision: %v", err)
	}
	want := storage.KeyValue{Key: "/u/a", Value: []byte("2"), CreateRevision: created.CreateRevision, ModRevision: created.ModRevision + 1}
	if str(updated) != str(want) {
		t.Fatalf("Update returned %s, want %s", str(updated), str(want))
	}
	if got := get(t, b, "/u/a"); str(got) != str(want) {
		t.Fatalf("Get after Update: %s, want %s", str(got), str(want))
	}

	// A stale revision loses, and the error carries the key as it is.
	_, err = b.Update(ctx, "/u/a", []byte("lost"), created.ModRevision)
	var conflict *storage.ConflictError
	if !errors.Is(err, storage.ErrConflict) || !errors.As(err, &conflict) {
		t.Fatalf("Update at a stale revision: %v, want a *ConflictError", err)
	}
	if str(conflict.Current) != str(updated) || conflict.Expected != created.ModRevision {
		t.Fatalf("ConflictError: current %s expected %d, want %s and %d", str(conflict.Current), conflict.Expected, str(updated), created.ModRevision)
	}
	if got := get(t, b, "/u/a"); str(got) != str(updated) {
		t.Fatalf("a lost Update changed the key: %s", str(got))
	}

	// 0 updates whatever is there; a missing key is ErrNotFound either way.
	if kv, err := b.Update(ctx, "/u/a", []byte("3"), 0); err != nil || string(kv.Value) != "3" || kv.ModRevision != updated.ModRevision+1 {
		t.Fatalf("unconditional Update: %s, %v", str(kv), err)
	}
	for _, rev := range []int64{0, 1, updated.ModRevision} {
		if _, err := b.Update(ctx, "/u/missing", []byte("x"), rev); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Update of a missing key at %d: %v, want ErrNotFound", rev, err)
		}
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	a := create(t, b, "/d/a", "1")
	a2 := update(t, b, "/d/a", "2", a.ModRevision)
	_, err := b.Delete(ctx, "/d/a", a.ModRevision)
	var conflict *storage.ConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, storage.ErrConflict) || str(conflict.Current) != str(a2) {
		t.Fatalf("Delete at a stale revision: %v, want a conflict on %s", err, str(a2))
	}
	get(t, b, "/d/a") // still there

	// Delete returns the last value at the revision of the delete.
	deleted, err := b.Delete(ctx, "/d/a", a2.ModRevision)
	want := storage.KeyValue{Key: "/d/a", Value: []byte("2"), CreateRevision: a.CreateRevision, ModRevision: a2.ModRevision + 1}
	if err != nil || str(deleted) != str(want) {
		t.Fatalf("Delete: %s, %v; want %s", str(deleted), err, str(want))
	}
	if revision(t, b) != deleted.ModRevision {
		t.Fatalf("the revision is not the delete's")
	}
	if _, err := b.Get(ctx, "/d/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	for _, rev := range []int64{0, a2.ModRevision} {
		if _, err := b.Delete(ctx, "/d/a", rev); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Delete of a deleted key at %d: %v, want ErrNotFound", rev, err)
		}
	}

	// Created again, the key starts a new life.
	again := create(t, b, "/d/a", "3")
	if again.CreateRevision != deleted.ModRevision+1 {
		t.Fatalf("created again: %s, want CreateRevision %d", str(again), deleted.ModRevision+1)
	}
	if kv, err := b.Delete(ctx, "/d/a", 0); err != nil || string(kv.Value) != "3" {
		t.Fatalf("unconditional Delete: %s, %v", str(kv), err)
	}
}

func testListPages(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	// Around /l/: a key equal to the prefix without its slash, and keys
	// of a longer prefix, neither of which is under /l/.
	for _, k := range []string{"/l/c", "/l/a", "/l", "/l/e", "/lx/a", "/l/b", "/m/a", "/l/d"} {
		create(t, b, k, k)
	}
	kvs, rev, more, err := b.List(ctx, "/l/", "", 2, 0)
	if err != nil || keys(kvs) != "/l/a /l/b" || !more || rev != revision(t, b) {
		t.Fatalf("first page: %q more=%v rev=%d, %v", keys(kvs), more, rev, err)
	}
	// Writes between pages do not show in the later pages, read at the
	// first one's revision.
	c := get(t, b, "/l/c")
	changed := update(t, b, "/l/c", "changed", c.ModRevision)
	del(t, b, "/l/d")
	create(t, b, "/l/bb", "new")
	kvs, rev2, more, err := b.List(ctx, "/l/", "/l/b", 2, rev)
	if err != nil || keys(kvs) != "/l/c /l/d" || !more || rev2 != rev {
		t.Fatalf("second page: %q more=%v rev=%d, %v", keys(kvs), more, rev2, err)
	}
	if string(kvs[0].Value) != "/l/c" || kvs[0].ModRevision != c.ModRevision {
		t.Fatalf("second page at revision %d shows %s, want it as it was", rev, str(kvs[0]))
	}
	kvs, _, more, err = b.List(ctx, "/l/", "/l/d", 2, rev)
	if err != nil || keys(kvs) != "/l/e" || more {
		t.Fatalf("last page: %q more=%v, %v", keys(kvs), more, err)
	}

	// Now, without a limit, with one that fits exactly, and past the end.
	now := revision(t, b)
	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          string
		more          bool
	}{
		{"/l/", "", 0, "/l/a /l/b /l/bb /l/c /l/e", false},
		{"/l/", "", 5, "/l/a /l/b /l/bb /l/c /l/e", false},
		{"/l/", "", 4, "/l/a /l/b /l/bb /l/c", true},
		{"/l/", "/l/bb", 0, "/l/c /l/e", false},
		{"/l/", "/a", 1, "/l/a", true}, // startAfter before the prefix
		{"/l/", "/l/e", 0, "", false},
		{"/l/", "/z", 0, "", false},
		{"/nothing/", "", 0, "", false},
		{"/l", "", 0, "/l /l/a /l/b /l/bb /l/c /l/e /lx/a", false},
		{"", "", 0, "/l /l/a /l/b /l/bb /l/c /l/e /lx/a /m/a", false},
		{"", "/lx/a", 0, "/m/a", false},
	} {
		kvs, rev, more, err := b.List(ctx, tc.prefix, tc.after, tc.limit, 0)
		if err != nil || keys(kvs) != tc.want || more != tc.more || rev != now {
			t.Errorf("List(%q, after %q, limit %d): %q more=%v rev=%d, %v; want %q more=%v rev=%d",
				tc.prefix, tc.after, tc.limit, keys(kvs), more, rev, err, tc.want, tc.more, now)
		}
		if kvs == nil && err == nil {
			t.Errorf("List(%q, after %q): nil, want an empty slice", tc.prefix, tc.after)
		}
	}
	kvs, _, _, _ = b.List(ctx, "/l/", "/l/bb", 1, 0)
	if strs(kvs) != strs([]storage.KeyValue{changed}) {
		t.Fatalf("List now shows %s, want %s", strs(kvs), str(changed))
	}
}

func testListAtPastRevisions(t *testing.T, b storage.Backend) {
	a1 := create(t, b, "/p/a", "1")
	a2 := update(t, b, "/p/a", "2", a1.ModRevision)
	bb := create(t, b, "/p/b", "b")
	gone := del(t, b, "/p/a")
	c := create(t, b, "/p/c", "c")
	a3 := create(t, b, "/p/a", "3")
	for _, tc := range []struct {
		rev  int64
		want []storage.KeyValue
	}{
		{a1.ModRevision, []storage.KeyValue{a1}},
		{a2.ModRevision, []storage.KeyValue{a2}},
		{bb.ModRevision, []storage.KeyValue{a2, bb}},
		{gone.ModRevision, []storage.KeyValue{bb}},
		{c.ModRevision, []storage.KeyValue{bb, c}},
		{a3.ModRevision, []storage.KeyValue{a3, bb, c}},
		{0, []storage.KeyValue{a3, bb, c}},
	} {
		kvs, rev, more, err := b.List(t.Context(), "/p/", "", 0, tc.rev)
		if err != nil || more || strs(kvs) != strs(tc.want) {
			t.Errorf("List at %d: %s more=%v, %v; want %s", tc.rev, strs(kvs), more, err, strs(tc.want))
		}
		if tc.rev != 0 && rev != tc.rev {
			t.Errorf("List at %d says it read at %d", tc.rev, rev)
		}
	}
	// Pages in the past: one key, then the next.
	kvs, _, more, err := b.List(t.Context(), "/p/", "", 1, bb.ModRevision)
	if err != nil || strs(kvs) != strs([]storage.KeyValue{a2}) || !more {
		t.Fatalf("first page at %d: %s more=%v, %v", bb.ModRevision, strs(kvs), more, err)
	}
	kvs, _, more, err = b.List(t.Context(), "/p/", "/p/a", 1, bb.ModRevision)
	if err != nil || strs(kvs) != strs([]storage.KeyValue{bb}) || more {
		t.Fatalf("second page at %d: %s more=%v, %v", bb.ModRevision, strs(kvs), more, err)
	}
}

// Count counts the live keys with a prefix, a byte prefix as List's.
func testCount(t *testing.T, b storage.Backend) {
	for _, key := range []string{"/c/a/1", "/c/a/2", "/c/ab/1", "/c/b/1"} {
		create(t, b, key, "v")
	}
	del(t, b, "/c/a/2")
	update(t, b, "/c/b/1", "w", 0)
	for prefix, want := range map[string]int64{"/c/a/": 1, "/c/a": 2, "/c/": 3, "/c/b/": 1, "/c/none/": 0, "": 3} {
		n, err := b.Count(t.Context(), prefix)
		if err != nil || n != want {
			t.Errorf("Count(%q) = %d, %v; want %d", prefix, n, err, want)
		}
	}
}

func testFutureRevisions(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	create(t, b, "/f/a", "1")
	now := revision(t, b)
	if _, _, _, err := b.List(ctx, "/f/", "", 0, now); err != nil {
		t.Fatalf("List at the current revision: %v", err)
	}
	if _, _, _, err := b.List(ctx, "/f/", "", 0, now+1); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("List at the next revision: %v, want ErrFutureRevision", err)
	}
	if _, err := b.Watch(ctx, "/f/", now+1); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("Watch from the next revision: %v, want ErrFutureRevision", err)
	}
	if err := b.Compact(ctx, now+1); !errors.Is(err, storage.ErrFutureRevision) {
		t.Fatalf("Compact to the next revision: %v, want ErrFutureRevision", err)
	}
	if got := revision(t, b); got != now {
		t.Fatalf("refused requests moved the revision to %d", got)
	}
}

func testCompaction(t *testing.T, b storage.Backend) {
	ctx := t.Context()
	z := create(t, b, "/c/z", "never changed")
	a1 := create(t, b, "/c/a", "1")
	a2 := update(t, b, "/c/a", "2", a1.ModRevision)
	create(t, b, "/c/b", "b")
	bGone := del(t, b, "/c/b")
	d := create(t, b, "/c/d", "d")
	at := d.ModRevision // the state here: z, a=2, d
	a3 := update(t, b, "/c/a", "3", a2.ModRevision)
	if err := b.Compact(ctx, at); err != nil {
		t.Fatalf("Compact(%d): %v", at, err)
	}

	// Below the compacted revision: gone. At it and after: as before.
	if _, _, _, err := b.List(ctx, "/c/", "", 0, bGone.ModRevision); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("List below the compacted revision: %v, want ErrCompacted", err)
	}
	if _, err := b.Watch(ctx, "/c/", bGone.ModRevision); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("Watch below the compacted revision: %v, want ErrCompacted", err)
	}
	kvs, _, _, err := b.List(ctx, "/c/", "", 0, at)
	if want := []storage.KeyValue{a2, d, z}; err != nil || strs(kvs) != strs(want) {
		t.Fatalf("List at the compacted revision: %s, %v; want %s", strs(kvs), err, strs(want))
	}
	kvs, _, _, err = b.List(ctx, "/c/", "", 0, 0)
	if want := []storage.KeyValue{a3, d, z}; err != nil || strs(kvs) != strs(want) {
		t.Fatalf("List now: %s, %v; want %s", strs(kvs), err, strs(want))
	}
	if got := get(t, b, "/c/z"); str(got) != str(z) {
		t.Fatalf("a key older than the compaction: %s, want %s", str(got), str(z))
	}

	// A watch from the compacted revision gets every later change, with
	// previous values from before it.
	w := watch(t, b, t.Context(), "/c/", at)
	dGone := del(t, b, "/c/d")
	expectEvents(t, w,
		storage.Event{Type: storage.Put, KV: a3, PrevKV: &a2},
		storage.Event{Type: storage.Delete, KV: dGone, PrevKV: &d})

	// Compacting again at or below is refused, as etcd refuses it; further
	// on works.
	for _, rev := range []int64{at, at - 1} {
		if err := b.Compact(ctx, rev); !errors.Is(err, storage.ErrCompacted) {
			t.Fatalf("Compact(%d) after Compact(%d): %v, want ErrCompacted", rev, at, err)
		}
	}
	now := revision(t, b)
	if err := b.Compact(ctx, now); err != nil {
		t.Fatalf("Compact(%d), the current revision: %v", now, err)
	}
	if got := revision(t, b); got != now {
		t.Fatalf("Compact moved the revision to %d", got)
	}
	kvs, _, _, err = b.List(ctx, "/c/", "", 0, now)
	if want := []storage.KeyValue{a3, z}; err != nil || strs(kvs) != strs(want) {
		t.Fatalf("List after compacting everything: %s, %v; want %s", strs(kvs), err, strs(want))
	}
	w = watch(t, b, t.Context(), "/c/", now)
	a4 := update(t, b, "/c/a", "4", a3.ModRevision)
	expectEvents(t, w, storage.Event{Type: storage.Put, KV: a4, PrevKV: &a3})
}

func testWatchFromNow(t *testing.T, b storage.Backend) {
	create(t, b, "/w/before", "not sent")
	w := watch(t, b, t.Context(), "/w/", 0)
	a1 := create(t, b, "/w/a", "1")
	a2 := update(t, b, "/w/a", "2", a1.ModRevision)
	create(t, b, "/elsewhere", "not sent")
	gone := del(t, b, "/w/a")
	bb := create(t, b, "/w/b", "b")
	expectEvents(t, w,
		storage.Event{Type: storage.Put, KV: a1},
		storage.Event{Type: storage.Put, KV: a2, PrevKV: &a1},
		storage.Event{Type: storage.Delete, KV: gone, PrevKV: &a2},
		storage.Event{Type: storage.Put, KV: bb})
	expectNothingBefore(t, b, w, "/w/")
}

func testWatchFromThePast(t *testing.T, b storage.Backend) {
	var kvs []storage.KeyValue
	for i := range 5 {
		kvs = append(kvs, create(t, b, fmt.Sprintf("/h/%d", i), "v"))
		create(t, b, fmt.Sprintf("/hx/%d", i), "not sent")
	}
	w := watch(t, b, t.Context(), "/h/", kvs[1].ModRevision)
	// History first, from the revision after the one asked for ...
	expectEvents(t, w,
		storage.Event{Type: storage.Put, KV: kvs[2]},
		storage.Event{Type: storage.Put, KV: kvs[3]},
		storage.Event{Type: storage.Put, KV: kvs[4]})
	// ... then live.
	u := update(t, b, "/h/0", "w", kvs[0].ModRevision)
	gone := del(t, b, "/h/4")
	expectEvents(t, w,
		storage.Event{Type: storage.Put, KV: u, PrevKV: &kvs[0]},
		storage.Event{Type: storage.Delete, KV: gone, PrevKV: &kvs[4]})
	expectNothingBefore(t, b, w, "/h/")

	// The history of updates and deletes carries their previous values too.
	w = watch(t, b, t.Context(), "/h/", kvs[4].ModRevision)
	expectEvents(t, w,
		storage.Event{Type: storage.Put, KV: u, PrevKV: &kvs[0]},
		storage.Event{Type: storage.Delete, KV: gone, PrevKV: &kvs[4]})
}

// A watch that resumes from far back while writers go on gets every
// revision once, in order: the seam between history and live events has
// no gap and no duplicate.
func testWatchResumesWhileWritesGoOn(t *testing.T, b storage.Backend) {
	const before, during, writers = 600, 200, 4
	start := revision(t, b)
	if err := writeConcurrently(t.Context(), b, "/s/", writers, 0, before); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- writeConcurrently(t.Context(), b, "/s/", writers, before, before+during) }()
	w := watch(t, b, t.Context(), "/s/", start)
	last := map[string]storage.KeyValue{} // each key's value before the event
	for i := range before + during {
		ev := receive(t, w)
		want := start + 1 + int64(i)
		if ev.KV.ModRevision != want {
			t.Fatalf("event %d is at revision %d, want %d", i, ev.KV.ModRevision, want)
		}
		prev, seen := last[ev.KV.Key]
		if seen != (ev.PrevKV != nil) || (seen && str(prev) != str(*ev.PrevKV)) {
			t.Fatalf("event %s: PrevKV %v, want %s", describe(ev), ev.PrevKV, str(prev))
		}
		last[ev.KV.Key] = ev.KV
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expectNothingBefore(t, b, w, "/s/")
}

func testWatchPrefix(t *testing.T, b storage.Backend) {
	w := watch(t, b, t.Context(), "/a/", 0)
	create(t, b, "/ab/x", "not sent")
	create(t, b, "/a", "not sent")
	x := create(t, b, "/a/x", "x")
	create(t, b, "/b", "not sent")
	yz := create(t, b, "/a/y/z", "yz")
	expectEvents(t, w, storage.Event{Type: storage.Put, KV: x}, storage.Event{Type: storage.Put, KV: yz})
	expectNothingBefore(t, b, w, "/a/")

	// The empty prefix watches every key.
	all := watch(t, b, t.Context(), "", 0)
	k := create(t, b, "/zz", "z")
	expectEvents(t, all, storage.Event{Type: storage.Put, KV: k})
}

// A watch ends with its context, and leaves no goroutine behind.
func testWatchEndsWithItsContext(t *testing.T, b storage.Backend) {
	// One watch first, so that what a backend starts once (a client's
	// stream, say) is part of the baseline.
	ctx, cancel := context.WithCancel(t.Context())
	w := watch(t, b, ctx, "/x/", 0)
	cancel()
	expectClosed(t, w)
	baseline := runtime.NumGoroutine()

	past := revision(t, b)
	old := create(t, b, "/x/old", "0")
	var watches []<-chan storage.Event
	var cancels []context.CancelFunc
	for i := range 6 {
		ctx, cancel := context.WithCancel(t.Context())
		cancels = append(cancels, cancel)
		if i%2 == 0 {
			watches = append(watches, watch(t, b, ctx, "/x/", 0))
		} else {
			w := watch(t, b, ctx, "/x/", past) // from the past
			expectEvents(t, w, storage.Event{Type: storage.Put, KV: old})
			watches = append(watches, w)
		}
	}
	kv := create(t, b, "/x/a", "1")
	for _, w := range watches {
		expectEvents(t, w, storage.Event{Type: storage.Put, KV: kv})
	}
	create(t, b, "/x/b", "unread") // some watches hold an event nobody reads
	for i, w := range watches {
		cancels[i]()
		expectClosed(t, w)
	}
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the watches:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A watcher that does not read does not hold up the writers: it is closed
// once it is more than storage.WatchBuffer events behind, and what it
// received until then has no gap.
//
// When a backend learns of its events asynchronously (etcd's watch stream),
// whether the watcher is behind when this test starts reading depends on
// timing, so an open channel that delivers every event passes too; each
// backend's own tests check the closing where it is deterministic.
func testWatcherThatFallsBehind(t *testing.T, b storage.Backend) {
	start := revision(t, b)
	w := watch(t, b, t.Context(), "/slow/", 0)
	total := storage.WatchBuffer + 20
	if err := writeConcurrently(t.Context(), b, "/slow/", 4, 0, total); err != nil {
		t.Fatal(err)
	}
	if got := revision(t, b); got != start+int64(total) {
		t.Fatalf("revision %d after %d writes from %d", got, total, start)
	}
	for received := range total {
		ev, open := receiveOrClosed(t, w)
		if !open {
			return // fell behind
		}
		if want := start + 1 + int64(received); ev.KV.ModRevision != want {
			t.Fatalf("event %d at revision %d, want %d", received, ev.KV.ModRevision, want)
		}
	}
	expectNothingBefore(t, b, w, "/slow/")
}

func testCloseEndsWatches(t *testing.T, b storage.Backend) {
	past := revision(t, b)
	live := watch(t, b, t.Context(), "/close/", 0)
	create(t, b, "/close/a", "1")
	fromPast := watch(t, b, t.Context(), "/close/", past)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectClosed(t, live)
	expectClosed(t, fromPast)
	if err := b.Close(); err != nil {
		t.Fatalf("Close again: %v", err)
	}
}

// CAS increments from many goroutines lose no update: each retries on the
// current value a conflict hands back.
func testConcurrentCompareAndSwap(t *testing.T, b storage.Backend) {
	const workers, increments = 8, 25
	start := create(t, b, "/cas/n", "0")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			kv, err := b.Get(t.Context(), "/cas/n")
			for i := 0; i < increments && err == nil; {
				n, _ := strconv.Atoi(string(kv.Value))
				var next storage.KeyValue
				next, err = b.Update(t.Context(), "/cas/n", []byte(strconv.Itoa(n+1)), kv.ModRevision)
				var conflict *storage.ConflictError
				switch {
				case err == nil:
					kv = next
					i++
				case errors.As(err, &conflict):
					kv, err = conflict.Current, nil
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := get(t, b, "/cas/n")
	if string(got.Value) != strconv.Itoa(workers*increments) {
		t.Fatalf("after %d increments: %s", workers*increments, str(got))
	}
	if got.ModRevision != start.ModRevision+workers*increments {
		t.Fatalf("%d increments took revisions %d..%d", workers*increments, start.ModRevision, got.ModRevision)
	}
}

func testOddKeysAndBinaryValues(t *testing.T, b storage.Backend) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("\x00\xff binary "), 10000)
	values := [][]byte{all, {}, []byte("\x00"), []byte(`{"json": "value"}`), big, []byte("'; DROP TABLE log; --")}
	oddKeys := []string{
		`/odd/"quoted"`, "/odd/100%", "/odd/under_score", `/odd/back\slash`, "/odd/it's",
		"/odd/ünïcødé/日本語", "/odd/emoji/🙂", "/odd/space and\ttab", "/odd/\x01control",
		"/odd/\xff\xfe", "/odd/\xff",
	}
	w := watch(t, b, t.Context(), "/odd/", 0)
	var created []storage.KeyValue
	for i, k := range oddKeys {
		kv, err := b.Create(t.Context(), k, values[i%len(values)])
		if err != nil {
			t.Fatalf("Create(%q): %v", k, err)
		}
		created = append(created, kv)
	}
	for i, kv := range created {
		if kv.Key != oddKeys[i] || !bytes.Equal(kv.Value, values[i%len(values)]) {
			t.Fatalf("Create(%q) returned %s", oddKeys[i], str(kv))
		}
		if got := get(t, b, kv.Key); str(got) != str(kv) {
			t.Fatalf("Get(%q): %s, want %s", kv.Key, str(got), str(kv))
		}
		expectEvents(t, w, storage.Event{Type: storage.Put, KV: kv})
	}
	kvs, _, _, err := b.List(t.Context(), "/odd/", "", 0, 0)
	sorted := slices.SortedFunc(slices.Values(created), func(a, b storage.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	if err != nil || strs(kvs) != strs(sorted) {
		t.Fatalf("List: %v\n got %s\nwant %s", err, strs(kvs), strs(sorted))
	}
	// Paging one key at a time visits each key once.
	var paged []storage.KeyValue
	for after, more := "", true; more; after = paged[len(paged)-1].Key {
		kvs, _, more, err = b.List(t.Context(), "/odd/", after, 1, 0)
		if err != nil || len(kvs) != 1 {
			t.Fatalf("List after %q: %s, %v", after, strs(kvs), err)
		}
		paged = append(paged, kvs[0])
	}
	if strs(paged) != strs(sorted) {
		t.Fatalf("paging\n got %s\nwant %s", strs(paged), strs(sorted))
	}
	// A prefix ending in 0xff bytes has no simple end.
	for prefix, want := range map[string]string{
		"/odd/\xff":     "/odd/\xff /odd/\xff\xfe",
		"/odd/\xff\xfe": "/odd/\xff\xfe",
	} {
		kvs, _, _, err = b.List(t.Context(), prefix, "", 0, 0)
		if err != nil || keys(kvs) != want {
			t.Fatalf("List(%q): %q, %v; want %q", prefix, keys(kvs), err, want)
		}
	}
}

// Helpers. They fail the test on an unexpected error.

func revision(t *testing.T, b storage.Backend) int64 {
	t.Helper()
	rev, err := b.Revision(t.Context())
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func create(t *testing.T, b storage.Backend, key, value string) storage.KeyValue {
	t.Helper()
	kv, err := b.Create(t.Context(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return kv
}

func get(t *testing.T, b storage.Backend, key string) storage.KeyValue {
	t.Helper()
	kv, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

func update(t *testing.T, b storage.Backend, key, value string, modRevision int64) storage.KeyValue {
	t.Helper()
	kv, err := b.Update(t.Context(), key, []byte(value), modRevision)
	if err != nil {
		t.Fatalf("Update(%q at %d): %v", key, modRevision, err)
	}
	return kv
}

func del(t *testing.T, b storage.Backend, key string) storage.KeyValue {
	t.Helper()
	kv, err := b.Delete(t.Context(), key, 0)
	if err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	return kv
}

func watch(t *testing.T, b storage.Backend, ctx context.Context, prefix string, rev int64) <-chan storage.Event {
	t.Helper()
	w, err := b.Watch(ctx, prefix, rev)
	if err != nil {
		t.Fatalf("Watch(%q from %d): %v", prefix, rev, err)
	}
	return w
}

// writeConcurrently makes writes from..to-1 under prefix from several
// goroutines, each writing its own key (a create, then updates). It returns
// the first error, so it may run in a goroutine of its own.
func writeConcurrently(ctx context.Context, b storage.Backend, prefix string, writers, from, to int) error {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("%s%d", prefix, i)
			for j := from + i; j < to; j += writers {
				value := []byte(strconv.Itoa(j))
				_, err := b.Update(ctx, key, value, 0)
				if errors.Is(err, storage.ErrNotFound) {
					_, err = b.Create(ctx, key, value)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when closed empty
}

func receive(t *testing.T, w <-chan storage.Event) storage.Event {
	t.Helper()
	ev, open := receiveOrClosed(t, w)
	if !open {
		t.Fatal("the watch channel closed")
	}
	return ev
}

func receiveOrClosed(t *testing.T, w <-chan storage.Event) (storage.Event, bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ev, open := <-w:
		return ev, open
	case <-timer.C:
		t.Fatalf("no event in %s", timeout)
	}
	panic("unreachable")
}

func expectEvents(t *testing.T, w <-chan storage.Event, want ...storage.Event) {
	t.Helper()
	for i := range want {
		if got := receive(t, w); describe(got) != describe(want[i]) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, describe(got), describe(want[i]))
		}
	}
}

// expectNothingBefore writes a marker under prefix and expects it to be the
// watch's next event: nothing was sent twice or out of order before it.
func expectNothingBefore(t *testing.T, b storage.Backend, w <-chan storage.Event, prefix string) {
	t.Helper()
	marker := create(t, b, prefix+"marker", "")
	expectEvents(t, w, storage.Event{Type: storage.Put, KV: marker})
}

// expectClosed waits for a watch channel to close, reading what is left.
func expectClosed(t *testing.T, w <-chan storage.Event) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, open := <-w:
			if !open {
				return
			}
		case <-timer.C:
			t.Fatalf("the watch channel is still open after %s", timeout)
		}
	}
}

func str(kv storage.KeyValue) string {
	return fmt.Sprintf("%q=%q@%d/%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func strs(kvs []storage.KeyValue) string {
	var s []string
	for _, kv := range kvs {
		s = append(s, str(kv))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func keys(kvs []storage.KeyValue) string {
	var s []string
	for _, kv := range kvs {
		s = append(s, kv.Key)
	}
	return strings.Join(s, " ")
}

func describe(ev storage.Event) string {
	s := ev.Type.String() + " " + str(ev.KV)
	if ev.PrevKV != nil {
		s += " prev " + str(*ev.PrevKV)
	}
	return s
}
