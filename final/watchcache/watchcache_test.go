package watchcache

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
)

const cms = "/registry/configmaps/"

func setup(t *testing.T) (*sqlite.Store, *Cacher) {
	t.Helper()
	b, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, New(t.Context(), b)
}

func create(t *testing.T, b storage.Backend, key string) storage.KeyValue {
	t.Helper()
	kv, err := b.Create(t.Context(), key, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// reader reads a subscription one change at a time.
type reader struct {
	sub     *Subscription
	pending []storage.Event
	open    bool
}

func watch(t *testing.T, c *Cacher, prefix string, rev int64) *reader {
	t.Helper()
	sub, err := c.Subscribe(t.Context(), cms, prefix, rev, nil)
	if err != nil {
		t.Fatalf("Subscribe(%q, %d): %v", prefix, rev, err)
	}
	t.Cleanup(sub.Stop)
	return &reader{sub: sub, open: true}
}

// nextEvent is the next change a watch sends; false once it has ended.
func nextEvent(t *testing.T, w *reader) (storage.Event, bool) {
	t.Helper()
	for len(w.pending) == 0 && w.open {
		select {
		case <-w.sub.Ready():
			w.pending, w.open = w.sub.Take(w.pending)
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
	}
	if len(w.pending) == 0 {
		return storage.Event{}, false
	}
	ev := w.pending[0]
	w.pending = w.pending[1:]
	return ev, true
}

// next is the next change a watch sends, as "PUT key@rev" or "DELETE key@rev".
func next(t *testing.T, w *reader) string {
	t.Helper()
	ev, ok := nextEvent(t, w)
	if !ok {
		return "closed"
	}
	return fmt.Sprintf("%v %s@%d", ev.Type, ev.KV.Key, ev.KV.ModRevision)
}

func keys(kvs []storage.KeyValue) string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return strings.Join(out, " ")
}

// A list from the cache is the state as of the cache's revision: the keys
// of the prefix, in order, with the revision of the last change it applied.
func TestListFollowsTheStorage(t *testing.T) {
	b, c := setup(t)
	create(t, b, cms+"ns1/b")
	a := create(t, b, cms+"ns1/a")
	create(t, b, "/registry/secrets/ns1/s")
	kvs, rev, err := c.List(t.Context(), cms, cms)
	if err != nil || keys(kvs) != cms+"ns1/a "+cms+"ns1/b" || rev != a.ModRevision+1 {
		t.Fatalf("List: %q at %d, %v", keys(kvs), rev, err)
	}
	w := watch(t, c, cms, 0)
	x := create(t, b, cms+"ns2/x")
	if _, err := b.Delete(t.Context(), cms+"ns1/b", 0); err != nil {
		t.Fatal(err)
	}
	next(t, w)
	next(t, w) // the cache has applied both changes when its watchers get them
	kvs, rev, _ = c.List(t.Context(), cms, cms)
	if keys(kvs) != cms+"ns1/a "+cms+"ns2/x" || rev != x.ModRevision+1 {
		t.Errorf("List after the changes: %q at %d", keys(kvs), rev)
	}
	if kvs, _, _ := c.List(t.Context(), cms, cms+"ns2/"); keys(kvs) != cms+"ns2/x" {
		t.Errorf("List of ns2: %q", keys(kvs))
	}
}

// A watch resumes from any revision in the window, with exactly the changes
// after it, then follows live ones; a namespace's watch sees its own.
func TestWatchFromTheWindow(t *testing.T) {
	b, c := setup(t)
	start := create(t, b, cms+"ns1/a").ModRevision
	c.List(t.Context(), cms, cms) // the cache starts here
	w := watch(t, c, cms, 0)
	r1 := create(t, b, cms+"ns1/b").ModRevision
	r2 := create(t, b, cms+"ns2/c").ModRevision
	next(t, w)
	next(t, w)

	all := watch(t, c, cms, start)
	ns2 := watch(t, c, cms+"ns2/", start)
	fromR1 := watch(t, c, cms, r1)
	r3 := create(t, b, cms+"ns2/d").ModRevision
	for _, tc := range []struct {
		w    *reader
		want []string
	}{
		{all, []string{fmt.Sprintf("PUT %sns1/b@%d", cms, r1), fmt.Sprintf("PUT %sns2/c@%d", cms, r2), fmt.Sprintf("PUT %sns2/d@%d", cms, r3)}},
		{ns2, []string{fmt.Sprintf("PUT %sns2/c@%d", cms, r2), fmt.Sprintf("PUT %sns2/d@%d", cms, r3)}},
		{fromR1, []string{fmt.Sprintf("PUT %sns2/c@%d", cms, r2), fmt.Sprintf("PUT %sns2/d@%d", cms, r3)}},
	} {
		for _, want := range tc.want {
			if got := next(t, tc.w); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		}
	}
}

// A watch from before the window answers ErrCompacted (410 to clients),
// although the storage still has that history.
func TestWatchBeforeTheWindow(t *testing.T) {
	b, c := setup(t)
	c.MinEvents, c.MaxEvents = 1, 2
	first := create(t, b, cms+"ns/0").ModRevision
	c.List(t.Context(), cms, cms)
	w := watch(t, c, cms, 0)
	var revs []int64
	for i := 1; i <= 3; i++ {
		revs = append(revs, create(t, b, fmt.Sprintf("%sns/%d", cms, i)).ModRevision)
		next(t, w)
	}
	// Three changes, a window of two: the first fell out.
	if _, err := c.Subscribe(t.Context(), cms, cms, first, nil); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("watch from %d: %v, want ErrCompacted", first, err)
	}
	if _, err := b.Watch(t.Context(), cms, first); err != nil {
		t.Errorf("the storage itself: %v", err)
	}
	w2 := watch(t, c, cms, revs[0])
	if got, want := next(t, w2), fmt.Sprintf("PUT %sns/2@%d", cms, revs[1]); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// A cache started by a watch starts at its revision, so that the watch
// gets the changes since, and a watch from a revision the cache has not
// reached yet gets those after it and nothing before.
func TestStartAtTheWatchersRevision(t *testing.T) {
	b, c := setup(t)
	r0 := create(t, b, cms+"ns/a").ModRevision
	r1 := create(t, b, cms+"ns/b").ModRevision
	w := watch(t, c, cms, r0)
	if got, want := next(t, w), fmt.Sprintf("PUT %sns/b@%d", cms, r1); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	create(t, b, "/registry/secrets/ns/s") // the storage moves on, the cache of configmaps does not
	now, _ := b.Revision(t.Context())
	ahead := watch(t, c, cms, now)
	r3 := create(t, b, cms+"ns/c").ModRevision
	if got, want := next(t, ahead), fmt.Sprintf("PUT %sns/c@%d", cms, r3); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// When its storage watch ends, the cache ends its watchers (they list and
// watch again) and starts afresh on next use.
func TestStorageWatchEnds(t *testing.T) {
	b, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	c := New(ctx, b)
	create(t, b, cms+"ns/a")
	w := watch(t, c, cms, 0)
	cancel() // the storage watch ends
	if got := next(t, w); got != "closed" {
		t.Fatalf("got %s, want the watch closed", got)
	}
	c.ctx = t.Context()
	kvs, _, err := c.List(t.Context(), cms, cms)
	if err != nil || keys(kvs) != cms+"ns/a" {
		t.Errorf("List after a restart: %q, %v", keys(kvs), err)
	}
}

// A subscription that stops leaves the cache.
func TestStoppedSubscriptionLeaves(t *testing.T) {
	_, c := setup(t)
	w := watch(t, c, cms, 0)
	w.sub.Stop()
	rc := c.cacheOf(cms)
	rc.mu.RLock()
	n := len(rc.watchers)
	rc.mu.RUnlock()
	if n != 0 {
		t.Fatalf("%d watchers left", n)
	}
}

// A read at least as new as a write sees that write, however soon after it
// comes: it waits for the cache to apply it, never reads a cache behind it.
func TestReadsAtLeastARevisionSeeTheWrite(t *testing.T) {
	b, c := setup(t)
	create(t, b, cms+"default/a")
	if kvs, _, err := c.List(t.Context(), cms, cms+"default/"); err != nil || len(kvs) != 1 {
		t.Fatalf("List: %v, %v", kvs, err) // the cache runs from here on
	}
	for i := range 50 {
		kv := create(t, b, fmt.Sprintf("%sdefault/b%02d", cms, i))
		kvs, rev, err := c.ListAtLeast(t.Context(), cms, cms+"default/", kv.ModRevision)
		if err != nil || rev < kv.ModRevision || len(kvs) != i+2 || kvs[len(kvs)-1].Key != kv.Key {
			t.Fatalf("ListAtLeast(%d): %d keys at %d, %v", kv.ModRevision, len(kvs), rev, err)
		}
		got, err := c.GetAtLeast(t.Context(), cms, kv.Key, kv.ModRevision)
		if err != nil || got.ModRevision != kv.ModRevision {
			t.Fatalf("GetAtLeast(%s): %+v, %v", kv.Key, got, err)
		}
	}
	if _, err := c.GetAtLeast(t.Context(), cms, cms+"default/none", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetAtLeast of a missing key: %v", err)
	}
	// A revision the cache never reaches: the read ends with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.ListAtLeast(ctx, cms, cms, 1<<40); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ListAtLeast of a future revision: %v", err)
	}
}

// Lists keep the key order through creates, updates and deletes, and a
// namespace's list is exactly its keys, with their latest values.
func TestListsAfterEveryKindOfChange(t *testing.T) {
	b, c := setup(t)
	for _, k := range []string{"ns2/b", "ns1/c", "ns1/a", "ns10/a"} {
		create(t, b, cms+k)
	}
	c.List(t.Context(), cms, cms) // sorted once here; kept below
	updated, err := b.Update(t.Context(), cms+"ns1/c", []byte(`{"v":2}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, err := c.ListAtLeast(t.Context(), cms, cms+"ns1/", updated.ModRevision)
	if err != nil || keys(kvs) != cms+"ns1/a "+cms+"ns1/c" || string(kvs[1].Value) != `{"v":2}` || kvs[1].ModRevision != updated.ModRevision {
		t.Fatalf("ns1 after an update: %q, %v", keys(kvs), err)
	}
	created := create(t, b, cms+"ns1/b")
	deleted, err := b.Delete(t.Context(), cms+"ns1/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, _ = c.ListAtLeast(t.Context(), cms, cms, max(created.ModRevision, deleted.ModRevision))
	if want := cms + "ns1/b " + cms + "ns1/c " + cms + "ns10/a " + cms + "ns2/b"; keys(kvs) != want {
		t.Errorf("all after a create and a delete: %q, want %q", keys(kvs), want)
	}
	if kvs, _, _ := c.List(t.Context(), cms, cms+"ns3/"); len(kvs) != 0 {
		t.Errorf("an empty namespace: %q", keys(kvs))
	}
}

// MaxBytes bounds the window by the size of its values too; and an update's
// previous value is the one the cache held, not a second copy of it.
func TestWindowBoundedByBytes(t *testing.T) {
	b, c := setup(t)
	value := []byte(`{"data":"` + strings.Repeat("x", 1000) + `"}`)
	c.MinEvents, c.MaxBytes = 1, 3*len(value)
	create(t, b, cms+"ns/a")
	c.List(t.Context(), cms, cms)
	w := watch(t, c, cms, 0)
	var revs []int64
	for range 6 {
		kv, err := b.Update(t.Context(), cms+"ns/a", value, 0)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, kv.ModRevision)
		next(t, w)
	}
	// Six values of ~1 KB, room for three: a watch from the third's
	// revision gets the last three; from the second's, the cache has no more.
	if _, err := c.Subscribe(t.Context(), cms, cms, revs[1], nil); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("watch from %d: %v, want ErrCompacted", revs[1], err)
	}
	w2 := watch(t, c, cms, revs[2])
	var prev, cur *storage.Event
	for range 3 {
		ev, ok := nextEvent(t, w2)
		if !ok {
			t.Fatal("the watch ended")
		}
		prev, cur = cur, &ev
	}
	if cur.KV.ModRevision != revs[5] || cur.PrevKV == nil || &cur.PrevKV.Value[0] != &prev.KV.Value[0] {
		t.Errorf("the last event at %d, its previous value shared with the event before: %v", cur.KV.ModRevision,
			cur.PrevKV != nil && &cur.PrevKV.Value[0] == &prev.KV.Value[0])
	}
}
