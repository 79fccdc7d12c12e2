// Package watchcache is kube-apiserver's watch cache (--watch-cache), small:
// for each resource, the live keys and the recent changes kept in memory,
// fed by one storage watch of the resource's prefix. It serves every watch
// and the lists that accept any resourceVersion ("0"), so that a thousand
// watchers of configmaps cost one watch on the storage, not a thousand, and
// informers starting up do not read the storage at all.
//
// What that changes for clients is what it changes in Kubernetes: a list at
// resourceVersion "0" comes as of the revision the cache is at, which may be
// behind the storage's, and whole (the cache does not page: limit does not
// apply). A watch can resume from the cache only from a revision inside its
// window of recent changes; Watch answers ErrCompacted for older ones, and
// final/store then asks the storage, which may still have them (Kubernetes
// answers 410 Gone there). The window keeps at least the last MinEvents
// changes and everything younger than Fresh, up to MaxEvents (Kubernetes
// sizes its window the same way, from 100 events up to 100 Ki, keeping
// 75 s).
//
// A cache starts on first use, at the revision its first watch asks for or
// now; when its storage watch ends (the storage closed it, or it fell too
// far behind), it ends its watchers, who list and watch again, and starts
// afresh on next use. This is k8s.io/apiserver's pkg/storage/cacher, without
// its indexes, snapshots and progress notifications.
package watchcache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// Cacher holds one cache per resource, by key prefix.
type Cacher struct {
	backend storage.Backend
	ctx     context.Context // the server's lifetime: it ends the storage watches

	// The window of recent changes, per resource: at least MinEvents
	// changes and those younger than Fresh, at most MaxEvents, and at most
	// MaxBytes of values (beyond MinEvents). Kubernetes bounds the count
	// only; the byte bound keeps a resource written thousands of times a
	// second from holding a hundred thousand objects. A watch that resumes
	// from before the window is served by the storage.
	MinEvents, MaxEvents int
	MaxBytes             int
	Fresh                time.Duration

	mu     sync.Mutex
	caches map[string]*cache
}

// New returns a cacher over a backend, with Kubernetes' window; the storage
// watches it opens end with ctx.
func New(ctx context.Context, backend storage.Backend) *Cacher {
	return &Cacher{backend: backend, ctx: ctx, MinEvents: 100, MaxEvents: 100 * 1024, MaxBytes: 8 << 20, Fresh: 75 * time.Second,
		caches: map[string]*cache{}}
}

// startTimeout bounds the reads that start a cache.
const startTimeout = 10 * time.Second

// cache is one resource's: its keys as of rev, and the changes after start.
type cache struct {
	c      *Cacher
	prefix string

	mu      sync.RWMutex
	running bool // its storage watch is on; otherwise it starts on next use
	rev     int64
	start   int64 // every change after start is in events
	items   map[string]storage.KeyValue
	// sorted is items in key order, for lists: kept up to date when a key
	// changes, dropped when a key comes or goes, sorted again by the next
	// list (under sortMu: readers share mu).
	sorted   []storage.KeyValue
	sortMu   sync.Mutex
	events   []change
	bytes    int // of the values in events
	watchers map[*watcher]struct{}
	// progress is closed, and replaced, each time rev moves or the cache
	// stops: what a reader waiting for a revision waits on.
	progress chan struct{}
}

type change struct {
	event storage.Event
	at    time.Time
}

// watcher is one client's watch: the changes to keys under prefix after a
// revision, queued until they are sent, at most storage.WatchBuffer of
// them, as the storage's watches buffer them.
type watcher struct {
	prefix string
	after  int64
	queue  *storage.Queue
}

func (c *Cacher) cacheOf(resourcePrefix string) *cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.caches[resourcePrefix]
	if rc == nil {
		rc = &cache{c: c, prefix: resourcePrefix}
		c.caches[resourcePrefix] = rc
	}
	return rc
}

// List returns the live keys under prefix, a prefix inside resourcePrefix
// (one namespace's, or all of the resource), in key order, and the revision
// the cache is at.
func (c *Cacher) List(ctx context.Context, resourcePrefix, prefix string) ([]storage.KeyValue, int64, error) {
	return c.ListAtLeast(ctx, resourcePrefix, prefix, 0)
}

// ListAtLeast is List once the cache is at revision atLeast or later: it
// waits (until ctx ends) for the cache to apply the changes up to there.
// A server that knows the revision of its own last write to a resource
// reads its own writes this way, without reading the storage.
func (c *Cacher) ListAtLeast(ctx context.Context, resourcePrefix, prefix string, atLeast int64) ([]storage.KeyValue, int64, error) {
	rc := c.cacheOf(resourcePrefix)
	if err := rc.ensure(ctx, 0); err != nil {
		return nil, 0, err
	}
	if err := rc.rLockAt(ctx, atLeast); err != nil {
		return nil, 0, fmt.Errorf("listing %q: %w", prefix, err)
	}
	sorted := rc.sortedItems()
	from := sort.Search(len(sorted), func(i int) bool { return sorted[i].Key >= prefix })
	to := from + sort.Search(len(sorted)-from, func(i int) bool { return !strings.HasPrefix(sorted[from+i].Key, prefix) })
	kvs := append([]storage.KeyValue{}, sorted[from:to]...)
	rev := rc.rev
	rc.mu.RUnlock()
	return kvs, rev, nil
}

// sortedItems is rc.sorted, sorted again if a key came or went since the
// last list. The caller holds mu, read-locked.
func (rc *cache) sortedItems() []storage.KeyValue {
	rc.sortMu.Lock()
	defer rc.sortMu.Unlock()
	if rc.sorted == nil {
		rc.sorted = make([]storage.KeyValue, 0, len(rc.items))
		for _, kv := range rc.items {
			rc.sorted = append(rc.sorted, kv)
		}
		sort.Slice(rc.sorted, func(i, j int) bool { return rc.sorted[i].Key < rc.sorted[j].Key })
	}
	return rc.sorted
}

// GetAtLeast is the value of one key inside resourcePrefix, as ListAtLeast
// would list it; storage.ErrNotFound if the key is not live.
func (c *Cacher) GetAtLeast(ctx context.Context, resourcePrefix, key string, atLeast int64) (storage.KeyValue, error) {
	rc := c.cacheOf(resourcePrefix)
	if err := rc.ensure(ctx, 0); err != nil {
		return storage.KeyValue{}, err
	}
	if err := rc.rLockAt(ctx, atLeast); err != nil {
		return storage.KeyValue{}, fmt.Errorf("reading %q: %w", key, err)
	}
	defer rc.mu.RUnlock()
	kv, ok := rc.items[key]
	if !ok {
		return kv, fmt.Errorf("reading %q: %w", key, storage.ErrNotFound)
	}
	return kv, nil
}

// errRestarts says a cache's storage watch ended: the caller reads the
// storage instead.
var errRestarts = errors.New("the watch cache restarts")

// rLockAt read-locks the cache once it is at revision atLeast or later.
func (rc *cache) rLockAt(ctx context.Context, atLeast int64) error {
	for {
		rc.mu.RLock()
		if !rc.running { // its storage watch ended meanwhile
			rc.mu.RUnlock()
			return errRestarts
		}
		if rc.rev >= atLeast {
			return nil
		}
		progress := rc.progress
		rc.mu.RUnlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Subscription is a watch of the cache: the changes to keys under a
// prefix after a revision, which its reader takes in its own goroutine
// (Ready, then Take). A thousand watchers receive a change a thousand
// times, and a goroutine between the cache and each of them was a thousand
// more hand-offs.
type Subscription struct {
	rc      *cache
	w       *watcher
	backlog []storage.Event
}

// Subscribe starts a watch of the keys under prefix (inside
// resourcePrefix) after revision (0: after the cache's); ErrCompacted if
// the cache's window starts after revision. onFull (nil: none) is called
// if the watcher falls behind (see storage.NewQueue).
func (c *Cacher) Subscribe(ctx context.Context, resourcePrefix, prefix string, revision int64, onFull func()) (*Subscription, error) {
	rc := c.cacheOf(resourcePrefix)
	if err := rc.ensure(ctx, revision); err != nil {
		return nil, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.running { // its storage watch ended meanwhile
		return nil, fmt.Errorf("watching %q: the watch cache restarts: %w", prefix, storage.ErrCompacted)
	}
	if revision == 0 {
		revision = rc.rev
	}
	if revision < rc.start {
		return nil, fmt.Errorf("watching %q from %d: the watch cache has the changes after %d: %w", prefix, revision, rc.start, storage.ErrCompacted)
	}
	var backlog []storage.Event
	for _, ch := range rc.events {
		if ch.event.KV.ModRevision > revision && strings.HasPrefix(ch.event.KV.Key, prefix) {
			backlog = append(backlog, ch.event)
		}
	}
	w := &watcher{prefix: prefix, after: revision, queue: storage.NewQueue(onFull)}
	rc.watchers[w] = struct{}{}
	return &Subscription{rc: rc, w: w, backlog: backlog}, nil
}

// Ready has a token when there may be changes to take.
func (sub *Subscription) Ready() <-chan struct{} {
	if len(sub.backlog) > 0 {
		return closedChan
	}
	return sub.w.queue.Ready()
}

// closedChan is always ready.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Take appends the changes waiting, in order, to buf, and tells whether
// more may come: not once the watcher fell behind or the cache restarts
// (the client must then list and watch again).
func (sub *Subscription) Take(buf []storage.Event) ([]storage.Event, bool) {
	if len(sub.backlog) > 0 {
		buf, sub.backlog = append(buf, sub.backlog...), nil
		return buf, true
	}
	return sub.w.queue.Take(buf)
}

// Stop ends the subscription.
func (sub *Subscription) Stop() {
	sub.rc.forget(sub.w)
}

// forget removes a watcher that left.
func (rc *cache) forget(w *watcher) {
	rc.mu.Lock()
	delete(rc.watchers, w)
	rc.mu.Unlock()
}

// ensure starts the cache if it is not running: it reads the keys at
// revision (0: now; now as well if revision is compacted) and watches from
// there.
func (rc *cache) ensure(ctx context.Context, revision int64) error {
	rc.mu.RLock()
	running := rc.running
	rc.mu.RUnlock()
	if running {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.running {
		return nil
	}
	// A storage that does not answer fails the start soon, with the
	// store's bound for one operation, not the request's.
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	kvs, rev, _, err := rc.c.backend.List(ctx, rc.prefix, "", 0, revision)
	if err != nil && revision > 0 {
		kvs, rev, _, err = rc.c.backend.List(ctx, rc.prefix, "", 0, 0)
	}
	if err != nil {
		return fmt.Errorf("starting the watch cache of %q: %w", rc.prefix, err)
	}
	changes, err := rc.c.backend.Watch(rc.c.ctx, rc.prefix, rev)
	if err != nil {
		return fmt.Errorf("starting the watch cache of %q: %w", rc.prefix, err)
	}
	rc.items, rc.sorted = make(map[string]storage.KeyValue, len(kvs)), nil
	for _, kv := range kvs {
		rc.items[kv.Key] = kv
	}
	rc.rev, rc.start, rc.events, rc.bytes, rc.watchers, rc.running = rev, rev, nil, 0, map[*watcher]struct{}{}, true
	rc.progress = make(chan struct{})
	go rc.follow(changes)
	return nil
}

// follow applies the storage's changes until its watch ends; then it ends
// the watchers and lets the cache start again on next use.
func (rc *cache) follow(changes <-chan storage.Event) {
	for ev := range changes {
		rc.apply(ev)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for w := range rc.watchers {
		w.queue.Close()
	}
	rc.running, rc.items, rc.sorted, rc.events, rc.bytes, rc.watchers = false, nil, nil, nil, 0, nil
	close(rc.progress) // a reader waiting for a revision reads the storage instead
}

// apply records one change, trims the window, and hands the change to the
// watchers it concerns. A watcher whose buffer is full is closed rather
// than waited for, as the storage's watches do.
func (rc *cache) apply(ev storage.Event) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	prev, known := rc.items[ev.KV.Key]
	if known && ev.PrevKV != nil && ev.PrevKV.ModRevision == prev.ModRevision {
		ev.PrevKV = &prev // the same bytes the cache holds already, not a second copy
	}
	switch {
	case ev.Type == storage.Delete:
		delete(rc.items, ev.KV.Key)
		rc.sorted = nil
	case !known:
		rc.items[ev.KV.Key] = ev.KV
		rc.sorted = nil
	default:
		rc.items[ev.KV.Key] = ev.KV
		if i := sort.Search(len(rc.sorted), func(i int) bool { return rc.sorted[i].Key >= ev.KV.Key }); i < len(rc.sorted) && rc.sorted[i].Key == ev.KV.Key {
			rc.sorted[i] = ev.KV
		}
	}
	rc.rev = ev.KV.ModRevision
	close(rc.progress)
	rc.progress = make(chan struct{})
	now := time.Now()
	rc.events = append(rc.events, change{ev, now})
	rc.bytes += len(ev.KV.Value)
	for len(rc.events) > rc.c.MaxEvents ||
		len(rc.events) > rc.c.MinEvents && (now.Sub(rc.events[0].at) > rc.c.Fresh || rc.c.MaxBytes > 0 && rc.bytes > rc.c.MaxBytes) {
		rc.start = rc.events[0].event.KV.ModRevision
		rc.bytes -= len(rc.events[0].event.KV.Value)
		rc.events[0] = change{}
		rc.events = rc.events[1:]
	}
	// The watchers it goes to now share one encoding of it (storage.Frame).
	// The window keeps it without: a watch replaying history encodes its
	// own, and the window does not hold every change twice.
	ev.Frame = &storage.Frame{}
	for w := range rc.watchers {
		if ev.KV.ModRevision <= w.after || !strings.HasPrefix(ev.KV.Key, w.prefix) {
			continue
		}
		if !w.queue.Push(ev, storage.WatchBuffer) { // fell behind: closed
			delete(rc.watchers, w)
		}
	}
}
