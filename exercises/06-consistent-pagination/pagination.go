// Exercise 06: consistent pagination.
//
// A list with a limit comes in pages. The first page is read at one
// revision of the store, and its continue token carries that revision and
// the key to start from, so every later page is read at the same revision:
// together the pages are one consistent list, however many writes happen
// between them. Compaction can take that revision away; then the answer is
// 410 Expired.
//
// Edit this file. The tests in pagination_test.go are the specification;
// README.md explains the rules.
package consistentpagination

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ---- The store (given) ------------------------------------------------------------------

var (
	ErrNotFound       = errors.New("not found")
	ErrCompacted      = errors.New("mvcc: required revision has been compacted")
	ErrFutureRevision = errors.New("mvcc: required revision is a future revision")
)

// KeyValue is a key as a read sees it. ModRevision is the object's
// resourceVersion.
type KeyValue struct {
	Key         string
	Value       string
	ModRevision int64
}

// event is one write in the log.
type event struct {
	revision int64
	key      string
	value    string
	deleted  bool
}

// Store is an ordered key space with etcd's revisions: every write gets the
// next revision and is kept in a log, so the store can be read as it was at
// any revision since the last compaction.
type Store struct {
	mu        sync.Mutex
	rev       int64   // the revision of the last write
	compacted int64   // reads below this revision answer ErrCompacted
	log       []event // every write since compaction, in revision order

	// afterRange, when set, runs after every Range, outside the lock. The
	// tests use it to write between two reads.
	afterRange func()
}

func New() *Store { return &Store{} }

// Put creates or updates a key and returns the write's revision.
func (s *Store) Put(key, value string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev++
	s.log = append(s.log, event{revision: s.rev, key: key, value: value})
	return s.rev
}

// Delete removes a key and returns the write's revision.
func (s *Store) Delete(key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.snapshot(s.rev)[key]; !ok {
		return 0, fmt.Errorf("%q: %w", key, ErrNotFound)
	}
	s.rev++
	s.log = append(s.log, event{revision: s.rev, key: key, deleted: true})
	return s.rev, nil
}

// Revision is the revision of the last write.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Compact forgets the history below rev (etcd's rule: each key keeps its
// newest write below rev unless that is a delete), so reads at rev and
// later answer as before and reads below rev answer ErrCompacted.
func (s *Store) Compact(rev int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.rev {
		return fmt.Errorf("compact to %d, the store is at %d: %w", rev, s.rev, ErrFutureRevision)
	}
	if rev <= s.compacted {
		return nil
	}
	newest := map[string]int64{}
	for _, e := range s.log {
		if e.revision < rev {
			newest[e.key] = e.revision
		}
	}
	kept := []event{}
	for _, e := range s.log {
		if e.revision >= rev || (e.revision == newest[e.key] && !e.deleted) {
			kept = append(kept, e)
		}
	}
	s.log, s.compacted = kept, rev
	return nil
}

// snapshot is every live key at rev. Call it with the lock held.
func (s *Store) snapshot(rev int64) map[string]KeyValue {
	live := map[string]KeyValue{}
	for _, e := range s.log {
		if e.revision > rev {
			break
		}
		if e.deleted {
			delete(live, e.key)
		} else {
			live[e.key] = KeyValue{Key: e.key, Value: e.value, ModRevision: e.revision}
		}
	}
	return live
}

// RangeResult is one Range's answer, as etcd's RangeResponse.
type RangeResult struct {
	KVs      []KeyValue // the keys read, in key order
	More     bool       // there are keys in the range after the last one read
	Count    int64      // how many keys the range holds, from start on, read or not
	Revision int64      // the revision the range was read at
}

// Range reads the live keys that begin with prefix and are >= start, in key
// order, as they were at revision rev (0: now), at most limit of them (0 or
// less: all). Below the compacted revision it answers ErrCompacted, beyond
// the store's revision ErrFutureRevision.
func (s *Store) Range(prefix, start string, rev, limit int64) (RangeResult, error) {
	if s.afterRange != nil {
		defer s.afterRange()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev == 0 {
		rev = s.rev
	}
	if rev < s.compacted {
		return RangeResult{}, fmt.Errorf("revision %d, history starts at %d: %w", rev, s.compacted, ErrCompacted)
	}
	if rev > s.rev {
		return RangeResult{}, fmt.Errorf("revision %d, the store is at %d: %w", rev, s.rev, ErrFutureRevision)
	}
	var kvs []KeyValue
	for key, kv := range s.snapshot(rev) {
		if strings.HasPrefix(key, prefix) && key >= start {
			kvs = append(kvs, kv)
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	res := RangeResult{Count: int64(len(kvs)), Revision: rev}
	if limit > 0 && int64(len(kvs)) > limit {
		kvs, res.More = kvs[:limit], true
	}
	res.KVs = slices.Clip(kvs)
	return res, nil
}

// ---- The API's side (given) -------------------------------------------------------------

// StatusError is a metav1.Status: what the API server answers instead of a
// list.
type StatusError struct {
	Code    int    // the HTTP status: 400, 410 or 504
	Reason  string // BadRequest, Expired or Timeout
	Message string
	// Continue is the Status's metadata.continue: a token a client may use
	// to go on with the list at the latest revision, inconsistently, after
	// its own token expired.
	Continue string
}

func (e *StatusError) Error() string { return e.Message }

// The messages of kube-apiserver's 410s (k8s.io/apiserver/pkg/storage/etcd3/errors.go).
const (
	MessageExpired              = "The resourceVersion for the provided list is too old."
	MessageInconsistentContinue = "The provided continue parameter is too old " +
		"to display a consistent list result. You can start a new list without " +
		"the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided " +
		"token results in an inconsistent list - objects that were created, " +
		"modified, or deleted between the time the first chunk was returned " +
		"and now may show up in the list."
)

func badRequest(message string) *StatusError {
	return &StatusError{Code: http.StatusBadRequest, Reason: "BadRequest", Message: message}
}

func expired(message, continueToken string) *StatusError {
	return &StatusError{Code: http.StatusGone, Reason: "Expired", Message: message, Continue: continueToken}
}

func tooLargeResourceVersion(requested, current int64) *StatusError {
	return &StatusError{Code: http.StatusGatewayTimeout, Reason: "Timeout",
		Message: fmt.Sprintf("Too large resource version: %d, current: %d", requested, current)}
}

// ListOptions are a list request's query parameters.
type ListOptions struct {
	Limit    int64  // limit: at most this many items; 0 or less: all
	Continue string // continue: the token of the previous page
	// ResourceVersion is resourceVersion: "" or "0" read now; "N" with a
	// limit reads exactly at revision N, without one "not older than N".
	ResourceVersion string
	// Match is the request's selector (labelSelector, fieldSelector): only
	// the keys it matches are items. nil matches everything.
	Match func(KeyValue) bool
}

// Page is one page of a list, the answer to one list request: its
// metadata and its items.
type Page struct {
	ResourceVersion    string // metadata.resourceVersion: the revision every item was read at
	Continue           string // metadata.continue: "" on the last page
	RemainingItemCount *int64 // metadata.remainingItemCount: nil unless known exactly
	Items              []KeyValue
}

// The continue token's errors, in kube-apiserver's words
// (k8s.io/apiserver/pkg/storage/continue.go).
var (
	ErrInvalidStartRV             = errors.New("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	ErrEmptyStartKey              = errors.New("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
	ErrGenericInvalidKey          = errors.New("continue key is not valid")
	ErrUnrecognizedEncodedVersion = errors.New("continue key is not valid: server does not recognize this encoded version")
)

// continueToken is what a continue parameter holds, base64 JSON, exactly as
// in Kubernetes: a client may keep one across a server's upgrade.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

// ---- What you write ---------------------------------------------------------------------

// EncodeContinue makes the token that continues a list of keyPrefix at key
// (the first key of the next page, or a key just before it), read at
// resourceVersion (-1: at the latest revision).
func EncodeContinue(key, keyPrefix string, resourceVersion int64) (string, error) {
	// TODO: the key without keyPrefix (a key outside it is an error), the
	//       revision and the version meta.k8s.io/v1, as JSON in a
	//       continueToken, then unpadded URL-safe base64.
	panic("Please implement EncodeContinue")
}

// DecodeContinue reads a token made by EncodeContinue for a list of
// keyPrefix: the full key to start from, and the revision to read at (-1:
// the latest).
func DecodeContinue(continueValue, keyPrefix string) (fromKey string, rv int64, err error) {
	// TODO: undo the base64 and the JSON; check the version, then the
	//       revision, then the start key, with the errors declared above.
	// TODO: the start key comes from the client: refuse one that is not
	//       already a clean path, then put keyPrefix back in front of it.
	panic("Please implement DecodeContinue")
}

// List reads one page of the keys under prefix. The first page is read at
// the store's revision now (or as opts.ResourceVersion says); a continue token
// names the revision and the key of the next page, so every page of a list
// is read at the first page's revision.
func List(s *Store, prefix string, opts ListOptions) (*Page, error) {
	// TODO: where to start and at which revision: a token says both (a
	//       bad one, or one with a resourceVersion, is a 400); otherwise
	//       the prefix, now, or exactly at opts.ResourceVersion with a
	//       limit (without one, "not older than": now, unless the store
	//       has not reached it).
	// TODO: read with s.Range until the page holds opts.Limit matching
	//       keys or the range is done, every read at the revision of the
	//       first one.
	// TODO: the list's resourceVersion; if keys are left, a continue token
	//       after the last key you looked at and, without a selector, how
	//       many keys remain.
	// TODO: the store's errors as the API says them: 410 Expired (with a
	//       token at -1 when a continued list lost its revision), 504 for a
	//       revision the store has not reached.
	panic("Please implement List")
}
