// Exercise 07: resuming a watch without gaps.
//
// A store with chapter 07's watch machinery, in memory: every write gets the
// next revision, is appended to a log, and is published to the watchers
// while the store's lock is held, so events go out in revision order. A
// watch starts from a revision: what came before it registered is read
// from the log, what comes after arrives live, and the two meet without a
// gap and without a duplicate.
//
// Edit this file. The tests in watch_test.go are the specification;
// README.md explains the rules.
package watchresume

import (
	"errors"
	"fmt"
	"maps"
	"sync"
)

var (
	// ErrGone is 410 Gone: the history the watch needs was compacted away.
	ErrGone = errors.New("too old resource version")
	// ErrFutureRevision is 504 Too large resource version.
	ErrFutureRevision = errors.New("too large resource version")
	ErrNotFound       = errors.New("not found")
)

// EventType is what a watch event says happened.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Labels are an object's labels. The store never changes a Labels map after
// handing it out; nobody else may either.
type Labels map[string]string

// Event is one write. Labels are the object's labels after the write (for
// Deleted: as the object last was); PrevLabels are its labels before the
// write (nil for Added; for Deleted the same as Labels).
type Event struct {
	Revision   int64
	Type       EventType
	Key        string
	Labels     Labels
	PrevLabels Labels
}

// Selector is an equality-based label selector: every key must be present
// with that value. The empty selector matches everything.
type Selector map[string]string

func (sel Selector) Matches(l Labels) bool {
	for k, v := range sel {
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Subscription is one subscriber of a Hub: Publish puts events on C.
type Subscription struct {
	C chan Event
}

// Hub hands every published event to every subscriber.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]bool
}

func NewHub() *Hub { return &Hub{subs: map[*Subscription]bool{}} }

// Subscribe adds a subscriber whose channel holds up to buffer events.
func (h *Hub) Subscribe(buffer int) *Subscription {
	sub := &Subscription{C: make(chan Event, buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[sub] = true
	return sub
}

// Unsubscribe forgets a subscriber. It does not close its channel. A
// subscriber that Publish already dropped is fine.
func (h *Hub) Unsubscribe(sub *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
}

// Len is the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish hands ev to every subscriber without ever waiting for one. A
// subscriber whose buffer is full has fallen behind: Publish closes its
// channel and forgets it (what it already holds stays readable).
func (h *Hub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.C <- ev:
		default:
			// Waiting here would stop every writer behind one slow
			// client. Closing tells it to resume from the last event
			// it got.
			close(sub.C)
			delete(h.subs, sub)
		}
	}
}

// DefaultWatchBuffer is how many events a watcher may fall behind by.
const DefaultWatchBuffer = 100

// Store is the key space, its log and its watchers. One mutex guards the
// revision, the log and the current labels; every write holds it while it
// appends and publishes.
type Store struct {
	mu          sync.Mutex
	rev         int64             // the revision of the last write
	compacted   int64             // history after this revision is complete
	current     map[string]Labels // the live keys
	log         []Event           // every write after compacted, in revision order
	hub         *Hub
	watchBuffer int // each watcher's Subscription buffer

	// beforeHistory, when set, runs at the start of History. The tests
	// use it to write, or compact, at the worst possible moment.
	beforeHistory func()
}

func New() *Store {
	return &Store{current: map[string]Labels{}, hub: NewHub(), watchBuffer: DefaultWatchBuffer}
}

// write runs fn under the lock with the next revision, logs the event fn
// returns and publishes it, all before the next write can start: that is
// what keeps the events in revision order, for the log and for the hub.
func (s *Store) write(fn func(rev int64) (Event, error)) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := fn(s.rev + 1)
	if err != nil {
		return Event{}, err
	}
	s.rev = ev.Revision
	s.log = append(s.log, ev)
	s.hub.Publish(ev)
	return ev, nil
}

// Put creates or replaces key with these labels.
func (s *Store) Put(key string, labels Labels) Event {
	ev, _ := s.write(func(rev int64) (Event, error) {
		labels := maps.Clone(labels)
		if labels == nil {
			labels = Labels{}
		}
		prev, exists := s.current[key]
		s.current[key] = labels
		if !exists {
			return Event{Revision: rev, Type: Added, Key: key, Labels: labels}, nil
		}
		return Event{Revision: rev, Type: Modified, Key: key, Labels: labels, PrevLabels: prev}, nil
	})
	return ev
}

// Delete removes key.
func (s *Store) Delete(key string) (Event, error) {
	return s.write(func(rev int64) (Event, error) {
		last, exists := s.current[key]
		if !exists {
			return Event{}, fmt.Errorf("%q: %w", key, ErrNotFound)
		}
		delete(s.current, key)
		return Event{Revision: rev, Type: Deleted, Key: key, Labels: last, PrevLabels: last}, nil
	})
}

// Revision is the revision of the last write.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Compact forgets the events up to and including rev. A watch from a
// revision below rev is ErrGone afterwards; from rev on, it works.
func (s *Store) Compact(rev int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.rev {
		return fmt.Errorf("cannot compact to %d, the store is at %d: %w", rev, s.rev, ErrFutureRevision)
	}
	if rev <= s.compacted {
		return nil
	}
	kept := []Event{}
	for _, ev := range s.log {
		if ev.Revision > rev {
			kept = append(kept, ev)
		}
	}
	s.log, s.compacted = kept, rev
	return nil
}

// History returns the events after revision `after`, up to and including
// upTo, in revision order, or ErrGone if some of them were compacted away.
// It takes the store's lock itself: in chapter 07 it is a query on the log
// table, which runs beside the writers, not while holding their lock.
func (s *Store) History(after, upTo int64) ([]Event, error) {
	if s.beforeHistory != nil {
		s.beforeHistory()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if after < s.compacted {
		return nil, fmt.Errorf("revision %d, history starts after %d: %w", after, s.compacted, ErrGone)
	}
	var events []Event
	for _, ev := range s.log {
		if ev.Revision > after && ev.Revision <= upTo {
			events = append(events, ev)
		}
	}
	return events, nil
}

// Watcher is one watch. Its events arrive on Events(), which is closed when
// the watch ends: after Stop, or when the watcher fell behind (its client
// then watches again from the last revision it received).
type Watcher struct {
	events chan Event
	done   chan struct{}
	stop   sync.Once
}

func newWatcher() *Watcher {
	return &Watcher{events: make(chan Event), done: make(chan struct{})}
}

func (w *Watcher) Events() <-chan Event { return w.events }

// Stop ends the watch. Events() is closed soon after.
func (w *Watcher) Stop() { w.stop.Do(func() { close(w.done) }) }

// Filter is what a watcher with a selector sees of an event, and whether it
// sees it at all. An object that starts matching is Added for this watcher;
// one that stops matching is Deleted, carrying its labels as they last
// matched (PrevLabels). Otherwise only matching objects pass, unchanged.
func Filter(ev Event, sel Selector) (Event, bool) {
	now := ev.Type != Deleted && sel.Matches(ev.Labels)
	before := ev.Type != Added && sel.Matches(ev.PrevLabels)
	switch {
	case now && before:
		return ev, true // Modified
	case now:
		ev.Type = Added // Added, or a Modified that starts matching
		return ev, true
	case before:
		// Deleted, or a Modified that stops matching: the watcher last
		// saw PrevLabels, and that is the object it is told to forget.
		ev.Type, ev.Labels = Deleted, ev.PrevLabels
		return ev, true
	}
	return Event{}, false
}

// Watch streams, through the selector, every event after revision from: the
// ones already written from the log, then the live ones, in revision order,
// each exactly once. from below the compacted revision is ErrGone, from
// beyond the store's revision ErrFutureRevision.
func (s *Store) Watch(from int64, sel Selector) (*Watcher, error) {
	// Register under the write lock: every event up to registered is in the
	// log already, and every later one will be published to sub. That
	// revision is the seam between replay and live.
	s.mu.Lock()
	registered := s.rev
	if from > registered {
		s.mu.Unlock()
		return nil, fmt.Errorf("revision %d, the store is at %d: %w", from, registered, ErrFutureRevision)
	}
	sub := s.hub.Subscribe(s.watchBuffer)
	s.mu.Unlock()

	// Outside the lock: writers go on, and their events wait in sub.
	replay, err := s.History(from, registered)
	if err != nil {
		s.hub.Unsubscribe(sub)
		return nil, err
	}

	w := newWatcher()
	go func() {
		defer close(w.events)
		defer s.hub.Unsubscribe(sub)
		send := func(ev Event) bool {
			out, ok := Filter(ev, sel)
			if !ok {
				return true
			}
			select {
			case w.events <- out:
				return true
			case <-w.done:
				return false
			}
		}
		for _, ev := range replay {
			if !send(ev) {
				return
			}
		}
		for {
			select {
			case ev, open := <-sub.C:
				if !open {
					return // fell behind: everything before the close was sent
				}
				if !send(ev) {
					return
				}
			case <-w.done:
				return
			}
		}
	}()
	return w, nil
}
