package storage

import "sync"

// Queue holds a watcher's events until it takes them. A channel with room
// for WatchBuffer events would do the same, but a channel allocates its
// whole buffer when it is made: a thousand watchers, each with room for a
// thousand events, held over a hundred megabytes that were nearly always
// empty. A queue holds what is waiting, and no more.
//
// The watcher reads it in its own goroutine (Ready, then Take), with no
// goroutine in between: a thousand watchers of one change are a thousand
// hand-offs, and each goroutine between the change and the client was one
// more.
type Queue struct {
	mu     sync.Mutex
	items  []Event
	closed bool
	ready  chan struct{} // a token while something is waiting, or once closed
	onFull func()        // called once, when the watcher falls behind
}

// NewQueue returns an empty, open queue. onFull (if not nil) is called
// when Push finds the queue full: the watcher fell behind. A watcher that
// may be blocked elsewhere, in a write to a client that stopped reading,
// uses it to wake up. It runs in a goroutine of its own: the pusher (the
// watch cache, with every watcher of a resource to serve) does not wait
// for it.
func NewQueue(onFull func()) *Queue {
	return &Queue{ready: make(chan struct{}, 1), onFull: onFull}
}

// Push adds ev, unless limit events are waiting already: then the queue is
// closed (the watcher fell behind, onFull is called) and Push reports
// false, as it does on a closed queue.
func (q *Queue) Push(ev Event, limit int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if len(q.items) >= limit {
		q.closeLocked()
		if q.onFull != nil {
			go q.onFull()
		}
		return false
	}
	q.items = append(q.items, ev)
	q.signal()
	return true
}

// Close closes the queue; what is waiting can still be taken.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closeLocked()
}

func (q *Queue) closeLocked() {
	q.closed = true
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already
	}
}

// Ready has a token when there may be something to take: select on it,
// then call Take.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Take appends what is waiting to buf, empties the queue, and tells
// whether it is still open. Once it is closed, and what was waiting is
// taken, nothing more comes.
func (q *Queue) Take(buf []Event) ([]Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.items...)
	clear(q.items) // no references kept to what was handed on
	q.items = q.items[:0]
	if q.closed {
		q.signal() // so a later Ready does not block
	}
	return buf, !q.closed
}
