// Package store keeps API objects in a storage.Backend: it turns an object
// into a value under its key (/registry/<group>/<resource>/<namespace>/<name>),
// a revision into a resourceVersion, and storage's errors into the Status
// errors clients expect (404, 409, 410, 504). Updates are compare-and-swap
// loops, as Kubernetes' GuaranteedUpdate is; lists come in consistent pages
// read at one revision; watches turn key changes into ADDED, MODIFIED and
// DELETED events.
//
// This is the role of k8s.io/apiserver's pkg/storage/etcd3 store (objects
// over etcd) under pkg/registry/generic/registry (the generic registry).
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/watchcache"
)

// Store keeps objects in a backend.
type Store struct {
	backend storage.Backend
	// Observe, if set, is told how long each storage operation took
	// (the metrics' etcd_request_duration_seconds).
	Observe func(operation, resource string, d time.Duration)
	// Cache, if set, is the watch cache (--watch-cache): it serves every
	// watch, and the lists that accept any revision (ListOptions.Any).
	Cache *watchcache.Cacher
	// Listed, if set, is told where each list was served from: the
	// watch cache or the storage (apiserver_storage_list_total).
	Listed func(res *registry.Resource, fromCache bool)

	// SoleWriter says every write to the storage goes through this store
	// (SQLite: one process per file). A watch cache that holds this
	// store's writes then holds all of them, and a whole list of the latest
	// state (no limit, no continue) comes from it: a consistent read, as
	// kube-apiserver's ConsistentListFromCache makes, without asking the
	// storage. With etcd another replica may have written meanwhile, so
	// those lists read the storage.
	SoleWriter bool

	// written holds, by resource (its key prefix), the revision of the
	// last write this store made to it: a read with OwnWrites waits for
	// the watch cache to reach it (*atomic.Int64 values).
	written sync.Map
}

// wrote notes a write to res at revision rev.
func (s *Store) wrote(res *registry.Resource, rev int64) {
	v, _ := s.written.LoadOrStore(Prefix(res, ""), new(atomic.Int64))
	last := v.(*atomic.Int64)
	for {
		old := last.Load()
		if old >= rev || last.CompareAndSwap(old, rev) {
			return
		}
	}
}

// lastWrite is the revision of the last write this store made to res (0: none).
func (s *Store) lastWrite(res *registry.Resource) int64 {
	if v, ok := s.written.Load(Prefix(res, "")); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// observe reports an operation that started at start.
func (s *Store) observe(operation string, res *registry.Resource, start time.Time) {
	if s.Observe != nil {
		s.Observe(operation, res.QualifiedName(), time.Since(start))
	}
}

// New returns a store on a backend.
func New(backend storage.Backend) *Store { return &Store{backend: backend} }

// Backend is the store's backend, for what works on keys (compaction, health).
func (s *Store) Backend() storage.Backend { return s.backend }

// Key is where an object lives: /registry/<group>/<resource>/<namespace>/<name>,
// without the empty group of the core API and the empty namespace of
// cluster-scoped objects. The parts are joined as they are (path.Join would
// also clean them, turning a name ".." into the parent's key, and cost a
// few percent of a create's CPU).
func Key(res *registry.Resource, namespace, name string) string {
	n := len("/registry") + 4 + len(res.Group) + len(res.Name) + len(namespace) + len(name)
	key := make([]byte, 0, n)
	key = append(key, "/registry"...)
	for _, part := range [...]string{res.Group, res.Name, namespace, name} {
		if part != "" {
			key = append(append(key, '/'), part...)
		}
	}
	return string(key)
}

// Prefix is the key prefix of a resource's objects in a namespace ("" for all).
func Prefix(res *registry.Resource, namespace string) string {
	return Key(res, namespace, "") + "/"
}

// decode turns a stored value into an object stamped with its revision.
func decode(kv storage.KeyValue) (object.Object, error) {
	obj, err := object.Decode(kv.Value)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	return written(obj, kv), nil
}

// encode drops the resourceVersion: the revision is the truth.
func encode(obj object.Object) ([]byte, error) {
	copied := object.Object{}
	for k, v := range obj {
		copied[k] = v
	}
	meta := map[string]any{}
	for k, v := range obj.Metadata() {
		if k != "resourceVersion" {
			meta[k] = v
		}
	}
	copied["metadata"] = meta
	return object.Marshal(copied)
}

// statusError turns a storage error into what a client of res is told.
func statusError(err error, res *registry.Resource, name string) error {
	var conflict *storage.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NewNotFound(res.Group, res.Name, name)
	case errors.Is(err, storage.ErrKeyExists):
		return apierrors.NewAlreadyExists(res.Group, res.Name, name)
	case errors.As(err, &conflict):
		return apierrors.NewConflict(res.Group, res.Name, name, errors.New(apierrors.OptimisticLockErrorMsg))
	case errors.Is(err, context.DeadlineExceeded):
		// The store did not answer in time (etcd unreachable, say): the
		// client may try again, as with kube-apiserver's 504.
		return apierrors.NewTimeout(fmt.Sprintf("the storage did not answer in time: %v", err), 1)
	}
	return err
}

// opTimeout bounds one storage operation, so that a store that does not
// answer makes requests fail with a Status instead of hanging.
const opTimeout = 10 * time.Second

// readError turns the error of a read at a revision into what a client is
// told: 410 Expired below the compacted revision, 504 asking to retry above
// the current one.
func (s *Store) readError(ctx context.Context, err error, requested int64) error {
	switch {
	case errors.Is(err, storage.ErrCompacted):
		return apierrors.NewExpired(fmt.Sprintf("too old resource version: %d", requested))
	case errors.Is(err, storage.ErrFutureRevision):
		current, _ := s.backend.Revision(ctx)
		return apierrors.NewTooLargeResourceVersion(requested, current)
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeout(fmt.Sprintf("the storage did not answer in time: %v", err), 1)
	}
	return err
}

// Create stores a new object; AlreadyExists if its key is taken.
func (s *Store) Create(ctx context.Context, res *registry.Resource, obj object.Object) (object.Object, error) {
	created, _, err := s.CreateStored(ctx, res, obj)
	return created, err
}

// CreateStored is Create that also returns the object as stored, which
// AppendJSON turns into what a client reads (as GetStored's). The object
// it returns is obj itself, at its resourceVersion: decoding the stored
// bytes again, for an object the caller already has, was 3% of a
// create's CPU.
func (s *Store) CreateStored(ctx context.Context, res *registry.Resource, obj object.Object) (object.Object, storage.KeyValue, error) {
	defer s.observe("create", res, time.Now())
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	value, err := encode(obj)
	if err != nil {
		return nil, storage.KeyValue{}, fmt.Errorf("encoding %s: %w", res.Kind, err)
	}
	kv, err := s.backend.Create(ctx, Key(res, obj.MetaString("namespace"), obj.MetaString("name")), value)
	if err != nil {
		return nil, kv, statusError(err, res, obj.MetaString("name"))
	}
	s.wrote(res, kv.ModRevision)
	return written(obj, kv), kv, nil
}

// written stamps an object with the revision of its write.
func written(obj object.Object, kv storage.KeyValue) object.Object {
	obj.Metadata()["resourceVersion"] = strconv.FormatInt(kv.ModRevision, 10)
	return obj
}

// Get reads an object as it is now.
func (s *Store) Get(ctx context.Context, res *registry.Resource, namespace, name string) (object.Object, error) {
	kv, err := s.GetStored(ctx, res, namespace, name)
	if err != nil {
		return nil, err
	}
	return decode(kv)
}

// GetOwnWrites is Get from the watch cache, once the cache holds every
// write this store has made to the resource; from the storage without a
// cache, or while the cache restarts. It is for what the server reads on
// every write (the admission plugins' namespaces, quotas and webhook
// configurations): kube-apiserver reads those from informers' caches, which
// may lag behind; this one reads its own writes, so a quota or a webhook
// configuration applies from the next request on, as it would if read from
// the storage. Writes through another server (a second replica on the same
// etcd) reach it when the cache has them.
func (s *Store) GetOwnWrites(ctx context.Context, res *registry.Resource, namespace, name string) (object.Object, error) {
	kv, err := s.GetStoredOwnWrites(ctx, res, namespace, name)
	if err != nil {
		return nil, err
	}
	return decode(kv)
}

// GetStoredOwnWrites is GetOwnWrites without decoding.
func (s *Store) GetStoredOwnWrites(ctx context.Context, res *registry.Resource, namespace, name string) (storage.KeyValue, error) {
	kv, err := s.read(ctx, res, Key(res, namespace, name), true)
	return kv, statusError(err, res, name)
}

// Decode turns an object as stored into the object, at its revision.
func Decode(kv storage.KeyValue) (object.Object, error) { return decode(kv) }

// GetStored is Get without decoding: the object as stored, which
// AppendJSON turns into what a client reads.
func (s *Store) GetStored(ctx context.Context, res *registry.Resource, namespace, name string) (storage.KeyValue, error) {
	defer s.observe("get", res, time.Now())
	kv, err := s.read(ctx, res, Key(res, namespace, name), s.SoleWriter)
	return kv, statusError(err, res, name)
}

// read reads a key as it is now; from the watch cache if fromCache, once
// the cache holds every write this store acknowledged to the resource, and
// from the storage without a cache or while it restarts. With SoleWriter
// the cache is then as current as the storage, for a whole list (see
// ListOptions) as for one key. kube-apiserver, whose etcd may have other
// writers, reads etcd.
func (s *Store) read(ctx context.Context, res *registry.Resource, key string, fromCache bool) (storage.KeyValue, error) {
	if fromCache && s.Cache != nil {
		kv, err := s.Cache.GetAtLeast(ctx, Prefix(res, ""), key, s.lastWrite(res))
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			return kv, err
		} // the cache cannot start, or restarts: the storage answers
	}
	// Only what reaches the storage gets opTimeout: a timer per read of
	// the cache cost more than the read (the request's own deadline still
	// bounds a wait for the cache).
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.backend.Get(ctx, key)
}

// ListOptions is one page of a list: after a key, at a revision (0: now), at
// most Limit matching items (0: all), those Match accepts (nil: all). Any
// says any revision will do (resourceVersion "0"): with a watch cache, the
// list comes from it, whole, as of the cache's revision, and Limit does not
// apply, as in Kubernetes.
type ListOptions struct {
	After    string
	Revision int64
	Limit    int
	Match    func(object.Object) bool
	Any      bool
	// OwnWrites says the list may come from the watch cache, whole, once
	// the cache holds every write this store has made to the resource
	// (see GetOwnWrites).
	OwnWrites bool
}

// List reads one page, at one revision, and returns the items, that
// revision, and the key to continue after ("" at the end).
func (s *Store) List(ctx context.Context, res *registry.Resource, namespace string, opts ListOptions) ([]object.Object, int64, string, error) {
	return list(ctx, s, res, namespace, opts, true, func(_ storage.KeyValue, obj object.Object) object.Object { return obj })
}

// ListStored is List without decoding: the items as stored, which
// AppendJSON turns into what a client reads. Only a selector (Match) makes
// it decode each item, to test it.
func (s *Store) ListStored(ctx context.Context, res *registry.Resource, namespace string, opts ListOptions) ([]storage.KeyValue, int64, string, error) {
	return list(ctx, s, res, namespace, opts, false, func(kv storage.KeyValue, _ object.Object) storage.KeyValue { return kv })
}

// list reads one page into items made by item from each stored value and
// its decoded object: decoded if decodeAll, or if a selector needs it.
func list[T any](ctx context.Context, s *Store, res *registry.Resource, namespace string, opts ListOptions, decodeAll bool,
	item func(storage.KeyValue, object.Object) T) ([]T, int64, string, error) {
	items := []T{}
	rev, next, err := s.scan(ctx, res, namespace, opts, func(kv storage.KeyValue) (bool, error) {
		var obj object.Object
		if decodeAll || opts.Match != nil {
			var err error
			if obj, err = decode(kv); err != nil {
				return false, err
			}
			if opts.Match != nil && !opts.Match(obj) {
				return false, nil
			}
		}
		items = append(items, item(kv, obj))
		return true, nil
	})
	if err != nil {
		return nil, 0, "", err
	}
	return items, rev, next, nil
}

// scan reads one page and hands each item to keep, which says whether it
// counts towards the page. With a selector a page may need several reads:
// the backend is read in batches until the page holds Limit matching items
// or the range ends, as Kubernetes' etcd3 store does.
func (s *Store) scan(ctx context.Context, res *registry.Resource, namespace string, opts ListOptions,
	keep func(storage.KeyValue) (bool, error)) (int64, string, error) {
	defer s.observe("list", res, time.Now())
	cached := opts.Any || opts.OwnWrites || s.SoleWriter && opts.Limit == 0
	if s.Cache != nil && cached && opts.After == "" && opts.Revision == 0 {
		atLeast := int64(0)
		if !opts.Any {
			atLeast = s.lastWrite(res)
		}
		if kvs, rev, err := s.Cache.ListAtLeast(ctx, Prefix(res, ""), Prefix(res, namespace), atLeast); err == nil {
			if s.Listed != nil {
				s.Listed(res, true)
			}
			for _, kv := range kvs {
				if _, err := keep(kv); err != nil {
					return 0, "", err
				}
			}
			return rev, "", nil
		} // the cache cannot start, or restarts: the storage answers
	}
	if s.Listed != nil {
		s.Listed(res, false)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout) // as in current
	defer cancel()
	prefix := Prefix(res, namespace)
	after, rev, kept := opts.After, opts.Revision, 0
	for {
		// Without a limit, or without a selector (every item counts), one
		// read is the page (0: the whole range). A limited page with a
		// selector reads batches of 500 until it is full.
		batch := opts.Limit - kept
		if opts.Match != nil && opts.Limit > 0 && batch > 500 {
			batch = 500
		}
		kvs, readAt, more, err := s.backend.List(ctx, prefix, after, batch, rev)
		if err != nil {
			return 0, "", s.readError(ctx, err, rev)
		}
		rev = readAt // every batch of this page reads at the first one's revision
		for _, kv := range kvs {
			after = kv.Key
			ok, err := keep(kv)
			if err != nil {
				return 0, "", err
			}
			if ok {
				kept++
			}
		}
		if !more {
			return rev, "", nil
		}
		if opts.Limit > 0 && kept >= opts.Limit {
			return rev, after, nil
		}
	}
}

// Update computes the new object from the current one and writes it only if
// nobody wrote meanwhile (compare-and-swap on the revision); otherwise it
// tries again on the newer object. If the new object carries a
// resourceVersion, it must be the current one: that is how a client says
// "only if nothing changed" (409 Conflict). tryUpdate gets a fresh object on
// every attempt and may change it.
func (s *Store) Update(ctx context.Context, res *registry.Resource, namespace, name string,
	tryUpdate func(current object.Object) (object.Object, error)) (object.Object, error) {
	updated, _, err := s.UpdateStored(ctx, res, namespace, name, tryUpdate)
	return updated, err
}

// UpdateStored is Update that also returns the object as stored, which
// AppendJSON turns into what a client reads (as GetStored's). The object
// it returns is tryUpdate's, at its resourceVersion, as CreateStored's.
func (s *Store) UpdateStored(ctx context.Context, res *registry.Resource, namespace, name string,
	tryUpdate func(current object.Object) (object.Object, error)) (object.Object, storage.KeyValue, error) {
	defer s.observe("update", res, time.Now())
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	key := Key(res, namespace, name)
	kv, err := s.read(ctx, res, key, s.SoleWriter) // a write that lost a race gets the newer value below
	for {
		if err != nil {
			return nil, kv, statusError(err, res, name)
		}
		current, err := decode(kv)
		if err != nil {
			return nil, kv, err
		}
		currentRV := current.MetaString("resourceVersion")
		uid, created := current.MetaString("uid"), current.MetaString("creationTimestamp")
		obj, err := tryUpdate(current)
		if err != nil {
			return nil, kv, err
		}
		if rv := obj.MetaString("resourceVersion"); rv != "" && rv != currentRV {
			return nil, kv, apierrors.NewConflict(res.Group, res.Name, name, errors.New(apierrors.OptimisticLockErrorMsg))
		}
		meta := obj.Metadata() // what the server owns, the client cannot change
		meta["uid"], meta["creationTimestamp"] = uid, created
		value, encodeErr := encode(obj)
		if encodeErr != nil {
			return nil, kv, fmt.Errorf("encoding %s: %w", res.Kind, encodeErr)
		}
		if bytes.Equal(value, kv.Value) {
			current, err := decode(kv) // nothing changed: like Kubernetes, write nothing, keep the resourceVersion
			return current, kv, err
		}
		updated, writeErr := s.backend.Update(ctx, key, value, kv.ModRevision)
		if writeErr == nil {
			s.wrote(res, updated.ModRevision)
		}
		var conflict *storage.ConflictError
		if errors.As(writeErr, &conflict) {
			kv, err = conflict.Current, nil // someone wrote meanwhile: again, on theirs
			continue
		}
		if writeErr != nil {
			return nil, updated, statusError(writeErr, res, name)
		}
		return written(obj, updated), updated, nil
	}
}

// Delete removes an object if precondition (the client's, nil for none)
// accepts the current one, and returns it as it last was, at the revision of
// the delete.
func (s *Store) Delete(ctx context.Context, res *registry.Resource, namespace, name string,
	precondition func(current object.Object) error) (object.Object, error) {
	defer s.observe("delete", res, time.Now())
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	key := Key(res, namespace, name)
	kv, err := s.read(ctx, res, key, s.SoleWriter) // a write that lost a race gets the newer value below
	for {
		if err != nil {
			return nil, statusError(err, res, name)
		}
		current, err := decode(kv)
		if err != nil {
			return nil, err
		}
		if precondition != nil {
			if err := precondition(current); err != nil {
				return nil, err
			}
		}
		deleted, deleteErr := s.backend.Delete(ctx, key, kv.ModRevision)
		if deleteErr == nil {
			s.wrote(res, deleted.ModRevision)
		}
		var conflict *storage.ConflictError
		if errors.As(deleteErr, &conflict) {
			kv, err = conflict.Current, nil
			continue
		}
		if deleteErr != nil {
			return nil, statusError(deleteErr, res, name)
		}
		return decode(deleted)
	}
}

// Event is a change to one object, as a watch sends it.
type Event struct {
	Type     string        // ADDED, MODIFIED or DELETED
	Object   object.Object // the object after the change; for DELETED, as it last was
	Previous object.Object // the object before the change (nil for ADDED)
	Revision int64
	// Stored is the object after the change as stored (see WriteJSON),
	// set by a Stream with stored instead of Object and Previous (whose
	// Value is then nil).
	Stored storage.KeyValue
	frame  *storage.Frame // Stored's line, shared by the watch cache's watchers (Line)
}

// Line is an event from a stored Stream as a watch sends it, the JSON line
// {"type":"ADDED","object":{…}} that json.Encoder writes for the decoded
// object. Through the watch cache, it is encoded once per change and shared
// by every watcher that sends it (storage.Frame); a watch of the storage
// encodes its own. The bytes may be shared: do not modify them.
func (ev Event) Line() ([]byte, error) {
	encode := func() ([]byte, error) {
		line := make([]byte, 0, len(ev.Stored.Value)+64)
		line = append(append(append(line, `{"type":"`...), ev.Type...), `","object":`...)
		line, err := AppendJSON(line, ev.Stored)
		if err != nil {
			return nil, err
		}
		return append(line, "}\n"...), nil
	}
	if ev.frame == nil {
		return encode()
	}
	return ev.frame.Bytes(encode)
}

// Watch sends the changes to a resource's objects in a namespace ("" for
// all) after revision (0: from now), as Stream does, on a channel. The
// channel closes when ctx ends or the watcher falls behind.
func (s *Store) Watch(ctx context.Context, res *registry.Resource, namespace string, revision int64) (<-chan Event, error) {
	st, err := s.Stream(ctx, res, namespace, revision, false, nil)
	if err != nil {
		return nil, err
	}
	// A little buffer: events that come together reach the reader
	// together.
	events := make(chan Event, 16)
	go func() {
		defer close(events)
		defer st.Stop()
		var batch []Event
		for {
			select {
			case <-st.Ready():
			case <-ctx.Done():
				return
			}
			var open bool
			batch, open = st.Next(batch[:0])
			for _, ev := range batch {
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
			if !open {
				return
			}
		}
	}()
	return events, nil
}

// Stream is a watch that its reader pulls from, in the reader's own
// goroutine: Ready has a token when events may wait, Next takes them. From
// the watch cache nothing runs between the cache and the reader; from the
// storage, one goroutine queues the storage's changes.
type Stream struct {
	source  changeSource // a subscription to the cache, or the queue of the storage's changes
	stop    func()
	stored  bool // events carry the stored bytes, not objects
	changes []storage.Event
}

// changeSource is where a Stream takes its changes from: a
// *watchcache.Subscription or a *storage.Queue.
type changeSource interface {
	Ready() <-chan struct{}
	Take(buf []storage.Event) ([]storage.Event, bool)
}

// Stream opens a watch of the changes to a resource's objects in a
// namespace ("" for all) after revision (0: from now): from the watch cache
// if there is one and its window of recent changes holds the revision,
// from the storage otherwise. 410 Expired below the compacted revision.
// With stored, each event carries the object as stored (Line) instead of
// decoded. A reader that falls behind by storage.WatchBuffer events is cut
// off: Next says nothing more comes, and onFull (nil: none) is called,
// from another goroutine, to wake a reader blocked elsewhere.
func (s *Store) Stream(ctx context.Context, res *registry.Resource, namespace string, revision int64, stored bool, onFull func()) (*Stream, error) {
	if s.Cache != nil {
		var err error
		if revision == 0 { // now is the storage's, the cache may be behind it
			if revision, err = s.backend.Revision(ctx); err != nil {
				return nil, s.readError(ctx, err, 0)
			}
		}
		sub, err := s.Cache.Subscribe(ctx, Prefix(res, ""), Prefix(res, namespace), revision, onFull)
		if err == nil {
			return &Stream{source: sub, stop: sub.Stop, stored: stored}, nil
		}
		if !errors.Is(err, storage.ErrCompacted) {
			return nil, s.readError(ctx, err, revision)
		} // before the cache's window: the storage may still have it
	}
	watchCtx, stop := context.WithCancel(ctx)
	fromStorage, err := s.backend.Watch(watchCtx, Prefix(res, namespace), revision)
	if err != nil {
		stop()
		return nil, s.readError(ctx, err, revision)
	}
	q := storage.NewQueue(onFull)
	go func() {
		defer q.Close()
		for change := range fromStorage {
			if !q.Push(change, storage.WatchBuffer) {
				stop() // the storage's watch ends, and its channel closes
			}
		}
	}()
	return &Stream{source: q, stop: stop, stored: stored}, nil
}

// Ready has a token when there may be events to take.
func (st *Stream) Ready() <-chan struct{} { return st.source.Ready() }

// Next appends the events waiting to buf and tells whether more may come:
// not once the watcher fell behind, the watch ended, or a value did not
// decode (the client lists again).
func (st *Stream) Next(buf []Event) ([]Event, bool) {
	var open bool
	st.changes, open = st.source.Take(st.changes[:0])
	for _, change := range st.changes {
		if st.stored {
			buf = append(buf, Event{Type: eventType(change), Revision: change.KV.ModRevision, Stored: change.KV, frame: change.Frame})
			continue
		}
		ev, err := toEvent(change)
		if err != nil {
			return buf, false
		}
		buf = append(buf, ev)
	}
	clear(st.changes)
	return buf, open
}

// Stop ends the watch.
func (st *Stream) Stop() { st.stop() }

// eventType names a storage change as a watch event does.
func eventType(change storage.Event) string {
	switch {
	case change.Type == storage.Delete:
		return "DELETED"
	case change.IsCreate():
		return "ADDED"
	}
	return "MODIFIED"
}

func toEvent(change storage.Event) (Event, error) {
	ev := Event{Type: eventType(change), Revision: change.KV.ModRevision}
	var err error
	if ev.Object, err = decode(change.KV); err != nil {
		return ev, err
	}
	if change.PrevKV != nil {
		if ev.Previous, err = decode(*change.PrevKV); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// Revision is the store's current revision: the resourceVersion of a list read now.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	return s.backend.Revision(ctx)
}
