// Watch, tested from the hub up: publish never blocks and closes a watcher
// that falls behind; a watcher registers at the store's revision and replays
// the log before it, so writers running meanwhile cause no gap and no
// duplicate; selectors turn changes into ADDED and DELETED; and through the
// handler, the stream starts, resumes, bookmarks, times out, and ends when
// its client leaves, leaving no goroutine behind.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cmRange is the key range of the configmaps of a namespace, as serveWatch computes it.
func cmRange(namespace string) (string, string) {
	return prefixRange(storageKey(cmResource, namespace, "") + "/")
}

// watcherCount is how many watchers the store's hub holds.
func watcherCount(st *store) int {
	st.watchers.mu.Lock()
	defer st.watchers.mu.Unlock()
	return len(st.watchers.watchers)
}

// replaceData is a tryUpdate that leaves the object it is given untouched,
// so the event's prev is the object before the update.
func replaceData(v string) func(object) (object, error) {
	return func(cur object) (object, error) {
		next, err := decodeObject(mustMarshal(cur))
		if err != nil {
			return nil, err
		}
		next["data"] = map[string]any{"v": v}
		return next, nil
	}
}

// eventSummary is "revision TYPE name@rv=v prev=name=v", to compare events at a glance.
func eventSummary(ev watchEvent) string {
	prev := "nil"
	if ev.prev != nil {
		prev = ev.prev.metaString("name") + "=" + dataV(ev.prev)
	}
	return fmt.Sprintf("%d %s %s@%s=%s prev=%s", ev.revision, ev.eventType,
		ev.object.metaString("name"), ev.object.metaString("resourceVersion"), dataV(ev.object), prev)
}

func eventSummaries(events []watchEvent) []string {
	out := []string{}
	for _, ev := range events {
		out = append(out, eventSummary(ev))
	}
	return out
}

// receive takes the next event from a watcher, failing after a second.
func receive(t *testing.T, w *watcher) watchEvent {
	t.Helper()
	select {
	case ev, open := <-w.events:
		if !open {
			t.Fatal("the watcher was closed")
		}
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event within a second")
	}
	return watchEvent{}
}

// --- the hub ---

// hubWith registers hand-made watchers (their buffer sizes are the test's choice).
func hubWith(watchers ...*watcher) *hub {
	h := newHub()
	for _, w := range watchers {
		h.watchers[w] = true
	}
	return h
}

func TestPublishDeliversOnlyTheWatchersRange(t *testing.T) {
	aStart, aEnd := cmRange("a")
	a := &watcher{start: aStart, end: aEnd, events: make(chan watchEvent, watcherBuffer)}
	all := &watcher{start: "/registry/configmaps/", end: "/registry/configmaps0", events: make(chan watchEvent, watcherBuffer)}
	h := hubWith(a, all)

	keys := []string{
		"/registry/configmaps/a/x",   // a's
		"/registry/configmaps/a-b/y", // namespace a-b sorts just before a's range
		"/registry/configmaps/ab/z",  // and ab just after it
		"/registry/configmaps/a/",    // the range's start itself is in it
		"/registry/secrets/a/x",      // another resource
		"/registry/configmaps0",      // the end of all is not in it
	}
	for i, k := range keys {
		h.publish(watchEvent{revision: int64(i + 1), key: k, eventType: "ADDED"})
	}
	got := func(w *watcher) []string {
		var out []string
		for len(w.events) > 0 {
			ev := <-w.events
			out = append(out, fmt.Sprintf("%d %s", ev.revision, ev.key))
		}
		return out
	}
	if got, want := got(a), []string{"1 /registry/configmaps/a/x", "4 /registry/configmaps/a/"}; !slices.Equal(got, want) {
		t.Errorf("namespace a's watcher got %q, want %q", got, want)
	}
	want := []string{"1 /registry/configmaps/a/x", "2 /registry/configmaps/a-b/y", "3 /registry/configmaps/ab/z", "4 /registry/configmaps/a/"}
	if got := got(all); !slices.Equal(got, want) {
		t.Errorf("the all-namespaces watcher got %q, want %q", got, want)
	}
	if len(h.watchers) != 2 {
		t.Errorf("the hub holds %d watchers, want 2", len(h.watchers))
	}
}

// A watcher that does not read is closed when its buffer is full; publish
// does not wait for it, and the others keep every event.
func TestPublishClosesAFullWatcherWithoutBlocking(t *testing.T) {
	start, end := cmRange("a")
	otherStart, otherEnd := cmRange("b")
	stuck := &watcher{start: start, end: end, events: make(chan watchEvent, watcherBuffer)}
	roomy := &watcher{start: start, end: end, events: make(chan watchEvent, 2*watcherBuffer)}
	elsewhere := &watcher{start: otherStart, end: otherEnd, events: make(chan watchEvent, watcherBuffer)}
	h := hubWith(stuck, roomy, elsewhere)

	const n = watcherBuffer + 5
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rev := int64(1); rev <= n; rev++ {
			h.publish(watchEvent{revision: rev, key: "/registry/configmaps/a/x", eventType: "MODIFIED"})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on a watcher that does not read")
	}

	// The stuck watcher has its first watcherBuffer events, then the end.
	for rev := int64(1); rev <= watcherBuffer; rev++ {
		if ev, open := <-stuck.events; !open || ev.revision != rev {
			t.Fatalf("stuck watcher: event %d is %d (open %v)", rev, ev.revision, open)
		}
	}
	if ev, open := <-stuck.events; open {
		t.Fatalf("stuck watcher: got event %d after a full buffer, want its channel closed", ev.revision)
	}
	h.mu.Lock()
	_, stuckKept := h.watchers[stuck]
	kept := len(h.watchers)
	h.mu.Unlock()
	if stuckKept || kept != 2 {
		t.Errorf("after the overflow the hub holds %d watchers (the stuck one: %v), want 2 without it", kept, stuckKept)
	}

	// The roomy watcher has every event, in order.
	if len(roomy.events) != n {
		t.Fatalf("roomy watcher has %d events, want %d", len(roomy.events), n)
	}
	for rev := int64(1); rev <= n; rev++ {
		if ev := <-roomy.events; ev.revision != rev {
			t.Fatalf("roomy watcher: event %d is revision %d", rev, ev.revision)
		}
	}
	if len(elsewhere.events) != 0 {
		t.Errorf("a watcher of another range got %d events", len(elsewhere.events))
	}

	// Publishing on does not close the stuck watcher twice, and still delivers.
	h.publish(watchEvent{revision: n + 1, key: "/registry/configmaps/a/x"})
	if ev := <-roomy.events; ev.revision != n+1 {
		t.Errorf("roomy watcher: got revision %d, want %d", ev.revision, n+1)
	}
}

// --- the store: watch, unwatch, history ---

func TestStoreWatchRegistersAtTheCurrentRevision(t *testing.T) {
	st := newStore()
	before := mustCreateCM(t, st, "a", "x", map[string]any{"v": "1"})
	mustCreateCM(t, st, "b", "y", nil)

	start, end := cmRange("a")
	w := st.watch(start, end)
	if w.from != 2 || w.from != st.revision() || w.from != dbRevision(t, st) {
		t.Fatalf("registered at %d, want the store's revision 2", w.from)
	}
	if watcherCount(st) != 1 {
		t.Fatalf("the hub holds %d watchers, want 1", watcherCount(st))
	}
	if len(w.events) != 0 {
		t.Fatalf("a new watcher has %d events of the past", len(w.events))
	}

	mustCreateCM(t, st, "b", "z", nil) // another namespace: not for w
	updated, err := st.update(cmResource, "a", "x", replaceData("2"))
	if err != nil {
		t.Fatal(err)
	}
	mustDeleteCM(t, st, "a", "x")
	want := []string{
		"4 MODIFIED x@4=2 prev=x=1",
		"5 DELETED x@4=2 prev=x=2", // the object as it last was; serveWatch stamps the delete's revision
	}
	got := eventSummaries([]watchEvent{receive(t, w), receive(t, w)})
	if !slices.Equal(got, want) {
		t.Errorf("live events %q, want %q", got, want)
	}
	if len(w.events) != 0 {
		t.Errorf("%d more events, want none", len(w.events))
	}
	if rvOf(before) != 1 || rvOf(updated) != 4 {
		t.Errorf("the objects the writers returned changed: %v, %v", before.metadata(), updated.metadata())
	}

	st.unwatch(w)
	st.unwatch(w) // forgetting it twice is harmless
	if watcherCount(st) != 0 {
		t.Fatalf("after unwatch the hub holds %d watchers", watcherCount(st))
	}
	mustCreateCM(t, st, "a", "later", nil)
	if len(w.events) != 0 {
		t.Errorf("an unwatched watcher still got %d events", len(w.events))
	}
}

// historyStore is a store with this log (namespace a-b sorts next to a):
//
//	1 create a/x v=1   2 create a-b/y   3 update a/x v=2   4 create a/z
//	5 delete a/x       6 update a/z v=3 7 create a/x again v=new
func historyStore(t *testing.T) *store {
	t.Helper()
	st := newStore()
	mustCreateCM(t, st, "a", "x", map[string]any{"v": "1"})
	mustCreateCM(t, st, "a-b", "y", nil)
	if _, err := st.update(cmResource, "a", "x", replaceData("2")); err != nil {
		t.Fatal(err)
	}
	mustCreateCM(t, st, "a", "z", nil)
	mustDeleteCM(t, st, "a", "x")
	if _, err := st.update(cmResource, "a", "z", replaceData("3")); err != nil {
		t.Fatal(err)
	}
	mustCreateCM(t, st, "a", "x", map[string]any{"v": "new"})
	if st.revision() != 7 {
		t.Fatalf("the store is at %d, want 7", st.revision())
	}
	return st
}

func TestHistory(t *testing.T) {
	st := historyStore(t)
	start, end := cmRange("a")
	all := []string{
		"1 ADDED x@1=1 prev=nil",
		"3 MODIFIED x@3=2 prev=x=1",
		"4 ADDED z@4= prev=nil",
		"5 DELETED x@5=2 prev=x=2", // the last value, at the delete's revision
		"6 MODIFIED z@6=3 prev=z=",
		"7 ADDED x@7=new prev=nil", // created again: no prev, though the log has one
	}
	for _, tt := range []struct {
		after, upTo int64
		want        []string
	}{
		{0, 7, all},
		{1, 5, all[1:4]}, // (1, 5]: after is excluded, upTo included
		{2, 4, all[1:3]},
		{4, 6, all[3:5]},
		{5, 5, nil},
		{7, 7, nil},
		{6, 100, all[5:]},
	} {
		events, err := st.history(start, end, tt.after, tt.upTo)
		if err != nil {
			t.Fatalf("history(%d, %d): %v", tt.after, tt.upTo, err)
		}
		if got := eventSummaries(events); !slices.Equal(got, tt.want) {
			t.Errorf("history(%d, %d) =\n%q\nwant\n%q", tt.after, tt.upTo, got, tt.want)
		}
		for _, ev := range events {
			if !strings.HasPrefix(ev.key, start) || ev.key != storageKey(cmResource, "a", ev.object.metaString("name")) {
				t.Errorf("history(%d, %d): event %d has key %q", tt.after, tt.upTo, ev.revision, ev.key)
			}
		}
	}

	// The neighbouring namespace has only its own event.
	otherStart, otherEnd := cmRange("a-b")
	events, err := st.history(otherStart, otherEnd, 0, 7)
	if got := eventSummaries(events); err != nil || !slices.Equal(got, []string{"2 ADDED y@2= prev=nil"}) {
		t.Errorf("history of a-b = %q, %v", got, err)
	}
}

func TestHistoryOlderThanCompactionIsExpired(t *testing.T) {
	st := historyStore(t)
	if err := st.compact(4); err != nil {
		t.Fatal(err)
	}
	start, end := cmRange("a")
	for _, after := range []int64{0, 3} {
		_, err := st.history(start, end, after, 7)
		wantStatus(t, err, http.StatusGone, "Expired")
		if se := err.(*statusError); se.message != fmt.Sprintf("too old resource version: %d (4)", after) {
			t.Errorf("history after %d: message %q", after, se.message)
		}
	}
	// From the compacted revision on, the log is whole, prev values included.
	events, err := st.history(start, end, 4, 7)
	want := []string{"5 DELETED x@5=2 prev=x=2", "6 MODIFIED z@6=3 prev=z=", "7 ADDED x@7=new prev=nil"}
	if got := eventSummaries(events); err != nil || !slices.Equal(got, want) {
		t.Errorf("history(4, 7) after compacting to 4 = %q, %v; want %q", got, err, want)
	}
}

// A resume that races a compaction gets the whole history or 410, never a
// history with holes: the compaction check and the read see one snapshot.
func TestHistoryIsWholeOrExpiredWhileCompacting(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "a", "k", nil)
	start, end := cmRange("a")
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.update(cmResource, "a", "k", replaceData(strconv.Itoa(i))); err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 { // compacting to now leaves nothing below it but k's last value
				if err := st.compact(st.revision()); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	defer writer.Wait()
	defer close(stop)

	whole := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		after, upTo := st.compacted(), st.revision()
		events, err := st.history(start, end, after, upTo)
		if err != nil {
			wantStatus(t, err, http.StatusGone, "Expired")
			continue
		}
		// Every revision is a write of k: (after, upTo] has one event each.
		var got []int64
		for _, ev := range events {
			got = append(got, ev.revision)
		}
		var want []int64
		for rev := after + 1; rev <= upTo; rev++ {
			want = append(want, rev)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("history(%d, %d) has revisions %v, want %v", after, upTo, got, want)
		}
		whole++
	}
	if whole == 0 {
		t.Error("every history read expired: the test proved nothing")
	}
}

// Writers keep writing while watchers register, replay the log from some
// earlier revision up to their registration, then read live events. Each
// watcher must see exactly the log's revisions of its range after the one it
// resumed from: none missing at the seam, none twice. Run it with -race.
func TestWatchersSeeEveryRevisionOnceWhileWritersWrite(t *testing.T) {
	st := newStore()
	namespaces := []string{"a", "b"}
	const writers, rounds, watchers = 4, 20, 32

	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			ns := namespaces[w%2]
			for i := range rounds {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := st.create(cmResource, cmObject(ns, name, nil)); err != nil {
					t.Errorf("create %s/%s: %v", ns, name, err)
					return
				}
				if _, err := st.update(cmResource, ns, name, replaceData(strconv.Itoa(i))); err != nil {
					t.Errorf("update %s/%s: %v", ns, name, err)
					return
				}
				if i%2 == 0 {
					if _, err := st.delete(cmResource, ns, name, nil); err != nil {
						t.Errorf("delete %s/%s: %v", ns, name, err)
						return
					}
				}
			}
		})
	}
	total := int64(writers * (rounds*2 + rounds/2))

	// The last write of all: a watcher stops when it sees its namespace's.
	const sentinel = "zz-end"
	type seen struct {
		ns          string
		after, from int64
		revisions   []int64
		err         error
	}
	results := make([]seen, watchers)
	var watching, registered sync.WaitGroup
	registered.Add(watchers)
	for j := range watchers {
		watching.Go(func() {
			r := &results[j]
			r.ns = namespaces[j%2]
			// Register at staggered points while the writers run.
			for st.revision() < int64(j)*total/watchers {
				time.Sleep(time.Millisecond)
			}
			start, end := cmRange(r.ns)
			w := st.watch(start, end)
			registered.Done()
			defer st.unwatch(w)
			r.from = w.from
			switch j % 3 {
			case 0:
				r.after = 0 // the whole log
			case 1:
				r.after = w.from // nothing to replay
			default:
				r.after = max(0, w.from-int64(5*j))
			}
			events, err := st.history(start, end, r.after, w.from)
			if err != nil {
				r.err = err
				return
			}
			for _, ev := range events {
				r.revisions = append(r.revisions, ev.revision)
			}
			for {
				select {
				case ev, open := <-w.events:
					if !open {
						r.err = errors.New("closed: it fell behind")
						return
					}
					if ev.revision <= w.from {
						r.err = fmt.Errorf("live event %d is not after the registration at %d", ev.revision, w.from)
						return
					}
					r.revisions = append(r.revisions, ev.revision)
					if ev.key == storageKey(cmResource, r.ns, sentinel) {
						return
					}
				case <-time.After(10 * time.Second):
					r.err = errors.New("no sentinel within 10s")
					return
				}
			}
		})
	}

	writing.Wait()
	registered.Wait() // before the sentinels, so that every watcher sees its own
	for _, ns := range namespaces {
		mustCreateCM(t, st, ns, sentinel, nil)
	}
	watching.Wait()

	for j, r := range results {
		if r.err != nil {
			t.Errorf("watcher %d (%s, after %d, registered at %d): %v", j, r.ns, r.after, r.from, r.err)
			continue
		}
		start, end := cmRange(r.ns)
		want := logRevisionsIn(t, st, start, end, r.after)
		if !slices.Equal(r.revisions, want) {
			t.Errorf("watcher %d (%s, after %d, registered at %d) saw revisions\n%v\nwant\n%v", j, r.ns, r.after, r.from, r.revisions, want)
		}
	}
	if st.revision() != total+2 {
		t.Errorf("the store is at %d, want %d", st.revision(), total+2)
	}
}

// logRevisionsIn reads the revisions of a key range after a revision straight from the log.
func logRevisionsIn(t *testing.T, st *store, start, end string, after int64) []int64 {
	t.Helper()
	rows, err := st.db.Query(`SELECT revision FROM log WHERE key >= ? AND key < ? AND revision > ? ORDER BY revision`, start, end, after)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var revs []int64
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		revs = append(revs, r)
	}
	return revs
}

// --- selectors on events ---

// team is a ConfigMap labelled team=<color> (no label for ""), at a revision.
func team(color string, rev int64) object {
	obj := cmObject("default", "mover", map[string]any{"team": color})
	if color != "" {
		obj.metadata()["labels"] = map[string]any{"team": color}
	}
	obj.metadata()["resourceVersion"] = strconv.FormatInt(rev, 10)
	return obj
}

func TestFilteredTransitions(t *testing.T) {
	sel, err := parseLabelSelector("team=red")
	if err != nil {
		t.Fatal(err)
	}
	match := func(obj object) bool { return sel.matches(obj.labels()) }
	for _, tt := range []struct {
		name       string
		ev         watchEvent
		wantType   string // "" for an event this watcher does not get
		wantObject string // the object sent: its team label and resourceVersion
	}{
		{"ADDED, matching", watchEvent{revision: 5, eventType: "ADDED", object: team("red", 5)}, "ADDED", "red@5"},
		{"ADDED, not matching", watchEvent{revision: 5, eventType: "ADDED", object: team("blue", 5)}, "", ""},
		{"ADDED without labels", watchEvent{revision: 5, eventType: "ADDED", object: team("", 5)}, "", ""},
		{"MODIFIED, matching before and after", watchEvent{revision: 6, eventType: "MODIFIED", object: team("red", 6), prev: team("red", 5)}, "MODIFIED", "red@6"},
		{"MODIFIED, starts matching", watchEvent{revision: 6, eventType: "MODIFIED", object: team("red", 6), prev: team("blue", 5)}, "ADDED", "red@6"},
		// Kubernetes sends the object as it last matched, at the event's revision.
		{"MODIFIED, stops matching", watchEvent{revision: 6, eventType: "MODIFIED", object: team("blue", 6), prev: team("red", 5)}, "DELETED", "red@6"},
		{"MODIFIED, matching neither before nor after", watchEvent{revision: 6, eventType: "MODIFIED", object: team("blue", 6), prev: team("green", 5)}, "", ""},
		{"DELETED, matching", watchEvent{revision: 7, eventType: "DELETED", object: team("red", 6), prev: team("red", 6)}, "DELETED", "red@7"},
		{"DELETED, not matching", watchEvent{revision: 7, eventType: "DELETED", object: team("blue", 6), prev: team("blue", 6)}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objectBefore, prevBefore := encode(tt.ev.object), encode(tt.ev.prev)
			eventType, obj, ok := filtered(tt.ev, match)
			if ok != (tt.wantType != "") || ok && eventType != tt.wantType {
				t.Fatalf("got %q (sent: %v), want %q", eventType, ok, tt.wantType)
			}
			if ok {
				if got := obj.labels()["team"] + "@" + obj.metaString("resourceVersion"); got != tt.wantObject {
					t.Errorf("sent %s, want %s", got, tt.wantObject)
				}
			}
			if encode(tt.ev.object) != objectBefore || encode(tt.ev.prev) != prevBefore {
				t.Errorf("filtering changed the event's objects")
			}
		})
	}
}

func TestWithResourceVersionCopies(t *testing.T) {
	original := team("red", 5)
	original.metadata()["annotations"] = map[string]any{"a": "b"}
	before := encode(original)

	copied := withResourceVersion(original, 9)
	if copied.metaString("resourceVersion") != "9" {
		t.Errorf("copy has resourceVersion %q, want 9", copied.metaString("resourceVersion"))
	}
	if encode(original) != before || original.metaString("resourceVersion") != "5" {
		t.Errorf("the original changed: %s", encode(original))
	}
	// Everything else is the same.
	copied.metadata()["resourceVersion"] = "5"
	if encode(copied) != before {
		t.Errorf("copy %s, want %s but for the resourceVersion", encode(copied), before)
	}
	// The copy's metadata is its own map.
	copied.metadata()["name"] = "renamed"
	if original.metaString("name") != "mover" {
		t.Errorf("changing the copy's metadata changed the original's name to %q", original.metaString("name"))
	}
}

// --- parameters ---

func TestParseWatchOptions(t *testing.T) {
	const watchList = "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
	for _, tt := range []struct {
		query              string
		rv                 string
		initial, bookmarks bool
		timeout            time.Duration
		badRequest         bool
		quoted             string // what a 400's message quotes
	}{
		{query: "", rv: "", initial: true, timeout: defaultWatchTimeout},
		{query: "resourceVersion=0", rv: "0", initial: true, timeout: defaultWatchTimeout},
		{query: "resourceVersion=12", rv: "12", initial: false, timeout: defaultWatchTimeout},
		{query: "allowWatchBookmarks=true", initial: true, bookmarks: true, timeout: defaultWatchTimeout},
		{query: "allowWatchBookmarks=false&resourceVersion=3", rv: "3", timeout: defaultWatchTimeout},
		{query: "timeoutSeconds=7", initial: true, timeout: 7 * time.Second},
		{query: "timeoutSeconds=0", initial: true, timeout: defaultWatchTimeout}, // 0: the server's default
		{query: watchList, initial: true, bookmarks: true, timeout: defaultWatchTimeout},
		{query: watchList + "&resourceVersion=12", rv: "12", initial: true, bookmarks: true, timeout: defaultWatchTimeout},
		{query: "sendInitialEvents=false&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", bookmarks: true, timeout: defaultWatchTimeout},
		{query: "sendInitialEvents=false&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=0", rv: "0", bookmarks: true, timeout: defaultWatchTimeout},

		{query: "resourceVersion=abc", badRequest: true, quoted: "abc"},
		{query: "resourceVersion=-1", badRequest: true, quoted: "-1"},
		{query: "timeoutSeconds=-1", badRequest: true, quoted: "-1"},
		{query: "timeoutSeconds=soon", badRequest: true, quoted: "soon"},
		{query: "timeoutSeconds=1.5", badRequest: true, quoted: "1.5"},
		{query: "sendInitialEvents=maybe&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", badRequest: true, quoted: "maybe"},
		{query: "sendInitialEvents=true", badRequest: true},
		{query: "sendInitialEvents=true&allowWatchBookmarks=true", badRequest: true},
		{query: "sendInitialEvents=true&resourceVersionMatch=NotOlderThan", initial: true, timeout: defaultWatchTimeout},
		{query: "resourceVersionMatch=NotOlderThan", badRequest: true},
		{query: "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=Exact", badRequest: true},
		{query: "sendInitialEvents=false", badRequest: true},
	} {
		t.Run(tt.query, func(t *testing.T) {
			o, err := parseWatchOptions(httptest.NewRequest(http.MethodGet, configMapsPath+"?watch=true&"+tt.query, nil))
			if tt.badRequest {
				wantStatus(t, err, http.StatusBadRequest, "BadRequest")
				if msg := err.Error(); tt.quoted != "" && !strings.Contains(msg, `"`+tt.quoted+`"`) {
					t.Errorf("message %q does not quote %q", msg, tt.quoted)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.resourceVersion != tt.rv || o.sendInitialEvents != tt.initial || o.bookmarks != tt.bookmarks || o.timeout != tt.timeout {
				t.Errorf("got rv %q, initial events %v, bookmarks %v, timeout %v; want %q, %v, %v, %v",
					o.resourceVersion, o.sendInitialEvents, o.bookmarks, o.timeout, tt.rv, tt.initial, tt.bookmarks, tt.timeout)
			}
		})
	}
}

// --- through the handler, over a real connection ---

// newWatchServer builds the server as newTestServer does, with this bookmark
// interval, and serves it over HTTP. Watch tests write through h (in
// process) and watch through srv.
func newWatchServer(t *testing.T, bookmarkInterval time.Duration) (s *server, h http.Handler, srv *httptest.Server) {
	t.Helper()
	reg := newRegistry(builtinResources())
	s = &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces"), bookmarkInterval: bookmarkInterval}
	s.crds = &crdController{s: s, resource: reg.lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	s.createBootstrapNamespaces()
	s.rbac = &rbacAuthorizer{store: s.store, roles: reg.lookup(rbacGroup, "roles"), clusterRoles: reg.lookup(rbacGroup, "clusterroles"),
		roleBindings: reg.lookup(rbacGroup, "rolebindings"), clusterRoleBindings: reg.lookup(rbacGroup, "clusterrolebindings")}
	s.authorizer = authorizers{alwaysAllow{}}
	chain, err := s.newAdmissionChain("", "")
	if err != nil {
		t.Fatal(err)
	}
	s.admission = chain
	h = s.routes()
	srv = httptest.NewServer(h)
	// This runs after the watches' cleanups (they hung up), and Close waits
	// for every handler: one that ignores its client would hang the test.
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() {
			srv.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Error("a handler was still running 5s after its client hung up")
		}
	})
	return s, h, srv
}

// wireEvent is one line of a watch stream.
type wireEvent struct {
	Type   string         `json:"type"`
	Object map[string]any `json:"object"`
}

// String is "TYPE name@rv", or "BOOKMARK @rv".
func (e wireEvent) String() string {
	name, _ := at(e.Object, "metadata", "name").(string)
	rv, _ := at(e.Object, "metadata", "resourceVersion").(string)
	return e.Type + " " + name + "@" + rv
}

// watchStream reads one watch in the background; events is closed when the
// stream ends.
type watchStream struct {
	events chan wireEvent
}

// openWatch starts a watch and waits for its headers; the test's cleanup
// hangs up.
func openWatch(t *testing.T, srv *httptest.Server, path string) *watchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json;stream=watch" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	ws := &watchStream{events: make(chan wireEvent, 100)}
	go func() {
		defer close(ws.events)
		dec := json.NewDecoder(resp.Body)
		for {
			var ev wireEvent
			if dec.Decode(&ev) != nil {
				return
			}
			ws.events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		for range ws.events { // let the reader finish
		}
	})
	return ws
}

// next is the next event, within five seconds.
func (ws *watchStream) next(t *testing.T) wireEvent {
	t.Helper()
	select {
	case ev, open := <-ws.events:
		if !open {
			t.Fatal("the watch ended, want another event")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return wireEvent{}
}

// nextSkipping is the next event that is not of type skip.
func (ws *watchStream) nextSkipping(t *testing.T, skip string) wireEvent {
	t.Helper()
	for {
		if ev := ws.next(t); ev.Type != skip {
			return ev
		}
	}
}

// all reads until the stream ends, within five seconds.
func (ws *watchStream) all(t *testing.T) []string {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, open := <-ws.events:
			if !open {
				return got
			}
			got = append(got, ev.String())
		case <-deadline:
			t.Fatalf("the watch did not end within 5s; got %v", got)
		}
	}
}

func wantEvents(t *testing.T, ws *watchStream, want ...string) {
	t.Helper()
	var got []string
	for range want {
		got = append(got, ws.next(t).String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func rvString(obj map[string]any) string {
	rv, _ := at(obj, "metadata", "resourceVersion").(string)
	return rv
}

func revisionString(s *server) string { return strconv.FormatInt(s.store.revision(), 10) }

// THE goroutine proof: a watcher ends when its client disconnects, with no
// goroutine left behind (none in the server, none in the hub).
func TestWatcherEndsWhenItsClientDisconnects(t *testing.T) {
	const n = 50
	s, h, srv := newWatchServer(t, 0)
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	baseline := runtime.NumGoroutine()
	bodies := make([]io.ReadCloser, n)
	cancels := make([]context.CancelFunc, n)
	defer func() {
		for _, cancel := range cancels {
			if cancel != nil {
				cancel()
			}
		}
	}()
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+configMapsPath+"?watch=true", nil)
		// Do returns with the headers, which serveWatch flushes only after
		// registering its watcher: the watch has started.
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch %d: %d", i, resp.StatusCode)
		}
		bodies[i] = resp.Body
	}
	if got := watcherCount(s.store); got != n {
		t.Fatalf("the hub holds %d watchers, want %d", got, n)
	}

	// They are live: each receives the next change.
	created := mustCreate(t, h, configMapsPath, configMap("ping", ""))
	want := fmt.Sprintf(`{"type":"ADDED","object":%s}`, encode(created))
	lines := make(chan string, n)
	for _, body := range bodies {
		go func() {
			line, _ := bufio.NewReader(body).ReadString('\n')
			lines <- strings.TrimSpace(line)
		}()
	}
	for i := range n {
		select {
		case line := <-lines:
			if line != want {
				t.Fatalf("watch %d got %s, want %s", i, line, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d watches got the event", i, n)
		}
	}

	// Half hang up by cancelling the request, half by closing the body.
	for i := range n {
		if i%2 == 0 {
			cancels[i]()
		} else {
			bodies[i].Close()
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		transport.CloseIdleConnections()
		watchers, goroutines := watcherCount(s.store), runtime.NumGoroutine()
		if watchers == 0 && goroutines <= baseline {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after the clients left: %d watchers (want 0), %d goroutines (want at most %d as before the watches)\n%s",
				watchers, goroutines, baseline, goroutineDump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutineDump is every goroutine's stack, for a failure message.
func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// A watch with resourceVersion "" or "0" starts with the state as ADDED
// events (in key order, only its namespace), then the changes.
func TestWatchStartsWithTheState(t *testing.T) {
	for _, rv := range []string{"", "0"} {
		t.Run("resourceVersion="+rv, func(t *testing.T) {
			s, h, srv := newWatchServer(t, time.Hour)
			b := mustCreate(t, h, configMapsPath, configMap("b", ""))
			a := mustCreate(t, h, configMapsPath, configMap("a", ""))
			mustCreate(t, h, "/api/v1/namespaces/kube-system/configmaps", configMap("elsewhere", ""))
			registered := s.store.revision()

			ws := openWatch(t, srv, configMapsPath+"?watch=true&allowWatchBookmarks=true&resourceVersion="+rv)
			first := ws.next(t)
			if first.Type != "ADDED" || encode(first.Object) != encode(a) {
				t.Errorf("first event %s %s, want ADDED %s", first.Type, encode(first.Object), encode(a))
			}
			wantEvents(t, ws, "ADDED b@"+rvString(b))
			// No initial-events-end bookmark: the next event is the next change.
			c := mustCreate(t, h, configMapsPath, configMap("c", ""))
			wantEvents(t, ws, "ADDED c@"+rvString(c))
			if rvOfString(t, rvString(c)) != registered+1 {
				t.Errorf("c created at %s, want %d", rvString(c), registered+1)
			}
		})
	}
}

// A watch from a resourceVersion replays what came after it from the log,
// with no initial state, then goes on live.
func TestWatchResumesFromAResourceVersion(t *testing.T) {
	s, h, srv := newWatchServer(t, time.Hour)
	a := mustCreate(t, h, configMapsPath, configMap("a", ""))
	if code, _ := call(t, h, "PUT", configMapsPath+"/a", "application/json", `{"metadata":{"name":"a"},"data":{"v":"2"}}`); code != http.StatusOK {
		t.Fatalf("PUT a: %d", code)
	}
	b := mustCreate(t, h, configMapsPath, configMap("b", ""))
	if code, _ := call(t, h, "DELETE", configMapsPath+"/a", "", ""); code != http.StatusOK {
		t.Fatalf("DELETE a: %d", code)
	}
	r := rvOfString(t, rvString(a))

	ws := openWatch(t, srv, fmt.Sprintf("%s?watch=true&resourceVersion=%d", configMapsPath, r))
	wantEvents(t, ws,
		fmt.Sprintf("MODIFIED a@%d", r+1),
		"ADDED b@"+rvString(b),
		fmt.Sprintf("DELETED a@%d", r+3)) // at the delete's revision
	code, updated := call(t, h, "PUT", configMapsPath+"/b", "application/json", `{"metadata":{"name":"b"},"data":{"v":"3"}}`)
	if code != http.StatusOK {
		t.Fatalf("PUT b: %d %v", code, updated)
	}
	wantEvents(t, ws, "MODIFIED b@"+rvString(updated))

	// From the current revision: nothing to replay.
	now := revisionString(s)
	ws = openWatch(t, srv, configMapsPath+"?watch=true&resourceVersion="+now)
	c := mustCreate(t, h, configMapsPath, configMap("c", ""))
	wantEvents(t, ws, "ADDED c@"+rvString(c))
}

func rvOfString(t *testing.T, rv string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}

// A deleted object is reported at the revision of its delete, not at the
// revision it last had, live and replayed alike.
func TestDeletedEventsCarryTheDeleteRevision(t *testing.T) {
	s, h, srv := newWatchServer(t, time.Hour)
	created := mustCreate(t, h, configMapsPath, configMap("doomed", `"app":"web"`))
	from := revisionString(s)
	live := openWatch(t, srv, configMapsPath+"?watch=true&resourceVersion="+from)

	code, last := call(t, h, "DELETE", configMapsPath+"/doomed", "", "")
	if code != http.StatusOK || rvString(last) != rvString(created) {
		t.Fatalf("DELETE: %d, the object as it last was %v", code, last)
	}
	deletedAt := revisionString(s)
	if deletedAt == rvString(created) {
		t.Fatalf("the delete did not advance the revision from %s", deletedAt)
	}
	ev := live.next(t)
	replayed := openWatch(t, srv, configMapsPath+"?watch=true&resourceVersion="+from).next(t)
	for name, ev := range map[string]wireEvent{"live": ev, "replayed": replayed} {
		if ev.Type != "DELETED" || rvString(ev.Object) != deletedAt {
			t.Errorf("%s: %s, want DELETED doomed@%s", name, ev, deletedAt)
		}
		// Otherwise the object as it last was.
		ev.Object["metadata"].(map[string]any)["resourceVersion"] = rvString(created)
		if encode(ev.Object) != encode(created) {
			t.Errorf("%s: DELETED object %s, want %s at the delete's revision", name, encode(ev.Object), encode(created))
		}
	}
}

// sendInitialEvents: the state as ADDED events, then a bookmark saying it is
// complete, at the revision the state was read at, then the changes.
func TestWatchListEndsTheInitialEventsWithABookmark(t *testing.T) {
	s, h, srv := newWatchServer(t, time.Hour)
	mustCreate(t, h, configMapsPath, configMap("red", `"team":"red"`))
	mustCreate(t, h, configMapsPath, configMap("blue", `"team":"blue"`))
	mustCreate(t, h, configMapsPath, configMap("red2", `"team":"red"`))
	rev := revisionString(s)

	ws := openWatch(t, srv, configMapsPath+"?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&labelSelector=team%3Dred")
	wantEvents(t, ws, "ADDED red@"+rvOfNamed(t, h, "red"), "ADDED red2@"+rvOfNamed(t, h, "red2"))
	bookmark := ws.next(t)
	if bookmark.Type != "BOOKMARK" || rvString(bookmark.Object) != rev ||
		at(bookmark.Object, "metadata", "annotations", "k8s.io/initial-events-end") != "true" ||
		bookmark.Object["kind"] != "ConfigMap" || bookmark.Object["apiVersion"] != "v1" {
		t.Errorf("after the initial events: %s %v, want a ConfigMap BOOKMARK at %s with k8s.io/initial-events-end", bookmark.Type, bookmark.Object, rev)
	}
	mustCreate(t, h, configMapsPath, configMap("green", `"team":"green"`)) // not selected
	red3 := mustCreate(t, h, configMapsPath, configMap("red3", `"team":"red"`))
	wantEvents(t, ws, "ADDED red3@"+rvString(red3))
}

func rvOfNamed(t *testing.T, h http.Handler, name string) string {
	t.Helper()
	_, obj := call(t, h, "GET", configMapsPath+"/"+name, "", "")
	return rvString(obj)
}

// With allowWatchBookmarks, a bookmark every s.bookmarkInterval carries the
// store's revision once every event up to it has been sent; without it, none.
func TestWatchSendsPeriodicBookmarks(t *testing.T) {
	s, h, srv := newWatchServer(t, 20*time.Millisecond)
	mustCreate(t, h, "/api/v1/namespaces/kube-system/configmaps", configMap("elsewhere", ""))
	from := revisionString(s)
	with := openWatch(t, srv, configMapsPath+"?watch=true&allowWatchBookmarks=true&resourceVersion="+from)
	without := openWatch(t, srv, configMapsPath+"?watch=true&resourceVersion="+from)

	for range 3 {
		if ev := with.next(t); ev.Type != "BOOKMARK" || rvString(ev.Object) != from || at(ev.Object, "metadata", "annotations") != nil {
			t.Fatalf("got %s %v, want a plain BOOKMARK at %s", ev.Type, ev.Object, from)
		}
	}
	created := mustCreate(t, h, configMapsPath, configMap("a", ""))
	if ev := with.nextSkipping(t, "BOOKMARK"); ev.String() != "ADDED a@"+rvString(created) {
		t.Errorf("got %s, want ADDED a@%s", ev, rvString(created))
	}
	if ev := with.next(t); ev.Type != "BOOKMARK" || rvString(ev.Object) != rvString(created) {
		t.Errorf("after a@%s: %s, want a BOOKMARK at %s", rvString(created), ev, rvString(created))
	}
	// Changes elsewhere move the bookmarks on too: nothing of this watch's
	// happened up to the store's revision, so it may resume from there.
	mustCreate(t, h, "/api/v1/namespaces/kube-system/configmaps", configMap("elsewhere2", ""))
	latest := revisionString(s)
	reached := false
	for range 5 {
		ev := with.next(t)
		rv := rvString(ev.Object)
		if ev.Type != "BOOKMARK" || rv != rvString(created) && rv != latest {
			t.Fatalf("got %s, want a BOOKMARK at %s or %s", ev, rvString(created), latest)
		}
		if rv == latest {
			reached = true
			break
		}
	}
	if !reached {
		t.Errorf("bookmarks never reached the store's revision %s", latest)
	}
	// The other watch got no bookmark in all that time: its first event is a.
	if ev := without.next(t); ev.String() != "ADDED a@"+rvString(created) {
		t.Errorf("without allowWatchBookmarks: first event %s, want ADDED a@%s", ev, rvString(created))
	}
}

// timeoutSeconds ends the stream, and the watcher with it.
func TestWatchTimeoutEndsTheStream(t *testing.T) {
	t.Parallel()
	s, h, srv := newWatchServer(t, time.Hour)
	started := time.Now()
	ws := openWatch(t, srv, configMapsPath+"?watch=true&timeoutSeconds=1&resourceVersion="+revisionString(s))
	created := mustCreate(t, h, configMapsPath, configMap("a", ""))
	got := ws.all(t)
	elapsed := time.Since(started)
	if !slices.Equal(got, []string{"ADDED a@" + rvString(created)}) {
		t.Errorf("events %v, want just ADDED a", got)
	}
	if elapsed < 900*time.Millisecond || elapsed > 4*time.Second {
		t.Errorf("the watch ended after %v, want about 1s", elapsed)
	}
	if n := watcherCount(s.store); n != 0 {
		t.Errorf("%d watchers left after the timeout", n)
	}
}

// A resourceVersion older than the compaction is a 410 ERROR event and the
// stream ends after it; one newer than the store is a 504 before any stream.
func TestWatchErrorsAreEvents(t *testing.T) {
	s, h, srv := newWatchServer(t, time.Hour)
	old := mustCreate(t, h, configMapsPath, configMap("a", ""))
	mustCreate(t, h, configMapsPath, configMap("b", ""))
	if err := s.store.compact(s.store.revision()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rv     string
		code   float64
		reason string
	}{
		{rvString(old), http.StatusGone, "Expired"},
	} {
		ws := openWatch(t, srv, configMapsPath+"?watch=true&resourceVersion="+tt.rv)
		ev := ws.next(t)
		if ev.Type != "ERROR" || ev.Object["kind"] != "Status" || ev.Object["code"] != tt.code || ev.Object["reason"] != tt.reason {
			t.Errorf("resourceVersion %s: %s %v, want an ERROR %v %s", tt.rv, ev.Type, ev.Object, tt.code, tt.reason)
		}
		if rest := ws.all(t); len(rest) != 0 {
			t.Errorf("resourceVersion %s: events after the error: %v", tt.rv, rest)
		}
	}
	tooNew := strconv.FormatInt(s.store.revision()+100, 10)
	if code, status := call(t, h, "GET", configMapsPath+"?watch=true&resourceVersion="+tooNew, "", ""); code != http.StatusGatewayTimeout || status["reason"] != "Timeout" {
		t.Errorf("a resourceVersion the store has not reached: %d %v, want a 504 Status", code, status)
	}
	if code, status := call(t, h, "GET", configMapsPath+"?watch=true&timeoutSeconds=soon", "", ""); code != http.StatusBadRequest || status["reason"] != "BadRequest" {
		t.Errorf("a bad parameter: %d %v, want a 400 Status, not a stream", code, status)
	}
}

// Through the handler, live and replayed: a change that makes an object
// match is ADDED, one that makes it stop matching is DELETED, with the
// object as it last matched at the change's revision.
func TestWatchSelectorTransitions(t *testing.T) {
	s, h, srv := newWatchServer(t, time.Hour)
	from := revisionString(s)
	live := openWatch(t, srv, configMapsPath+"?watch=true&labelSelector=team%3Dred&resourceVersion="+from)
	label := func(color string) string {
		code, obj := call(t, h, "PATCH", configMapsPath+"/mover", mergePatchType, `{"metadata":{"labels":{"team":"`+color+`"}}}`)
		if code != http.StatusOK {
			t.Fatalf("PATCH: %d %v", code, obj)
		}
		return rvString(obj)
	}
	mustCreate(t, h, configMapsPath, configMap("mover", `"team":"blue"`))
	red := label("red")
	red2 := label("red")
	blue := label("blue")
	label("green") // matching neither before nor after: nothing
	replayed := openWatch(t, srv, configMapsPath+"?watch=true&labelSelector=team%3Dred&resourceVersion="+from)
	marker := mustCreate(t, h, configMapsPath, configMap("marker", `"team":"red"`))
	want := []string{"ADDED mover@" + red, "MODIFIED mover@" + red2, "DELETED mover@" + blue, "ADDED marker@" + rvString(marker)}
	for name, ws := range map[string]*watchStream{"live": live, "replayed": replayed} {
		var got []string
		var deleted wireEvent
		for range want {
			ev := ws.next(t)
			got = append(got, ev.String())
			if ev.Type == "DELETED" {
				deleted = ev
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		if team := at(deleted.Object, "metadata", "labels", "team"); team != "red" {
			t.Errorf("%s: the DELETED object has team %v, want red (as it last matched)", name, team)
		}
	}
}
