package bookmarks

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseWatchOptions(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		query   string
		want    Options
		wantErr error
	}{
		{query: "", want: Options{}},
		{query: "resourceVersion=42", want: Options{ResourceVersion: "42"}},
		{query: "allowWatchBookmarks=true", want: Options{AllowWatchBookmarks: true}},
		{query: "allowWatchBookmarks=false", want: Options{}},
		{query: "allowWatchBookmarks=False", want: Options{}},
		{query: "allowWatchBookmarks=FALSE", want: Options{}},
		{query: "allowWatchBookmarks=0", want: Options{}},
		{query: "allowWatchBookmarks=1", want: Options{AllowWatchBookmarks: true}},
		{query: "allowWatchBookmarks=no", want: Options{AllowWatchBookmarks: true}},
		{query: "allowWatchBookmarks=", want: Options{AllowWatchBookmarks: true}},
		{query: "allowWatchBookmarks", want: Options{AllowWatchBookmarks: true}},
		{query: "allowWatchBookmarks=false&allowWatchBookmarks=true", want: Options{}},
		{query: "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
			want: Options{AllowWatchBookmarks: true, SendInitialEvents: &yes}},
		{query: "sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=7",
			want: Options{ResourceVersion: "7", SendInitialEvents: &no}},
		{query: "sendInitialEvents=&resourceVersionMatch=NotOlderThan",
			want: Options{SendInitialEvents: &yes}},
		{query: "sendInitialEvents=true", wantErr: ErrInitialEventsWithoutMatch},
		{query: "sendInitialEvents=false", wantErr: ErrInitialEventsWithoutMatch},
		{query: "sendInitialEvents=true&resourceVersionMatch=Exact", wantErr: ErrInitialEventsWithoutMatch},
		{query: "resourceVersionMatch=NotOlderThan", wantErr: ErrMatchWithoutInitialEvents},
		{query: "resourceVersionMatch=NotOlderThan&resourceVersion=5&allowWatchBookmarks=true", wantErr: ErrMatchWithoutInitialEvents},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseWatchOptions(q)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseWatchOptions(%q) = %s, %v; want the error %q", tt.query, show(got), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWatchOptions(%q): %v", tt.query, err)
			}
			if !sameOptions(got, tt.want) {
				t.Errorf("ParseWatchOptions(%q) = %s, want %s", tt.query, show(got), show(tt.want))
			}
		})
	}
}

func sameOptions(a, b Options) bool {
	return a.ResourceVersion == b.ResourceVersion && a.AllowWatchBookmarks == b.AllowWatchBookmarks &&
		(a.SendInitialEvents == nil) == (b.SendInitialEvents == nil) &&
		(a.SendInitialEvents == nil || *a.SendInitialEvents == *b.SendInitialEvents)
}

func show(o Options) string {
	send := "nil"
	if o.SendInitialEvents != nil {
		send = fmt.Sprint(*o.SendInitialEvents)
	}
	return fmt.Sprintf("{ResourceVersion:%q AllowWatchBookmarks:%v SendInitialEvents:%s}", o.ResourceVersion, o.AllowWatchBookmarks, send)
}

func TestInitialEvents(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		opts Options
		want bool
	}{
		{Options{}, true},                                               // a plain watch of the present: the state first
		{Options{ResourceVersion: "0"}, true},                           // "any" state: the same
		{Options{ResourceVersion: "42"}, false},                         // a resume: only what came after 42
		{Options{SendInitialEvents: &yes}, true},                        // the watch-list
		{Options{ResourceVersion: "42", SendInitialEvents: &yes}, true}, // the state, not older than 42
		{Options{SendInitialEvents: &no}, false},                        // explicitly not
		{Options{ResourceVersion: "0", SendInitialEvents: &no}, false},
	}
	for _, tt := range tests {
		if got := InitialEvents(tt.opts); got != tt.want {
			t.Errorf("InitialEvents(%s) = %v, want %v", show(tt.opts), got, tt.want)
		}
	}
}

// ---- A fake store, a fake ticker, and a client that reads -----------------------------

// fakeStore is the store's side of one watch: a revision and the queue of
// the watch's events. Writes elsewhere (other namespaces, other resources)
// move the revision without queueing anything.
type fakeStore struct {
	mu     sync.Mutex
	rev    int64
	events chan Event
	// racing, when set, runs once inside the next Revision call, before
	// it reads the revision: a write that commits between the tick and the
	// moment Serve asks for the revision.
	racing func()
}

func (s *fakeStore) publish(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev = ev.ResourceVersion
	s.events <- ev // queued under the lock, as the store does
}

// race makes fn run inside the next Revision call.
func (s *fakeStore) race(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.racing = fn
}

func (s *fakeStore) writeElsewhere() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
}

func (s *fakeStore) Revision() int64 {
	s.mu.Lock()
	racing := s.racing
	s.racing = nil
	s.mu.Unlock()
	if racing != nil {
		racing()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

type harness struct {
	t     *testing.T
	store *fakeStore
	ticks chan time.Time
	done  chan struct{}
	out   chan Event
	ended chan struct{}
}

// start runs Serve for a watch from revision from, with the state initial.
func start(t *testing.T, opts Options, from int64, initial []Event, match func(Event) bool) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		store: &fakeStore{rev: from, events: make(chan Event, 1000)},
		ticks: make(chan time.Time, 1), // a time.Ticker's channel holds one tick too
		done:  make(chan struct{}),
		out:   make(chan Event),
		ended: make(chan struct{}),
	}
	w := Watch{From: from, Initial: initial, Events: h.store.events, Revision: h.store.Revision,
		Ticks: h.ticks, Match: match, Done: h.done}
	go func() {
		defer close(h.ended)
		Serve(w, opts, h.out)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			close(h.done)
		}
	})
	return h
}

// guard is how long the test waits for something that should happen at
// once. It only turns a hang into a failure; nothing is timed.
const guard = 5 * time.Second

// hung is set when a guard expired: the cases after it would most likely
// wait as long, so TestServe stops there.
var hung atomic.Bool

func waitedInVain(t *testing.T, format string, args ...any) {
	t.Helper()
	hung.Store(true)
	t.Fatalf(format, args...)
}

func (h *harness) tick() {
	h.t.Helper()
	select {
	case h.ticks <- time.Time{}:
	case <-time.After(guard):
		waitedInVain(h.t, "Serve did not take the previous tick within %v", guard)
	}
}

func (h *harness) next() (Event, bool) {
	h.t.Helper()
	select {
	case ev, open := <-h.out:
		return ev, open
	case <-time.After(guard):
		waitedInVain(h.t, "nothing was sent within %v; want another event, or out closed", guard)
		return Event{}, false
	}
}

func (h *harness) expect(want ...Event) {
	h.t.Helper()
	for i, w := range want {
		got, open := h.next()
		if !open {
			h.t.Fatalf("out was closed; want %s (%d more)", w, len(want)-i)
		}
		if !sameEvent(got, w) {
			h.t.Fatalf("sent %s, want %s", got, w)
		}
	}
}

// end closes Events, as the store does for a watcher that fell behind:
// Serve must return and close out, with nothing more sent.
func (h *harness) end() {
	h.t.Helper()
	close(h.store.events)
	for {
		got, open := h.next()
		if !open {
			break
		}
		h.t.Errorf("sent %s; want nothing more", got)
	}
	select {
	case <-h.ended:
	case <-time.After(guard):
		waitedInVain(h.t, "Serve closed out but did not return")
	}
}

func sameEvent(a, b Event) bool {
	return a.Type == b.Type && a.Key == b.Key && a.ResourceVersion == b.ResourceVersion && maps.Equal(a.Annotations, b.Annotations)
}

func (e Event) String() string {
	if e.Type == Bookmark {
		if len(e.Annotations) > 0 {
			return fmt.Sprintf("BOOKMARK@%d%v", e.ResourceVersion, e.Annotations)
		}
		return fmt.Sprintf("BOOKMARK@%d", e.ResourceVersion)
	}
	return fmt.Sprintf("%s %s@%d", e.Type, e.Key, e.ResourceVersion)
}

func added(key string, rev int64) Event { return Event{Type: Added, Key: key, ResourceVersion: rev} }
func modified(key string, rev int64) Event {
	return Event{Type: Modified, Key: key, ResourceVersion: rev}
}
func deleted(key string, rev int64) Event {
	return Event{Type: Deleted, Key: key, ResourceVersion: rev}
}
func bookmark(rev int64) Event { return Event{Type: Bookmark, ResourceVersion: rev} }
func initialEnd(rev int64) Event {
	return Event{Type: Bookmark, ResourceVersion: rev, Annotations: map[string]string{InitialEventsAnnotation: "true"}}
}

// A script's steps.
type step struct {
	publish   []Event // queue these events
	elsewhere int     // writes elsewhere: the revision moves, nothing is queued
	racing    []Event // queue these during the next Revision call
	tick      bool
	expect    []Event // then these must be sent, in this order
}

func publish(evs ...Event) step { return step{publish: evs} }
func elsewhere(n int) step      { return step{elsewhere: n} }
func racing(evs ...Event) step  { return step{racing: evs} }
func tick() step                { return step{tick: true} }
func expect(evs ...Event) step  { return step{expect: evs} }

func onlyKey(key string) func(Event) bool {
	return func(ev Event) bool { return ev.Key == key }
}

func TestServe(t *testing.T) {
	yes, no := true, false
	bookmarks := Options{ResourceVersion: "5", AllowWatchBookmarks: true}
	watchList := Options{AllowWatchBookmarks: true, SendInitialEvents: &yes}
	state := []Event{added("a", 3), added("b", 5)}

	tests := []struct {
		name    string
		opts    Options
		initial []Event
		match   func(Event) bool
		steps   []step
	}{
		{name: "without allowWatchBookmarks a tick sends nothing",
			opts:  Options{ResourceVersion: "5"},
			steps: []step{publish(added("a", 6)), expect(added("a", 6)), tick(), publish(modified("a", 7)), expect(modified("a", 7))}},
		{name: "nothing happened: a bookmark at the revision the watch started from",
			opts:  bookmarks,
			steps: []step{tick(), expect(bookmark(5))}},
		{name: "after events, at the last one",
			opts: bookmarks,
			steps: []step{publish(added("a", 6), modified("a", 7)), expect(added("a", 6), modified("a", 7)),
				tick(), expect(bookmark(7))}},
		{name: "a bookmark is sent at every tick, and never goes back",
			opts:  bookmarks,
			steps: []step{tick(), expect(bookmark(5)), tick(), expect(bookmark(5)), publish(deleted("a", 6)), tick(), expect(deleted("a", 6), bookmark(6))}},
		{name: "events the selector hides move the bookmark too",
			opts: bookmarks, match: onlyKey("a"),
			steps: []step{publish(added("b", 6), modified("b", 7)), tick(), expect(bookmark(7)),
				publish(added("a", 8), modified("b", 9)), expect(added("a", 8)), tick(), expect(bookmark(9))}},
		{name: "writes elsewhere move it: the store's revision at the tick",
			opts:  bookmarks,
			steps: []step{elsewhere(3), tick(), expect(bookmark(8)), publish(added("a", 9)), elsewhere(2), tick(), expect(added("a", 9), bookmark(11))}},
		{name: "queued events go out before the bookmark that covers them",
			opts:  bookmarks,
			steps: []step{publish(added("a", 6), added("b", 7), deleted("a", 8)), tick(), expect(added("a", 6), added("b", 7), deleted("a", 8), bookmark(8))}},
		{name: "a write that races the tick: its event before the bookmark",
			opts:  bookmarks,
			steps: []step{racing(added("a", 6)), tick(), expect(added("a", 6), bookmark(6))}},
		{name: "several racing writes, after queued ones",
			opts:  bookmarks,
			steps: []step{publish(added("a", 6)), racing(added("b", 7), modified("b", 8)), tick(), expect(added("a", 6), added("b", 7), modified("b", 8), bookmark(8))}},
		{name: "a racing write the selector hides",
			opts: bookmarks, match: onlyKey("a"),
			steps: []step{racing(added("b", 6)), tick(), expect(bookmark(6))}},
		{name: "sendInitialEvents: the state, then the bookmark that ends it",
			opts: watchList, initial: state,
			steps: []step{expect(added("a", 3), added("b", 5), initialEnd(5)),
				publish(modified("a", 6)), expect(modified("a", 6)), tick(), expect(bookmark(6))}},
		{name: "sendInitialEvents of an empty state: only the bookmark",
			opts:  watchList,
			steps: []step{expect(initialEnd(5)), tick(), expect(bookmark(5))}},
		{name: "sendInitialEvents through a selector: the end is still at the state's revision",
			opts: watchList, initial: state, match: onlyKey("a"),
			steps: []step{expect(added("a", 3), initialEnd(5))}},
		{name: "sendInitialEvents without allowWatchBookmarks: no bookmark at all",
			opts: Options{SendInitialEvents: &yes}, initial: state,
			steps: []step{expect(added("a", 3), added("b", 5)), tick(), publish(added("c", 6)), expect(added("c", 6))}},
		{name: "a tick during the initial events waits for them, and their end",
			opts: watchList, initial: state,
			steps: []step{tick(), expect(added("a", 3), added("b", 5), initialEnd(5), bookmark(5))}},
		{name: "a legacy watch of the present: the state, but no end bookmark",
			opts: Options{AllowWatchBookmarks: true}, initial: state,
			steps: []step{expect(added("a", 3), added("b", 5)), tick(), expect(bookmark(5))}},
		{name: "sendInitialEvents=false: no state, no end",
			opts: Options{AllowWatchBookmarks: true, SendInitialEvents: &no}, initial: state,
			steps: []step{tick(), expect(bookmark(5))}},
		{name: "a resume from a resourceVersion: no state",
			opts: bookmarks, initial: state,
			steps: []step{publish(added("c", 6)), expect(added("c", 6)), tick(), expect(bookmark(6))}},
	}
	for _, tt := range tests {
		if hung.Load() {
			t.Fatal("stopped: Serve left a case above waiting; make that one pass first")
		}
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.opts, 5, tt.initial, tt.match)
			for _, s := range tt.steps {
				for _, ev := range s.publish {
					h.store.publish(ev)
				}
				for range s.elsewhere {
					h.store.writeElsewhere()
				}
				if s.racing != nil {
					evs := s.racing
					h.store.race(func() {
						for _, ev := range evs {
							h.store.publish(ev)
						}
					})
				}
				if s.tick {
					h.tick()
				}
				h.expect(s.expect...)
			}
			h.end()
		})
	}
}

func TestServeEnds(t *testing.T) {
	t.Run("Done: Serve returns and closes out", func(t *testing.T) {
		h := start(t, Options{ResourceVersion: "5", AllowWatchBookmarks: true}, 5, nil, nil)
		h.tick()
		h.expect(bookmark(5))
		close(h.done)
		select {
		case <-h.ended:
		case <-time.After(guard):
			t.Fatal("Serve did not return after Done was closed")
		}
		select {
		case _, open := <-h.out:
			if open {
				t.Error("out is still open after Serve returned")
			}
		default:
			t.Error("out is still open after Serve returned")
		}
	})

	t.Run("Done while nobody reads: Serve does not wait for the client", func(t *testing.T) {
		h := start(t, Options{ResourceVersion: "5"}, 5, nil, nil)
		h.store.publish(added("a", 6))
		h.store.publish(added("b", 7))
		close(h.done) // nobody reads out
		select {
		case <-h.ended:
		case <-time.After(guard):
			t.Fatal("Serve did not return after Done was closed: it waits for a client that stopped reading")
		}
	})

	t.Run("Done during the initial events", func(t *testing.T) {
		yes := true
		h := start(t, Options{AllowWatchBookmarks: true, SendInitialEvents: &yes}, 5, []Event{added("a", 3), added("b", 5)}, nil)
		h.expect(added("a", 3))
		close(h.done)
		select {
		case <-h.ended:
		case <-time.After(guard):
			t.Fatal("Serve did not return after Done was closed")
		}
	})

	t.Run("Events closed: what was queued is sent, then out is closed", func(t *testing.T) {
		h := start(t, Options{ResourceVersion: "5", AllowWatchBookmarks: true}, 5, nil, nil)
		h.store.publish(added("a", 6))
		h.expect(added("a", 6))
		h.end()
	})
}

// The rule, checked on a long random run: whatever is sent, a bookmark at
// revision R comes after every event of this watch up to R, events come in
// order, each once, and bookmarks never go back. That is what lets a client
// resume from any revision it was sent, missing nothing.
func TestBookmarksNeverOvertakeEvents(t *testing.T) {
	for seed := range uint64(20) {
		if hung.Load() {
			t.Fatal("stopped: Serve left a run above waiting; make that one pass first")
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			h := start(t, Options{ResourceVersion: "5", AllowWatchBookmarks: true}, 5, nil, onlyKey("a"))

			var got []Event
			read := make(chan struct{})
			go func() {
				defer close(read)
				for ev := range h.out {
					got = append(got, ev)
				}
			}()

			var published []Event
			rev := int64(5)
			next := func() Event {
				rev++
				key := []string{"a", "b"}[r.IntN(2)]
				ev := Event{Type: Modified, Key: key, ResourceVersion: rev}
				published = append(published, ev)
				return ev
			}
			for range 300 {
				switch r.IntN(5) {
				case 0, 1:
					h.store.publish(next())
				case 2:
					h.store.mu.Lock()
					rev++
					h.store.rev = rev
					h.store.mu.Unlock()
				case 3:
					// A write between the tick and Serve's question. Wait
					// until it happened, so that the next write comes
					// after it, in revision order.
					ev := next()
					fired := make(chan struct{})
					h.store.race(func() {
						h.store.publish(ev)
						close(fired)
					})
					h.tick()
					select {
					case <-fired:
					case <-time.After(guard):
						waitedInVain(t, "Serve did not ask the store for its revision within %v of a tick", guard)
					}
				case 4:
					h.tick()
				}
			}
			close(h.store.events)
			select {
			case <-read:
			case <-time.After(guard):
				waitedInVain(t, "out was not closed after Events was")
			}

			var want []Event
			for _, ev := range published {
				if ev.Key == "a" {
					want = append(want, ev)
				}
			}
			var events []Event
			var lastBookmark int64
			for i, ev := range got {
				if ev.Type != Bookmark {
					events = append(events, ev)
					continue
				}
				if ev.ResourceVersion < lastBookmark {
					t.Fatalf("bookmark %d after bookmark %d: bookmarks never go back", ev.ResourceVersion, lastBookmark)
				}
				lastBookmark = ev.ResourceVersion
				for _, w := range want {
					if w.ResourceVersion <= ev.ResourceVersion && !contains(got[:i], w) {
						t.Fatalf("%s was sent before %s:\n%s", ev, w, render(got[:i+1]))
					}
				}
			}
			if render(events) != render(want) {
				t.Errorf("the events sent:\n%s\nwant every event of key a, in order, once:\n%s", render(events), render(want))
			}
		})
	}
}

func contains(evs []Event, ev Event) bool {
	for _, e := range evs {
		if sameEvent(e, ev) {
			return true
		}
	}
	return false
}

func render(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %s\n", ev)
	}
	return b.String()
}
