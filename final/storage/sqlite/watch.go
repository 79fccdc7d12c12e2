// Watch: every commit hands its events to the hub inside the store's write
// lock, so events reach each watcher in revision order. A watcher registers
// at the current revision R, under that lock: events after R come live, and
// what it asked for before R is read from the log, so nothing is missed or
// sent twice at the seam. Each watcher has a bounded buffer: one that cannot
// keep up is closed, never waited for, and its client lists again.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// historyPage is how many events of history a watch reads at a time, so a
// resume from far back does not hold the whole history in memory.
const historyPage = 500

// watcher receives the live events of the keys with a prefix.
type watcher struct {
	prefix string
	events chan storage.Event // closed by the hub when the watcher falls behind
	from   int64              // the revision it registered at
}

type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]bool
	closed   bool
}

func newHub() *hub { return &hub{watchers: map[*watcher]bool{}} }

// publish hands an event to every watcher of its key. It never blocks: a
// full buffer closes that watcher instead.
func (h *hub) publish(ev storage.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		if !strings.HasPrefix(ev.KV.Key, w.prefix) {
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

// remove forgets a watcher (it may be gone already, if it fell behind).
func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers[w] {
		close(w.events)
		delete(h.watchers, w)
	}
}

// closeAll closes every watcher, and refuses new ones.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		close(w.events)
	}
	clear(h.watchers)
	h.closed = true
}

var errClosed = errors.New("the store is closed")

// register adds a watcher at the current revision. Holding the write lock
// means: every event up to w.from has been published before, every later
// one will be after.
func (s *Store) register(prefix string, revision int64) (*watcher, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.rev.Load()
	if revision > now {
		return nil, fmt.Errorf("revision %d (current %d): %w", revision, now, storage.ErrFutureRevision)
	}
	w := &watcher{prefix: prefix, events: make(chan storage.Event, storage.WatchBuffer), from: now}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.hub.closed {
		return nil, errClosed
	}
	s.hub.watchers[w] = true
	return w, nil
}

func (s *Store) Watch(ctx context.Context, prefix string, revision int64) (<-chan storage.Event, error) {
	w, err := s.register(prefix, revision)
	if err != nil {
		return nil, fmt.Errorf("watching %q: %w", prefix, err)
	}
	after := revision
	if after == 0 {
		after = w.from
	}
	// The first page of history is read here, so that a revision already
	// compacted is an error to the caller, not a closed channel.
	var history []storage.Event
	if after < w.from {
		if history, err = s.history(ctx, prefix, after, w.from, historyPage); err != nil {
			s.hub.remove(w)
			return nil, fmt.Errorf("watching %q: %w", prefix, err)
		}
	}
	out := make(chan storage.Event)
	go s.serve(ctx, w, after, history, out)
	return out, nil
}

// serve sends a watcher's history, page by page, then its live events,
// until ctx ends, the store closes, or the watcher falls behind.
func (s *Store) serve(ctx context.Context, w *watcher, after int64, history []storage.Event, out chan<- storage.Event) {
	defer close(out)
	defer s.hub.remove(w)
	send := func(ev storage.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
		case <-s.done:
		}
		return false
	}
	for after < w.from {
		for _, ev := range history {
			if !send(ev) {
				return
			}
		}
		if len(history) < historyPage {
			break // the history is all sent
		}
		after = history[len(history)-1].KV.ModRevision
		var err error
		if history, err = s.history(ctx, w.prefix, after, w.from, historyPage); err != nil {
			// Compacted meanwhile (or closing): closing the channel
			// sends the client to list and watch again.
			return
		}
	}
	for {
		select {
		case ev, open := <-w.events:
			if !open {
				return // fell behind, or the store closed
			}
			if !send(ev) {
				return
			}
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}
