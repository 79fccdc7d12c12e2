// Panic recovery: a handler that panics costs its own request a 500, never the
// server (k8s.io/apiserver/pkg/server/filters/wrap.go, WithPanicRecovery).

package filters

import (
	"errors"
	"log"
	"net/http"
	"runtime/debug"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// WithPanicRecovery turns a panic in any filter or handler after it into a
// 500 InternalError and a log line with the stack. It is the outermost
// filter but WithGrownStack, which cannot panic. The client learns only
// that something broke; the panic's value, which may hold anything, stays
// in the log.
//
// http.ErrAbortHandler is how a handler asks net/http to cut a response
// short without a log line; it is passed on as it is.
func WithPanicRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &panicWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.Printf("apiserver panic'd on %s %s: %v\n%s", r.Method, r.RequestURI, p, debug.Stack())
			if pw.wroteHeader { // too late for a Status: cut the response short
				panic(http.ErrAbortHandler)
			}
			apierrors.WriteError(w, apierrors.NewInternalError(errors.New("This request caused apiserver to panic. Look in the logs for details.")))
		}()
		next.ServeHTTP(pw, r)
	})
}

// panicWriter remembers whether the response has started.
type panicWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (pw *panicWriter) WriteHeader(code int) {
	pw.wroteHeader = true
	pw.ResponseWriter.WriteHeader(code)
}

func (pw *panicWriter) Write(p []byte) (int, error) {
	pw.wroteHeader = true
	return pw.ResponseWriter.Write(p)
}

func (pw *panicWriter) Flush() {
	pw.wroteHeader = true
	if f, ok := pw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (pw *panicWriter) Unwrap() http.ResponseWriter { return pw.ResponseWriter }
