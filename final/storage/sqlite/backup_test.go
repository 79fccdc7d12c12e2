package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
)

// A backup taken while writes go on is a snapshot at one revision: every
// key it has was written at or before that revision, every write
// acknowledged before it started is in it, and history and the compacted
// revision come along. Restore refuses while the database is open, and
// puts the backup in place when it is not.
func TestBackupWhileWritingAndRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	file := filepath.Join(dir, "state.db")
	s := open(t, file)
	first, _ := s.Create(ctx, "/first", []byte("1"))
	if _, err := s.Update(ctx, "/first", []byte("2"), first.ModRevision); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, first.ModRevision); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Revision(ctx)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Create(ctx, fmt.Sprintf("/w%d-%d", w, i), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	backup := filepath.Join(dir, "backup.db")
	rev, err := sqlite.Backup(ctx, file, backup)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if rev < before {
		t.Fatalf("backup at %d, before it the store was at %d", rev, before)
	}
	if _, err := os.Stat(backup + "-wal"); err == nil {
		t.Error("the backup has a -wal beside it")
	}

	// A backup never overwrites the database's own files.
	for _, to := range []string{file, file + "-wal"} {
		if _, err := sqlite.Backup(ctx, file, to); err == nil || !strings.Contains(err.Error(), "is the database's own file") {
			t.Errorf("a backup to %s: %v", filepath.Base(to), err)
		}
	}

	// Restore refuses to replace a database a store has open.
	if _, err := sqlite.Restore(ctx, backup, file); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore beside an open store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := sqlite.Restore(ctx, backup, file); err != nil || got != rev {
		t.Fatalf("restore: %d, %v; want %d", got, err, rev)
	}
	if _, err := os.Stat(file + ".old"); err != nil {
		t.Errorf("the replaced database was not kept: %v", err)
	}
	s = open(t, file)
	if now, _ := s.Revision(ctx); now != rev {
		t.Errorf("restored at %d, the backup was at %d", now, rev)
	}
	kvs, _, _, err := s.List(ctx, "/", "", 0, rev)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if kv.ModRevision > rev {
			t.Errorf("%s at %d, after the backup's revision %d", kv.Key, kv.ModRevision, rev)
		}
	}
	if len(kvs) < 1 || kvs[0].Key != "/first" || string(kvs[0].Value) != "2" {
		t.Errorf("restored %d keys, first %+v", len(kvs), kvs[0])
	}
	// History at and after the compacted revision is there; before it, not.
	if old, _, _, err := s.List(ctx, "/first", "", 0, first.ModRevision); err != nil || string(old[0].Value) != "1" {
		t.Errorf("/first at %d: %v %v", first.ModRevision, old, err)
	}
	if _, _, _, err := s.List(ctx, "/first", "", 0, first.ModRevision-1); err == nil {
		t.Error("a read below the compacted revision worked")
	}
}

// What is not a backup of this store is refused, and the database stays.
func TestRestoreRefusesWhatIsNotABackup(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	file := filepath.Join(dir, "state.db")
	s := open(t, file)
	if _, err := s.Create(ctx, "/kept", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite3", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE log (revision INTEGER PRIMARY KEY, key TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A store whose live key lost its log row, where its value is.
	orphan := filepath.Join(dir, "orphan.db")
	o := open(t, orphan)
	if _, err := o.Create(ctx, "/lost", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Create(ctx, "/later", []byte("2")); err != nil { // the last row, the revision, stays
		t.Fatal(err)
	}
	o.Close()
	if db, err = sql.Open("sqlite3", orphan); err == nil {
		_, err = db.Exec(`DELETE FROM log WHERE key = '/lost'`)
		db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, want string }{
		{garbage, "file is not a database"},
		{other, "table"},
		{orphan, "no row in the log"},
		{filepath.Join(dir, "missing"), "no such file"},
		{file, "in use"}, // while open: the lock is taken first
	} {
		if tc.from == file {
			s = open(t, file)
		}
		_, err := sqlite.Restore(ctx, tc.from, file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.from), err, tc.want)
		}
	}
	s.Close()
	s = open(t, file)
	if kv, err := s.Get(ctx, "/kept"); err != nil || string(kv.Value) != "1" {
		t.Errorf("after refused restores: %+v %v", kv, err)
	}
}
