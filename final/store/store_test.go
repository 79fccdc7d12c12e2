package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/watchcache"
)

var configmaps = &registry.Resource{Version: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true}

func newStore(t *testing.T) *Store {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	return New(backend)
}

func configMap(namespace, name, value string) object.Object {
	return object.Object{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": namespace, "uid": "uid-" + name, "creationTimestamp": "2026-01-01T00:00:00Z"},
		"data":     map[string]any{"v": value}}
}

func reason(err error) string { return apierrors.ReasonForError(err) }

func TestCreateGetUpdateDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	created, err := s.Create(ctx, configmaps, configMap("default", "a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	rv := created.MetaString("resourceVersion")
	if rv == "" || Key(configmaps, "default", "a") != "/registry/configmaps/default/a" {
		t.Fatalf("created %v", created)
	}
	if _, err := s.Create(ctx, configmaps, configMap("default", "a", "1")); reason(err) != "AlreadyExists" {
		t.Errorf("second create: %v", err)
	}
	got, err := s.Get(ctx, configmaps, "default", "a")
	if err != nil || got.MetaString("resourceVersion") != rv {
		t.Fatalf("get: %v %v", got, err)
	}

	updated, err := s.Update(ctx, configmaps, "default", "a", func(current object.Object) (object.Object, error) {
		current["data"] = map[string]any{"v": "2"}
		current.Metadata()["uid"] = "forged" // the server's, not the client's
		return current, nil
	})
	if err != nil || updated.MetaString("uid") != "uid-a" || updated.MetaString("resourceVersion") == rv {
		t.Fatalf("update: %v %v", updated, err)
	}
	// A stale resourceVersion is a conflict.
	_, err = s.Update(ctx, configmaps, "default", "a", func(current object.Object) (object.Object, error) {
		current.Metadata()["resourceVersion"] = rv
		return current, nil
	})
	if reason(err) != "Conflict" {
		t.Errorf("stale update: %v", err)
	}
	refuse := fmt.Errorf("no")
	if _, err := s.Delete(ctx, configmaps, "default", "a", func(object.Object) error { return refuse }); err != refuse {
		t.Errorf("precondition: %v", err)
	}
	deleted, err := s.Delete(ctx, configmaps, "default", "a", nil)
	if err != nil || deleted.MetaString("name") != "a" {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	if _, err := s.Get(ctx, configmaps, "default", "a"); reason(err) != "NotFound" {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := s.Update(ctx, configmaps, "default", "a", func(c object.Object) (object.Object, error) { return c, nil }); reason(err) != "NotFound" {
		t.Errorf("update after delete: %v", err)
	}
}

// Concurrent read-modify-writes on one object lose nothing: the loser of a
// compare-and-swap tries again on the winner's object.
func TestUpdateRetries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Create(ctx, configmaps, configMap("default", "counter", "0")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				_, err := s.Update(ctx, configmaps, "default", "counter", func(c object.Object) (object.Object, error) {
					var n int
					fmt.Sscan(c["data"].(map[string]any)["v"].(string), &n)
					c["data"] = map[string]any{"v": fmt.Sprint(n + 1)}
					return c, nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, _ := s.Get(ctx, configmaps, "default", "counter")
	if v := got["data"].(map[string]any)["v"]; v != "80" {
		t.Errorf("counter %v, want 80", v)
	}
}

func TestListPagesAtOneRevision(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for i := range 7 {
		if _, err := s.Create(ctx, configmaps, configMap("ns", fmt.Sprintf("cm%d", i), fmt.Sprint(i%2))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, configmaps, configMap("ns-b", "other", "1")); err != nil {
		t.Fatal(err)
	}
	odd := func(o object.Object) bool { return o["data"].(map[string]any)["v"] == "1" }
	first, rev, next, err := s.List(ctx, configmaps, "ns", ListOptions{Limit: 2, Match: odd})
	if err != nil || next == "" || len(first) != 2 {
		t.Fatalf("first page: %d items, next %q, %v", len(first), next, err)
	}
	// A write between pages does not show in the next page.
	if _, err := s.Create(ctx, configmaps, configMap("ns", "cm9", "1")); err != nil {
		t.Fatal(err)
	}
	second, rev2, next2, err := s.List(ctx, configmaps, "ns", ListOptions{After: next, Revision: rev, Limit: 2, Match: odd})
	if err != nil || rev2 != rev || next2 != "" {
		t.Fatalf("second page: rev %d (want %d), next %q, %v", rev2, rev, next2, err)
	}
	var names []string
	for _, o := range slices.Concat(first, second) {
		names = append(names, o.MetaString("name"))
	}
	if !slices.Equal(names, []string{"cm1", "cm3", "cm5"}) {
		t.Errorf("pages hold %v", names)
	}
	all, _, _, _ := s.List(ctx, configmaps, "", ListOptions{})
	if len(all) != 9 {
		t.Errorf("all namespaces: %d items", len(all))
	}
	if _, _, _, err := s.List(ctx, configmaps, "ns", ListOptions{Revision: rev + 1000}); reason(err) != "Timeout" {
		t.Errorf("future revision: %v", err)
	}
	current, _ := s.Revision(ctx)
	if err := s.Backend().Compact(ctx, current); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.List(ctx, configmaps, "ns", ListOptions{Revision: rev}); reason(err) != "Expired" {
		t.Errorf("compacted revision: %v", err)
	}
}

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newStore(t)
	created, _ := s.Create(ctx, configmaps, configMap("ns", "a", "1"))
	from := created.MetaString("resourceVersion")
	var rev int64
	fmt.Sscan(from, &rev)
	events, err := s.Watch(ctx, configmaps, "ns", rev)
	if err != nil {
		t.Fatal(err)
	}
	s.Update(ctx, configmaps, "ns", "a", func(c object.Object) (object.Object, error) { c["data"] = map[string]any{"v": "2"}; return c, nil })
	s.Create(ctx, configmaps, configMap("elsewhere", "b", "1"))
	s.Create(ctx, configmaps, configMap("ns", "c", "1"))
	s.Delete(ctx, configmaps, "ns", "a", nil)
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-events:
			got = append(got, ev.Type+" "+ev.Object.MetaString("name"))
			if ev.Type == "MODIFIED" && ev.Previous["data"].(map[string]any)["v"] != "1" {
				t.Errorf("previous of MODIFIED: %v", ev.Previous)
			}
			if ev.Object.MetaString("resourceVersion") != fmt.Sprint(ev.Revision) {
				t.Errorf("event object at %s, event at %d", ev.Object.MetaString("resourceVersion"), ev.Revision)
			}
		case <-ctx.Done():
			t.Fatalf("events so far: %v", got)
		}
	}
	if !slices.Equal(got, []string{"MODIFIED a", "ADDED c", "DELETED a"}) {
		t.Errorf("events %v", got)
	}
	current, _ := s.Revision(ctx)
	if err := s.Backend().Compact(ctx, current); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch(ctx, configmaps, "ns", rev); reason(err) != "Expired" {
		t.Errorf("watch from a compacted revision: %v", err)
	}
}

// With a watch cache, lists that accept any revision come from it, whole;
// the others from the storage, in pages; a watch from before the cache's
// window is served by the storage, which still has that history.
func TestWatchCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Cache = watchcache.New(t.Context(), s.Backend())
	s.Cache.MinEvents, s.Cache.MaxEvents = 1, 1
	var fromCache, fromStorage int
	s.Listed = func(_ *registry.Resource, cached bool) {
		if cached {
			fromCache++
		} else {
			fromStorage++
		}
	}
	first, err := s.Create(ctx, configmaps, configMap("default", "a", "1"))
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.Watch(t.Context(), configmaps, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := s.Create(ctx, configmaps, configMap("default", name, "1")); err != nil {
			t.Fatal(err)
		}
		<-events // the cache has it
	}
	items, _, next, err := s.List(ctx, configmaps, "default", ListOptions{Any: true, Limit: 1})
	if err != nil || len(items) != 3 || next != "" {
		t.Errorf("from the cache: %d items, continue %q, %v", len(items), next, err)
	}
	items, _, next, err = s.List(ctx, configmaps, "default", ListOptions{Limit: 1})
	if err != nil || len(items) != 1 || next == "" {
		t.Errorf("from the storage: %d items, continue %q, %v", len(items), next, err)
	}
	if fromCache != 1 || fromStorage != 1 {
		t.Errorf("%d lists from the cache, %d from the storage", fromCache, fromStorage)
	}
	old, err := s.Watch(t.Context(), configmaps, "default", parseRV(t, first))
	if err != nil {
		t.Fatalf("a watch from before the window: %v", err)
	}
	for _, want := range []string{"b", "c"} {
		select {
		case ev := <-old:
			if ev.Type != "ADDED" || ev.Object.MetaString("name") != want {
				t.Errorf("%s %s, want ADDED %s", ev.Type, ev.Object.MetaString("name"), want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
	}
}

func parseRV(t *testing.T, obj object.Object) int64 {
	t.Helper()
	var rv int64
	if _, err := fmt.Sscan(obj.MetaString("resourceVersion"), &rv); err != nil {
		t.Fatal(err)
	}
	return rv
}

// Reads with OwnWrites come from the watch cache and hold every write this
// store made, read right after it: a write, then a read, never misses.
func TestOwnWritesReadTheCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Cache = watchcache.New(t.Context(), s.Backend())
	fromCache := 0
	s.Listed = func(_ *registry.Resource, cached bool) {
		if cached {
			fromCache++
		}
	}
	for i := range 30 {
		name := fmt.Sprintf("cm-%02d", i)
		if _, err := s.Create(ctx, configmaps, configMap("default", name, "1")); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetOwnWrites(ctx, configmaps, "default", name)
		if err != nil || got.MetaString("name") != name || got.MetaString("resourceVersion") == "" {
			t.Fatalf("GetOwnWrites(%s): %v, %v", name, got, err)
		}
		items, _, _, err := s.List(ctx, configmaps, "default", ListOptions{OwnWrites: true})
		if err != nil || len(items) != i+1 {
			t.Fatalf("after %s: %d items, %v", name, len(items), err)
		}
	}
	if _, err := s.Delete(ctx, configmaps, "default", "cm-00", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOwnWrites(ctx, configmaps, "default", "cm-00"); reason(err) != "NotFound" {
		t.Errorf("a deleted object: %v", err)
	}
	if fromCache != 30 {
		t.Errorf("%d of 30 lists from the cache", fromCache)
	}
}

// countingGets counts the reads of one key that reach the storage.
type countingGets struct {
	storage.Backend
	gets atomic.Int64
}

func (c *countingGets) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	c.gets.Add(1)
	return c.Backend.Get(ctx, key)
}

// With SoleWriter (SQLite: this process is the only writer), gets and the
// object an update or delete starts from come from the watch cache, and
// still see every write made before them; without it they read the storage.
func TestSoleWriterReadsTheCache(t *testing.T) {
	for _, sole := range []bool{true, false} {
		t.Run(fmt.Sprintf("SoleWriter=%t", sole), func(t *testing.T) {
			ctx := context.Background()
			backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { backend.Close() })
			counting := &countingGets{Backend: backend}
			s := New(counting)
			s.SoleWriter, s.Cache = sole, watchcache.New(t.Context(), counting)
			for i := range 20 {
				name := fmt.Sprintf("cm-%02d", i)
				if _, err := s.Create(ctx, configmaps, configMap("default", name, "0")); err != nil {
					t.Fatal(err)
				}
				updated, err := s.Update(ctx, configmaps, "default", name, func(current object.Object) (object.Object, error) {
					current["data"] = map[string]any{"v": "1"}
					return current, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, configmaps, "default", name)
				if err != nil || got["data"].(map[string]any)["v"] != "1" || got.MetaString("resourceVersion") != updated.MetaString("resourceVersion") {
					t.Fatalf("%s right after its update: %v, %v", name, got, err)
				}
			}
			if _, err := s.Delete(ctx, configmaps, "default", "cm-00", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, configmaps, "default", "cm-00"); reason(err) != "NotFound" {
				t.Errorf("a deleted object: %v", err)
			}
			if gets := counting.gets.Load(); sole != (gets == 0) {
				t.Errorf("%d reads of a key reached the storage", gets)
			}
		})
	}
}

func TestKey(t *testing.T) {
	roles := &registry.Resource{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "clusterroles", Kind: "ClusterRole"}
	for _, c := range []struct{ got, want string }{
		{Key(configmaps, "default", "a"), "/registry/configmaps/default/a"},
		{Key(roles, "", "admin"), "/registry/rbac.authorization.k8s.io/clusterroles/admin"},
		{Prefix(configmaps, "team-a"), "/registry/configmaps/team-a/"},
		{Prefix(configmaps, ""), "/registry/configmaps/"},
		{Prefix(roles, ""), "/registry/rbac.authorization.k8s.io/clusterroles/"},
		// Not cleaned: a name that is a path step stays inside its namespace.
		{Key(configmaps, "default", ".."), "/registry/configmaps/default/.."},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
