package filters

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// deepHandler uses about as much stack as the filters and a handler do:
// depth frames of a kilobyte each.
func deepHandler(depth int) http.Handler {
	var descend func(n int) int
	descend = func(n int) int {
		var frame [1 << 10]byte
		keep(frame[:])
		if n == 0 {
			return 0
		}
		return descend(n-1) + 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, descend(depth))
	})
}

func TestGrownStackPassesTheRequestOn(t *testing.T) {
	rec := httptest.NewRecorder()
	WithGrownStack(deepHandler(20)).ServeHTTP(rec, httptest.NewRequest("GET", "/api", nil))
	if rec.Body.String() != "20" {
		t.Fatalf("got %q, want the handler's answer, 20", rec.Body)
	}
}

// BenchmarkRequestStack serves each request in a new goroutine, as Go's
// HTTP/2 server does, with a handler that needs about 24 KiB of stack: with
// the stack grown at the top, and left to grow as the handler goes deeper.
func BenchmarkRequestStack(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"grown", WithGrownStack(deepHandler(24))}, {"growing", deepHandler(24)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api", nil)
			done := make(chan struct{})
			for b.Loop() {
				go func() {
					bc.h.ServeHTTP(httptest.NewRecorder(), req)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}
