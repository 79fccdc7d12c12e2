// Exercise 06: compare-and-swap on the revision.
//
// An in-memory store with etcd's data model, the one chapter 06 builds on
// SQLite: one revision for the whole store, increased by one on every
// write; a key's ModRevision (its resourceVersion) is the revision of its
// last write; a log of every write serves reads in the past; compaction
// forgets the history no read can need any more.
//
// Edit this file. The tests in store_test.go are the specification;
// README.md explains the rules.
package compareandswap

import (
	"errors"
	"fmt"
	"sync"
)

var (
	ErrNotFound       = errors.New("not found")
	ErrAlreadyExists  = errors.New("already exists")
	ErrConflict       = errors.New("the object has been modified; please apply your changes to the latest version and try again")
	ErrCompacted      = errors.New("required revision has been compacted")
	ErrFutureRevision = errors.New("required revision is a future revision")
)

// KeyValue is a key as a read sees it. ModRevision is what Kubernetes calls
// the object's resourceVersion.
type KeyValue struct {
	Key            string
	Value          string
	CreateRevision int64 // the revision that created the key
	ModRevision    int64 // the revision of the key's last write
}

// Event is one write, one row of chapter 06's log table: a create or an
// update (Deleted false), or a delete (Deleted true, a tombstone, which
// keeps the value the key had).
type Event struct {
	Revision       int64
	Key            string
	Value          string
	CreateRevision int64
	Deleted        bool
}

// Store is the whole key space. One mutex guards everything; no method
// holds it while it calls code it was given, except write.
type Store struct {
	mu        sync.Mutex
	rev       int64               // the revision of the last write
	compacted int64               // reads below this revision answer ErrCompacted
	current   map[string]KeyValue // the live keys: chapter 06's current table
	log       []Event             // every write since compaction, in revision order: the log table
}

func New() *Store {
	return &Store{current: map[string]KeyValue{}}
}

// Revision is the revision of the last write.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// CompactedRevision is the revision history starts at.
func (s *Store) CompactedRevision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compacted
}

// write is the only way to change the store, as in chapter 06: it runs fn
// under the lock with the revision this write will have. If fn returns an
// error, fn must have changed nothing, and the revision is not used. If fn
// returns nil, the revision is taken.
func (s *Store) write(fn func(rev int64) error) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev := s.rev + 1
	if err := fn(rev); err != nil {
		return 0, err
	}
	s.rev = rev
	return rev, nil
}

// put sets key to value at rev, in current and in the log. Call it only
// inside write.
func (s *Store) put(key, value string, createRevision, rev int64) KeyValue {
	kv := KeyValue{Key: key, Value: value, CreateRevision: createRevision, ModRevision: rev}
	s.current[key] = kv
	s.log = append(s.log, Event{Revision: rev, Key: key, Value: value, CreateRevision: createRevision})
	return kv
}

// remove deletes key at rev and logs a tombstone. Call it only inside write.
func (s *Store) remove(key string, rev int64) {
	kv := s.current[key]
	delete(s.current, key)
	s.log = append(s.log, Event{Revision: rev, Key: key, Value: kv.Value, CreateRevision: kv.CreateRevision, Deleted: true})
}

// Create adds a key that does not exist.
func (s *Store) Create(key, value string) (KeyValue, error) {
	var kv KeyValue
	_, err := s.write(func(rev int64) error {
		if _, exists := s.current[key]; exists {
			return fmt.Errorf("%q: %w", key, ErrAlreadyExists)
		}
		kv = s.put(key, value, rev, rev)
		return nil
	})
	return kv, err
}

// Get reads a key now.
func (s *Store) Get(key string) (KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kv, ok := s.current[key]
	if !ok {
		return KeyValue{}, fmt.Errorf("%q: %w", key, ErrNotFound)
	}
	return kv, nil
}

// Delete removes a key and returns what it held.
func (s *Store) Delete(key string) (KeyValue, error) {
	var kv KeyValue
	_, err := s.write(func(rev int64) error {
		var ok bool
		if kv, ok = s.current[key]; !ok {
			return fmt.Errorf("%q: %w", key, ErrNotFound)
		}
		s.remove(key, rev)
		return nil
	})
	return kv, err
}

// GetAt reads a key as it was at revision rev: its last write at or before
// rev, unless that write was a delete. Below the compacted revision the
// history is gone; above the store's revision it does not exist yet.
func (s *Store) GetAt(key string, rev int64) (KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev < s.compacted {
		return KeyValue{}, fmt.Errorf("revision %d, history starts at %d: %w", rev, s.compacted, ErrCompacted)
	}
	if rev > s.rev {
		return KeyValue{}, fmt.Errorf("revision %d, the store is at %d: %w", rev, s.rev, ErrFutureRevision)
	}
	var last *Event
	for i := range s.log {
		if s.log[i].Revision > rev {
			break
		}
		if s.log[i].Key == key {
			last = &s.log[i]
		}
	}
	if last == nil || last.Deleted {
		return KeyValue{}, fmt.Errorf("%q at revision %d: %w", key, rev, ErrNotFound)
	}
	return KeyValue{Key: key, Value: last.Value, CreateRevision: last.CreateRevision, ModRevision: last.Revision}, nil
}

// History returns a copy of the log: every write since the last compaction.
func (s *Store) History() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.log...)
}

// errRetry says that the key changed between Update's read and its write.
var errRetry = errors.New("the key changed meanwhile")

// Update is Kubernetes' GuaranteedUpdate: it reads the key, calls fn with
// what it read to compute the new value, and writes that value only if the
// key is still at the revision it read. Otherwise it starts again from the
// newer value. fn runs without the lock: it may be slow, and it may read
// the store.
//
// expected is the client's resourceVersion: 0 means "whatever is there";
// anything else must be the key's ModRevision, or the answer is
// ErrConflict and nothing changes.
func (s *Store) Update(key string, expected int64, fn func(current KeyValue) (string, error)) (KeyValue, error) {
	// TODO: read the key with Get (ErrNotFound if it is missing).
	// TODO: a non-zero expected that is not its ModRevision is ErrConflict.
	// TODO: call fn, without holding the lock, to compute the new value.
	// TODO: write it with s.write and s.put, but only if the key is still
	//       at the ModRevision you read; otherwise return errRetry from the
	//       write's function and start again from the read.
	panic("Please implement Update")
}

// Compact forgets the history below rev, with etcd's rule: of the writes
// older than rev, each key keeps its newest one, unless that one is a
// delete. Writes at or after rev all stay. Afterwards GetAt below rev
// answers ErrCompacted, and GetAt at rev or later answers as before.
// Compacting at or below the compacted revision changes nothing; compacting
// beyond the store's revision is ErrFutureRevision.
func (s *Store) Compact(rev int64) error {
	// TODO: refuse a revision beyond the store's; do nothing at or below
	//       the compacted one.
	// TODO: find each key's newest write below rev; keep it unless it is a
	//       delete; drop the key's older writes; keep every write at or
	//       after rev.
	// TODO: record rev as the compacted revision.
	panic("Please implement Compact")
}
