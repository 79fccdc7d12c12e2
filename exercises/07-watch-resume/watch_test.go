package watchresume

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// within fails the test if fn does not return in time: a Publish or a write
// that waits for a slow reader hangs instead of failing.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: something waits for a reader, or for a lock it holds itself", what, d)
	}
}

// watch starts a watch and fails the test on an error.
func watch(t *testing.T, s *Store, from int64, sel Selector) *Watcher {
	t.Helper()
	var w *Watcher
	var err error
	within(t, 5*time.Second, fmt.Sprintf("Watch(%d)", from), func() { w, err = s.Watch(from, sel) })
	if err != nil {
		t.Fatalf("Watch(%d, %v): %v", from, sel, err)
	}
	t.Cleanup(w.Stop)
	return w
}

// readUntil reads events until one at revision last or later arrived, the
// channel closed, or 5 s passed.
func readUntil(w *Watcher, last int64) (got []Event, closed bool) {
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return got, true
			}
			got = append(got, ev)
			if ev.Revision >= last {
				return got, false
			}
		case <-deadline:
			return got, false
		}
	}
}

// readAll reads until the channel closes or 5 s passed.
func readAll(t *testing.T, w *Watcher) []Event {
	t.Helper()
	var got []Event
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("the watcher's channel was not closed within 5 s (got %d events)", len(got))
		}
	}
}

func revisions(events []Event) []int64 {
	var revs []int64
	for _, ev := range events {
		revs = append(revs, ev.Revision)
	}
	return revs
}

// span is from+1, ..., to.
func span(from, to int64) []int64 {
	var revs []int64
	for r := from + 1; r <= to; r++ {
		revs = append(revs, r)
	}
	return revs
}

// brief prints events as "ADDED a {team=red}".
func brief(events []Event) []string {
	var out []string
	for _, ev := range events {
		keys := slices.Sorted(maps.Keys(ev.Labels))
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+ev.Labels[k])
		}
		out = append(out, fmt.Sprintf("%s %s {%s}", ev.Type, ev.Key, strings.Join(kv, ",")))
	}
	return out
}

func sameEvent(a, b Event) bool {
	return a.Revision == b.Revision && a.Type == b.Type && a.Key == b.Key &&
		maps.Equal(a.Labels, b.Labels) && maps.Equal(a.PrevLabels, b.PrevLabels)
}

func TestFilterTransitions(t *testing.T) {
	red, blue := Labels{"team": "red"}, Labels{"team": "blue"}
	redBig := Labels{"team": "red", "size": "big"}
	tests := []struct {
		name string
		in   Event
		sel  Selector
		want *Event // nil: the watcher does not see it
	}{
		{"created matching", Event{Revision: 5, Type: Added, Key: "a", Labels: red}, Selector{"team": "red"},
			&Event{Revision: 5, Type: Added, Key: "a", Labels: red}},
		{"created not matching", Event{Revision: 5, Type: Added, Key: "a", Labels: blue}, Selector{"team": "red"}, nil},
		{"modified, matching before and after", Event{Revision: 6, Type: Modified, Key: "a", Labels: redBig, PrevLabels: red}, Selector{"team": "red"},
			&Event{Revision: 6, Type: Modified, Key: "a", Labels: redBig, PrevLabels: red}},
		{"modified, starts matching: ADDED", Event{Revision: 7, Type: Modified, Key: "a", Labels: red, PrevLabels: blue}, Selector{"team": "red"},
			&Event{Revision: 7, Type: Added, Key: "a", Labels: red, PrevLabels: blue}},
		{"modified, stops matching: DELETED, as it last matched", Event{Revision: 8, Type: Modified, Key: "a", Labels: blue, PrevLabels: red}, Selector{"team": "red"},
			&Event{Revision: 8, Type: Deleted, Key: "a", Labels: red, PrevLabels: red}},
		{"modified, matching neither before nor after", Event{Revision: 9, Type: Modified, Key: "a", Labels: blue, PrevLabels: Labels{}}, Selector{"team": "red"}, nil},
		{"deleted while matching", Event{Revision: 10, Type: Deleted, Key: "a", Labels: red, PrevLabels: red}, Selector{"team": "red"},
			&Event{Revision: 10, Type: Deleted, Key: "a", Labels: red, PrevLabels: red}},
		{"deleted, not matching", Event{Revision: 10, Type: Deleted, Key: "a", Labels: blue, PrevLabels: blue}, Selector{"team": "red"}, nil},
		{"two labels, one changes away", Event{Revision: 11, Type: Modified, Key: "a", Labels: red, PrevLabels: redBig}, Selector{"team": "red", "size": "big"},
			&Event{Revision: 11, Type: Deleted, Key: "a", Labels: redBig, PrevLabels: redBig}},
		{"the empty selector: created", Event{Revision: 12, Type: Added, Key: "a", Labels: Labels{}}, nil,
			&Event{Revision: 12, Type: Added, Key: "a", Labels: Labels{}}},
		{"the empty selector: modified stays modified", Event{Revision: 13, Type: Modified, Key: "a", Labels: blue, PrevLabels: red}, Selector{},
			&Event{Revision: 13, Type: Modified, Key: "a", Labels: blue, PrevLabels: red}},
		{"the empty selector: deleted", Event{Revision: 14, Type: Deleted, Key: "a", Labels: blue, PrevLabels: blue}, nil,
			&Event{Revision: 14, Type: Deleted, Key: "a", Labels: blue, PrevLabels: blue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Filter(tt.in, tt.sel)
			switch {
			case tt.want == nil && ok:
				t.Errorf("Filter(%+v, %v) = %+v, true; the watcher must not see this event", tt.in, tt.sel, got)
			case tt.want != nil && !ok:
				t.Errorf("Filter(%+v, %v) dropped the event, want %+v", tt.in, tt.sel, *tt.want)
			case tt.want != nil && !sameEvent(got, *tt.want):
				t.Errorf("Filter(%+v, %v) = %+v, want %+v", tt.in, tt.sel, got, *tt.want)
			}
		})
	}
}

func TestPublishNeverWaitsForASubscriber(t *testing.T) {
	h := NewHub()
	slow := h.Subscribe(3)  // never read while publishing
	fast := h.Subscribe(20) // room for everything
	within(t, 2*time.Second, "Publish to a subscriber nobody reads", func() {
		for r := int64(1); r <= 10; r++ {
			h.Publish(Event{Revision: r, Type: Added, Key: fmt.Sprint("k", r)})
		}
	})
	if n := h.Len(); n != 1 {
		t.Errorf("after the slow subscriber's buffer overflowed, the hub has %d subscribers, want 1 (the fast one)", n)
	}
	// The slow one keeps what it had room for, in order, then sees the close.
	var got []int64
	within(t, 2*time.Second, "reading the slow subscriber until its channel is closed", func() {
		for ev := range slow.C {
			got = append(got, ev.Revision)
		}
	})
	if !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("the slow subscriber read %v before its channel closed, want [1 2 3]", got)
	}
	got = nil
	for len(fast.C) > 0 {
		got = append(got, (<-fast.C).Revision)
	}
	if !slices.Equal(got, span(0, 10)) {
		t.Errorf("the fast subscriber got %v, want %v", got, span(0, 10))
	}
	// Publishing again must not close the dropped channel a second time.
	within(t, time.Second, "Publish after a subscriber was dropped", func() {
		h.Publish(Event{Revision: 11, Type: Added, Key: "k11"})
	})
	h.Unsubscribe(slow) // already gone: fine
	h.Unsubscribe(fast)
	if n := h.Len(); n != 0 {
		t.Errorf("after Unsubscribe the hub has %d subscribers", n)
	}
}

func TestWatchReplaysThenGoesLive(t *testing.T) {
	s := New()
	for i := range 5 {
		s.Put(fmt.Sprint("k", i), nil)
	}
	w := watch(t, s, 2, nil)
	s.Put("k1", Labels{"v": "2"})
	if _, err := s.Delete("k4"); err != nil {
		t.Fatal(err)
	}
	got, closed := readUntil(w, 7)
	if closed || !slices.Equal(revisions(got), span(2, 7)) {
		t.Fatalf("Watch(2) after 5 writes, then 2 more: revisions %v (closed %v), want %v", revisions(got), closed, span(2, 7))
	}
	want := []string{"ADDED k2 {}", "ADDED k3 {}", "ADDED k4 {}", "MODIFIED k1 {v=2}", "DELETED k4 {}"}
	if !slices.Equal(brief(got), want) {
		t.Errorf("Watch(2): %v, want %v", brief(got), want)
	}

	// From the current revision: nothing to replay, only what comes next.
	now := watch(t, s, s.Revision(), nil)
	s.Put("k9", nil)
	if got, _ := readUntil(now, 8); !slices.Equal(revisions(got), []int64{8}) {
		t.Errorf("Watch(current revision): revisions %v, want [8]", revisions(got))
	}
	// From 0 on a store that was never compacted: everything.
	all := watch(t, s, 0, nil)
	if got, _ := readUntil(all, 8); !slices.Equal(revisions(got), span(0, 8)) {
		t.Errorf("Watch(0): revisions %v, want %v", revisions(got), span(0, 8))
	}
}

// The writes at the worst moment: after the watch registered, before it has
// read the log. They must come exactly once, in order.
func TestWatchSeamHasNoGapAndNoDuplicate(t *testing.T) {
	s := New()
	for i := range 5 {
		s.Put(fmt.Sprint("k", i), nil)
	}
	var once sync.Once
	s.beforeHistory = func() {
		once.Do(func() {
			for i := 5; i < 8; i++ {
				s.Put(fmt.Sprint("k", i), nil) // revisions 6, 7, 8
			}
		})
	}
	w := watch(t, s, 2, nil)
	s.Put("k8", nil)
	s.Put("k9", nil)
	got, closed := readUntil(w, 10)
	if !slices.Equal(revisions(got), span(2, 10)) {
		t.Fatalf("writes landed between registration and replay: the watch got revisions %v (closed %v), want %v: a missing revision is a gap at the seam, a repeated one a duplicate",
			revisions(got), closed, span(2, 10))
	}
	// And nothing more after the last write.
	select {
	case ev, ok := <-w.Events():
		if ok {
			t.Errorf("an extra event after revision 10: %+v", ev)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWatchFromACompactedRevisionIsGone(t *testing.T) {
	s := New()
	for i := range 8 {
		s.Put(fmt.Sprint("k", i%3), Labels{"i": fmt.Sprint(i)})
	}
	if err := s.Compact(5); err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{0, 1, 4} {
		var w *Watcher
		var err error
		within(t, 5*time.Second, fmt.Sprintf("Watch(%d)", from), func() { w, err = s.Watch(from, nil) })
		if !errors.Is(err, ErrGone) {
			t.Errorf("Watch(%d) after Compact(5): %v, want ErrGone (410: the client must list again)", from, err)
		}
		if w != nil {
			w.Stop()
		}
	}
	if n := s.hub.Len(); n != 0 {
		t.Errorf("refused watches left %d subscribers behind", n)
	}
	w := watch(t, s, 5, nil)
	if got, _ := readUntil(w, 8); !slices.Equal(revisions(got), span(5, 8)) {
		t.Errorf("Watch(5) after Compact(5): revisions %v, want %v", revisions(got), span(5, 8))
	}
}

// Compaction between the registration and the replay: the watch cannot
// have what it asked for, and must say so rather than skip it.
func TestCompactionDuringTheReplayIsGone(t *testing.T) {
	s := New()
	for i := range 6 {
		s.Put("k", Labels{"i": fmt.Sprint(i)})
	}
	s.beforeHistory = func() {
		s.Put("k", Labels{"i": "6"})
		if err := s.Compact(s.Revision()); err != nil {
			t.Error(err)
		}
	}
	var err error
	within(t, 5*time.Second, "Watch", func() {
		var w *Watcher
		if w, err = s.Watch(2, nil); w != nil {
			w.Stop()
		}
	})
	if !errors.Is(err, ErrGone) {
		t.Errorf("history compacted between registration and replay: Watch(2) = %v, want ErrGone", err)
	}
	if n := s.hub.Len(); n != 0 {
		t.Errorf("a failed Watch left its subscription behind (%d subscribers): it would fill up and be closed by Publish, but never read", n)
	}
}

func TestWatchFromTheFutureIsRefused(t *testing.T) {
	s := New()
	s.Put("a", nil)
	var w *Watcher
	var err error
	within(t, 5*time.Second, "Watch(2)", func() { w, err = s.Watch(2, nil) })
	if !errors.Is(err, ErrFutureRevision) {
		t.Errorf("Watch(2) on a store at revision 1: %v, want ErrFutureRevision", err)
	}
	if w != nil {
		w.Stop()
	}
	if n := s.hub.Len(); n != 0 {
		t.Errorf("a refused watch left %d subscribers behind", n)
	}
}

func TestStopEndsTheWatch(t *testing.T) {
	s := New()
	s.Put("a", nil)
	w := watch(t, s, 0, nil) // revision 1 waits to be read
	w.Stop()
	readAll(t, w) // closed, perhaps after revision 1
	deadline := time.Now().Add(2 * time.Second)
	for s.hub.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.hub.Len(); n != 0 {
		t.Errorf("a stopped watch is still subscribed (%d subscribers)", n)
	}
	w.Stop() // twice is fine
	within(t, time.Second, "Put after Stop", func() { s.Put("b", nil) })
}

// The spec of chapter 07, in small: an object that leaves the selector is
// DELETED for the watcher, and ADDED when it comes back. The same events,
// whether they are live or replayed from the log.
func TestWatchSelectorTransitions(t *testing.T) {
	s := New()
	s.Put("other", nil)
	base := s.Revision()
	live := watch(t, s, base, Selector{"team": "red"})

	s.Put("bystander", Labels{"team": "blue"})
	s.Put("mover", Labels{"team": "red"})
	s.Put("mover", Labels{"team": "blue"})
	s.Put("mover", Labels{"team": "blue", "note": "unseen"}) // still not matching: nothing
	s.Put("mover", Labels{"team": "red"})
	s.Put("bystander", Labels{"team": "green"})
	if _, err := s.Delete("mover"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete("bystander"); err != nil {
		t.Fatal(err)
	}
	s.Put("mover", Labels{"team": "red"}) // the last write: revision base+9
	last := s.Revision()

	want := []string{
		"ADDED mover {team=red}",
		"DELETED mover {team=red}", // as the watcher last saw it
		"ADDED mover {team=red}",
		"DELETED mover {team=red}",
		"ADDED mover {team=red}",
	}
	gotLive, _ := readUntil(live, last)
	if !slices.Equal(brief(gotLive), want) {
		t.Errorf("live watch with team=red: %v, want %v", brief(gotLive), want)
	}
	replayed := watch(t, s, base, Selector{"team": "red"})
	gotReplayed, _ := readUntil(replayed, last)
	if !slices.Equal(brief(gotReplayed), want) {
		t.Errorf("replayed watch with team=red: %v, want %v", brief(gotReplayed), want)
	}
	wantRevs := []int64{base + 2, base + 3, base + 5, base + 7, base + 9}
	if !slices.Equal(revisions(gotLive), wantRevs) || !slices.Equal(revisions(gotReplayed), wantRevs) {
		t.Errorf("revisions live %v, replayed %v, want %v: every event keeps the revision of its write",
			revisions(gotLive), revisions(gotReplayed), wantRevs)
	}
}

// A watcher nobody reads falls behind. Writers must not wait for it; it ends
// after a gap-free prefix, and its client resumes from the last revision it
// got and misses nothing, as an informer does.
func TestASlowWatcherIsClosedAndCanResume(t *testing.T) {
	s := New()
	s.watchBuffer = 4
	s.Put("start", nil)
	w := watch(t, s, 1, nil)
	const writes = 50
	within(t, 5*time.Second, fmt.Sprintf("%d writes while a watcher is not read", writes), func() {
		for i := range writes {
			s.Put(fmt.Sprint("k", i%7), Labels{"i": fmt.Sprint(i)})
		}
	})
	last := s.Revision()
	got := readAll(t, w) // must end: the watcher was closed
	if len(got) == 0 || len(got) >= writes {
		t.Fatalf("the slow watcher got %d events before its channel closed; want some, not all %d", len(got), writes)
	}
	if !slices.Equal(revisions(got), span(1, 1+int64(len(got)))) {
		t.Fatalf("the slow watcher got %v: what it gets before the close must have no gap", revisions(got))
	}
	resumed := watch(t, s, got[len(got)-1].Revision, nil)
	rest, _ := readUntil(resumed, last)
	if all := append(revisions(got), revisions(rest)...); !slices.Equal(all, span(1, last)) {
		t.Errorf("before the close and after resuming, the client got %v, want %v", all, span(1, last))
	}
}

// Writers publish while watches start at random revisions. Every watcher must
// see exactly the revisions after its start, in order, each once, with the
// events of the log. Run many times: a wrong seam shows up as a rare gap or
// duplicate. `go test -race` checks the locking too.
func TestConcurrentWatchesSeeEveryRevisionOnce(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	const writers, writesEach, watchers = 4, 150, 8
	for round := range rounds {
		s := New()
		s.watchBuffer = writers*writesEach + 10 // nobody falls behind in this test
		for i := range 10 {
			s.Put(fmt.Sprint("seed", i), nil)
		}
		target := s.Revision() + writers*writesEach

		var wg sync.WaitGroup
		for wr := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(wr)))
				live := map[string]bool{}
				for range writesEach {
					key := fmt.Sprintf("w%d-k%d", wr, rng.IntN(5))
					if live[key] && rng.IntN(3) == 0 {
						if _, err := s.Delete(key); err != nil {
							t.Error(err)
						}
						delete(live, key)
						continue
					}
					s.Put(key, Labels{"team": []string{"red", "blue"}[rng.IntN(2)]})
					live[key] = true
				}
			})
		}
		type result struct {
			from int64
			got  []Event
		}
		results := make(chan result, watchers)
		for wa := range watchers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(100+wa)))
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
				from := rng.Int64N(s.Revision() + 1)
				w, err := s.Watch(from, nil)
				if err != nil {
					t.Errorf("round %d: Watch(%d): %v", round, from, err)
					return
				}
				defer w.Stop()
				got, _ := readUntil(w, target)
				results <- result{from, got}
			})
		}
		wg.Wait()
		close(results)

		log, err := s.History(0, target)
		if err != nil {
			t.Fatal(err)
		}
		for r := range results {
			if !slices.Equal(revisions(r.got), span(r.from, target)) {
				t.Fatalf("round %d: a watch from %d got revisions %s, want %d..%d, each once, in order",
					round, r.from, describeRevisions(r.got), r.from+1, target)
			}
			for _, ev := range r.got {
				if want := log[ev.Revision-1]; !sameEvent(ev, want) {
					t.Fatalf("round %d: a watch from %d got %+v at revision %d, the log has %+v", round, r.from, ev, ev.Revision, want)
				}
			}
		}
	}
}

// The same race, through a selector: each watcher's stream must be exactly
// the log after its start, filtered the way Kubernetes filters.
func TestConcurrentWatchesWithASelector(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	sel := Selector{"team": "red"}
	for round := range rounds {
		s := New()
		s.watchBuffer = 1000
		const writes = 300
		var wg sync.WaitGroup
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), 7))
			for range writes {
				s.Put(fmt.Sprint("k", rng.IntN(4)), Labels{"team": []string{"red", "blue"}[rng.IntN(2)]})
			}
			s.Put("last", Labels{"team": "red"}) // every watcher sees this one
		})
		type result struct {
			from int64
			got  []Event
		}
		results := make(chan result, 4)
		for wa := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(wa)))
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
				from := rng.Int64N(s.Revision() + 1)
				w, err := s.Watch(from, sel)
				if err != nil {
					t.Errorf("Watch(%d): %v", from, err)
					return
				}
				defer w.Stop()
				got, _ := readUntil(w, writes+1)
				results <- result{from, got}
			})
		}
		wg.Wait()
		close(results)
		log, err := s.History(0, writes+1)
		if err != nil {
			t.Fatal(err)
		}
		for r := range results {
			var want []Event
			for _, ev := range log[r.from:] {
				if out, ok := referenceFilter(ev, sel); ok {
					want = append(want, out)
				}
			}
			if !slices.EqualFunc(r.got, want, sameEvent) {
				t.Fatalf("round %d: a watch from %d with %v got\n%v\nwant\n%v", round, r.from, sel, brief(r.got), brief(want))
			}
		}
	}
}

// referenceFilter is the grading tests' own copy of the transition rules.
func referenceFilter(ev Event, sel Selector) (Event, bool) {
	now := ev.Type != Deleted && sel.Matches(ev.Labels)
	before := ev.Type != Added && sel.Matches(ev.PrevLabels)
	switch {
	case now && !before:
		ev.Type = Added
	case !now && before:
		ev.Type, ev.Labels = Deleted, ev.PrevLabels
	case !now && !before:
		return Event{}, false
	}
	return ev, true
}

func describeRevisions(events []Event) string {
	revs := revisions(events)
	if len(revs) <= 20 {
		return fmt.Sprint(revs)
	}
	// Show where it goes wrong.
	for i := 1; i < len(revs); i++ {
		if revs[i] != revs[i-1]+1 {
			lo, hi := max(0, i-3), min(len(revs), i+3)
			return fmt.Sprintf("%d events, ... %v ... (first %d, last %d)", len(revs), revs[lo:hi], revs[0], revs[len(revs)-1])
		}
	}
	return fmt.Sprintf("%d events, %d..%d", len(revs), revs[0], revs[len(revs)-1])
}
