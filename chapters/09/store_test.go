// The store's contract, tested below the HTTP layer: one revision per write,
// resourceVersion = the revision of an object's last write, compare-and-swap
// updates and deletes, consistent pages at a revision, and compaction.
package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	cmResource  = &resource{group: "", version: "v1", name: "configmaps", kind: "ConfigMap", namespaced: true}
	podResource = &resource{group: "", version: "v1", name: "pods", kind: "Pod", namespaced: true}
)

// cmObject is a ConfigMap as the handler would store it, uid and
// creationTimestamp included.
func cmObject(namespace, name string, data map[string]any) object {
	return object{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"namespace":         namespace,
			"name":              name,
			"uid":               "uid-" + namespace + "-" + name,
			"creationTimestamp": "2024-01-02T03:04:05Z",
		},
		"data": data,
	}
}

func mustCreateCM(t *testing.T, st *store, namespace, name string, data map[string]any) object {
	t.Helper()
	obj, err := st.create(cmResource, cmObject(namespace, name, data))
	if err != nil {
		t.Fatalf("creating %s/%s: %v", namespace, name, err)
	}
	return obj
}

// setData is a tryUpdate that replaces data.v.
func setData(v string) func(object) (object, error) {
	return func(cur object) (object, error) {
		cur["data"] = map[string]any{"v": v}
		return cur, nil
	}
}

func mustUpdateCM(t *testing.T, st *store, namespace, name, v string) object {
	t.Helper()
	obj, err := st.update(cmResource, namespace, name, setData(v))
	if err != nil {
		t.Fatalf("updating %s/%s: %v", namespace, name, err)
	}
	return obj
}

func mustDeleteCM(t *testing.T, st *store, namespace, name string) {
	t.Helper()
	if _, err := st.delete(cmResource, namespace, name, nil); err != nil {
		t.Fatalf("deleting %s/%s: %v", namespace, name, err)
	}
}

func dataV(obj object) string {
	data, _ := obj["data"].(map[string]any)
	v, _ := data["v"].(string)
	return v
}

func rvOf(obj object) int64 {
	n, _ := strconv.ParseInt(obj.metaString("resourceVersion"), 10, 64)
	return n
}

// itemSummary is "namespace/name@rv=v" for each item, to compare lists at a glance.
func itemSummary(items []object) []string {
	out := []string{}
	for _, obj := range items {
		s := obj.metaString("namespace") + "/" + obj.metaString("name") + "@" + obj.metaString("resourceVersion")
		if v := dataV(obj); v != "" {
			s += "=" + v
		}
		out = append(out, s)
	}
	return out
}

func itemNames(items []object) []string {
	out := []string{}
	for _, obj := range items {
		out = append(out, obj.metaString("name"))
	}
	return out
}

// wantStatus checks that err is a Status with this code and reason.
func wantStatus(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var se *statusError
	if !errors.As(err, &se) {
		t.Fatalf("got error %v, want a %d %s Status", err, code, reason)
	}
	if se.code != code || se.reason != reason {
		t.Fatalf("got %d %s (%s), want %d %s", se.code, se.reason, se.message, code, reason)
	}
}

// dbRevision is the revision as committed in meta, not as cached in memory.
func dbRevision(t *testing.T, st *store) int64 {
	t.Helper()
	var rev int64
	if err := st.db.QueryRow(`SELECT value FROM meta WHERE name = 'revision'`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

func logRevisions(t *testing.T, st *store) []int64 {
	t.Helper()
	rows, err := st.db.Query(`SELECT revision FROM log ORDER BY revision`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	revs := []int64{}
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		revs = append(revs, r)
	}
	return revs
}

func TestEveryWriteIsOneRevision(t *testing.T) {
	st := newStore()
	refuse := func(object) error { return errConflict(cmResource, "a") }
	steps := []struct {
		name   string
		write  func() (object, error)
		reason string // "" for a write that succeeds
	}{
		{"create a", func() (object, error) { return st.create(cmResource, cmObject("ns", "a", nil)) }, ""},
		{"create b", func() (object, error) { return st.create(cmResource, cmObject("ns", "b", nil)) }, ""},
		{"create a again", func() (object, error) { return st.create(cmResource, cmObject("ns", "a", nil)) }, "AlreadyExists"},
		{"update a", func() (object, error) { return st.update(cmResource, "ns", "a", setData("2")) }, ""},
		{"update a missing object", func() (object, error) { return st.update(cmResource, "ns", "nope", setData("2")) }, "NotFound"},
		{"update a with a stale resourceVersion", func() (object, error) {
			return st.update(cmResource, "ns", "a", func(cur object) (object, error) {
				cur.metadata()["resourceVersion"] = "1"
				return cur, nil
			})
		}, "Conflict"},
		{"update fails in tryUpdate", func() (object, error) {
			return st.update(cmResource, "ns", "a", func(object) (object, error) { return nil, errBadRequest("no") })
		}, "BadRequest"},
		{"delete b", func() (object, error) { return st.delete(cmResource, "ns", "b", nil) }, ""},
		{"delete b again", func() (object, error) { return st.delete(cmResource, "ns", "b", nil) }, "NotFound"},
		{"delete a refused by its preconditions", func() (object, error) { return st.delete(cmResource, "ns", "a", refuse) }, "Conflict"},
		{"create b again", func() (object, error) { return st.create(cmResource, cmObject("ns", "b", nil)) }, ""},
		{"delete a", func() (object, error) { return st.delete(cmResource, "ns", "a", nil) }, ""},
	}
	want := int64(0)
	for _, step := range steps {
		obj, err := step.write()
		if step.reason == "" {
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			want++
		} else {
			var se *statusError
			if !errors.As(err, &se) || se.reason != step.reason {
				t.Fatalf("%s: got %v, want %s", step.name, err, step.reason)
			}
		}
		if got := st.revision(); got != want {
			t.Fatalf("%s: revision %d, want %d", step.name, got, want)
		}
		if got := dbRevision(t, st); got != want {
			t.Fatalf("%s: meta says revision %d, want %d", step.name, got, want)
		}
		// Each write is exactly one row of the log, at its revision.
		if revs := logRevisions(t, st); len(revs) != int(want) || (want > 0 && revs[len(revs)-1] != want) {
			t.Fatalf("%s: log revisions %v, want 1..%d", step.name, revs, want)
		}
		if err == nil && !strings.HasPrefix(step.name, "delete") && rvOf(obj) != want {
			t.Fatalf("%s: resourceVersion %q, want %d", step.name, obj.metaString("resourceVersion"), want)
		}
	}
}

func TestResourceVersionIsTheLastWrite(t *testing.T) {
	st := newStore()
	withRV := cmObject("ns", "a", map[string]any{"v": "1"})
	withRV.metadata()["resourceVersion"] = "999" // ignored: the revision is the truth
	a, err := st.create(cmResource, withRV)
	if err != nil {
		t.Fatal(err)
	}
	b := mustCreateCM(t, st, "ns", "b", map[string]any{"v": "1"})
	mustCreateCM(t, st, "ns", "c", map[string]any{"v": "1"})
	a2 := mustUpdateCM(t, st, "ns", "a", "2")
	if rvOf(a) != 1 || rvOf(b) != 2 || rvOf(a2) != 4 {
		t.Fatalf("returned resourceVersions a=%d b=%d a2=%d, want 1 2 4", rvOf(a), rvOf(b), rvOf(a2))
	}
	for name, want := range map[string]int64{"a": 4, "b": 2, "c": 3} {
		got, err := st.get(cmResource, "ns", name)
		if err != nil {
			t.Fatal(err)
		}
		if rvOf(got) != want {
			t.Errorf("get %s: resourceVersion %q, want %d", name, got.metaString("resourceVersion"), want)
		}
	}
	items, rv := st.list(cmResource, "ns")
	if want := []string{"ns/a@4=2", "ns/b@2=1", "ns/c@3=1"}; !slices.Equal(itemSummary(items), want) || rv != "4" {
		t.Errorf("list: %v at %s, want %v at 4", itemSummary(items), rv, want)
	}
	// The stored values never hold a resourceVersion: it is stamped on read.
	var n int
	if err := st.db.QueryRow(`SELECT (SELECT COUNT(*) FROM current WHERE instr(value, 'resourceVersion') > 0)
		+ (SELECT COUNT(*) FROM log WHERE instr(value, 'resourceVersion') > 0)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d stored values hold a resourceVersion", n)
	}
}

func TestReopenKeepsObjectsAndRevision(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.db")
	st, err := openStore(file)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
	mustCreateCM(t, st, "ns", "b", map[string]any{"v": "1"})
	mustCreateCM(t, st, "other", "c", map[string]any{"v": "1"})
	mustUpdateCM(t, st, "ns", "a", "2")
	mustDeleteCM(t, st, "ns", "b")
	if err := st.compact(2); err != nil {
		t.Fatal(err)
	}
	before, beforeRV := st.list(cmResource, "")
	if err := st.close(); err != nil {
		t.Fatal(err)
	}

	st, err = openStore(file) // the lock went with close
	if err != nil {
		t.Fatalf("reopening after close: %v", err)
	}
	t.Cleanup(func() { st.close() })
	if _, err := openStore(file); err == nil {
		t.Fatal("a second open of a database in use must fail: two servers would hand out the same revisions")
	}
	if st.revision() != 5 || st.compacted() != 2 {
		t.Fatalf("after reopening: revision %d compacted %d, want 5 and 2", st.revision(), st.compacted())
	}
	after, afterRV := st.list(cmResource, "")
	if !reflect.DeepEqual(after, before) || afterRV != beforeRV {
		t.Fatalf("after reopening: %v at %s, want %v at %s", itemSummary(after), afterRV, itemSummary(before), beforeRV)
	}
	if want := []string{"ns/a@4=2", "other/c@3=1"}; !slices.Equal(itemSummary(after), want) {
		t.Fatalf("after reopening: %v, want %v", itemSummary(after), want)
	}
	// History survives too, and the next write continues the count.
	past, _, _, err := st.listPage(cmResource, "ns", listQuery{revision: 3})
	if err != nil || !slices.Equal(itemSummary(past), []string{"ns/a@1=1", "ns/b@2=1"}) {
		t.Fatalf("reading at 3 after reopening: %v, %v", itemSummary(past), err)
	}
	if d := mustCreateCM(t, st, "ns", "d", nil); rvOf(d) != 6 {
		t.Fatalf("first write after reopening at %d, want 6", rvOf(d))
	}
}

func TestConcurrentUpdatesAllLand(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "shared", nil)
	start := st.revision()
	const writers = 30
	var wg sync.WaitGroup
	var tries atomic.Int64
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.update(cmResource, "ns", "shared", func(cur object) (object, error) {
				tries.Add(1)
				labels, _ := cur.metadata()["labels"].(map[string]any)
				if labels == nil {
					labels = map[string]any{}
					cur.metadata()["labels"] = labels
				}
				labels[fmt.Sprintf("writer-%d", i)] = "yes"
				return cur, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("update: %v", err)
		}
	}
	got, err := st.get(cmResource, "ns", "shared")
	if err != nil {
		t.Fatal(err)
	}
	labels := got.labels()
	for i := range writers {
		if labels[fmt.Sprintf("writer-%d", i)] != "yes" {
			t.Errorf("label writer-%d lost: %v", i, labels)
		}
	}
	if len(labels) != writers {
		t.Errorf("%d labels, want %d", len(labels), writers)
	}
	if st.revision() != start+writers || rvOf(got) != start+writers {
		t.Errorf("revision %d, object at %s; want both %d", st.revision(), got.metaString("resourceVersion"), start+writers)
	}
	t.Logf("%d calls of tryUpdate for %d updates", tries.Load(), writers)
}

// A write that lands between update's read and its write makes the
// compare-and-swap fail: update reads again and tryUpdate sees the newer object.
func TestUpdateRetriesWhenTheObjectChangedMeanwhile(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
	var seen []string
	got, err := st.update(cmResource, "ns", "a", func(cur object) (object, error) {
		seen = append(seen, cur.metaString("resourceVersion")+"="+dataV(cur))
		if len(seen) == 1 {
			mustUpdateCM(t, st, "ns", "a", "meanwhile") // another writer, at 2
		}
		cur["data"] = map[string]any{"v": dataV(cur) + "+mine"}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1=1", "2=meanwhile"}; !slices.Equal(seen, want) {
		t.Errorf("tryUpdate saw %v, want %v", seen, want)
	}
	if rvOf(got) != 3 || dataV(got) != "meanwhile+mine" || st.revision() != 3 {
		t.Errorf("got %v at revision %d, want meanwhile+mine at 3", got, st.revision())
	}
}

func TestUpdateWithStaleResourceVersionConflicts(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
	mustUpdateCM(t, st, "ns", "a", "2") // now at 2
	for _, tt := range []struct {
		rv     string
		reason string // "" for a success
	}{
		{"1", "Conflict"},
		{"3", "Conflict"}, // a future one is no better
		{"x", "Conflict"},
		{"2", ""},
		{"", ""}, // no precondition: an unconditional update
	} {
		t.Run("rv="+tt.rv, func(t *testing.T) {
			cur, _ := st.get(cmResource, "ns", "a")
			before := st.revision()
			updated, err := st.update(cmResource, "ns", "a", func(object) (object, error) {
				obj := cmObject("ns", "a", map[string]any{"v": "client-" + tt.rv})
				if tt.rv != "" {
					obj.metadata()["resourceVersion"] = tt.rv
				}
				return obj, nil
			})
			now, _ := st.get(cmResource, "ns", "a")
			if tt.reason != "" {
				wantStatus(t, err, 409, tt.reason)
				var se *statusError
				errors.As(err, &se)
				if se.details["name"] != "a" || se.details["kind"] != "configmaps" {
					t.Errorf("details %v", se.details)
				}
				if st.revision() != before || !reflect.DeepEqual(now, cur) {
					t.Fatalf("a refused update wrote: revision %d→%d, object %v", before, st.revision(), now)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.revision() != before+1 || rvOf(updated) != before+1 || dataV(now) != "client-"+tt.rv {
				t.Fatalf("revision %d, updated %v, now %v", st.revision(), updated, now)
			}
			// The next case starts from here: rv "2" is now stale for it.
		})
		if t.Failed() {
			return
		}
	}
}

func TestUpdateKeepsUIDAndCreationTimestamp(t *testing.T) {
	st := newStore()
	orig := mustCreateCM(t, st, "ns", "a", nil)
	for name, meta := range map[string]map[string]any{
		"changed": {"name": "a", "namespace": "ns", "uid": "forged", "creationTimestamp": "1999-01-01T00:00:00Z"},
		"dropped": {"name": "a", "namespace": "ns"},
		"emptied": {"name": "a", "namespace": "ns", "uid": "", "creationTimestamp": ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := st.update(cmResource, "ns", "a", func(object) (object, error) {
				return object{"metadata": meta, "data": map[string]any{"v": name}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := st.get(cmResource, "ns", "a")
			for _, obj := range []object{got, stored} {
				if obj.metaString("uid") != orig.metaString("uid") || obj.metaString("creationTimestamp") != orig.metaString("creationTimestamp") {
					t.Errorf("uid %q creationTimestamp %q, want %q %q", obj.metaString("uid"), obj.metaString("creationTimestamp"),
						orig.metaString("uid"), orig.metaString("creationTimestamp"))
				}
			}
			if dataV(stored) != name {
				t.Errorf("data %v, want v=%s", stored["data"], name)
			}
		})
	}
}

func TestDeleteChecksPreconditions(t *testing.T) {
	refused := errConflict(cmResource, "a")
	for _, tt := range []struct {
		name    string
		check   func(t *testing.T) func(object) error
		wantErr error
	}{
		{"no check", func(*testing.T) func(object) error { return nil }, nil},
		{"check passes", func(*testing.T) func(object) error { return func(object) error { return nil } }, nil},
		{"check refuses", func(*testing.T) func(object) error { return func(object) error { return refused } }, refused},
		{"check sees the current object", func(t *testing.T) func(object) error {
			return func(cur object) error {
				if cur.metaString("uid") != "uid-ns-a" || cur.metaString("resourceVersion") != "2" || dataV(cur) != "2" {
					t.Errorf("check got %v", cur)
				}
				return nil
			}
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore()
			mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
			mustUpdateCM(t, st, "ns", "a", "2")
			deleted, err := st.delete(cmResource, "ns", "a", tt.check(t))
			_, getErr := st.get(cmResource, "ns", "a")
			if tt.wantErr != nil {
				if err != tt.wantErr {
					t.Fatalf("got %v, want the check's error", err)
				}
				if st.revision() != 2 || getErr != nil {
					t.Fatalf("a refused delete: revision %d, get %v", st.revision(), getErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.revision() != 3 || deleted.metaString("resourceVersion") != "2" || dataV(deleted) != "2" {
				t.Fatalf("revision %d, deleted %v", st.revision(), deleted)
			}
			wantStatus(t, getErr, 404, "NotFound")
		})
	}
}

// The preconditions are checked against the object actually deleted: if it
// changes between the check and the delete, delete reads and checks again.
func TestDeleteRetriesWhenTheObjectChangedMeanwhile(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
	var seen []string
	deleted, err := st.delete(cmResource, "ns", "a", func(cur object) error {
		seen = append(seen, cur.metaString("resourceVersion")+"="+dataV(cur))
		if len(seen) == 1 {
			mustUpdateCM(t, st, "ns", "a", "meanwhile") // another writer, at 2
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1=1", "2=meanwhile"}; !slices.Equal(seen, want) {
		t.Errorf("the check saw %v, want %v", seen, want)
	}
	if dataV(deleted) != "meanwhile" || st.revision() != 3 {
		t.Errorf("deleted %v at revision %d, want the value meanwhile at 3", deleted, st.revision())
	}
	_, err = st.get(cmResource, "ns", "a")
	wantStatus(t, err, 404, "NotFound")
	var value []byte
	if err := st.db.QueryRow(`SELECT value FROM log WHERE revision = 3 AND deleted = 1`).Scan(&value); err != nil {
		t.Fatal(err)
	}
	if obj, _ := decodeObject(value); dataV(obj) != "meanwhile" {
		t.Errorf("tombstone value %s", value)
	}
}

func TestDeleteLeavesATombstone(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"})
	mustUpdateCM(t, st, "ns", "a", "2")
	mustDeleteCM(t, st, "ns", "a")
	key := storageKey(cmResource, "ns", "a")

	var lastValue []byte
	if err := st.db.QueryRow(`SELECT value FROM log WHERE revision = 2`).Scan(&lastValue); err != nil {
		t.Fatal(err)
	}
	var gotKey string
	var createRev, deleted int64
	var value []byte
	if err := st.db.QueryRow(`SELECT key, create_revision, deleted, value FROM log WHERE revision = 3`).Scan(&gotKey, &createRev, &deleted, &value); err != nil {
		t.Fatal(err)
	}
	if gotKey != key || createRev != 1 || deleted != 1 || string(value) != string(lastValue) {
		t.Fatalf("tombstone: key %q create_revision %d deleted %d value %s; want %q 1 1 %s", gotKey, createRev, deleted, value, key, lastValue)
	}
	var live int
	if err := st.db.QueryRow(`SELECT COUNT(*) FROM current WHERE key = ?`, key).Scan(&live); err != nil || live != 0 {
		t.Fatalf("current still holds %s (%d rows, %v)", key, live, err)
	}
	// A new object under the same name starts a new life.
	mustCreateCM(t, st, "ns", "a", nil)
	if err := st.db.QueryRow(`SELECT create_revision, deleted FROM log WHERE revision = 4`).Scan(&createRev, &deleted); err != nil {
		t.Fatal(err)
	}
	if createRev != 4 || deleted != 0 {
		t.Fatalf("re-created: create_revision %d deleted %d, want 4 0", createRev, deleted)
	}
}

func TestListPageIsOrderedByKey(t *testing.T) {
	st := newStore()
	for _, k := range [][2]string{{"b", "y"}, {"a", "z"}, {"b", "x"}, {"a", "x"}, {"c", "a"}, {"a", "y"}} {
		mustCreateCM(t, st, k[0], k[1], nil)
	}
	for _, tt := range []struct {
		namespace string
		want      []string
	}{
		{"a", []string{"a/x@4", "a/y@6", "a/z@2"}},
		{"b", []string{"b/x@3", "b/y@1"}},
		{"", []string{"a/x@4", "a/y@6", "a/z@2", "b/x@3", "b/y@1", "c/a@5"}},
		{"d", []string{}},
	} {
		items, rev, next, err := st.listPage(cmResource, tt.namespace, listQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(itemSummary(items), tt.want) || rev != 6 || next != "" {
			t.Errorf("namespace %q: %v at %d next %q, want %v at 6", tt.namespace, itemSummary(items), rev, next, tt.want)
		}
	}
}

func TestListPagePaginates(t *testing.T) {
	for _, tt := range []struct{ objects, limit int }{
		{0, 3},
		{1, 1},
		{5, 2},
		{6, 2}, // the last page is exactly full
		{6, 3},
		{6, 6}, // one page, exactly full
		{6, 10},
		{7, 0}, // no limit
	} {
		t.Run(fmt.Sprintf("%d objects, limit %d", tt.objects, tt.limit), func(t *testing.T) {
			st := newStore()
			want := []string{}
			for i := range tt.objects {
				name := fmt.Sprintf("o%02d", i)
				mustCreateCM(t, st, "ns", name, nil)
				want = append(want, name)
			}
			mustCreateCM(t, st, "ns2", "after-the-range", nil)
			got := []string{}
			after, rev := "", int64(0)
			for pages := 1; ; pages++ {
				items, r, next, err := st.listPage(cmResource, "ns", listQuery{after: after, revision: rev, limit: tt.limit})
				if err != nil {
					t.Fatal(err)
				}
				rev = r
				got = append(got, itemNames(items)...)
				remaining := tt.objects - (len(got) - len(items))
				if tt.limit > 0 && len(items) != min(tt.limit, remaining) {
					t.Fatalf("page %d: %d items, want %d", pages, len(items), min(tt.limit, remaining))
				}
				if len(got) < tt.objects {
					if wantNext := storageKey(cmResource, "ns", got[len(got)-1]); next != wantNext {
						t.Fatalf("page %d: next %q, want %q", pages, next, wantNext)
					}
				} else if next != "" {
					t.Fatalf("page %d, the last: next %q, want \"\"", pages, next)
				}
				if next == "" {
					wantPages := 1
					if tt.limit > 0 && tt.objects > 0 {
						wantPages = (tt.objects + tt.limit - 1) / tt.limit
					}
					if pages != wantPages {
						t.Errorf("%d pages, want %d", pages, wantPages)
					}
					break
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// The pages of a list are read at its first page's revision: writes in
// between do not show.
func TestListPagesAreConsistent(t *testing.T) {
	st := newStore()
	for _, name := range []string{"a", "b", "c", "d"} {
		mustCreateCM(t, st, "ns", name, map[string]any{"v": "1"})
	}
	first, rev, next, err := st.listPage(cmResource, "ns", listQuery{limit: 2})
	if err != nil || !slices.Equal(itemNames(first), []string{"a", "b"}) || rev != 4 {
		t.Fatalf("first page: %v at %d, %v", itemNames(first), rev, err)
	}
	mustDeleteCM(t, st, "ns", "c")
	mustUpdateCM(t, st, "ns", "d", "2")
	mustCreateCM(t, st, "ns", "bb", nil)
	mustCreateCM(t, st, "ns", "e", nil)
	second, rev2, next2, err := st.listPage(cmResource, "ns", listQuery{after: next, revision: rev, limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ns/c@3=1", "ns/d@4=1"}; !slices.Equal(itemSummary(second), want) || rev2 != 4 || next2 != "" {
		t.Fatalf("second page: %v at %d next %q, want %v at 4 and no next", itemSummary(second), rev2, next2, want)
	}
}

func TestListPageMatchFillsPagesAcrossBatches(t *testing.T) {
	st := newStore()
	const n = 1200
	for i := range n {
		obj := cmObject("ns", fmt.Sprintf("o%04d", i), nil)
		obj.metadata()["labels"] = map[string]any{"third": strconv.Itoa(i % 3)}
		if _, err := st.create(cmResource, obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		third string // o%04d matches when i%3 == third
		limit int
		pages []int // items per page
	}{
		{"0", 250, []int{250, 150}},
		{"2", 250, []int{250, 150}},
		{"2", 200, []int{200, 200}}, // the last match is the last key: no empty page
		{"0", 200, []int{200, 200, 0}},
		{"1", 400, []int{400, 0}},
		{"2", 0, []int{400}},
		{"3", 100, []int{0}},
	} {
		t.Run(fmt.Sprintf("third=%s limit=%d", tt.third, tt.limit), func(t *testing.T) {
			match := func(obj object) bool { return obj.labels()["third"] == tt.third }
			var want []string
			for i := range n {
				if strconv.Itoa(i%3) == tt.third {
					want = append(want, fmt.Sprintf("o%04d", i))
				}
			}
			var got []string
			var sizes []int
			after := ""
			for {
				items, _, next, err := st.listPage(cmResource, "ns", listQuery{after: after, limit: tt.limit, match: match})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, itemNames(items)...)
				sizes = append(sizes, len(items))
				if next != "" && len(items) > 0 && next != storageKey(cmResource, "ns", got[len(got)-1]) {
					t.Fatalf("page %d ends at %s, next is %q", len(sizes), got[len(got)-1], next)
				}
				if next == "" || len(sizes) > 10 {
					break
				}
				after = next
			}
			if !slices.Equal(sizes, tt.pages) {
				t.Errorf("pages of %v, want %v", sizes, tt.pages)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d items, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
			}
		})
	}
}

func TestListPageAtAPastRevision(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"}) // 1
	mustCreateCM(t, st, "ns", "b", map[string]any{"v": "1"}) // 2
	mustCreateCM(t, st, "ns", "c", map[string]any{"v": "1"}) // 3
	mustUpdateCM(t, st, "ns", "a", "2")                      // 4
	mustDeleteCM(t, st, "ns", "b")                           // 5
	mustCreateCM(t, st, "ns", "d", map[string]any{"v": "1"}) // 6
	mustUpdateCM(t, st, "ns", "c", "2")                      // 7
	mustDeleteCM(t, st, "ns", "c")                           // 8
	for _, tt := range []struct {
		rev  int64
		want []string
	}{
		{1, []string{"ns/a@1=1"}},
		{3, []string{"ns/a@1=1", "ns/b@2=1", "ns/c@3=1"}},
		{4, []string{"ns/a@4=2", "ns/b@2=1", "ns/c@3=1"}},
		{5, []string{"ns/a@4=2", "ns/c@3=1"}},
		{7, []string{"ns/a@4=2", "ns/c@7=2", "ns/d@6=1"}},
		{8, []string{"ns/a@4=2", "ns/d@6=1"}},
		{0, []string{"ns/a@4=2", "ns/d@6=1"}},
	} {
		items, rev, next, err := st.listPage(cmResource, "ns", listQuery{revision: tt.rev})
		if err != nil {
			t.Fatalf("at %d: %v", tt.rev, err)
		}
		wantRev := tt.rev
		if wantRev == 0 {
			wantRev = 8
		}
		if !slices.Equal(itemSummary(items), tt.want) || rev != wantRev || next != "" {
			t.Errorf("at %d: %v at %d next %q, want %v at %d", tt.rev, itemSummary(items), rev, next, tt.want, wantRev)
		}
	}
	// Pages in the past, with a match.
	notB := func(obj object) bool { return obj.metaString("name") != "b" }
	page, _, next, err := st.listPage(cmResource, "ns", listQuery{revision: 3, limit: 1, match: notB})
	if err != nil || !slices.Equal(itemNames(page), []string{"a"}) || next != storageKey(cmResource, "ns", "a") {
		t.Fatalf("page 1 at 3: %v next %q, %v", itemNames(page), next, err)
	}
	page, _, next, err = st.listPage(cmResource, "ns", listQuery{revision: 3, limit: 1, after: next, match: notB})
	if err != nil || !slices.Equal(itemNames(page), []string{"c"}) || next != "" {
		t.Fatalf("page 2 at 3: %v next %q, %v", itemNames(page), next, err)
	}

	_, _, _, err = st.listPage(cmResource, "ns", listQuery{revision: 9})
	wantStatus(t, err, 504, "Timeout")
	if err := st.compact(4); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = st.listPage(cmResource, "ns", listQuery{revision: 3})
	wantStatus(t, err, 410, "Expired")
	if items, _, _, err := st.listPage(cmResource, "ns", listQuery{revision: 4}); err != nil || len(items) != 3 {
		t.Fatalf("at the compacted revision: %v, %v", itemSummary(items), err)
	}
}

func TestCompact(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", map[string]any{"v": "1"}) // 1
	mustCreateCM(t, st, "ns", "b", map[string]any{"v": "1"}) // 2
	mustCreateCM(t, st, "ns", "c", map[string]any{"v": "1"}) // 3
	mustUpdateCM(t, st, "ns", "a", "2")                      // 4
	mustDeleteCM(t, st, "ns", "b")                           // 5
	mustUpdateCM(t, st, "ns", "a", "3")                      // 6
	mustCreateCM(t, st, "ns", "d", map[string]any{"v": "1"}) // 7
	mustUpdateCM(t, st, "ns", "c", "2")                      // 8
	mustDeleteCM(t, st, "ns", "c")                           // 9

	at := func(rev int64) []string {
		t.Helper()
		items, _, _, err := st.listPage(cmResource, "ns", listQuery{revision: rev})
		if err != nil {
			t.Fatalf("at %d: %v", rev, err)
		}
		return itemSummary(items)
	}
	before := map[int64][]string{}
	for rev := int64(7); rev <= 9; rev++ {
		before[rev] = at(rev)
	}
	if want := []string{"ns/a@6=3", "ns/c@3=1", "ns/d@7=1"}; !slices.Equal(before[7], want) {
		t.Fatalf("at 7 before compacting: %v, want %v", before[7], want)
	}

	if err := st.compact(7); err != nil {
		t.Fatal(err)
	}
	if st.compacted() != 7 {
		t.Fatalf("compacted %d, want 7", st.compacted())
	}
	for rev := int64(7); rev <= 9; rev++ {
		if got := at(rev); !slices.Equal(got, before[rev]) {
			t.Errorf("at %d after compacting: %v, want %v", rev, got, before[rev])
		}
	}
	for rev := int64(1); rev < 7; rev++ {
		_, _, _, err := st.listPage(cmResource, "ns", listQuery{revision: rev})
		wantStatus(t, err, 410, "Expired")
	}
	// b, deleted at 5, is gone from the log; a and c keep their last write
	// below 7 (6 and 3); d, c's update and c's delete are at or after 7.
	if got, want := logRevisions(t, st), []int64{3, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("log revisions after compacting: %v, want %v", got, want)
	}
	if st.revision() != 9 {
		t.Errorf("compaction moved the revision to %d", st.revision())
	}

	// Deleting a key whose last write was compacted around still logs its value.
	mustDeleteCM(t, st, "ns", "a") // 10
	var deleted int
	var value []byte
	if err := st.db.QueryRow(`SELECT deleted, value FROM log WHERE revision = 10`).Scan(&deleted, &value); err != nil {
		t.Fatal(err)
	}
	if obj, err := decodeObject(value); err != nil || deleted != 1 || dataV(obj) != "3" {
		t.Errorf("tombstone after compaction: deleted %d value %s (%v)", deleted, value, err)
	}

	wantStatus(t, st.compact(11), 400, "BadRequest")
	if err := st.compact(5); err != nil { // behind: a no-op
		t.Fatal(err)
	}
	if st.compacted() != 7 {
		t.Errorf("compacted went back to %d", st.compacted())
	}
	if err := st.compact(10); err != nil { // up to now is allowed
		t.Fatal(err)
	}
	if got, want := at(10), []string{"ns/d@7=1"}; !slices.Equal(got, want) {
		t.Errorf("at 10, compacted to 10: %v, want %v", got, want)
	}
	// a's update at 6 stays beside its delete at 10 (the last write below 10);
	// a later compaction past 10 removes both.
	if got, want := logRevisions(t, st), []int64{6, 7, 10}; !slices.Equal(got, want) {
		t.Errorf("log revisions after compacting to 10: %v, want %v", got, want)
	}
}

func TestPrefixRange(t *testing.T) {
	start, end := prefixRange("/registry/configmaps/a/")
	if start != "/registry/configmaps/a/" || end != "/registry/configmaps/a0" {
		t.Errorf("prefixRange: [%q, %q)", start, end)
	}

	st := newStore()
	namespaces := []string{"a", "a-b", "a0", "ab", "default", "default-x", "default2"}
	for _, ns := range namespaces {
		mustCreateCM(t, st, ns, "x", nil)
		if _, err := st.create(podResource, object{"metadata": map[string]any{"namespace": ns, "name": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range namespaces {
		for _, q := range []listQuery{{}, {limit: 1}, {revision: 3}, {revision: 3, limit: 1}} {
			items, _, next, err := st.listPage(cmResource, ns, q)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{ns + "/x"}
			if q.revision == 3 && ns != "a" && ns != "a-b" { // only a and a-b's configmaps existed at 3
				want = []string{}
			}
			got := []string{}
			for _, obj := range items {
				got = append(got, obj.metaString("namespace")+"/"+obj.metaString("name"))
			}
			if !slices.Equal(got, want) || next != "" {
				t.Errorf("namespace %q %+v: %v next %q, want %v", ns, q, got, next, want)
			}
		}
	}
	all, _, _, err := st.listPage(cmResource, "", listQuery{})
	if err != nil || len(all) != len(namespaces) {
		t.Fatalf("all namespaces: %v, %v", itemSummary(all), err)
	}
	// A continue key from elsewhere never reaches outside the range.
	for _, after := range []string{
		storageKey(cmResource, "a-b", "x"), storageKey(cmResource, "ab", "x"), storageKey(podResource, "a", "x"), "", "/", "\xff",
	} {
		items, _, _, err := st.listPage(cmResource, "a", listQuery{after: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range items {
			if obj.metaString("namespace") != "a" || obj["kind"] == "Pod" {
				t.Errorf("after %q: listed %v", after, obj)
			}
		}
	}
}

func TestSQLishValuesRoundTrip(t *testing.T) {
	st := newStore()
	names := []string{
		`100%`, `%`, `_`, `a_b`, `it's`, `"quoted"`, `x'; DROP TABLE current; --`,
		`' OR '1'='1`, `back\slash`, `*`, `?`, `ünï cödé`, "tab\tand\nnewline",
	}
	for _, name := range names {
		if _, err := st.create(cmResource, cmObject("ns", name, map[string]any{"v": name, name: "key " + name})); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
	}
	for _, name := range names {
		got, err := st.get(cmResource, "ns", name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if got.metaString("name") != name || dataV(got) != name || got["data"].(map[string]any)[name] != "key "+name {
			t.Errorf("%q came back as %v", name, got)
		}
		if _, err := st.update(cmResource, "ns", name, setData(name+"'")); err != nil {
			t.Fatalf("update %q: %v", name, err)
		}
	}
	items, _, _, err := st.listPage(cmResource, "ns", listQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(names)
	slices.Sort(want) // byte order, as keys sort
	if got := itemNames(items); !slices.Equal(got, want) {
		t.Errorf("list: %q, want %q", got, want)
	}
	for _, obj := range items {
		if dataV(obj) != obj.metaString("name")+"'" {
			t.Errorf("%q: data after update %v", obj.metaString("name"), obj["data"])
		}
	}
	// Namespaces that look like patterns match nothing.
	for _, ns := range []string{"%", "_s", "n_", "n%", "ns' OR 1=1 --"} {
		if items, _, _, err := st.listPage(cmResource, ns, listQuery{}); err != nil || len(items) != 0 {
			t.Errorf("namespace %q listed %v (%v)", ns, itemNames(items), err)
		}
	}
	for _, name := range names {
		if _, err := st.delete(cmResource, "ns", name, nil); err != nil {
			t.Fatalf("delete %q: %v", name, err)
		}
	}
	var tables int
	if err := st.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('log', 'current', 'meta')`).Scan(&tables); err != nil || tables != 3 {
		t.Fatalf("%d tables left (%v)", tables, err)
	}
	if st.revision() != int64(3*len(names)) {
		t.Errorf("revision %d, want %d", st.revision(), 3*len(names))
	}
}

func TestObjectsInAndDeleteObjects(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "doomed", "a", nil)
	mustCreateCM(t, st, "doomed-too", "b", nil)
	mustCreateCM(t, st, "other", "a", nil)
	if _, err := st.create(podResource, object{"metadata": map[string]any{"namespace": "doomed", "name": "p", "uid": "pod-uid"}}); err != nil {
		t.Fatal(err)
	}
	found := st.objectsIn("doomed")
	want := map[string]string{
		storageKey(cmResource, "doomed", "a"):  "uid-doomed-a",
		storageKey(podResource, "doomed", "p"): "pod-uid",
	}
	if !reflect.DeepEqual(found, want) {
		t.Fatalf("objectsIn: %v, want %v", found, want)
	}
	// a is replaced meanwhile by an object of the same name: it stays.
	mustDeleteCM(t, st, "doomed", "a")
	replacement := cmObject("doomed", "a", nil)
	replacement.metadata()["uid"] = "new-uid"
	if _, err := st.create(cmResource, replacement); err != nil {
		t.Fatal(err)
	}
	before := st.revision()
	st.deleteObjects(found)
	if st.revision() != before+1 {
		t.Errorf("deleteObjects wrote %d revisions, want 1", st.revision()-before)
	}
	if _, err := st.get(podResource, "doomed", "p"); err == nil {
		t.Error("the pod survived")
	}
	if got, err := st.get(cmResource, "doomed", "a"); err != nil || got.metaString("uid") != "new-uid" {
		t.Errorf("the replacement: %v, %v", got, err)
	}
	for _, ns := range []string{"doomed-too", "other"} {
		if items, _, _, _ := st.listPage(cmResource, ns, listQuery{}); len(items) != 1 {
			t.Errorf("namespace %s lost objects: %v", ns, itemSummary(items))
		}
	}
}
