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
	"strings"
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
	o := Options{ResourceVersion: q.Get("resourceVersion")}
	if v, ok := q["allowWatchBookmarks"]; ok && len(v) > 0 {
		o.AllowWatchBookmarks = queryBool(v[0])
	}
	if v, ok := q["sendInitialEvents"]; ok && len(v) > 0 {
		b := queryBool(v[0])
		o.SendInitialEvents = &b
	}
	match := q.Get("resourceVersionMatch")
	if o.SendInitialEvents != nil && match != "NotOlderThan" {
		return Options{}, ErrInitialEventsWithoutMatch
	}
	if o.SendInitialEvents == nil && match != "" {
		return Options{}, ErrMatchWithoutInitialEvents
	}
	return o, nil
}

// queryBool is apimachinery's reading of a boolean in a query: only "0"
// and "false" (in any case) are false; anything else, "" too, is true.
func queryBool(s string) bool {
	return s != "0" && !strings.EqualFold(s, "false")
}

// InitialEvents says whether a watch starts with the state, as Added
// events: when sendInitialEvents says so, or, when it says nothing, for a
// resourceVersion of "" or "0" (the legacy watch).
func InitialEvents(o Options) bool {
	if o.SendInitialEvents != nil {
		return *o.SendInitialEvents
	}
	return o.ResourceVersion == "" || o.ResourceVersion == "0"
}

// Serve streams one watch to out until the watch ends (Done is closed, or
// Events is), then closes out. It sends the initial state if the options
// ask for it, then every matching change, and, if bookmarks are allowed, a
// bookmark at every tick with the revision everything has been sent up to.
func Serve(w Watch, opts Options, out chan<- Event) {
	defer close(out)
	sent := w.From // every event of this watch up to sent has been sent

	// send never blocks past the end of the watch: a client that stopped
	// reading must not hold this goroutine forever.
	send := func(ev Event) bool {
		select {
		case out <- ev:
			return true
		case <-w.Done:
			return false
		}
	}
	matches := func(ev Event) bool { return w.Match == nil || w.Match(ev) }
	// deliver is a change: it counts as sent even when the selector hides
	// it, for this client has nothing more to learn about that revision.
	deliver := func(ev Event) bool {
		sent = max(sent, ev.ResourceVersion)
		return !matches(ev) || send(ev)
	}
	bookmark := func(annotations map[string]string) bool {
		return send(Event{Type: Bookmark, ResourceVersion: sent, Annotations: annotations})
	}

	if InitialEvents(opts) {
		for _, ev := range w.Initial {
			if matches(ev) && !send(ev) {
				return
			}
		}
		// The watch-list client waits for this one to know the state is
		// complete; only a client that allows bookmarks can be sent it.
		if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks &&
			!bookmark(map[string]string{InitialEventsAnnotation: "true"}) {
			return
		}
	}

	for {
		select {
		case ev, open := <-w.Events:
			if !open || !deliver(ev) {
				return
			}
		case <-w.Ticks:
			if !opts.AllowWatchBookmarks {
				continue
			}
			// First the store's revision: every event up to it is queued
			// by now. Then send what is queued. Only then may the bookmark
			// say "up to now"; the other way round it could overtake an
			// event that was queued meanwhile.
			now := w.Revision()
			for drained := false; !drained; {
				select {
				case ev, open := <-w.Events:
					if !open || !deliver(ev) {
						return
					}
				default:
					drained = true
				}
			}
			sent = max(sent, now)
			if !bookmark(nil) {
				return
			}
		case <-w.Done:
			return
		}
	}
}
