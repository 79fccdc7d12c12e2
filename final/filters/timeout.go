// The request timeout: a request that is not long-running gets a 504 Timeout
// Status when its handler takes longer than allowed, and the handler's
// context is cancelled so that it stops working for nobody
// (k8s.io/apiserver/pkg/server/filters/timeout.go and
// pkg/endpoints/filters/request_deadline.go).

package filters

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// WithTimeout allows each request that is not long-running at most timeout
// (0: no limit). The handler runs in its own goroutine with a context that
// ends at the deadline; if the deadline comes first, the client gets a 504
// at once, and whatever the handler writes later is dropped. The request may
// still take effect, as the Status says: a write can commit after its 504.
//
// Like net/http's TimeoutHandler, but the answer is a Status a client can
// read, and the response is not held in memory: a handler that started its
// response before the deadline keeps it, and is waited for. (Its context is
// cancelled, so it ends soon; kube-apiserver cuts the connection instead,
// which also cuts an error the handler was writing because of the deadline.)
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
		// The handler gets a copy of the request (its own header map), so
		// nothing it changes is read here while it runs. done carries the
		// value of a panic (nil: none) and has room for it, so the handler's
		// goroutine never waits for a reader.
		done := make(chan any, 1)
		go func() {
			defer func() {
				p := recover()
				if p != nil && p != http.ErrAbortHandler {
					// The stack is this goroutine's: keep it in the value
					// that WithPanicRecovery logs in the serving goroutine.
					p = fmt.Sprintf("%v\n%s", p, debug.Stack())
				}
				done <- p
			}()
			next.ServeHTTP(tw, r.Clone(ctx))
		}()

		select {
		case p := <-done:
			if p != nil {
				panic(p)
			}
		case <-ctx.Done():
			if tw.timeout() {
				go func() { // the handler is still running: report how it ends
					if p := <-done; p != nil {
						log.Printf("panic after the timeout of %s %s: %v", r.Method, r.URL.Path, p)
					}
				}()
				return
			}
			if p := <-done; p != nil {
				panic(p)
			}
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
// the handler has started its response: then it reports false.
func (tw *timeoutWriter) timeout() bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.wroteHeader {
		return false
	}
	tw.timedOut = true
	apierrors.WriteError(tw.w, apierrors.NewTimeout("request did not complete within the allotted timeout", 0))
	return true
}
