package storage

import "sync"

// Queue holds a watcher's events until it takes them. A channel with room
// for WatchBuffer events would do the same, but a channel allocates its
// whole buffer when it is made: a thousand watchers, each with room for a
// thousand events, held over a hundred megabytes that were nearly always
// empty. A Queue holds what is waiting, and no more.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	ready  chan struct{} // a token while something is waiting, or once closed
}

// NewQueue returns an empty, open queue.
func NewQueue[T any]() *Queue[T] {
	return &Queue[T]{ready: make(chan struct{}, 1)}
}

// Push adds v, unless limit items are waiting already: then the queue is
// closed (the watcher fell behind) and Push reports false, as it does on a
// closed queue.
func (q *Queue[T]) Push(v T, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if len(q.items) >= limit {
		q.closeLocked()
		return false
	}
	q.items = append(q.items, v)
	q.signal()
	return true
}

// Close closes the queue; what is waiting can still be taken.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closeLocked()
}

func (q *Queue[T]) closeLocked() {
	q.closed = true
	q.signal()
}

func (q *Queue[T]) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already
	}
}

// Ready has a token when there may be something to take: select on it,
// then call Take.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Take appends what is waiting to buf, empties the queue, and tells
// whether it is still open. Once it is closed, and what was waiting is
// taken, nothing more comes.
func (q *Queue[T]) Take(buf []T) ([]T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.items...)
	clear(q.items) // no references kept to what was handed on
	q.items = q.items[:0]
	if q.closed {
		q.signal() // so a later Ready does not wait
	}
	return buf, !q.closed
}
