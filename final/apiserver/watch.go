// Watch: every list endpoint also streams changes (?watch=true), from the
// current state or from a resourceVersion, with bookmarks, 410 Gone for
// compacted history, and selectors that turn changes into ADDED or DELETED
// for a watcher. The store delivers the changes (storage replays history
// and then follows live writes, with no gap and no duplicate); this file
// turns them into watch events on the wire.
package apiserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// watchOptions are a watch request's query parameters.
type watchOptions struct {
	resourceVersion   int64
	anyRevision       bool // resourceVersion "0": the initial events may come from the watch cache
	sendInitialEvents bool
	endBookmark       bool // sendInitialEvents=true asks for the initial-events-end bookmark
	bookmarks         bool
	timeout           time.Duration
	match             func(object.Object) bool
}

// defaultWatchTimeout applies when the client sets no timeoutSeconds.
const defaultWatchTimeout = 30 * time.Minute

// parseWatchOptions reads a watch's parameters; watchList is the WatchList
// feature gate.
func parseWatchOptions(r *http.Request, watchList bool) (watchOptions, error) {
	q := r.URL.Query()
	o := watchOptions{timeout: defaultWatchTimeout, bookmarks: q.Get("allowWatchBookmarks") == "true",
		anyRevision: q.Get("resourceVersion") == "0"}
	rv := q.Get("resourceVersion")
	if rv != "" {
		n, err := parseResourceVersion(rv)
		if err != nil {
			return o, err
		}
		o.resourceVersion = n
	}
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return o, apierrors.NewBadRequest("invalid timeoutSeconds %q", t)
		}
		if n != 0 { // a negative one ends the watch at once, as in Kubernetes
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
			return o, invalidListOptions("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
		}
		o.sendInitialEvents = o.resourceVersion == 0
		// With WatchList, Kubernetes makes such a watch a watch list
		// (sendInitialEvents=true): its initial events end with the bookmark.
		o.endBookmark = o.sendInitialEvents && watchList
		return o, nil
	case "true":
		o.sendInitialEvents, o.endBookmark = true, true
	case "false":
	default:
		return o, apierrors.NewBadRequest("invalid sendInitialEvents %q", q.Get("sendInitialEvents"))
	}
	if !watchList {
		return o, apierrors.NewInvalid("meta.k8s.io", "ListOptions", "", []apierrors.Cause{{Reason: "FieldValueForbidden",
			Message: "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled", Field: "sendInitialEvents"}})
	}
	if match != "NotOlderThan" {
		return o, invalidListOptions("FieldValueForbidden", "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
	}
	return o, nil
}

// serveWatch streams the events of one resource in one namespace ("" for all).
func (s *APIServer) serveWatch(w http.ResponseWriter, r *http.Request, res *registry.Resource, namespace string) {
	o, err := parseWatchOptions(r, s.Features.Enabled(features.WatchList))
	if err == nil {
		o.match, err = parseSelectors(r, res)
	}
	if err != nil {
		apierrors.WriteError(w, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		apierrors.WriteError(w, apierrors.NewInternalError(errNoStreaming))
		return
	}
	ctx := r.Context()
	// A revision this store has not reached yet cannot be watched from.
	if now, err := s.Store.Revision(ctx); err == nil && o.resourceVersion > now {
		apierrors.WriteError(w, apierrors.NewTooLargeResourceVersion(o.resourceVersion, now))
		return
	}

	// What came before: the state as of one revision, or nothing (the
	// watch then starts after the client's resourceVersion).
	var initial []object.Object
	from := o.resourceVersion
	if o.sendInitialEvents {
		initial, from, _, err = s.Store.List(ctx, res, namespace, store.ListOptions{Match: o.match, Any: o.anyRevision})
		if err == nil {
			initial, err = presentAll(ctx, res, initial)
		}
		if err != nil {
			apierrors.WriteError(w, err)
			return
		}
	}
	if from == 0 { // from now: pin the revision, so that a bookmark can name it
		if from, err = s.Store.Revision(ctx); err != nil {
			apierrors.WriteError(w, err)
			return
		}
	}
	// Unfiltered and sent as stored, the events carry the objects' bytes
	// (stored.go): the watchers of a change write one shared encoding of it.
	stored := sendsStored(res, r) && noSelectors(r)
	cut, served := cutOff(w)
	defer served()
	stream, watchErr := s.Store.Stream(ctx, res, namespace, from, stored, cut)

	w.Header().Set("Content-Type", "application/json;stream=watch")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // the client learns the watch started, before any event
	out := &eventWriter{w: w, flusher: flusher}
	defer out.release()
	enc := json.NewEncoder(out)
	asTable := wantsTable(r)
	write := func(eventType string, obj any) bool {
		if o, ok := obj.(object.Object); ok && asTable && eventType != "BOOKMARK" {
			obj = table(r, res, []object.Object{o}, nil) // kubectl get -w prints rows
		}
		return enc.Encode(struct {
			Type   string `json:"type"`
			Object any    `json:"object"`
		}{eventType, obj}) == nil // or the client is gone
	}
	send := func(eventType string, obj any) bool {
		return write(eventType, obj) && out.flush()
	}
	sent := from // every event up to here has been sent
	bookmark := func(annotations map[string]any) bool {
		meta := map[string]any{"resourceVersion": strconv.FormatInt(sent, 10)}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return send("BOOKMARK", map[string]any{"kind": res.Kind, "apiVersion": res.GroupVersion(), "metadata": meta})
	}
	if watchErr != nil { // 410 Expired: the client lists again
		send("ERROR", apierrors.ToStatus(watchErr))
		return
	}
	defer stream.Stop()
	for _, obj := range initial { // written as a burst of changes is: a frame's worth at a time
		if !write("ADDED", obj) || out.gathered() >= maxEventWrite && !out.flush() {
			return
		}
	}
	if len(initial) > 0 && !out.flush() {
		return
	}
	if o.bookmarks && o.endBookmark && !bookmark(map[string]any{"k8s.io/initial-events-end": "true"}) {
		return
	}

	// Then changes, bookmarks, until the timeout or the client leaves.
	timeout := time.NewTimer(o.timeout)
	defer timeout.Stop()
	interval := s.BookmarkInterval
	if interval <= 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var events []store.Event
	for {
		select {
		case <-stream.Ready():
			var open bool
			events, open = stream.Next(events[:0])
			for _, ev := range events {
				sent = ev.Revision
				if stored {
					if !writeStored(out, ev) {
						return
					}
				} else if eventType, obj, ok := filtered(ev, o.match); ok {
					if obj, err = present(ctx, res, obj); err != nil { // a conversion webhook failed
						send("ERROR", apierrors.ToStatus(err))
						return
					}
					if !write(eventType, obj) {
						return
					}
				}
				if out.gathered() >= maxEventWrite && !out.flush() {
					return
				}
			}
			// Events that came together leave together: one write and
			// one flush for all of them (up to maxEventWrite).
			clear(events)
			if !out.flush() || !open {
				return // !open: fell behind, or the server is stopping: the client lists and watches again
			}
		case <-ticker.C:
			if o.bookmarks && !bookmark(nil) {
				return
			}
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		case <-s.Stop:
			return
		}
	}
}

// eventWriter gathers a watch's events and hands them to the response in
// one write when flushed. The response's own buffer is small (4 KiB in Go's
// HTTP/2 server) and each time it fills, the handler waits for a frame to be
// written: a burst of events written one by one costs a frame, a TLS record
// and a system call per 4 KiB. Written at once, it goes out in frames that
// each fill one TLS record (frameData).
type eventWriter struct {
	w       io.Writer
	flusher http.Flusher
	buf     *bytes.Buffer // from eventBuffers, while events wait
}

// maxEventWrite bounds what a watch gathers before it writes: a frame's
// worth. A thousand watchers each gathering more held tens of megabytes
// during a burst.
const maxEventWrite = frameData

// frameData is the most the response is handed at once: the data of an
// HTTP/2 frame that, with its 9-byte header, is one TLS record's 16 KiB. A
// frame of 16 KiB of data is 16,393 bytes, which TLS sends as two records,
// the second of 9 bytes: one more system call per frame, for nothing.
const frameData = 16<<10 - 9

// eventBuffers are shared by the watches: a thousand idle watchers hold none.
var eventBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Write gathers p; it cannot fail (flush says whether the client is there).
func (ew *eventWriter) Write(p []byte) (int, error) {
	if ew.buf == nil {
		ew.buf = eventBuffers.Get().(*bytes.Buffer)
	}
	return ew.buf.Write(p)
}

// gathered is how many bytes wait to be written.
func (ew *eventWriter) gathered() int {
	if ew.buf == nil {
		return 0
	}
	return ew.buf.Len()
}

// flush writes what was gathered, a frame's data at a time, and flushes
// the response; false if the client is gone (or was cut, see cutOff).
func (ew *eventWriter) flush() bool {
	if ew.buf != nil {
		defer ew.release()
		for data := ew.buf.Bytes(); len(data) > 0; {
			n := min(len(data), frameData)
			if _, err := ew.w.Write(data[:n]); err != nil {
				return false
			}
			data = data[n:]
		}
	}
	ew.flusher.Flush()
	return true
}

// release gives the buffer back; what it held is dropped.
func (ew *eventWriter) release() {
	if ew.buf == nil {
		return
	}
	if ew.buf.Cap() <= 2*maxEventWrite { // an outsized one (a huge object) is left to the GC
		ew.buf.Reset()
		eventBuffers.Put(ew.buf)
	}
	ew.buf = nil
}

// cutOff ends a watch whose client stopped reading. Such a watch's handler
// is blocked in a write, and its events pile up in the watch's queue; when
// the queue is full (storage.WatchBuffer events), cut sets a write deadline
// in the past: the blocked write fails, serveWatch returns, and the stream
// is reset. Without it the storage would drop such a watcher, but its
// connection and goroutine would stay for as long as the client does.
// Kubernetes' cacheWatcher likewise ends a watcher whose buffer is full.
// served must be called when serveWatch returns: the response may not be
// touched after.
func cutOff(w http.ResponseWriter) (cut, served func()) {
	var mu sync.Mutex
	done := false
	cut = func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now())
		}
	}
	served = func() {
		mu.Lock()
		done = true
		mu.Unlock()
	}
	return cut, served
}

// filtered applies the selectors to an event, with the transitions
// Kubernetes defines: an object that starts matching is ADDED for this
// watcher, one that stops matching is DELETED, sent as it last matched at
// the change's revision (k8s.io/apiserver's cacheWatcher.convertToWatchEvent).
func filtered(ev store.Event, match func(object.Object) bool) (string, object.Object, bool) {
	if ev.Type == "DELETED" {
		return "DELETED", ev.Object, ev.Previous == nil || match(ev.Previous)
	}
	now := match(ev.Object)
	before := ev.Previous != nil && match(ev.Previous)
	switch {
	case now && before:
		return "MODIFIED", ev.Object, true
	case now:
		return "ADDED", ev.Object, true
	case before:
		return "DELETED", withResourceVersion(ev.Previous, ev.Revision), true
	}
	return "", nil, false
}

// withResourceVersion copies an object with another resourceVersion (an
// object that stops matching is reported at the revision of the change).
func withResourceVersion(obj object.Object, rev int64) object.Object {
	out := object.Object{}
	for k, v := range obj {
		out[k] = v
	}
	meta := map[string]any{}
	for k, v := range obj.Metadata() {
		meta[k] = v
	}
	meta["resourceVersion"] = strconv.FormatInt(rev, 10)
	out["metadata"] = meta
	return out
}
