// A grown stack for each request: the handler chain is deep, and a
// goroutine's stack starts small.

package filters

import "net/http"

// WithGrownStack grows the request's goroutine stack to 32 KiB before
// anything else runs. Go's HTTP/2 server runs each request in a new
// goroutine, whose stack starts at a few kilobytes, and the filters and the
// handler need more: the stack then doubles, again and again, as the request
// goes deeper, and each doubling copies every frame already on it and
// adjusts its pointers (runtime.newstack took a seventh of the CPU of a
// GET). Grown here, at the top, it is copied once, while it holds almost
// nothing. It is the outermost filter.
func WithGrownStack(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		growStack()
		next.ServeHTTP(w, r)
	})
}

// growStack has a 16 KiB frame: calling it makes the runtime move the
// goroutine to a stack that holds it and what is below (32 KiB), which stays
// when it returns.
//
//go:noinline
func growStack() {
	var frame [16 << 10]byte
	keep(frame[:])
}

// keep is a call the compiler cannot see through, so that growStack's frame
// is not optimized away.
//
//go:noinline
func keep([]byte) {}
