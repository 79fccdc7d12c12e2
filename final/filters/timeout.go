// The request timeout: a request that is not long-running gets a 504 Timeout
// Status when its handler takes longer than allowed, and the handler's
// context is cancelled so that it stops working for nobody
// (k8s.io/apiserver/pkg/server/filters/timeout.go and
// pkg/endpoints/filters/request_deadline.go).

package filters

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// WithTimeout allows each request that is not long-running at most timeout
// (0: no limit). The handler runs with a context that ends at the deadline;
// if the deadline comes first, the client gets a 504 at once, written from
// the timer's goroutine, and whatever the handler writes later is dropped.
// The request may still take effect, as the Status says: a write can commit
// after its 504.
//
// Like net/http's TimeoutHandler, but the answer is a Status a client can
// read, and the response is not held in memory: a handler that started its
// response before the deadline keeps it. kube-apiserver runs each handler
// in a goroutine of its own, so that the response can end at the deadline
// even if the handler never returns; here the handler runs in the request's
// goroutine (a second one, whose stack grew through the whole handler
// chain, spent 5% of a GET's CPU on that growth alone), and the response
// ends when the handler returns, which its cancelled context makes soon.
func WithTimeout(next http.Handler, timeout time.Duration, longRunning func(*http.Request) bool) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if longRunning != nil && longRunning(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()

		tw := &timeoutWriter{w: w, header: w.Header().Clone()}
		answered := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(answered)
			tw.timeout()
		})
		defer func() {
			if !stop() { // the 504 is being written: the response may end once it is
				<-answered
			}
		}()
		next.ServeHTTP(tw, r.WithContext(ctx))
		if ctx.Err() != nil { // the handler may have seen the deadline before the timer did
			tw.timeout()
		}
	})
}

// timeoutWriter lets the handler write until the timeout, then answers 504
// itself; from then on the handler's writes fail with http.ErrHandlerTimeout.
// The handler sets headers on its own map, copied when it writes the status,
// so that it never touches the real headers after the timeout.
type timeoutWriter struct {
	w      http.ResponseWriter
	header http.Header

	mu          sync.Mutex
	timedOut    bool
	wroteHeader bool
}

func (tw *timeoutWriter) Header() http.Header {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return http.Header{}
	}
	return tw.header
}

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.wroteHeader {
		return
	}
	tw.writeHeaderLocked(code)
}

func (tw *timeoutWriter) writeHeaderLocked(code int) {
	for k, v := range tw.header {
		tw.w.Header()[k] = v
	}
	tw.wroteHeader = true
	tw.w.WriteHeader(code)
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.wroteHeader {
		tw.writeHeaderLocked(http.StatusOK)
	}
	return tw.w.Write(p)
}

// Flush passes on to the real writer, as long as the response is the handler's.
func (tw *timeoutWriter) Flush() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return
	}
	if f, ok := tw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (tw *timeoutWriter) Unwrap() http.ResponseWriter { return tw.w }

// timeout answers 504 and drops the handler's writes from now on, unless
// the handler has started its response (or the 504 is out already): then
// it reports false.
func (tw *timeoutWriter) timeout() bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.wroteHeader || tw.timedOut {
		return false
	}
	tw.timedOut = true
	apierrors.WriteError(tw.w, apierrors.NewTimeout("request did not complete within the allotted timeout", 0))
	return true
}
