package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

func open(t testing.TB, file string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return open(t, filepath.Join(t.TempDir(), "state.db"))
	})
}

// BenchmarkSQLite runs the backend benchmarks on a file in a temporary
// directory: on the machine's disk, so that commits wait for it.
func BenchmarkSQLite(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) storage.Backend {
		return open(b, filepath.Join(b.TempDir(), "state.db"))
	})
}

// What was acknowledged is there after a restart: values, history, the
// revision and the compaction.
func TestReopenKeepsDataAndRevision(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "state.db")
	s := open(t, file)
	a, _ := s.Create(ctx, "/a", []byte("1"))
	b, _ := s.Create(ctx, "/b", []byte("1"))
	a2, _ := s.Update(ctx, "/a", []byte("2"), a.ModRevision)
	s.Delete(ctx, "/b", 0)
	c, err := s.Create(ctx, "/c", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, b.ModRevision); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, file)
	if rev, _ := s.Revision(ctx); rev != c.ModRevision {
		t.Fatalf("revision %d after reopening, want %d", rev, c.ModRevision)
	}
	if got, err := s.Get(ctx, "/a"); err != nil || string(got.Value) != "2" || got.ModRevision != a2.ModRevision {
		t.Fatalf("Get after reopening: %+v, %v", got, err)
	}
	if kvs, _, _, err := s.List(ctx, "/", "", 0, a2.ModRevision); err != nil || len(kvs) != 2 {
		t.Fatalf("List in the past after reopening: %+v, %v", kvs, err)
	}
	if _, _, _, err := s.List(ctx, "/", "", 0, a.ModRevision); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("List below the compaction after reopening: %v, want ErrCompacted", err)
	}
	if d, err := s.Create(ctx, "/d", nil); err != nil || d.ModRevision != c.ModRevision+1 {
		t.Fatalf("first write after reopening: %+v, %v; want revision %d", d, err, c.ModRevision+1)
	}
}

// One process per file: a second store on it would hand out the same
// revisions.
func TestSecondOpenFailsWhileTheFirstIsOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.db")
	first := open(t, file)
	if second, err := sqlite.Open(file); err == nil {
		second.Close()
		t.Fatal("a second Open of the same file succeeded")
	}
	first.Close()
	open(t, file) // the lock went with Close
}

// A watcher that does not read is closed when it is more than WatchBuffer
// events behind. Here the hub gets each event as its write commits, so the
// closing is certain by the time the writes return.
func TestWatcherThatFallsBehindIsClosed(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	w, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The watch's goroutine holds one event, its buffer WatchBuffer more.
	total := storage.WatchBuffer + 2
	for i := range total {
		if _, err := s.Create(ctx, fmt.Sprintf("/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	received := 0
	for range w {
		received++
	}
	if received >= total {
		t.Fatalf("received all %d events: the watcher was not closed", received)
	}
}

// The current table is always the log's latest write of each live key: the
// invariant that lets reads now skip the log. Checked with plain SQL, as a
// reader would with the sqlite3 shell.
func TestCurrentIsTheLogsLatest(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "state.db")
	s := open(t, file)
	for i := range 30 {
		key := fmt.Sprintf("/k/%d", i%7)
		kv, err := s.Get(ctx, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			_, err = s.Create(ctx, key, []byte{byte(i)})
		case i%3 == 0:
			_, err = s.Delete(ctx, key, kv.ModRevision)
		default:
			_, err = s.Update(ctx, key, []byte{byte(i)}, kv.ModRevision)
		}
		if i == 20 {
			rev, _ := s.Revision(ctx)
			err = errors.Join(err, s.Compact(ctx, rev-5))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite3", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	revision, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mismatches, maxLog int64
	err = db.QueryRow(`SELECT
		(SELECT COUNT(*) FROM (
			SELECT key, create_revision, revision FROM log l
			WHERE deleted = 0 AND revision = (SELECT MAX(revision) FROM log WHERE key = l.key)
			EXCEPT SELECT key, create_revision, mod_revision FROM current
			UNION ALL
			SELECT key, create_revision, mod_revision FROM current
			EXCEPT SELECT key, create_revision, revision FROM log l
			WHERE deleted = 0 AND revision = (SELECT MAX(revision) FROM log WHERE key = l.key))),
		(SELECT MAX(revision) FROM log)`).Scan(&mismatches, &maxLog)
	if err != nil {
		t.Fatal(err)
	}
	if mismatches != 0 || revision != maxLog {
		t.Fatalf("%d rows of current disagree with the log; the store's revision %d, the log's last %d", mismatches, revision, maxLog)
	}
}

// Compaction in slices of a few rows ends as compaction in one: each key's
// last write before the revision stays, with everything after it; deletes
// and replaced writes go, and reads below the revision are refused.
func TestCompactionInSlices(t *testing.T) {
	defer func(n int) { *sqlite.CompactRows = n }(*sqlite.CompactRows)
	*sqlite.CompactRows = 3
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "state.db")
	s := open(t, file)
	last := map[string]storage.KeyValue{}
	for _, key := range []string{"/a", "/b", "/c", "/gone"} {
		kv, err := s.Create(ctx, key, []byte("0"))
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			if kv, err = s.Update(ctx, key, []byte(fmt.Sprint(i)), kv.ModRevision); err != nil {
				t.Fatal(err)
			}
		}
		last[key] = kv
	}
	if _, err := s.Delete(ctx, "/gone", 0); err != nil {
		t.Fatal(err)
	}
	after, err := s.Update(ctx, "/a", []byte("after"), last["/a"].ModRevision)
	if err != nil {
		t.Fatal(err)
	}
	at := after.ModRevision // before it: /a's fifth update, and the delete of /gone
	if err := s.Compact(ctx, at); err != nil {
		t.Fatalf("Compact(%d): %v", at, err)
	}

	db, err := sql.Open("sqlite3", file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key, revision FROM log ORDER BY revision`)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var key string
		var rev int64
		if err := rows.Scan(&key, &rev); err != nil {
			t.Fatal(err)
		}
		left = append(left, fmt.Sprintf("%s@%d", key, rev))
	}
	rows.Close()
	want := []string{fmt.Sprintf("/a@%d", last["/a"].ModRevision), fmt.Sprintf("/b@%d", last["/b"].ModRevision),
		fmt.Sprintf("/c@%d", last["/c"].ModRevision), fmt.Sprintf("/a@%d", after.ModRevision)}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("log after compaction: %v, want %v", left, want)
	}
	kvs, _, _, err := s.List(ctx, "/", "", 0, at)
	if err != nil || len(kvs) != 3 || string(kvs[0].Value) != "after" || string(kvs[1].Value) != "5" {
		t.Errorf("list at the compacted revision: %v, %v", kvs, err)
	}
	if _, _, _, err := s.List(ctx, "/", "", 0, at-1); !errors.Is(err, storage.ErrCompacted) {
		t.Errorf("list below the compacted revision: %v, want ErrCompacted", err)
	}
}

// A database from before current became an index of the log (it held the
// values too) is restored as it is and opens upgraded: every live key reads
// as before, a key whose latest row the log had lost included, and writes
// go on from there.
func TestUpgradeMovesValuesOutOfCurrent(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old, file := filepath.Join(dir, "old.db"), filepath.Join(dir, "state.db")
	db, err := sql.Open("sqlite3", "file:"+old)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`
		CREATE TABLE log (revision INTEGER PRIMARY KEY, key TEXT NOT NULL, create_revision INTEGER NOT NULL,
			deleted INTEGER NOT NULL DEFAULT 0, value BLOB NOT NULL);
		CREATE INDEX log_key_revision ON log (key, revision);
		CREATE TABLE current (key TEXT PRIMARY KEY, create_revision INTEGER NOT NULL,
			mod_revision INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
		CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
		INSERT INTO meta VALUES ('revision', 5), ('compacted', 3);
		INSERT INTO log VALUES (2, '/a', 2, 0, 'a1'), (4, '/a', 2, 0, 'a2'), (5, '/c', 5, 0, 'c1');
		INSERT INTO current VALUES ('/a', 2, 4, 'a2'), ('/b', 3, 3, 'b1'), ('/c', 5, 5, 'c1');`)
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if rev, err := sqlite.Restore(ctx, old, file); err != nil || rev != 5 {
		t.Fatalf("restoring the old database: revision %d, %v; want 5", rev, err)
	}
	s := open(t, file)
	kvs, rev, _, err := s.List(ctx, "/", "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range kvs {
		got = append(got, fmt.Sprintf("%s=%s@%d/%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision))
	}
	if want := []string{"/a=a2@2/4", "/b=b1@3/3", "/c=c1@5/5"}; rev != 5 || !slices.Equal(got, want) {
		t.Fatalf("after the upgrade: %v at %d, want %v at 5", got, rev, want)
	}
	kv, err := s.Update(ctx, "/b", []byte("b2"), 3)
	if err != nil || kv.ModRevision != 6 {
		t.Fatalf("update after the upgrade: %+v, %v", kv, err)
	}
	if kv, err = s.Get(ctx, "/b"); err != nil || string(kv.Value) != "b2" {
		t.Fatalf("get after the update: %+v, %v", kv, err)
	}
}

// The revision is the log's last row's, so compaction must leave that row
// even when it is a delete, and the revision must survive a restart: a
// store that went back would hand out a revision twice.
func TestRevisionSurvivesCompactionAndRestart(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := s.Create(ctx, "/a", []byte("1"))
	if err == nil {
		_, err = s.Create(ctx, "/b", []byte("2"))
	}
	if err == nil {
		kv, err = s.Delete(ctx, "/a", kv.ModRevision) // the last write is a delete
	}
	if err == nil {
		err = s.Compact(ctx, kv.ModRevision)
	}
	if err == nil {
		err = s.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s = open(t, file)
	if rev, _ := s.Revision(ctx); rev != kv.ModRevision {
		t.Fatalf("revision after a restart: %d, want %d", rev, kv.ModRevision)
	}
	created, err := s.Create(ctx, "/c", nil)
	if err != nil || created.ModRevision != kv.ModRevision+1 {
		t.Fatalf("the next write: %+v, %v; want revision %d", created, err, kv.ModRevision+1)
	}
}
