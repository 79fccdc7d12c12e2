// The store: etcd's data model on SQLite. One key space
// (/registry/<group>/<resource>/<namespace>/<name>), one cluster-wide
// revision that every write increases by one, and two tables:
//
//   - log: every write ever made (until compaction), one row per revision:
//     the key, its value, the key's create revision, and whether it was a
//     delete. It serves reads in the past (a paginated list keeps reading at
//     its first page's revision) and, in chapter 07, watches.
//   - current: the latest value of each live key, and the revision that last
//     wrote it (mod_revision). Current-state reads never scan the log.
//
// Both change in one transaction. An object's resourceVersion is its
// mod_revision, stamped on read; an update is a compare-and-swap on it.
// Each commit also hands its event to the watchers (watch.go), in revision
// order. All SQL is in this file.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver (cgo)
)

const schema = `
CREATE TABLE IF NOT EXISTS log (
	revision        INTEGER PRIMARY KEY,
	key             TEXT    NOT NULL,
	create_revision INTEGER NOT NULL,
	deleted         INTEGER NOT NULL DEFAULT 0,
	value           BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS current (
	key             TEXT    PRIMARY KEY,
	create_revision INTEGER NOT NULL,
	mod_revision    INTEGER NOT NULL,
	value           BLOB    NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
`

type store struct {
	db   *sql.DB
	lock *os.File // held for the store's lifetime: one server per database
	// SQLite allows one writer at a time; writers take turns here rather
	// than fail with SQLITE_BUSY. rev is the revision of the last commit.
	writeMu  sync.Mutex
	rev      int64
	watchers *hub // live events go here, from inside the write lock
}

// openStore opens (or creates) the database. WAL lets readers work while a
// writer commits; synchronous=FULL makes every commit reach the disk
// (fsync) before the client is told, so an acknowledged write survives a
// crash of the process and of the machine.
func openStore(file string) (*store, error) {
	// One server per database: a second one would hand out the same
	// revisions. The lock goes when the process does, however it ends.
	lock, err := os.OpenFile(file+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock of %s: %w", file, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%s is in use by another server: %w", file, err)
	}
	db, err := sql.Open("sqlite3", "file:"+file+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", file, err)
	}
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("creating the schema in %s: %w", file, err)
	}
	s := &store{db: db, lock: lock, watchers: newHub()}
	if err := db.QueryRow(`SELECT value FROM meta WHERE name = 'revision'`).Scan(&s.rev); err != nil {
		return nil, fmt.Errorf("reading the revision: %w", err)
	}
	return s, nil
}

// close releases the database and its lock.
func (s *store) close() error {
	err := s.db.Close()
	s.lock.Close() // closing the file releases the flock
	return err
}

// storageKey is where an object lives. path.Join drops the empty group of the
// core API and the empty namespace of cluster-scoped objects.
func storageKey(res *resource, namespace, name string) string {
	return path.Join("/registry", res.group, res.name, namespace, name)
}

// prefixRange is [start, end) of the keys below a prefix ending in "/": the
// end replaces that "/" by the next byte, "0". No LIKE, so no escaping.
func prefixRange(prefix string) (string, string) {
	return prefix, prefix[:len(prefix)-1] + "0"
}

// decodeStored turns a stored value into an object stamped with its revision.
func decodeStored(value []byte, modRevision int64) (object, error) {
	obj, err := decodeObject(value)
	if err != nil {
		return nil, fmt.Errorf("decoding a stored object: %w", err)
	}
	obj.metadata()["resourceVersion"] = strconv.FormatInt(modRevision, 10)
	return obj, nil
}

// encodeStored drops the resourceVersion: the revision is the truth.
func encodeStored(obj object) []byte {
	copied := object{}
	for k, v := range obj {
		copied[k] = v
	}
	meta := map[string]any{}
	for k, v := range obj.metadata() {
		if k != "resourceVersion" {
			meta[k] = v
		}
	}
	copied["metadata"] = meta
	return mustMarshal(copied)
}

// write runs fn in a write transaction at the next revision, commits, and
// publishes the event fn describes. Publishing under the lock keeps events
// in revision order.
func (s *store) write(fn func(tx *sql.Tx, rev int64) (*watchEvent, error)) (int64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// A write is not cut short by a client going away: once it starts, it
	// commits or rolls back whole.
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return 0, fmt.Errorf("beginning a write: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	rev := s.rev + 1
	event, err := fn(tx, rev)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`UPDATE meta SET value = ? WHERE name = 'revision'`, rev); err != nil {
		return 0, fmt.Errorf("advancing the revision: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing revision %d: %w", rev, err)
	}
	s.rev = rev
	if event != nil {
		event.revision = rev
		s.watchers.publish(*event)
	}
	return rev, nil
}

var errRetry = errors.New("the object changed meanwhile")

func (s *store) create(res *resource, obj object) (object, error) {
	k := storageKey(res, obj.metaString("namespace"), obj.metaString("name"))
	value := encodeStored(obj)
	var created object
	_, err := s.write(func(tx *sql.Tx, rev int64) (*watchEvent, error) {
		result, err := tx.Exec(`INSERT INTO current (key, create_revision, mod_revision, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO NOTHING`, k, rev, rev, value)
		if err != nil {
			return nil, fmt.Errorf("creating %s: %w", k, err)
		}
		if n, _ := result.RowsAffected(); n == 0 {
			return nil, errAlreadyExists(res, obj.metaString("name"))
		}
		if _, err = tx.Exec(`INSERT INTO log (revision, key, create_revision, value) VALUES (?, ?, ?, ?)`, rev, k, rev, value); err != nil {
			return nil, err
		}
		if created, err = decodeStored(value, rev); err != nil {
			return nil, err
		}
		return &watchEvent{key: k, eventType: "ADDED", object: created}, nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

func (s *store) get(res *resource, namespace, name string) (object, error) {
	var value []byte
	var modRevision int64
	err := s.db.QueryRow(`SELECT value, mod_revision FROM current WHERE key = ?`, storageKey(res, namespace, name)).Scan(&value, &modRevision)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound(res, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", namespace, name, err)
	}
	return decodeStored(value, modRevision)
}

// list returns every object of a resource in a namespace ("" for all), as of
// now, and the revision it was read at.
func (s *store) list(res *resource, namespace string) ([]object, string) {
	items, rev, _, err := s.listPage(res, namespace, listQuery{})
	if err != nil {
		return nil, strconv.FormatInt(s.revision(), 10)
	}
	return items, strconv.FormatInt(rev, 10)
}

// listQuery is one page of a list: after a key, at a revision (0: now), at
// most limit matching items (0: all).
type listQuery struct {
	after    string
	revision int64
	limit    int
	match    func(object) bool
}

// listPage reads a page in one read transaction, so the items and the
// revision agree. At a past revision it reads the log: for each key, its
// last write at or before that revision, if that write was not a delete.
// It returns the key to continue after, or "" at the end.
func (s *store) listPage(res *resource, namespace string, q listQuery) ([]object, int64, string, error) {
	start, end := prefixRange(storageKey(res, namespace, "") + "/")
	tx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, "", fmt.Errorf("beginning a read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var now, compacted int64
	if err := tx.QueryRow(`SELECT (SELECT value FROM meta WHERE name = 'revision'), (SELECT value FROM meta WHERE name = 'compacted')`).Scan(&now, &compacted); err != nil {
		return nil, 0, "", fmt.Errorf("reading the revision: %w", err)
	}
	rev := q.revision
	switch {
	case rev == 0:
		rev = now
	case rev < compacted:
		return nil, 0, "", errExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, compacted))
	case rev > now:
		return nil, 0, "", errTooLargeResourceVersion(rev, now)
	}
	// start is never a key (path.Join drops a trailing "/"), so after start
	// is the whole range. Not after start without its "/": namespace a-b's
	// keys sort between that and end, and a list of a would show them.
	after := q.after
	if after < start {
		after = start
	}
	// The live keys of the range after a key: from current when reading now,
	// from the log when reading in the past.
	page := func(after string, n int) (*sql.Rows, error) {
		if rev == now {
			return tx.Query(`SELECT key, value, mod_revision FROM current
				WHERE key > ? AND key < ? ORDER BY key LIMIT ?`, after, end, n)
		}
		return tx.Query(`SELECT l.key, l.value, l.revision FROM log l
			WHERE l.key > ? AND l.key < ? AND l.revision <= ? AND l.deleted = 0
			  AND l.revision = (SELECT MAX(revision) FROM log WHERE key = l.key AND revision <= ?)
			ORDER BY l.key LIMIT ?`, after, end, rev, rev, n)
	}
	items := []object{}
	for {
		// Read in batches until the page is full of matching items.
		batch := 500
		if q.limit > 0 && q.limit-len(items) < batch {
			batch = q.limit - len(items)
		}
		rows, err := page(after, batch)
		if err != nil {
			return nil, 0, "", fmt.Errorf("listing %s: %w", start, err)
		}
		read := 0
		for rows.Next() {
			var key string
			var value []byte
			var modRevision int64
			if err := rows.Scan(&key, &value, &modRevision); err != nil {
				rows.Close()
				return nil, 0, "", err
			}
			read++
			after = key
			obj, err := decodeStored(value, modRevision)
			if err != nil {
				rows.Close()
				return nil, 0, "", err
			}
			if q.match == nil || q.match(obj) {
				items = append(items, obj)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, "", err
		}
		if read < batch { // the range is exhausted
			return items, rev, "", nil
		}
		if q.limit > 0 && len(items) >= q.limit {
			rows, err := page(after, 1) // is there more?
			if err != nil {
				return nil, 0, "", err
			}
			more := rows.Next()
			rows.Close()
			if !more {
				after = ""
			}
			return items, rev, after, nil
		}
	}
}

// update is Kubernetes' GuaranteedUpdate: read the object, let tryUpdate
// compute the new one, and write it only if nobody wrote meanwhile (a
// compare-and-swap on mod_revision); otherwise try again on the newer
// object. If the new object carries a resourceVersion, it must be the
// current one: that is how a client says "only if nothing changed" (409).
func (s *store) update(res *resource, namespace, name string, tryUpdate func(current object) (object, error)) (object, error) {
	k := storageKey(res, namespace, name)
	for {
		current, err := s.get(res, namespace, name)
		if err != nil {
			return nil, err
		}
		currentRV := current.metaString("resourceVersion")
		modRevision, _ := strconv.ParseInt(currentRV, 10, 64)
		obj, err := tryUpdate(current)
		if err != nil {
			return nil, err
		}
		if rv := obj.metaString("resourceVersion"); rv != "" && rv != currentRV {
			return nil, errConflict(res, name)
		}
		meta := obj.metadata()
		meta["uid"] = current.metaString("uid")
		meta["creationTimestamp"] = current.metaString("creationTimestamp")
		value := encodeStored(obj)
		var updated object
		_, err = s.write(func(tx *sql.Tx, rev int64) (*watchEvent, error) {
			result, err := tx.Exec(`UPDATE current SET mod_revision = ?, value = ? WHERE key = ? AND mod_revision = ?`, rev, value, k, modRevision)
			if err != nil {
				return nil, fmt.Errorf("updating %s: %w", k, err)
			}
			if n, _ := result.RowsAffected(); n == 0 {
				return nil, errRetry
			}
			if _, err = tx.Exec(`INSERT INTO log (revision, key, create_revision, value)
				SELECT ?, key, create_revision, value FROM current WHERE key = ?`, rev, k); err != nil {
				return nil, err
			}
			if updated, err = decodeStored(value, rev); err != nil {
				return nil, err
			}
			return &watchEvent{key: k, eventType: "MODIFIED", object: updated, prev: current}, nil
		})
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return updated, nil
	}
}

// delete removes an object if check (the client's preconditions) accepts the
// current one. The log keeps the deleted value, for watchers (chapter 07).
func (s *store) delete(res *resource, namespace, name string, check func(current object) error) (object, error) {
	k := storageKey(res, namespace, name)
	for {
		current, err := s.get(res, namespace, name)
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(current); err != nil {
				return nil, err
			}
		}
		modRevision, _ := strconv.ParseInt(current.metaString("resourceVersion"), 10, 64)
		_, err = s.write(func(tx *sql.Tx, rev int64) (*watchEvent, error) {
			return deletedEvent(k, current), deleteRow(tx, rev, k, modRevision)
		})
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return current, nil
	}
}

// revision is the revision of the last write: the resourceVersion of a list
// read now.
func (s *store) revision() int64 {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.rev
}

// compact forgets history before revision: reads and watches older than it
// answer 410 Gone afterwards. For each key it keeps the last write before
// the revision (unless it was a delete), so reads at the revision still work.
func (s *store) compact(revision int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if revision > s.rev {
		return errBadRequest("cannot compact to revision %d: the store is at %d", revision, s.rev)
	}
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.Exec(`DELETE FROM log WHERE revision < ?1 AND (deleted = 1 OR revision <
		(SELECT MAX(l.revision) FROM log l WHERE l.key = log.key AND l.revision < ?1))`, revision); err != nil {
		return fmt.Errorf("compacting to %d: %w", revision, err)
	}
	if _, err := tx.Exec(`UPDATE meta SET value = MAX(value, ?) WHERE name = 'compacted'`, revision); err != nil {
		return err
	}
	return tx.Commit()
}

// compacted is the revision history starts at.
func (s *store) compacted() int64 {
	var c int64
	_ = s.db.QueryRow(`SELECT value FROM meta WHERE name = 'compacted'`).Scan(&c)
	return c
}

// objectsIn returns the keys and uids of the objects in a namespace.
func (s *store) objectsIn(namespace string) map[string]string {
	return s.uids(func(ns string) bool { return ns == namespace }, `SELECT key, value FROM current`)
}

// objectsUnder returns the keys and uids of the objects below a key prefix
// ending in "/": all the objects of one resource.
func (s *store) objectsUnder(prefix string) map[string]string {
	start, end := prefixRange(prefix)
	return s.uids(func(string) bool { return true }, `SELECT key, value FROM current WHERE key >= ? AND key < ?`, start, end)
}

// uids runs a query of keys and values and returns the uid of each object
// whose namespace keep accepts.
func (s *store) uids(keep func(namespace string) bool, query string, args ...any) map[string]string {
	found := map[string]string{}
	rows, err := s.db.Query(query, args...)
	if err != nil {
		return found
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var value []byte
		if rows.Scan(&key, &value) != nil {
			continue
		}
		var obj struct {
			Metadata struct{ Namespace, UID string } `json:"metadata"`
		}
		if json.Unmarshal(value, &obj) == nil && keep(obj.Metadata.Namespace) {
			found[key] = obj.Metadata.UID
		}
	}
	return found
}

// deleteObjects removes the objects at these keys that still have these uids.
func (s *store) deleteObjects(uids map[string]string) {
	for k, uid := range uids {
		var value []byte
		var modRevision int64
		if s.db.QueryRow(`SELECT value, mod_revision FROM current WHERE key = ?`, k).Scan(&value, &modRevision) != nil {
			continue
		}
		var obj struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		if json.Unmarshal(value, &obj) != nil || obj.Metadata.UID != uid {
			continue
		}
		last, err := decodeStored(value, modRevision)
		if err != nil {
			continue
		}
		// Changed meanwhile (errRetry): it stays.
		_, _ = s.write(func(tx *sql.Tx, rev int64) (*watchEvent, error) {
			return deletedEvent(k, last), deleteRow(tx, rev, k, modRevision)
		})
	}
}

// deletedEvent is the event of a delete: the object as it last was.
func deletedEvent(key string, last object) *watchEvent {
	return &watchEvent{key: key, eventType: "DELETED", object: last, prev: last}
}

// deleteRow removes a key still at modRevision, logging the deleted value
// (watchers of chapter 07 receive it); errRetry if it changed meanwhile.
func deleteRow(tx *sql.Tx, rev int64, key string, modRevision int64) error {
	result, err := tx.Exec(`DELETE FROM current WHERE key = ? AND mod_revision = ?`, key, modRevision)
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	if n, _ := result.RowsAffected(); n == 0 {
		return errRetry
	}
	_, err = tx.Exec(`INSERT INTO log (revision, key, create_revision, deleted, value)
		SELECT ?, key, create_revision, 1, value FROM log WHERE key = ? AND revision = ?`, rev, key, modRevision)
	return err
}

func errConflict(res *resource, name string) error {
	return &statusError{http.StatusConflict, "Conflict",
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", res.qualifiedName(), name),
		map[string]any{"name": name, "group": res.group, "kind": res.name}}
}

func errExpired(message string) error {
	return &statusError{http.StatusGone, "Expired", message, nil}
}

func errTooLargeResourceVersion(requested, current int64) error {
	return &statusError{http.StatusGatewayTimeout, "Timeout",
		fmt.Sprintf("Too large resource version: %d, current: %d", requested, current),
		map[string]any{"causes": []cause{{"ResourceVersionTooLarge", "Too large resource version", ""}}, "retryAfterSeconds": 1}}
}
