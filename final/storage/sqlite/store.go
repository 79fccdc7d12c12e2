// Package sqlite is the embedded storage.Backend: etcd's data model in one
// SQLite file, the store of chapters 06–09 on keys and bytes. One revision
// for the whole key space, increased by one per write, and two tables:
//
//   - log: every write (until compaction), one row per revision: the key,
//     its value, its create revision, and whether it was a delete. It
//     answers reads at a past revision and replays history to watches that
//     resume: what etcd's MVCC store keeps.
//   - current: each live key with its create and mod revisions: an index
//     of the log's latest rows, so that reads now never scan the log (the
//     lesson of kine, the etcd shim of k3s, which answers current-state
//     reads from its log alone and slows down as history grows). The value
//     is in the log's row at the mod revision, which compaction keeps:
//     stored in both tables, each value was written twice. The view live
//     joins the two: each live key with its revisions and value.
//
// Both change in one transaction. The store's revision is the log's last
// row's (1 in a new store, as in a new etcd cluster): compaction never
// removes that row, and, as etcd does when it starts, Open reads the
// revision from there. A counter kept beside it would be one more page
// written by every commit.
//
// Durability is etcd's: WAL lets readers work while a writer commits, and
// synchronous=FULL makes every commit reach the disk before the caller hears
// of it. That wait is most of a write's time, so writes that arrive together
// share it, as etcd's do (group commit): one goroutine commits every write
// waiting at that moment in one transaction. One process per file (an flock
// beside it): a second would hand out the same revisions. Every commit hands
// its events to the watchers (watch.go) in revision order. All SQL is in
// this file, but for backup's checks (backup.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver (cgo)

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
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
	mod_revision    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('compacted', 0);
DELETE FROM meta WHERE name = 'revision'; -- kept there once; the log tells it
`

// lastRevision is the store's revision: the log's last row's, 1 in a new
// store. One step down the log's primary key.
const lastRevision = `COALESCE(MAX(revision), 1) FROM log`

// views are made once the tables are in their present layout (upgrade).
const views = `
CREATE VIEW IF NOT EXISTS live AS
	SELECT c.key, c.create_revision, c.mod_revision, l.value
	FROM current c JOIN log l ON l.revision = c.mod_revision;
`

// Store is a storage.Backend in one SQLite file.
type Store struct {
	db   *sql.DB
	lock *os.File // held while open: one process per database
	// SQLite allows one writer at a time. The committer (see write) holds
	// writeMu while it commits a batch and publishes its events; Compact
	// and a new watcher take it too, rather than fail with SQLITE_BUSY or
	// fall between a commit and its events.
	writeMu sync.Mutex
	rev     atomic.Int64 // the revision of the last commit; written under writeMu
	hub     *hub         // live events go here, from inside writeMu
	commits atomic.Int64 // transactions the committer committed, for tests

	queueMu sync.Mutex
	queue   []*pending    // writes waiting for the committer
	closing bool          // set by Close: no more writes queue
	wake    chan struct{} // a token tells the committer the queue has writes
	stopped chan struct{} // closed when the committer has committed the last

	done      chan struct{} // closed by Close: watches end
	closeOnce sync.Once
	closeErr  error
}

var _ storage.Backend = (*Store)(nil)

// connections is how many connections the store keeps open when idle: the
// committer's and the readers'.
const connections = 16

// Open opens (or creates) the database in file, and holds file+".lock" until
// Close.
func Open(file string) (*Store, error) {
	lock, err := lockFile(file)
	if err != nil {
		return nil, err
	}
	// Every connection keeps its statements prepared (_stmt_cache_size):
	// the same dozen queries run on every request, and parsing and planning
	// them again each time took as long as running them.
	db, err := sql.Open("sqlite3", fileURI(file)+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_stmt_cache_size=32")
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("opening %s: %w", file, err)
	}
	// A pool of readers: WAL lets them read while the committer writes.
	// database/sql keeps two idle connections by default, and opening one
	// (with its cache of statements) is dear: under load it would open
	// and close connections on every request.
	db.SetMaxIdleConns(connections)
	var rev int64
	if _, err = db.Exec(schema); err == nil {
		err = upgrade(db)
	}
	if err == nil {
		_, err = db.Exec(views)
	}
	if err == nil {
		err = db.QueryRow(`SELECT ` + lastRevision).Scan(&rev)
	}
	if err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("opening %s: %w", file, err)
	}
	s := &Store{db: db, lock: lock, hub: newHub(), done: make(chan struct{}),
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	s.rev.Store(rev)
	go s.committer()
	return s, nil
}

// upgrade moves a database whose current table still holds the values
// (as it did before it became an index of the log) to the present layout.
// A key whose latest row the log lacks gets it back from current first.
func upgrade(db *sql.DB) error {
	var old bool
	if err := db.QueryRow(`SELECT COUNT(*) > 0 FROM pragma_table_info('current') WHERE name = 'value'`).Scan(&old); err != nil || !old {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("upgrading the current table: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	for _, stmt := range []string{
		`INSERT INTO log (revision, key, create_revision, deleted, value)
			SELECT mod_revision, key, create_revision, 0, value FROM current c
			WHERE NOT EXISTS (SELECT 1 FROM log WHERE revision = c.mod_revision)`,
		`CREATE TABLE current_new (key TEXT PRIMARY KEY, create_revision INTEGER NOT NULL,
			mod_revision INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO current_new SELECT key, create_revision, mod_revision FROM current`,
		`DROP TABLE current`,
		`ALTER TABLE current_new RENAME TO current`,
	} {
		if _, err := tx.Exec(stmt); err != nil {
			return fmt.Errorf("upgrading the current table: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upgrading the current table: %w", err)
	}
	return nil
}

// lockFile takes file+".lock", or fails if another process holds it. The
// lock goes with the process, however it ends.
func lockFile(file string) (*os.File, error) {
	lock, err := os.OpenFile(file+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock of %s: %w", file, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%s is in use by another process: %w", file, err)
	}
	return lock, nil
}

// fileURI names file for SQLite as a URI, so options can follow: "?" or "#"
// in the file name must not start them.
func fileURI(file string) string {
	return (&url.URL{Scheme: "file", Opaque: (&url.URL{Path: file}).EscapedPath()}).String()
}

// Close commits the writes already queued and refuses later ones, ends the
// watches, then releases the database and its lock.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.queueMu.Lock()
		s.closing = true
		close(s.wake) // the committer commits what is queued, and stops
		s.queueMu.Unlock()
		<-s.stopped
		s.writeMu.Lock() // a compaction or a new watcher finishes first
		defer s.writeMu.Unlock()
		close(s.done)
		s.hub.closeAll()
		s.closeErr = s.db.Close()
		s.lock.Close() // closing the file releases the flock
	})
	return s.closeErr
}

// keyRange is where the keys with a prefix are: key >= start AND key < end.
// The end is the prefix with its last byte increased (etcd's
// GetPrefixRangeEnd), so no LIKE and no escaping. When there is no such key
// ("" or all 0xff bytes), end is an empty BLOB: SQLite sorts every TEXT
// value before every BLOB, so "key < end" holds for all keys and the query
// keeps its index range.
func keyRange(prefix string) (start string, end any) {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] < 0xff {
			return prefix, prefix[:i] + string([]byte{prefix[i] + 1})
		}
	}
	return prefix, []byte{}
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getKey reads a live key; ErrNotFound if it is not there. The callers
// say what they were doing with the key.
func getKey(ctx context.Context, q queryer, key string) (storage.KeyValue, error) {
	kv := storage.KeyValue{Key: key}
	err := q.QueryRowContext(ctx, `SELECT value, create_revision, mod_revision FROM live WHERE key = ?`, key).
		Scan(&kv.Value, &kv.CreateRevision, &kv.ModRevision)
	if errors.Is(err, sql.ErrNoRows) {
		return kv, storage.ErrNotFound
	}
	return kv, err
}

func (s *Store) Get(ctx context.Context, key string) (storage.KeyValue, error) {
	kv, err := getKey(ctx, s.db, key)
	if err != nil {
		return kv, fmt.Errorf("reading %q: %w", key, err)
	}
	return kv, nil
}

func (s *Store) Revision(context.Context) (int64, error) {
	return s.rev.Load(), nil
}

// Count counts in current, on its primary key's index.
func (s *Store) Count(ctx context.Context, prefix string) (int64, error) {
	start, end := keyRange(prefix)
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM current WHERE key >= ? AND key < ?`, start, end).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %q: %w", prefix, err)
	}
	return n, nil
}

// Group commit. Most of a write's time is its commit waiting for the disk,
// and SQLite commits one transaction at a time. So writers do not commit:
// each queues its write and waits, and one goroutine, the committer, takes
// all that is queued, applies it in one transaction (each write at its own
// revision, in queue order), commits once, and answers every writer. While
// it waits for the disk, the next batch queues. A write that comes alone
// still waits for one commit, no more; many writers share few commits. etcd
// does the same: one fsync of its log for all the writes ready at once.

// pending is a write waiting for the committer, then its result.
type pending struct {
	ctx   context.Context
	apply func(tx *sql.Tx, rev int64) (storage.Event, error) // the write, at revision rev
	event storage.Event
	err   error
	done  chan struct{} // closed once event and err are set
}

// write queues apply and waits until the committer has committed it (or
// failed it) and handed its event to the watchers.
func (s *Store) write(ctx context.Context, apply func(tx *sql.Tx, rev int64) (storage.Event, error)) (storage.Event, error) {
	w := &pending{ctx: ctx, apply: apply, done: make(chan struct{})}
	s.queueMu.Lock()
	if s.closing {
		s.queueMu.Unlock()
		return storage.Event{}, errClosed
	}
	s.queue = append(s.queue, w)
	select {
	case s.wake <- struct{}{}:
	default: // a token is there already: the committer will see this write too
	}
	s.queueMu.Unlock()
	// Not abandoned when ctx ends: whether it is written is known only
	// when its batch commits.
	<-w.done
	return w.event, w.err
}

// committer commits what is queued, a batch at a time, until Close.
func (s *Store) committer() {
	defer close(s.stopped)
	for range s.wake {
		s.writeMu.Lock()
		s.queueMu.Lock()
		batch := s.queue
		s.queue = nil
		s.queueMu.Unlock()
		if len(batch) > 0 { // empty when a token came after its writes were taken
			s.commitBatch(batch)
		}
		s.writeMu.Unlock()
	}
}

// commitBatch commits a batch, publishes the events of its writes in
// revision order, then answers every writer.
func (s *Store) commitBatch(batch []*pending) {
	written, rev, err := s.applyAndCommit(batch)
	if err != nil { // the transaction failed: no write of the batch happened
		for _, w := range batch {
			w.event, w.err = storage.Event{}, err
		}
		written = nil
	}
	if len(written) > 0 {
		s.commits.Add(1)
		s.rev.Store(rev)
	}
	for _, w := range written {
		s.hub.publish(w.event)
	}
	for _, w := range batch {
		close(w.done)
	}
}

// applyAndCommit applies a batch in one transaction and commits it. Each
// write begins with the statement that decides whether it can happen (the
// key exists already, a compare-and-swap is lost, the key is missing), and
// changes nothing before that: such a write fails alone, keeps its error,
// takes no revision, and the next write sees the store as if it had never
// been tried. Any other error may come after a write changed something,
// and fails the whole batch. It returns the writes that were applied and
// the revision of the last.
func (s *Store) applyAndCommit(batch []*pending) (written []*pending, rev int64, err error) {
	rev = s.rev.Load()
	tx, err := s.db.Begin()
	if err != nil {
		return nil, 0, fmt.Errorf("beginning a write: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	for _, w := range batch {
		// A request that ended while it waited does not write.
		if w.err = w.ctx.Err(); w.err != nil {
			continue
		}
		if w.event, w.err = w.apply(tx, rev+1); w.err == nil {
			rev++
			written = append(written, w)
		} else if !refused(w.err) {
			return nil, 0, fmt.Errorf("writing revision %d: %w", rev+1, w.err)
		}
	}
	if len(written) == 0 {
		return nil, rev, nil // nothing to commit
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("committing revisions up to %d: %w", rev, err)
	}
	return written, rev, nil
}

// refused tells the errors a write's first statement gives, before it has
// changed anything.
func refused(err error) bool {
	return errors.Is(err, storage.ErrKeyExists) || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict)
}

// logWrite appends a write to the log, at its revision.
func logWrite(tx *sql.Tx, kv storage.KeyValue, deleted bool) error {
	_, err := tx.Exec(`INSERT INTO log (revision, key, create_revision, deleted, value) VALUES (?, ?, ?, ?, ?)`,
		kv.ModRevision, kv.Key, kv.CreateRevision, deleted, kv.Value)
	if err != nil {
		return fmt.Errorf("logging revision %d: %w", kv.ModRevision, err)
	}
	return nil
}

// own copies a value the store keeps and hands to watchers, so the caller
// may reuse its slice. Never nil: the column is NOT NULL.
func own(value []byte) []byte {
	return append([]byte{}, value...)
}

func (s *Store) Create(ctx context.Context, key string, value []byte) (storage.KeyValue, error) {
	if key == "" {
		return storage.KeyValue{}, errors.New("creating a key: the key is empty")
	}
	value = own(value)
	ev, err := s.write(ctx, func(tx *sql.Tx, rev int64) (storage.Event, error) {
		result, err := tx.Exec(`INSERT INTO current (key, create_revision, mod_revision) VALUES (?, ?, ?)
			ON CONFLICT (key) DO NOTHING`, key, rev, rev)
		if err != nil {
			return storage.Event{}, fmt.Errorf("creating %q: %w", key, err)
		}
		if n, _ := result.RowsAffected(); n == 0 {
			return storage.Event{}, fmt.Errorf("creating %q: %w", key, storage.ErrKeyExists)
		}
		kv := storage.KeyValue{Key: key, Value: value, CreateRevision: rev, ModRevision: rev}
		return storage.Event{Type: storage.Put, KV: kv}, logWrite(tx, kv, false)
	})
	return ev.KV, err
}

// casCurrent reads a key inside a write and checks the caller's
// precondition: its ModRevision is modRevision, unless that is 0.
func casCurrent(tx *sql.Tx, key string, modRevision int64) (storage.KeyValue, error) {
	kv, err := getKey(context.Background(), tx, key)
	if err != nil {
		return kv, err
	}
	if modRevision != 0 && kv.ModRevision != modRevision {
		return kv, &storage.ConflictError{Expected: modRevision, Current: kv}
	}
	return kv, nil
}

func (s *Store) Update(ctx context.Context, key string, value []byte, modRevision int64) (storage.KeyValue, error) {
	value = own(value)
	ev, err := s.write(ctx, func(tx *sql.Tx, rev int64) (storage.Event, error) {
		prev, err := casCurrent(tx, key, modRevision)
		if err != nil {
			return storage.Event{}, fmt.Errorf("updating %q: %w", key, err)
		}
		if _, err := tx.Exec(`UPDATE current SET mod_revision = ? WHERE key = ?`, rev, key); err != nil {
			return storage.Event{}, fmt.Errorf("updating %q: %w", key, err)
		}
		kv := storage.KeyValue{Key: key, Value: value, CreateRevision: prev.CreateRevision, ModRevision: rev}
		return storage.Event{Type: storage.Put, KV: kv, PrevKV: &prev}, logWrite(tx, kv, false)
	})
	return ev.KV, err
}

// Delete keeps the deleted value in the log's row of the delete: the Delete
// event carries it, as etcd's carries its PrevKV.
func (s *Store) Delete(ctx context.Context, key string, modRevision int64) (storage.KeyValue, error) {
	ev, err := s.write(ctx, func(tx *sql.Tx, rev int64) (storage.Event, error) {
		prev, err := casCurrent(tx, key, modRevision)
		if err != nil {
			return storage.Event{}, fmt.Errorf("deleting %q: %w", key, err)
		}
		if _, err := tx.Exec(`DELETE FROM current WHERE key = ?`, key); err != nil {
			return storage.Event{}, fmt.Errorf("deleting %q: %w", key, err)
		}
		kv := storage.KeyValue{Key: key, Value: prev.Value, CreateRevision: prev.CreateRevision, ModRevision: rev}
		return storage.Event{Type: storage.Delete, KV: kv, PrevKV: &prev}, logWrite(tx, kv, true)
	})
	return ev.KV, err
}

// readRevisions reads the current and the compacted revisions inside a read
// transaction, so that what the transaction reads next agrees with them.
func readRevisions(ctx context.Context, tx *sql.Tx) (now, compacted int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT (SELECT `+lastRevision+`),
		(SELECT value FROM meta WHERE name = 'compacted')`).Scan(&now, &compacted)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the revision: %w", err)
	}
	return now, compacted, nil
}

// readable checks that a revision can be read: compacted <= revision <= now.
func readable(revision, now, compacted int64) error {
	if revision < compacted {
		return fmt.Errorf("revision %d (compacted at %d): %w", revision, compacted, storage.ErrCompacted)
	}
	if revision > now {
		return fmt.Errorf("revision %d (current %d): %w", revision, now, storage.ErrFutureRevision)
	}
	return nil
}

// List reads in one read transaction, so the keys and the revision agree.
// Now, it reads current; in the past, the log: for each key, its last write
// at or before the revision, unless that write was a delete.
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int, revision int64) ([]storage.KeyValue, int64, bool, error) {
	if revision == 0 {
		return s.listNow(ctx, prefix, startAfter, limit)
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing %q: beginning a read: %w", prefix, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	now, compacted, err := readRevisions(ctx, tx)
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing %q: %w", prefix, err)
	}
	rev := revision
	if rev == 0 {
		rev = now
	}
	if err := readable(rev, now, compacted); err != nil {
		return nil, 0, false, fmt.Errorf("listing %q: %w", prefix, err)
	}
	start, end := keyRange(prefix)
	// One lower bound, so that the index range starts at the page. As in
	// etcd, the first key after startAfter is startAfter and a zero byte.
	if after := startAfter + "\x00"; startAfter != "" && after > start {
		start = after
	}
	n := -1 // SQLite's "no limit"
	if limit > 0 {
		n = limit + 1 // one more tells whether more follow
	}
	var rows *sql.Rows
	if rev == now {
		rows, err = tx.QueryContext(ctx, `SELECT key, value, create_revision, mod_revision FROM live
			WHERE key >= ? AND key < ?
			ORDER BY key LIMIT ?`, start, end, n)
	} else {
		rows, err = tx.QueryContext(ctx, `SELECT l.key, l.value, l.create_revision, l.revision FROM log l
			WHERE l.key >= ? AND l.key < ? AND l.deleted = 0
			  AND l.revision = (SELECT MAX(revision) FROM log WHERE key = l.key AND revision <= ?)
			ORDER BY l.key LIMIT ?`, start, end, rev, n)
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing %q at revision %d: %w", prefix, rev, err)
	}
	defer rows.Close()
	kvs := []storage.KeyValue{}
	for rows.Next() {
		var kv storage.KeyValue
		if err := rows.Scan(&kv.Key, &kv.Value, &kv.CreateRevision, &kv.ModRevision); err != nil {
			return nil, 0, false, fmt.Errorf("listing %q at revision %d: %w", prefix, rev, err)
		}
		kvs = append(kvs, kv)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("listing %q at revision %d: %w", prefix, rev, err)
	}
	more := limit > 0 && len(kvs) > limit
	if more {
		kvs = kvs[:limit]
	}
	return kvs, rev, more, nil
}

// listNow is List at the current revision in one statement. SQLite reads
// each statement in a read transaction of its own, so the revision (the
// first row, the only one with an empty key) and the keys agree, without a
// BEGIN, a second query and a ROLLBACK, which cost as much again as the
// reading: the admission plugins list a few (usually empty) ranges on
// every write. UNION ALL returns its parts in order.
func (s *Store) listNow(ctx context.Context, prefix, startAfter string, limit int) ([]storage.KeyValue, int64, bool, error) {
	start, end := keyRange(prefix)
	if after := startAfter + "\x00"; startAfter != "" && after > start {
		start = after
	}
	n := -1
	if limit > 0 {
		n = limit + 1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT '', x'', 0, `+lastRevision+`
		UNION ALL
		SELECT * FROM (SELECT key, value, create_revision, mod_revision FROM live
			WHERE key >= ? AND key < ? ORDER BY key LIMIT ?)`, start, end, n)
	if err != nil {
		return nil, 0, false, fmt.Errorf("listing %q: %w", prefix, err)
	}
	defer rows.Close()
	var rev int64
	kvs := []storage.KeyValue{}
	for rows.Next() {
		var kv storage.KeyValue
		if err := rows.Scan(&kv.Key, &kv.Value, &kv.CreateRevision, &kv.ModRevision); err != nil {
			return nil, 0, false, fmt.Errorf("listing %q: %w", prefix, err)
		}
		if kv.Key == "" {
			rev = kv.ModRevision
			continue
		}
		kvs = append(kvs, kv)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("listing %q: %w", prefix, err)
	}
	more := limit > 0 && len(kvs) > limit
	if more {
		kvs = kvs[:limit]
	}
	return kvs, rev, more, nil
}

// history reads at most limit events of the keys with prefix after revision
// after, up to and including upTo, from the log, each with its PrevKV.
func (s *Store) history(ctx context.Context, prefix string, after, upTo int64, limit int) ([]storage.Event, error) {
	// One read transaction, so that a compaction committing meanwhile
	// cannot remove rows between the check and the read: the answer is
	// the whole history asked for, or ErrCompacted.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading history: beginning a read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	now, compacted, err := readRevisions(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	if err := readable(after, now, compacted); err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	// The previous value of a key is its log row just before; compaction
	// keeps it (the latest write of each key before the compacted revision
	// stays). A create has none: the row before, if any, is a delete.
	start, end := keyRange(prefix)
	rows, err := tx.QueryContext(ctx, `SELECT l.revision, l.key, l.create_revision, l.deleted, l.value,
			p.revision, p.create_revision, p.value
		FROM log l LEFT JOIN log p
		  ON l.create_revision != l.revision
		 AND p.revision = (SELECT MAX(revision) FROM log WHERE key = l.key AND revision < l.revision)
		WHERE l.revision > ? AND l.revision <= ? AND l.key >= ? AND l.key < ?
		ORDER BY l.revision LIMIT ?`, after, upTo, start, end, limit)
	if err != nil {
		return nil, fmt.Errorf("reading history of %q after %d: %w", prefix, after, err)
	}
	defer rows.Close()
	var events []storage.Event
	for rows.Next() {
		var ev storage.Event
		var deleted bool
		var prevRevision, prevCreateRevision sql.NullInt64
		var prevValue []byte
		if err := rows.Scan(&ev.KV.ModRevision, &ev.KV.Key, &ev.KV.CreateRevision, &deleted, &ev.KV.Value,
			&prevRevision, &prevCreateRevision, &prevValue); err != nil {
			return nil, fmt.Errorf("reading history of %q after %d: %w", prefix, after, err)
		}
		if deleted {
			ev.Type = storage.Delete
		}
		if prevRevision.Valid {
			ev.PrevKV = &storage.KeyValue{Key: ev.KV.Key, Value: prevValue,
				CreateRevision: prevCreateRevision.Int64, ModRevision: prevRevision.Int64}
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading history of %q after %d: %w", prefix, after, err)
	}
	return events, nil
}

// Compact forgets history before revision. For each key it keeps the last
// write before the revision (unless it was a delete), so reads at the
// revision, the PrevKV of the events after it, and current's values still
// work.
//
// The compacted revision is moved first, in a transaction of its own: from
// then on nothing reads below it, so the rows it frees can go a slice at a
// time (compactRows rows, in revision order), each slice a transaction,
// the writer free in between. Deleting a minute of history at 500 writes a
// second in one transaction held every write back for half a second.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	if err := s.markCompacted(ctx, revision); err != nil {
		return err
	}
	// From the first row: a compaction cut short (the server stopped)
	// leaves rows that the next one removes.
	for from := int64(0); ; {
		next, err := s.compactSlice(from, revision)
		if err != nil {
			return fmt.Errorf("compacting to %d: %w", revision, err)
		}
		if next == 0 {
			return nil
		}
		from = next
	}
}

// compactRows is how many log rows one transaction of a compaction looks at.
var compactRows = 5000

// markCompacted moves the compacted revision to revision, after checking
// it as etcd does.
func (s *Store) markCompacted(ctx context.Context, revision int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("compacting to %d: beginning a write: %w", revision, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	now, compacted, err := readRevisions(ctx, tx)
	if err != nil {
		return fmt.Errorf("compacting to %d: %w", revision, err)
	}
	// As etcd: compacting again at or below the compacted revision is an error.
	if revision <= compacted {
		return fmt.Errorf("compacting to %d (compacted at %d): %w", revision, compacted, storage.ErrCompacted)
	}
	if revision > now {
		return fmt.Errorf("compacting to %d (current %d): %w", revision, now, storage.ErrFutureRevision)
	}
	if _, err := tx.Exec(`UPDATE meta SET value = ? WHERE name = 'compacted'`, revision); err != nil {
		return fmt.Errorf("compacting to %d: %w", revision, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("compacting to %d: %w", revision, err)
	}
	return nil
}

// compactSlice removes, among the next compactRows log rows from revision
// from on (below revision), those compaction frees: deletes, and writes
// that a later write of their key before revision replaced. It returns
// where the next slice starts, 0 when the rows below revision are done.
func (s *Store) compactSlice(from, revision int64) (next int64, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return 0, fmt.Errorf("beginning a write: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	var last sql.NullInt64
	if err := tx.QueryRow(`SELECT MAX(revision) FROM (SELECT revision FROM log
		WHERE revision >= ? AND revision < ? ORDER BY revision LIMIT ?)`, from, revision, compactRows).Scan(&last); err != nil {
		return 0, err
	}
	if !last.Valid {
		return 0, nil
	}
	if _, err := tx.Exec(`DELETE FROM log WHERE revision >= ?1 AND revision <= ?2 AND (deleted = 1 OR revision <
		(SELECT MAX(l.revision) FROM log l WHERE l.key = log.key AND l.revision < ?3))`, from, last.Int64, revision); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return last.Int64 + 1, nil
}
