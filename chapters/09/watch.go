// Watch: a list that never ends. After the objects (or from a given
// resourceVersion), the client receives every later change as it commits,
// one JSON event per line: {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": ...}.
//
// Every commit hands its event to the hub inside the store's write lock, so
// events reach each watcher in revision order. A watcher registers at a
// revision R: events after R come live; what came before is read from the
// log (a resume) or from the state at R (a fresh watch), so nothing is
// missed or sent twice at the seam. Each watcher has a bounded buffer: one
// that cannot keep up is closed, never waited for, and its client lists
// again, as informers do.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// watchEvent is one committed change.
type watchEvent struct {
	revision  int64
	key       string
	eventType string // ADDED, MODIFIED or DELETED
	object    object // the object after the change (DELETED: as it last was)
	prev      object // before the change (nil for ADDED); selectors need it
}

// watcherBuffer is how many events a watcher may fall behind by.
const watcherBuffer = 1000

// watcher receives the events of a key range.
type watcher struct {
	start, end string
	events     chan watchEvent // closed by the hub when the watcher falls behind
	from       int64           // the revision it registered at
}

type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]bool
}

func newHub() *hub { return &hub{watchers: map[*watcher]bool{}} }

// publish hands an event to every watcher of its key. It never blocks: a
// full buffer closes that watcher instead.
func (h *hub) publish(ev watchEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		if ev.key < w.start || ev.key >= w.end {
			continue
		}
		select {
		case w.events <- ev:
		default:
			close(w.events)
			delete(h.watchers, w)
		}
	}
}

// watch registers a watcher for a key range at the current revision.
// Holding the write lock while registering means: every event up to the
// returned revision has been published before, every later one after.
func (s *store) watch(start, end string) *watcher {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	w := &watcher{start: start, end: end, events: make(chan watchEvent, watcherBuffer), from: s.rev}
	s.watchers.mu.Lock()
	s.watchers.watchers[w] = true
	s.watchers.mu.Unlock()
	return w
}

// unwatch forgets a watcher (it may be gone already, if it fell behind).
func (s *store) unwatch(w *watcher) {
	s.watchers.mu.Lock()
	defer s.watchers.mu.Unlock()
	delete(s.watchers.watchers, w)
}

// history reads the events of a key range after revision `after`, up to and
// including `upTo`, from the log. Each carries the key's previous value,
// for the selectors' transitions.
func (s *store) history(start, end string, after, upTo int64) ([]watchEvent, error) {
	// One read transaction, so that a compaction committing meanwhile
	// cannot remove rows between the check and the read: the answer is
	// the whole history, or 410.
	tx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("beginning a read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var compacted int64
	if err := tx.QueryRow(`SELECT value FROM meta WHERE name = 'compacted'`).Scan(&compacted); err != nil {
		return nil, fmt.Errorf("reading the compacted revision: %w", err)
	}
	if after < compacted {
		return nil, errExpired(fmt.Sprintf("too old resource version: %d (%d)", after, compacted))
	}
	rows, err := tx.Query(`SELECT l.revision, l.key, l.create_revision, l.deleted, l.value,
			(SELECT p.value FROM log p WHERE p.key = l.key AND p.revision < l.revision ORDER BY p.revision DESC LIMIT 1)
		FROM log l WHERE l.revision > ? AND l.revision <= ? AND l.key >= ? AND l.key < ?
		ORDER BY l.revision`, after, upTo, start, end)
	if err != nil {
		return nil, fmt.Errorf("reading history after %d: %w", after, err)
	}
	defer rows.Close()
	var events []watchEvent
	for rows.Next() {
		var ev watchEvent
		var createRevision int64
		var deleted bool
		var value, prev []byte
		if err := rows.Scan(&ev.revision, &ev.key, &createRevision, &deleted, &value, &prev); err != nil {
			return nil, err
		}
		if ev.object, err = decodeStored(value, ev.revision); err != nil {
			return nil, err
		}
		if prev != nil {
			if ev.prev, err = decodeStored(prev, ev.revision); err != nil {
				return nil, err
			}
		}
		switch {
		case deleted:
			ev.eventType = "DELETED"
		case createRevision == ev.revision:
			ev.eventType, ev.prev = "ADDED", nil
		default:
			ev.eventType = "MODIFIED"
		}
		events = append(events, ev)
	}
	return events, rows.Err()
}

// watchOptions are a watch request's query parameters.
type watchOptions struct {
	resourceVersion   string
	sendInitialEvents bool
	bookmarks         bool
	timeout           time.Duration
	match             func(object) bool
}

// defaultWatchTimeout applies when the client sets no timeoutSeconds.
const defaultWatchTimeout = 30 * time.Minute

func parseWatchOptions(r *http.Request) (watchOptions, error) {
	q := r.URL.Query()
	o := watchOptions{resourceVersion: q.Get("resourceVersion"), timeout: defaultWatchTimeout,
		bookmarks: q.Get("allowWatchBookmarks") == "true"}
	if o.resourceVersion != "" {
		if _, err := parseResourceVersion(o.resourceVersion); err != nil {
			return o, err
		}
	}
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return o, errBadRequest("invalid timeoutSeconds %q", t)
		}
		if n > 0 {
			o.timeout = time.Duration(n) * time.Second
		}
	}
	// sendInitialEvents (the "watch list" of newer clients): the state as
	// ADDED events, then a bookmark saying it is complete, then changes.
	match := q.Get("resourceVersionMatch")
	switch q.Get("sendInitialEvents") {
	case "":
		// a plain watch: resourceVersion "" and "0" start with the state too
		if match != "" {
			return o, errBadRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
		}
		o.sendInitialEvents = o.resourceVersion == "" || o.resourceVersion == "0"
		return o, nil
	case "true":
		o.sendInitialEvents = true
	case "false":
	default:
		return o, errBadRequest("invalid sendInitialEvents %q", q.Get("sendInitialEvents"))
	}
	if match != "NotOlderThan" {
		return o, errBadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
	}
	return o, nil
}

// serveWatch streams the events of one resource in one namespace ("" for all).
func (s *server) serveWatch(w http.ResponseWriter, r *http.Request, res *resource, namespace string, o watchOptions) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, fmt.Errorf("streaming is not supported by this connection"))
		return
	}
	// A revision this store has not reached yet cannot be watched from.
	if rv, _ := strconv.ParseInt(o.resourceVersion, 10, 64); rv > s.store.revision() {
		writeError(w, errTooLargeResourceVersion(rv, s.store.revision()))
		return
	}
	start, end := prefixRange(storageKey(res, namespace, "") + "/")
	wt := s.store.watch(start, end)
	defer s.store.unwatch(wt)

	w.Header().Set("Content-Type", "application/json;stream=watch")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // the client learns the watch started, before any event
	enc := json.NewEncoder(w)
	sent := wt.from // every event up to here has been sent
	send := func(eventType string, obj any) bool {
		if err := enc.Encode(struct {
			Type   string `json:"type"`
			Object any    `json:"object"`
		}{eventType, obj}); err != nil {
			return false // the client is gone
		}
		flusher.Flush()
		return true
	}
	sendEvent := func(ev watchEvent) bool {
		if ev.revision > sent {
			sent = ev.revision
		}
		eventType, obj, ok := filtered(ev, o.match)
		return !ok || send(eventType, present(res, obj))
	}
	bookmark := func(annotations map[string]any) bool {
		meta := map[string]any{"resourceVersion": strconv.FormatInt(sent, 10)}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return send("BOOKMARK", map[string]any{"kind": res.kind, "apiVersion": res.groupVersion(), "metadata": meta})
	}
	fail := func(err error) {
		se, ok := err.(*statusError)
		if !ok {
			se = &statusError{http.StatusInternalServerError, "InternalError", err.Error(), nil}
		}
		send("ERROR", map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
			"status": "Failure", "message": se.message, "reason": se.reason, "code": se.code})
	}

	// What came before the watcher registered: the state, or the log.
	if o.sendInitialEvents {
		items, _, _, err := s.store.listPage(res, namespace, listQuery{revision: wt.from})
		if err != nil {
			fail(err)
			return
		}
		for _, obj := range items {
			if o.match(obj) && !send("ADDED", present(res, obj)) {
				return
			}
		}
		if o.bookmarks && r.URL.Query().Get("sendInitialEvents") == "true" &&
			!bookmark(map[string]any{"k8s.io/initial-events-end": "true"}) {
			return
		}
	} else if rv, _ := strconv.ParseInt(o.resourceVersion, 10, 64); rv != 0 {
		if rv > wt.from {
			fail(errTooLargeResourceVersion(rv, wt.from))
			return
		}
		events, err := s.store.history(start, end, rv, wt.from)
		if err != nil {
			fail(err) // 410 Expired: the client lists again
			return
		}
		for _, ev := range events {
			if !sendEvent(ev) {
				return
			}
		}
		sent = wt.from
	}

	// Then live events, bookmarks, until the timeout or the client leaves.
	timeout := time.NewTimer(o.timeout)
	defer timeout.Stop()
	interval := s.bookmarkInterval
	if interval <= 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case ev, open := <-wt.events:
			if !open {
				return // fell behind: closing makes the client list and watch again
			}
			if !sendEvent(ev) {
				return
			}
		case <-ticker.C:
			if !o.bookmarks {
				continue
			}
			// Every event up to the store's revision now is already in the
			// queue (events are queued before a write lets go of the lock):
			// send them, and the bookmark can say "up to now", even if the
			// writes were in other namespaces.
			now := s.store.revision()
			for drained := false; !drained; {
				select {
				case ev, open := <-wt.events:
					if !open || !sendEvent(ev) {
						return
					}
				default:
					drained = true
				}
			}
			sent = max(sent, now)
			if !bookmark(nil) {
				return
			}
		case <-timeout.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// filtered applies the selectors to an event, with the transitions
// Kubernetes defines: an object that starts matching is ADDED for this
// watcher, one that stops matching is DELETED, sent as it last matched at
// the change's revision (k8s.io/apiserver's cacheWatcher.convertToWatchEvent).
func filtered(ev watchEvent, match func(object) bool) (string, object, bool) {
	now := ev.eventType != "DELETED" && match(ev.object)
	before := ev.prev != nil && match(ev.prev)
	obj := ev.object
	if ev.eventType == "DELETED" {
		obj = withResourceVersion(ev.object, ev.revision)
		return "DELETED", obj, before
	}
	switch {
	case now && before:
		return "MODIFIED", obj, true
	case now:
		return "ADDED", obj, true
	case before:
		return "DELETED", withResourceVersion(ev.prev, ev.revision), true
	}
	return "", nil, false
}

// withResourceVersion copies an object with another resourceVersion (a
// deleted object is reported at the revision of its deletion).
func withResourceVersion(obj object, rev int64) object {
	out := object{}
	for k, v := range obj {
		out[k] = v
	}
	meta := map[string]any{}
	for k, v := range obj.metadata() {
		meta[k] = v
	}
	meta["resourceVersion"] = strconv.FormatInt(rev, 10)
	out["metadata"] = meta
	return out
}
