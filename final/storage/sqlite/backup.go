// Backup and restore. A file copy of a database in WAL mode is not a backup:
// the newest commits are in the -wal file, and a checkpoint may be rewriting
// pages while the copy reads them. Backup uses SQLite's online backup API
// instead: one read transaction, so a consistent snapshot at one revision,
// taken while the server goes on writing (a WAL reader never blocks the
// writer). It needs no lock: it only reads. Restore replaces the database,
// so it takes the lock a running server holds, and refuses to run beside one.
// This is etcdctl snapshot save and etcdutl snapshot restore, for SQLite.

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// Backup copies the database in file to a new file to, and returns the
// revision it holds. The copy is one self-contained file (journal mode
// DELETE, no -wal beside it), checked before it takes its name: a failed
// backup leaves no file at to.
func Backup(ctx context.Context, file, to string) (revision int64, err error) {
	if _, err := os.Stat(file); err != nil { // never create an empty database to back up
		return 0, fmt.Errorf("backing up: %w", err)
	}
	for _, live := range []string{file, file + "-wal", file + "-shm", file + ".lock"} {
		if info, err := os.Stat(live); err == nil && sameFile(info, to) {
			return 0, fmt.Errorf("backing up: %s is the database's own file %s", to, live)
		}
	}
	// Read-only: the server's lock is not taken, and nothing is written to
	// the live database (SQLite still joins its -shm, as every reader must).
	src, err := sql.Open("sqlite3", fileURI(file)+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", file, err)
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), filepath.Base(to)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("backing up: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	dst, err := sql.Open("sqlite3", fileURI(tmp.Name()))
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", tmp.Name(), err)
	}
	defer dst.Close()
	if err := copyDatabase(ctx, dst, src); err != nil {
		return 0, fmt.Errorf("backing up %s: %w", file, err)
	}
	// The copy says "WAL" in its header, as its source did: make it one
	// file that any sqlite3 opens as it is.
	if _, err := dst.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return 0, fmt.Errorf("backing up %s: %w", file, err)
	}
	if revision, err = check(ctx, dst); err != nil {
		return 0, fmt.Errorf("the backup of %s: %w", file, err)
	}
	if err := dst.Close(); err != nil {
		return 0, fmt.Errorf("backing up %s: %w", file, err)
	}
	if err := syncFile(tmp.Name()); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return 0, fmt.Errorf("backing up: %w", err)
	}
	return revision, syncFile(filepath.Dir(to))
}

// sameFile tells whether name is the file info describes.
func sameFile(info os.FileInfo, name string) bool {
	other, err := os.Stat(name)
	return err == nil && os.SameFile(info, other)
}

// copyDatabase runs the backup API in one step: the whole database inside
// one read transaction of src. (Steps of a few pages would let writes in
// between, and SQLite would start the copy over after each.)
func copyDatabase(ctx context.Context, dst, src *sql.DB) error {
	srcConn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	defer srcConn.Close()
	dstConn, err := dst.Conn(ctx)
	if err != nil {
		return err
	}
	defer dstConn.Close()
	return dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(s any) error {
			backup, err := d.(*sqlite3.SQLiteConn).Backup("main", s.(*sqlite3.SQLiteConn), "main")
			if err != nil {
				return err
			}
			done, err := backup.Step(-1)
			if finishErr := backup.Finish(); err == nil {
				err = finishErr
			}
			if err == nil && !done {
				err = errors.New("the database was busy; try again")
			}
			return err
		})
	})
}

// Restore puts the backup in from in place as the database in file, and
// returns its revision. It holds file's lock throughout, so it fails while
// a server has the database open, and no server opens it half restored.
// The backup is copied beside file and checked there (integrity, schema,
// revisions) before anything is replaced. The database it replaces is kept
// as file.old, with its WAL as file.old-wal: the live name must have no -wal
// or -shm left over, or SQLite would replay the old database's WAL onto the
// restored one.
func Restore(ctx context.Context, from, file string) (revision int64, err error) {
	lock, err := lockFile(file)
	if err != nil {
		return 0, fmt.Errorf("restoring needs the server stopped: %w", err)
	}
	defer lock.Close()
	tmp := file + ".restoring"
	defer os.Remove(tmp) // after the rename, there is nothing to remove
	if err := copyFile(from, tmp); err != nil {
		return 0, fmt.Errorf("restoring %s: %w", from, err)
	}
	if revision, err = checkFile(ctx, tmp); err != nil {
		return 0, fmt.Errorf("%s is not a backup of this server: %w", from, err)
	}
	if err := syncFile(tmp); err != nil {
		return 0, err
	}
	if err := moveAside(file); err != nil {
		return 0, fmt.Errorf("restoring: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("restoring: %w", err)
	}
	return revision, syncFile(filepath.Dir(file))
}

// checkFile opens a copied backup and checks it. It also leaves it in
// journal mode DELETE, whatever mode the backup was taken in, so nothing
// but the one file holds its data when it is renamed.
func checkFile(ctx context.Context, file string) (int64, error) {
	db, err := sql.Open("sqlite3", fileURI(file))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return 0, err
	}
	rev, err := check(ctx, db)
	if err != nil {
		return 0, err
	}
	return rev, db.Close()
}

// tables are the columns of each table, as schema creates them.
var tables = map[string][]string{
	"log":     {"revision", "key", "create_revision", "deleted", "value"},
	"current": {"key", "create_revision", "mod_revision"},
	"meta":    {"name", "value"},
}

// valuesInCurrent are current's columns before it became an index of the
// log; Open upgrades such a database.
var valuesInCurrent = []string{"key", "create_revision", "mod_revision", "value"}

// check runs SQLite's integrity check, compares the tables with schema,
// and reads the revision; no row may be newer than it.
func check(ctx context.Context, db *sql.DB) (revision int64, err error) {
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if result != "ok" {
		return 0, fmt.Errorf("integrity check: %s", result)
	}
	oldLayout := false // Open upgrades it, orphans included
	for table, want := range tables {
		rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
		if err != nil {
			return 0, err
		}
		var columns []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return 0, err
			}
			columns = append(columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if table == "current" && slices.Equal(columns, valuesInCurrent) {
			oldLayout = true
		} else if !slices.Equal(columns, want) {
			return 0, fmt.Errorf("table %s has columns (%s), want (%s)", table, strings.Join(columns, ", "), strings.Join(want, ", "))
		}
	}
	var compacted, newest int64
	err = db.QueryRowContext(ctx, `SELECT
		(SELECT `+lastRevision+`),
		(SELECT value FROM meta WHERE name = 'compacted'),
		(SELECT COALESCE(MAX(mod_revision), 0) FROM current)`).
		Scan(&revision, &compacted, &newest)
	if err != nil {
		return 0, fmt.Errorf("reading the revisions: %w", err)
	}
	if revision < 1 || compacted > revision || newest > revision {
		return 0, fmt.Errorf("revision %d, compacted %d, newest live key %d: inconsistent", revision, compacted, newest)
	}
	// Each live key's value is the log's row at its mod revision.
	var orphans int64
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM current c
		WHERE NOT EXISTS (SELECT 1 FROM log WHERE revision = c.mod_revision AND key = c.key)`).Scan(&orphans)
	if err != nil {
		return 0, fmt.Errorf("reading the live keys: %w", err)
	}
	if orphans > 0 && !oldLayout {
		return 0, fmt.Errorf("%d live keys have no row in the log at their revision", orphans)
	}
	return revision, nil
}

// moveAside renames the database, with its WAL, to file.old (and
// file.old-wal, the name SQLite looks for beside file.old), after removing
// any earlier file.old. The -shm, an index SQLite rebuilds, goes.
func moveAside(file string) error {
	for _, name := range []string{file + ".old", file + ".old-wal", file + ".old-shm", file + "-shm"} {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// The WAL first: a crash in between leaves the live name without the
	// old WAL, never the restored database with it.
	for _, pair := range [][2]string{{file + "-wal", file + ".old-wal"}, {file, file + ".old"}} {
		if err := os.Rename(pair[0], pair[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile makes a file, or a directory's entries (a rename), durable.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	return nil
}
