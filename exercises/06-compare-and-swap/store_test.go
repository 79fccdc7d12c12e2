package compareandswap

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Helpers that stop the test on an unexpected error.

func mustCreate(t *testing.T, s *Store, key, value string) KeyValue {
	t.Helper()
	kv, err := s.Create(key, value)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return kv
}

func mustDelete(t *testing.T, s *Store, key string) {
	t.Helper()
	if _, err := s.Delete(key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s *Store, key string) KeyValue {
	t.Helper()
	kv, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv
}

// set is an update function that ignores the current value.
func set(value string) func(KeyValue) (string, error) {
	return func(KeyValue) (string, error) { return value, nil }
}

func mustUpdate(t *testing.T, s *Store, key string, expected int64, fn func(KeyValue) (string, error)) KeyValue {
	t.Helper()
	kv, err := s.Update(key, expected, fn)
	if err != nil {
		t.Fatalf("Update(%q, %d): %v", key, expected, err)
	}
	return kv
}

// unchanged checks that a refused write left no trace.
func unchanged(t *testing.T, s *Store, rev int64, history int, key string, want KeyValue) {
	t.Helper()
	if got := s.Revision(); got != rev {
		t.Errorf("a refused write moved the revision from %d to %d", rev, got)
	}
	if got := len(s.History()); got != history {
		t.Errorf("a refused write changed the history from %d to %d events", history, got)
	}
	if got := mustGet(t, s, key); got != want {
		t.Errorf("a refused write changed %q: %+v, want %+v", key, got, want)
	}
}

func TestUpdateWritesAtTheNextRevision(t *testing.T) {
	s := New()
	a := mustCreate(t, s, "a", "1")
	mustCreate(t, s, "b", "x")
	if s.Revision() != 2 {
		t.Fatalf("after two creates the store is at revision %d, want 2", s.Revision())
	}

	got := mustUpdate(t, s, "a", 0, func(cur KeyValue) (string, error) {
		if cur != a {
			t.Errorf("fn got %+v, want the stored %+v", cur, a)
		}
		return "2", nil
	})
	want := KeyValue{Key: "a", Value: "2", CreateRevision: 1, ModRevision: 3}
	if got != want {
		t.Errorf("Update returned %+v, want %+v", got, want)
	}
	if s.Revision() != 3 {
		t.Errorf("after an update the store is at revision %d, want 3", s.Revision())
	}
	if kv := mustGet(t, s, "a"); kv != want {
		t.Errorf("Get after Update: %+v, want %+v (the resourceVersion is the revision of the last write)", kv, want)
	}
	if kv := mustGet(t, s, "b"); kv.ModRevision != 2 {
		t.Errorf("updating a moved b's ModRevision to %d", kv.ModRevision)
	}
	history := s.History()
	if last := history[len(history)-1]; last != (Event{Revision: 3, Key: "a", Value: "2", CreateRevision: 1}) {
		t.Errorf("the update's event: %+v", last)
	}
}

func TestEveryWriteIsOneRevision(t *testing.T) {
	s := New()
	var rev int64
	wrote := func(what string, kv KeyValue, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		rev++
		if got := s.Revision(); got != rev {
			t.Fatalf("%s: the store is at revision %d, want %d (one more per write)", what, got, rev)
		}
		if kv.ModRevision != rev {
			t.Fatalf("%s: ModRevision %d, want the write's revision %d", what, kv.ModRevision, rev)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		if got := s.Revision(); got != rev {
			t.Fatalf("%s failed but moved the revision to %d: a refused write uses no revision", what, got)
		}
	}
	for i := 0; i < 5; i++ {
		kv, err := s.Create(fmt.Sprintf("k%d", i), "v")
		wrote("create", kv, err)
	}
	for i := 0; i < 5; i++ {
		kv, err := s.Update("k2", 0, func(cur KeyValue) (string, error) { return cur.Value + "v", nil })
		wrote("update k2", kv, err)
		kv, err = s.Update("k3", mustGet(t, s, "k3").ModRevision, set(fmt.Sprint(i)))
		wrote("update k3 at its resourceVersion", kv, err)
		_, err = s.Update("k4", 1, set("x"))
		refused("update k4 at a stale resourceVersion", err)
		_, err = s.Update("nothing", 0, set("x"))
		refused("update of a missing key", err)
		_, err = s.Create("k1", "again")
		refused("create of an existing key", err)
	}
	_, err := s.Delete("k0")
	if err != nil || s.Revision() != rev+1 {
		t.Fatalf("delete: %v, the store at %d, want %d", err, s.Revision(), rev+1)
	}

	// Every revision from 1 on is in the history exactly once, in order.
	for i, e := range s.History() {
		if e.Revision != int64(i+1) {
			t.Fatalf("history[%d] is revision %d: revisions must be 1, 2, 3, ... with no gap", i, e.Revision)
		}
	}
}

func TestUpdateRefusesAStaleResourceVersion(t *testing.T) {
	s := New()
	first := mustCreate(t, s, "cm", "v1")
	// Two clients read first. The first one writes.
	second := mustUpdate(t, s, "cm", first.ModRevision, set("v2"))
	if second.ModRevision != 2 || second.Value != "v2" {
		t.Fatalf("an update with the current resourceVersion: %+v", second)
	}
	// The second one still holds revision 1.
	rev, history := s.Revision(), len(s.History())
	_, err := s.Update("cm", first.ModRevision, set("v3"))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("an update with a stale resourceVersion: %v, want ErrConflict", err)
	}
	unchanged(t, s, rev, history, "cm", second)

	// A resourceVersion the key has not reached is not current either.
	if _, err := s.Update("cm", 99, set("v3")); !errors.Is(err, ErrConflict) {
		t.Errorf("an update expecting revision 99: %v, want ErrConflict", err)
	}
	unchanged(t, s, rev, history, "cm", second)

	// With the current one, it works; with 0, it always does.
	mustUpdate(t, s, "cm", second.ModRevision, set("v3"))
	if kv := mustUpdate(t, s, "cm", 0, set("v4")); kv.Value != "v4" || kv.ModRevision != 4 {
		t.Errorf("an unconditional update: %+v", kv)
	}
}

func TestUpdateErrors(t *testing.T) {
	s := New()
	kv := mustCreate(t, s, "a", "1")
	rev, history := s.Revision(), len(s.History())

	if _, err := s.Update("missing", 0, set("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing key: %v, want ErrNotFound", err)
	}
	boom := errors.New("admission says no")
	if _, err := s.Update("a", 0, func(KeyValue) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("Update when fn fails: %v, want fn's error", err)
	}
	unchanged(t, s, rev, history, "a", kv)

	mustDelete(t, s, "a")
	if _, err := s.Update("a", 0, set("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a deleted key: %v, want ErrNotFound", err)
	}
	if s.Revision() != rev+1 {
		t.Errorf("the store is at %d, want %d (the delete only)", s.Revision(), rev+1)
	}
}

// updateWithin calls s.Update in another goroutine and gives up after five
// seconds: an Update that holds the store's lock while fn reads or writes
// the store would wait for itself forever.
func updateWithin(t *testing.T, s *Store, key string, expected int64, fn func(KeyValue) (string, error)) (KeyValue, error) {
	t.Helper()
	type result struct {
		kv  KeyValue
		err error
	}
	done := make(chan result, 1)
	go func() {
		kv, err := s.Update(key, expected, fn)
		done <- result{kv, err}
	}()
	select {
	case r := <-done:
		return r.kv, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("Update(%q) did not return within 5s: does it hold the store's lock while it calls fn? fn may read and write the store", key)
		return KeyValue{}, nil
	}
}

// inside reports an error of a write made inside fn, from whatever
// goroutine fn runs in.
func inside(t *testing.T, what string, err error) {
	if err != nil {
		t.Errorf("%s, inside fn: %v", what, err)
	}
}

// Chapter 06's tryUpdate runs admission, which may read the store (RBAC
// checks, quota, webhooks). fn must be called without the store's lock.
func TestUpdateCallsFnWithoutTheLock(t *testing.T) {
	s := New()
	mustCreate(t, s, "a", "1")
	mustCreate(t, s, "b", "2")
	_, err := updateWithin(t, s, "a", 0, func(cur KeyValue) (string, error) {
		b, err := s.Get("b")
		if err != nil {
			return "", err
		}
		return cur.Value + b.Value, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kv := mustGet(t, s, "a"); kv.Value != "12" {
		t.Errorf("a = %q, want 12", kv.Value)
	}
}

// Between Update's read and its write, another client writes the same key.
// fn's first call is the moment: it makes that other write itself.
func TestUpdateRetriesWhenTheKeyChangedMeanwhile(t *testing.T) {
	s := New()
	mustCreate(t, s, "a", "v")
	calls := 0
	got, err := updateWithin(t, s, "a", 0, func(cur KeyValue) (string, error) {
		calls++
		if calls == 1 {
			_, err := s.Update("a", 0, func(inner KeyValue) (string, error) { return inner.Value + "+inner", nil })
			inside(t, "another client's update", err)
		}
		return cur.Value + "+outer", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != "v+inner+outer" {
		t.Errorf("the update wrote %q, want %q: it must start again from the newer value instead of overwriting it", got.Value, "v+inner+outer")
	}
	if calls != 2 {
		t.Errorf("fn was called %d times, want 2: once on the value read first, once on the newer value", calls)
	}
	if got.ModRevision != 3 || s.Revision() != 3 {
		t.Errorf("ModRevision %d, store at %d; want 3 and 3 (create, the other update, this update)", got.ModRevision, s.Revision())
	}
	values := []string{}
	for _, e := range s.History() {
		values = append(values, e.Value)
	}
	if !slices.Equal(values, []string{"v", "v+inner", "v+inner+outer"}) {
		t.Errorf("history values %q", values)
	}
}

func TestUpdateWithAResourceVersionConflictsWhenTheKeyChangedMeanwhile(t *testing.T) {
	s := New()
	created := mustCreate(t, s, "a", "v")
	var theirs KeyValue
	_, err := updateWithin(t, s, "a", created.ModRevision, func(cur KeyValue) (string, error) {
		if theirs.ModRevision == 0 {
			var err error
			theirs, err = s.Update("a", 0, set("theirs"))
			inside(t, "another client's update", err)
		}
		return "mine", nil
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("the key changed after the read and the client expected revision %d: %v, want ErrConflict", created.ModRevision, err)
	}
	unchanged(t, s, 2, 2, "a", theirs)
}

func TestUpdateOfAKeyDeletedMeanwhile(t *testing.T) {
	s := New()
	mustCreate(t, s, "a", "v")
	calls := 0
	_, err := updateWithin(t, s, "a", 0, func(KeyValue) (string, error) {
		calls++
		if calls == 1 {
			_, err := s.Delete("a")
			inside(t, "another client's delete", err)
		}
		return "too late", nil
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("the key was deleted after the read: %v, want ErrNotFound", err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the update brought a deleted key back: %v", err)
	}
	if s.Revision() != 2 {
		t.Errorf("the store is at %d, want 2 (create, delete)", s.Revision())
	}

	// Deleted and created again meanwhile: the new key is a different
	// object, at a newer revision, and the update lands on it.
	mustCreate(t, s, "b", "old")
	calls = 0
	got, err := updateWithin(t, s, "b", 0, func(cur KeyValue) (string, error) {
		calls++
		if calls == 1 {
			_, err := s.Delete("b")
			inside(t, "another client's delete", err)
			_, err = s.Create("b", "new")
			inside(t, "another client's create", err)
		}
		return cur.Value + "!", nil
	})
	if err != nil || got.Value != "new!" || got.CreateRevision != 5 || got.ModRevision != 6 {
		t.Errorf("an update across a delete and a new create: %+v, %v; want new!, created at 5, written at 6", got, err)
	}
}

// Many clients increment one counter at once, without a resourceVersion, as
// "kubectl annotate" does: every increment must land exactly once.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	const clients, each = 16, 25
	s := New()
	mustCreate(t, s, "counter", "0")
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := s.Update("counter", 0, func(cur KeyValue) (string, error) {
					n, err := strconv.Atoi(cur.Value)
					runtime.Gosched() // let the others in between the read and the write
					return strconv.Itoa(n + 1), err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	checkCounter(t, s, clients*each)
}

// The same with a resourceVersion, as "kubectl edit" does: a client that
// gets ErrConflict reads again and retries itself.
func TestConcurrentUpdatesWithResourceVersions(t *testing.T) {
	const clients, each = 8, 20
	s := New()
	mustCreate(t, s, "counter", "0")
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				read, err := s.Get("counter")
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.Atoi(read.Value)
				runtime.Gosched()
				_, err = s.Update("counter", read.ModRevision, set(strconv.Itoa(n+1)))
				switch {
				case errors.Is(err, ErrConflict):
					continue // somebody else was first: read again
				case err != nil:
					t.Error(err)
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	checkCounter(t, s, clients*each)
}

func checkCounter(t *testing.T, s *Store, n int) {
	t.Helper()
	kv := mustGet(t, s, "counter")
	if kv.Value != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d increments: updates were lost", kv.Value, n)
	}
	if kv.ModRevision != int64(n+1) || s.Revision() != int64(n+1) {
		t.Errorf("counter at ModRevision %d, store at %d; want %d (one create and %d updates)", kv.ModRevision, s.Revision(), n+1, n)
	}
	seen := map[int64]bool{}
	for _, e := range s.History() {
		if seen[e.Revision] {
			t.Fatalf("revision %d was used twice", e.Revision)
		}
		seen[e.Revision] = true
	}
	if len(seen) != n+1 {
		t.Errorf("%d events in the history, want %d", len(seen), n+1)
	}
}

// sevenWrites builds the history the compaction tests share:
//
//	1 create a=a1   2 create b=b1   3 update a=a2   4 delete b
//	5 create c=c1   6 update a=a3   7 create b=b2 (again)
func sevenWrites(t *testing.T) *Store {
	t.Helper()
	s := New()
	mustCreate(t, s, "a", "a1")
	mustCreate(t, s, "b", "b1")
	mustUpdate(t, s, "a", 1, set("a2"))
	mustDelete(t, s, "b")
	mustCreate(t, s, "c", "c1")
	mustUpdate(t, s, "a", 3, set("a3"))
	mustCreate(t, s, "b", "b2")
	return s
}

type read struct {
	kv  KeyValue
	err error
}

// errorKind names which of the store's errors err is.
func errorKind(err error) string {
	for _, e := range []error{ErrNotFound, ErrAlreadyExists, ErrConflict, ErrCompacted, ErrFutureRevision} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return "no error"
}

// snapshot reads every key at every revision.
func snapshot(s *Store) map[string][]read {
	out := map[string][]read{}
	for _, key := range []string{"a", "b", "c", "never"} {
		for rev := int64(0); rev <= s.Revision(); rev++ {
			kv, err := s.GetAt(key, rev)
			out[key] = append(out[key], read{kv, err})
		}
	}
	return out
}

func TestGetAtReadsThePast(t *testing.T) {
	s := sevenWrites(t)
	tests := []struct {
		key   string
		rev   int64
		value string // "" for ErrNotFound
		mod   int64
	}{
		{"a", 0, "", 0}, {"a", 1, "a1", 1}, {"a", 2, "a1", 1}, {"a", 3, "a2", 3}, {"a", 5, "a2", 3}, {"a", 6, "a3", 6}, {"a", 7, "a3", 6},
		{"b", 1, "", 0}, {"b", 2, "b1", 2}, {"b", 3, "b1", 2}, {"b", 4, "", 0}, {"b", 6, "", 0}, {"b", 7, "b2", 7},
		{"c", 4, "", 0}, {"c", 5, "c1", 5}, {"c", 7, "c1", 5},
		{"never", 7, "", 0},
	}
	for _, tt := range tests {
		kv, err := s.GetAt(tt.key, tt.rev)
		if tt.value == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("GetAt(%q, %d) = %+v, %v; want ErrNotFound", tt.key, tt.rev, kv, err)
			}
			continue
		}
		if err != nil || kv.Value != tt.value || kv.ModRevision != tt.mod {
			t.Errorf("GetAt(%q, %d) = %+v, %v; want %s at ModRevision %d", tt.key, tt.rev, kv, err, tt.value, tt.mod)
		}
	}
	if kv, _ := s.GetAt("b", 7); kv.CreateRevision != 7 {
		t.Errorf("b created again at 7 has CreateRevision %d", kv.CreateRevision)
	}
	if _, err := s.GetAt("a", 8); !errors.Is(err, ErrFutureRevision) {
		t.Errorf("GetAt beyond the store's revision: %v, want ErrFutureRevision", err)
	}
}

func TestCompactKeepsWhatReadsCanStillSee(t *testing.T) {
	// For each compaction revision, the revisions of the events that must
	// remain: of the writes below it, each key's newest unless it is a
	// delete; every write at or after it.
	tests := []struct {
		rev  int64
		kept []int64
	}{
		{0, []int64{1, 2, 3, 4, 5, 6, 7}},
		{1, []int64{1, 2, 3, 4, 5, 6, 7}},
		{2, []int64{1, 2, 3, 4, 5, 6, 7}},
		{3, []int64{1, 2, 3, 4, 5, 6, 7}},
		{4, []int64{2, 3, 4, 5, 6, 7}}, // a1 is hidden by a2; b's delete at 4 stays, and so must b1 below it
		{5, []int64{3, 5, 6, 7}},       // b was deleted before 5: b1 and its tombstone go
		{6, []int64{3, 5, 6, 7}},
		{7, []int64{5, 6, 7}}, // a2 is hidden by a3
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("at %d", tt.rev), func(t *testing.T) {
			s := sevenWrites(t)
			before := snapshot(s)
			current := map[string]KeyValue{"a": mustGet(t, s, "a"), "b": mustGet(t, s, "b"), "c": mustGet(t, s, "c")}

			if err := s.Compact(tt.rev); err != nil {
				t.Fatalf("Compact(%d): %v", tt.rev, err)
			}
			var kept []int64
			for _, e := range s.History() {
				kept = append(kept, e.Revision)
			}
			if !slices.Equal(kept, tt.kept) {
				t.Errorf("after Compact(%d) the history holds revisions %v, want %v", tt.rev, kept, tt.kept)
			}
			if s.CompactedRevision() != tt.rev {
				t.Errorf("CompactedRevision() = %d, want %d", s.CompactedRevision(), tt.rev)
			}
			for key, reads := range before {
				for rev, want := range reads {
					kv, err := s.GetAt(key, int64(rev))
					if int64(rev) < tt.rev {
						if !errors.Is(err, ErrCompacted) {
							t.Errorf("GetAt(%q, %d) after Compact(%d) = %+v, %v; want ErrCompacted", key, rev, tt.rev, kv, err)
						}
						continue
					}
					if kv != want.kv || errorKind(err) != errorKind(want.err) {
						t.Errorf("GetAt(%q, %d) after Compact(%d) = %+v, %v; before it was %+v, %v", key, rev, tt.rev, kv, err, want.kv, want.err)
					}
				}
			}
			// The present is untouched, and compaction is not a write.
			for key, want := range current {
				if got := mustGet(t, s, key); got != want {
					t.Errorf("Get(%q) after compaction = %+v, want %+v", key, got, want)
				}
			}
			if s.Revision() != 7 {
				t.Errorf("compaction moved the revision to %d", s.Revision())
			}
		})
	}
}

func TestCompactStepByStep(t *testing.T) {
	s := sevenWrites(t)
	for _, rev := range []int64{4, 6, 7} {
		if err := s.Compact(rev); err != nil {
			t.Fatalf("Compact(%d): %v", rev, err)
		}
	}
	var kept []int64
	for _, e := range s.History() {
		kept = append(kept, e.Revision)
	}
	if !slices.Equal(kept, []int64{5, 6, 7}) {
		t.Errorf("after Compact(4), (6), (7): revisions %v, want [5 6 7]", kept)
	}

	// Compacting again below or at the compacted revision changes nothing.
	for _, rev := range []int64{0, 3, 7} {
		if err := s.Compact(rev); err != nil {
			t.Errorf("Compact(%d) after Compact(7): %v, want nil", rev, err)
		}
		if s.CompactedRevision() != 7 {
			t.Errorf("Compact(%d) moved the compacted revision back to %d", rev, s.CompactedRevision())
		}
	}
	if _, err := s.GetAt("a", 6); !errors.Is(err, ErrCompacted) {
		t.Errorf("GetAt(a, 6) after Compact(7): %v, want ErrCompacted", err)
	}

	// Beyond the store's revision: refused, and nothing changes.
	if err := s.Compact(8); !errors.Is(err, ErrFutureRevision) {
		t.Errorf("Compact(8) with the store at 7: %v, want ErrFutureRevision", err)
	}
	if s.CompactedRevision() != 7 || len(s.History()) != 3 {
		t.Errorf("a refused compaction changed the store: compacted %d, %d events", s.CompactedRevision(), len(s.History()))
	}

	// Life goes on: writes get the next revisions, and can be compacted too.
	mustUpdate(t, s, "c", 5, set("c2"))
	mustDelete(t, s, "b")
	if s.Revision() != 9 {
		t.Fatalf("after two more writes the store is at %d, want 9", s.Revision())
	}
	if err := s.Compact(9); err != nil {
		t.Fatal(err)
	}
	var events []Event
	events = append(events, s.History()...)
	want := []Event{
		{Revision: 6, Key: "a", Value: "a3", CreateRevision: 1},
		{Revision: 7, Key: "b", Value: "b2", CreateRevision: 7}, // b's newest below 9: a read at 9 needs the tombstone above it
		{Revision: 8, Key: "c", Value: "c2", CreateRevision: 5},
		{Revision: 9, Key: "b", Value: "b2", CreateRevision: 7, Deleted: true},
	}
	if !slices.Equal(events, want) {
		t.Errorf("after Compact(9):\n got %+v\nwant %+v", events, want)
	}
	if _, err := s.GetAt("b", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetAt(b, 9), deleted at 9: %v, want ErrNotFound", err)
	}
	if kv, err := s.GetAt("a", 9); err != nil || kv.Value != "a3" || kv.ModRevision != 6 {
		t.Errorf("GetAt(a, 9) = %+v, %v; want a3 written at 6", kv, err)
	}
}
