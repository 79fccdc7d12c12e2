package watchcache

import (
	"sync"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// queue holds a watcher's events until it takes them. A channel with room
// for storage.WatchBuffer events would do the same, but a channel allocates its
// whole buffer when it is made: a thousand watchers, each with room for a
// thousand events, held over a hundred megabytes that were nearly always
// empty. A queue holds what is waiting, and no more.
type queue struct {
	mu     sync.Mutex
	items  []storage.Event
	closed bool
	ready  chan struct{} // a token while something is waiting, or once closed
}

// newQueue returns an empty, open queue.
func newQueue() *queue {
	return &queue{ready: make(chan struct{}, 1)}
}

// push adds ev, unless limit items are waiting already: then the queue is
// closed (the watcher fell behind) and push reports false, as it does on a
// closed queue.
func (q *queue) push(ev storage.Event, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if len(q.items) >= limit {
		q.closeLocked()
		return false
	}
	q.items = append(q.items, ev)
	q.signal()
	return true
}

// close closes the queue; what is waiting can still be taken.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closeLocked()
}

func (q *queue) closeLocked() {
	q.closed = true
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already
	}
}

// wait has a token when there may be something to take: select on it,
// then call take.
func (q *queue) wait() <-chan struct{} { return q.ready }

// take appends what is waiting to buf, empties the queue, and tells
// whether it is still open. Once it is closed, and what was waiting is
// taken, nothing more comes.
func (q *queue) take(buf []storage.Event) ([]storage.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.items...)
	clear(q.items) // no references kept to what was handed on
	q.items = q.items[:0]
	if q.closed {
		q.signal() // so a later wait does not block
	}
	return buf, !q.closed
}
