// The in-flight limit: at most so many reads and so many writes are served at
// once; one more gets 429 TooManyRequests with Retry-After, and client-go
// waits and tries again (k8s.io/apiserver/pkg/server/filters/maxinflight.go).

package filters

import (
	"errors"
	"net/http"
	"slices"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// readOnlyVerbs are the verbs that count against the read-only limit; every
// other verb (create, update, patch, delete, a POST to a path) is mutating.
var readOnlyVerbs = []string{"get", "list", "watch"}

// IsReadOnly tells whether a verb counts as a read for the in-flight limit
// and for apiserver_current_inflight_requests.
func IsReadOnly(verb string) bool { return slices.Contains(readOnlyVerbs, verb) }

// WithMaxInFlightLimit serves at most maxReadOnly reads and maxMutating
// writes at once (0: no limit of that kind). A request over the limit is not
// queued: it gets 429 and Retry-After: 1 at once. Long-running requests are
// exempt: a watch holds its connection for minutes and would use up the limit.
//
// Unlike kube-apiserver's own max-in-flight filter, members of system:masters
// are not exempt: it lets them through when the limit is full (and API
// Priority and Fairness, the filter kube-apiserver runs by default, puts
// them in the "exempt" priority level). Here an admin gets 429s like anyone,
// so a load test run as admin sees the limit at work.
func WithMaxInFlightLimit(next http.Handler, maxReadOnly, maxMutating int, longRunning func(*http.Request) bool) http.Handler {
	if maxReadOnly <= 0 && maxMutating <= 0 {
		return next
	}
	// A buffered channel is a semaphore: a request takes a slot by sending,
	// and gives it back by receiving. A nil channel means no limit.
	var readOnly, mutating chan struct{}
	if maxReadOnly > 0 {
		readOnly = make(chan struct{}, maxReadOnly)
	}
	if maxMutating > 0 {
		mutating = make(chan struct{}, maxMutating)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := request.RequestInfoFrom(r.Context())
		if info == (request.RequestInfo{}) { // nothing resolved it: the filters are wired wrong
			apierrors.WriteError(w, apierrors.NewInternalError(errors.New("no RequestInfo found in the context, handler chain must be wrong")))
			return
		}
		if longRunning != nil && longRunning(r) {
			next.ServeHTTP(w, r)
			return
		}
		slots := mutating
		if IsReadOnly(info.Verb) {
			slots = readOnly
		}
		if slots == nil {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			apierrors.WriteError(w, apierrors.NewTooManyRequests(1))
		}
	})
}
