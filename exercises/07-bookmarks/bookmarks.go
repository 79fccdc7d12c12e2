// Exercise 07: watch bookmarks.
//
// A watch that filters out most events, or whose resource rarely changes,
// leaves its client with an old resourceVersion: when the connection
// breaks, the client resumes from there, and after compaction that is a
// 410 and a full relist. A bookmark is an event that carries only a
// revision: "you have seen everything up to here". It must never claim a
// revision whose events the client has not been sent.
//
// Edit this file. The tests in bookmarks_test.go are the specification;
// README.md explains the rules.
package bookmarks

import (
	"errors"
	"net/url"
	"time"
)

// EventType is what a watch event says happened.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// InitialEventsAnnotation marks the bookmark that ends the initial events
// of a watch with sendInitialEvents=true (metav1.InitialEventsAnnotationKey).
const InitialEventsAnnotation = "k8s.io/initial-events-end"

// Event is one line of a watch stream. For a change, Key is the object's
// key and ResourceVersion the revision of the change. A bookmark has no
// key, a ResourceVersion, and maybe Annotations.
type Event struct {
	Type            EventType
	Key             string
	ResourceVersion int64
	Annotations     map[string]string
}

// Options are a watch request's query parameters.
type Options struct {
	ResourceVersion     string // resourceVersion, as sent
	AllowWatchBookmarks bool   // allowWatchBookmarks
	SendInitialEvents   *bool  // sendInitialEvents; nil when not sent
}

// The two rules that tie sendInitialEvents and resourceVersionMatch
// together, in kube-apiserver's words.
var (
	ErrInitialEventsWithoutMatch = errors.New("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
	ErrMatchWithoutInitialEvents = errors.New("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
)

// Watch is what Serve works with: the store's side of one watch.
type Watch struct {
	// From is the revision the watch starts after. The initial state, if
	// any is sent, is the store's state at From.
	From int64
	// Initial is the state at From, as Added events. Serve sends it only
	// when the options ask for it.
	Initial []Event
	// Events are the changes after From, in revision order. The channel is
	// closed when the watcher fell behind: the watch ends.
	Events <-chan Event
	// Revision is the store's revision now. Every event of this watch up
	// to that revision is already on Events when it returns (the store
	// queues an event before its write lets go of the lock).
	Revision func() int64
	// Ticks is the bookmark timer: a bookmark is due at every tick.
	Ticks <-chan time.Time
	// Match is the watch's selector: only the events it matches are sent.
	// nil matches everything.
	Match func(Event) bool
	// Done is closed when the client has gone or the watch timed out.
	Done <-chan struct{}
}

// ---- What you write ---------------------------------------------------------------------

// ParseWatchOptions reads a watch request's query parameters, with
// Kubernetes' rules for query booleans and for sendInitialEvents.
func ParseWatchOptions(q url.Values) (Options, error) {
	// TODO: resourceVersion as it is; allowWatchBookmarks and
	//       sendInitialEvents read the way apimachinery reads a boolean in
	//       a query (the tests list the cases); sendInitialEvents stays nil
	//       when it was not sent.
	// TODO: resourceVersionMatch: NotOlderThan is required with
	//       sendInitialEvents and forbidden without it.
	panic("Please implement ParseWatchOptions")
}

// InitialEvents says whether a watch starts with the state, as Added
// events: when sendInitialEvents says so, or, when it says nothing, for a
// resourceVersion of "" or "0" (the legacy watch).
func InitialEvents(o Options) bool {
	// TODO: sendInitialEvents decides when it was sent; otherwise the
	//       resourceVersion does.
	panic("Please implement InitialEvents")
}

// Serve streams one watch to out until the watch ends (Done is closed, or
// Events is), then closes out. It sends the initial state if the options
// ask for it, then every matching change, and, if bookmarks are allowed, a
// bookmark at every tick with the revision everything has been sent up to.
func Serve(w Watch, opts Options, out chan<- Event) {
	// TODO: keep the revision everything up to which has been sent: it
	//       starts at w.From.
	// TODO: never wait for the client past w.Done.
	// TODO: the initial state if InitialEvents says so (through the
	//       selector), then, for the watch-list of a client that allows
	//       bookmarks, the bookmark that ends it.
	// TODO: then events, ticks and Done. At a tick, with bookmarks allowed,
	//       a bookmark at the highest revision it may claim: w.Revision()
	//       and the queue both play a part, and their order matters
	//       (README, rule 8).
	panic("Please implement Serve")
}
