// Package storage is the contract between the API server and its store:
// etcd's data model, on keys and bytes. The registry above it turns objects
// into values and resourceVersions into revisions; the two implementations
// below it (storage/sqlite, embedded, and storage/etcd, a real cluster) keep
// the keys.
//
// The model is etcd's v3 key space:
//
//   - one ordered key space, and one revision for all of it: every write
//     (a create, an update or a delete, of any key) increases it by one;
//   - each key remembers the revision that created it (CreateRevision, etcd's
//     create_revision) and the one that last wrote it (ModRevision,
//     mod_revision): an object's resourceVersion is its ModRevision;
//   - updates and deletes are compare-and-swap on ModRevision, which is how
//     Kubernetes does optimistic concurrency (a 409 Conflict);
//   - history is kept from the compacted revision on: reads at a past
//     revision (consistent paginated lists) and watches that resume from one
//     work there, and answer ErrCompacted (410 Gone) below it.
//
// A revision R is readable when compacted <= R <= current. List reads at one,
// and Watch resumes after one: Watch(R) sends the changes from R+1 on. A new
// store is at revision 1, as a new etcd cluster is, so no revision a read
// returns is 0, which List and Watch take for "now".
//
// Keys are compared as bytes, like etcd's; a prefix is a plain byte prefix, so
// callers end prefixes with "/" ("/pods/a/" does not match "/pods/ab/x").
// Values handed out (by reads, writes and watches) may be shared with other
// callers and watchers: read them, do not modify them.
package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// KeyValue is one key as of a revision.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // the revision that created the key
	ModRevision    int64 // the revision that last wrote it: the resourceVersion
}

// EventType says what a change did to its key.
type EventType int

const (
	// Put is a create or an update; a create has no PrevKV.
	Put EventType = iota
	// Delete removed the key.
	Delete
)

func (t EventType) String() string {
	switch t {
	case Put:
		return "PUT"
	case Delete:
		return "DELETE"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one committed change. Its revision is KV.ModRevision.
//
// For a Put, KV is the key after the change. For a Delete, KV is the deleted
// key as Delete returns it: its last value and create revision, with
// ModRevision the revision of the delete (Kubernetes reports a deleted
// object at that resourceVersion). PrevKV is the key before the change, on
// updates and deletes.
type Event struct {
	Type   EventType
	KV     KeyValue
	PrevKV *KeyValue
	// Frame, set by the watch cache, is shared by all of its watchers that
	// receive this change; nil for the storage's own watches.
	Frame *Frame
}

// Frame is a change's bytes on the wire, encoded once for all the watchers
// that send it in the same form. A thousand watchers of a namespace then
// cost one encoding per change, not a thousand: each writes the same bytes.
// Kubernetes' watch cache does the same with its cachingObject, which keeps
// one serialization per encoding. What the bytes are is the caller's
// (final/store); a Frame holds them for one form only.
type Frame struct {
	once sync.Once
	data []byte
	err  error
}

// Bytes returns the frame, encoding it the first time; every call returns
// what that first encode returned. The bytes are shared: do not modify them.
func (f *Frame) Bytes(encode func() ([]byte, error)) ([]byte, error) {
	f.once.Do(func() { f.data, f.err = encode() })
	return f.data, f.err
}

// IsCreate tells a create from an update, as etcd's mvccpb.Event does.
func (e Event) IsCreate() bool {
	return e.Type == Put && e.KV.CreateRevision == e.KV.ModRevision
}

// WatchBuffer is how many events a watcher may fall behind by. One that falls
// further is closed rather than waited for: a slow client must not hold up
// the writers or grow the server's memory. It lists and watches again, as
// Kubernetes' informers do.
const WatchBuffer = 1000

// Backend is a store: SQLite (storage/sqlite) or etcd (storage/etcd).
// Errors wrap the sentinel errors below with context; test them with
// errors.Is.
type Backend interface {
	// Create writes a new key; ErrKeyExists if it is there.
	Create(ctx context.Context, key string, value []byte) (KeyValue, error)
	// Get reads a key now; ErrNotFound if it is not there.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns up to limit (0: all) live keys with prefix, in key
	// order, after startAfter ("": from the first), as of revision (0:
	// now). It also returns the revision it read at, to pass as revision
	// for the next page, and whether more keys follow. ErrCompacted below
	// the compacted revision, ErrFutureRevision above the current one.
	List(ctx context.Context, prefix, startAfter string, limit int, revision int64) (kvs []KeyValue, rev int64, more bool, err error)
	// Update replaces the value of a key whose ModRevision is modRevision
	// (0: whatever it is). ErrNotFound if the key is not there; a
	// *ConflictError (errors.Is ErrConflict) if it was written since.
	Update(ctx context.Context, key string, value []byte, modRevision int64) (KeyValue, error)
	// Delete removes a key whose ModRevision is modRevision (0: whatever it
	// is), and returns it as the Delete event's KV: the last value, at the
	// revision of the delete. Errors as for Update.
	Delete(ctx context.Context, key string, modRevision int64) (KeyValue, error)
	// Watch sends every change to keys with prefix after revision (0: from
	// now, that is every change committed after Watch returns), in revision
	// order, each once. ErrCompacted below the compacted revision,
	// ErrFutureRevision above the current one. The channel closes when ctx
	// ends, when the backend closes, or when the watcher falls more than
	// WatchBuffer events behind or its history is compacted while it is
	// still being sent: the client must then list and watch again.
	Watch(ctx context.Context, prefix string, revision int64) (<-chan Event, error)
	// Compact forgets the history before revision: reads and watches from
	// there on keep working, older ones answer ErrCompacted. The latest
	// value of each key is kept. ErrCompacted if the store is compacted at
	// or past revision already, ErrFutureRevision above the current one.
	// Compacting does not write: the revision stays.
	Compact(ctx context.Context, revision int64) error
	// Revision is the current revision: that of the last write.
	Revision(ctx context.Context) (int64, error)
	// Count is how many live keys have prefix now, without reading their
	// values: what the object-count metrics report.
	Count(ctx context.Context, prefix string) (int64, error)
	// Close ends every watch and releases the store. Closing again does
	// nothing.
	Close() error
}

// The errors of the contract. Kubernetes turns them into NotFound (404),
// AlreadyExists (409), Conflict (409), Expired (410) and a Timeout asking the
// client to retry (504, "Too large resource version").
var (
	ErrNotFound       = errors.New("key not found")
	ErrKeyExists      = errors.New("key already exists")
	ErrConflict       = errors.New("key modified since the given revision")
	ErrCompacted      = errors.New("revision has been compacted")
	ErrFutureRevision = errors.New("revision is in the future")
)

// ConflictError is the error of a compare-and-swap that lost. It carries the
// key as it is now, so a caller can retry on it without reading it again:
// Kubernetes' GuaranteedUpdate does that with etcd's Txn Else(Get). Backends
// wrap it with the operation and the key.
type ConflictError struct {
	Expected int64    // the ModRevision the caller gave
	Current  KeyValue // the key now
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v (now at %d, not %d)", ErrConflict, e.Current.ModRevision, e.Expected)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }
