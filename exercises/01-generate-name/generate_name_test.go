package generatename

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// script is a Rand that returns numbers the test chose, and fails the test
// when it is asked for anything else: a number from another range, or more
// numbers than the case expects.
type script struct {
	t     *testing.T
	nums  []int
	calls int
}

func (s *script) IntN(n int) int {
	s.t.Helper()
	if n != len(Alphabet) {
		s.t.Fatalf("IntN(%d): draw each character with IntN(len(Alphabet)), that is IntN(%d)", n, len(Alphabet))
	}
	if s.calls >= len(s.nums) {
		s.t.Fatalf("random number %d asked for, but this case expects only %d (%d names of %d characters)",
			s.calls+1, len(s.nums), len(s.nums)/RandomLength, RandomLength)
	}
	s.calls++
	return s.nums[s.calls-1]
}

// draws is the script that makes these suffixes, one after the other.
func draws(suffixes ...string) []int {
	var nums []int
	for _, s := range suffixes {
		for _, c := range []byte(s) {
			i := strings.IndexByte(Alphabet, c)
			if i < 0 {
				panic(fmt.Sprintf("test bug: %q is not in the alphabet", c))
			}
			nums = append(nums, i)
		}
	}
	return nums
}

func TestGenerateName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name string
		base string
		nums []int
		want string
	}{
		{"a prefix and five characters", "web-", draws("x7k2p"), "web-x7k2p"},
		{"the first and the last letter of the alphabet", "web-", []int{0, 26, 0, 26, 0}, "web-b9b9b"},
		{"no dash is added", "web", draws("bcdfg"), "webbcdfg"},
		{"an empty prefix", "", draws("hjklm"), "hjklm"},
		{"58 bytes are kept whole", long[:58], draws("bcdfg"), long[:58] + "bcdfg"},
		{"59 bytes are cut to 58", long[:59], draws("bcdfg"), long[:58] + "bcdfg"},
		{"a long prefix is cut, so the name has 63 characters", long, draws("zzzzz"), long[:58] + "zzzzz"},
		{"the cut keeps the first bytes", strings.Repeat("ab", 40), draws("22222"), strings.Repeat("ab", 29) + "22222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &script{t: t, nums: tt.nums}
			if got := GenerateName(tt.base, r); got != tt.want {
				t.Errorf("GenerateName(%q) = %q, want %q", tt.base, got, tt.want)
			}
			if r.calls != RandomLength {
				t.Errorf("GenerateName drew %d random numbers, want %d: one per character", r.calls, RandomLength)
			}
		})
	}
}

// With a real source of randomness, every name has the shape of rule 1.
func TestGenerateNameShape(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, base := range []string{"web-", "", strings.Repeat("x", 58), strings.Repeat("y", 100)} {
		prefix := base[:min(len(base), 58)]
		for range 500 {
			name := GenerateName(base, r)
			suffix, ok := strings.CutPrefix(name, prefix)
			if !ok || len(suffix) != RandomLength || strings.Trim(suffix, Alphabet) != "" || len(name) > MaxNameLength {
				t.Fatalf("GenerateName(%q) = %q, want %q and five characters of %q", base, name, prefix, Alphabet)
			}
		}
	}
}

// fakeStore is a Storage whose collisions the test arranges.
type fakeStore struct {
	res     Resource
	taken   map[string]bool // names that exist already
	collide int             // the next `collide` creates are AlreadyExists, whatever the name
	wrap    bool            // wrap AlreadyExists in another error, as a storage layer may
	fail    error           // every create fails with this
	tried   []string        // the name of every Create, in order
	stored  []Object
	lastErr error
}

func (s *fakeStore) Create(obj Object) error {
	s.tried = append(s.tried, obj.Name)
	s.lastErr = s.create(obj)
	return s.lastErr
}

func (s *fakeStore) create(obj Object) error {
	if s.fail != nil {
		return s.fail
	}
	if s.collide > 0 || s.taken[obj.Name] {
		s.collide = max(s.collide-1, 0)
		var err error = NewAlreadyExists(s.res, obj.Name)
		if s.wrap {
			err = fmt.Errorf("storage: create /registry/%s/%s/%s: %w", s.res.Resource, obj.Namespace, obj.Name, err)
		}
		return err
	}
	if s.taken == nil {
		s.taken = map[string]bool{}
	}
	s.taken[obj.Name] = true
	s.stored = append(s.stored, obj)
	return nil
}

var (
	pods        = Resource{Group: "", Resource: "pods", Kind: "Pod"}
	deployments = Resource{Group: "apps", Resource: "deployments", Kind: "Deployment"}
)

// eight suffixes, for the cases that use every attempt.
var eight = []string{"bcdfg", "hjklm", "npqrs", "tvwxz", "24567", "89bcd", "fghjk", "lmnpq"}

func prefixed(prefix string, suffixes ...string) []string {
	var names []string
	for _, s := range suffixes {
		names = append(names, prefix+s)
	}
	return names
}

func conflict(res Resource, name string) *StatusError {
	return &StatusError{Code: http.StatusConflict, Reason: "AlreadyExists",
		Message: fmt.Sprintf("%s %q already exists, the server was not able to generate a unique name for the object", res, name),
		Details: StatusDetails{Group: res.Group, Kind: res.Resource, Name: name, RetryAfterSeconds: 1}}
}

func nameRequired(res Resource, message string) *StatusError {
	return &StatusError{Code: http.StatusUnprocessableEntity, Reason: "Invalid", Message: message,
		Details: StatusDetails{Group: res.Group, Kind: res.Kind, Causes: []StatusCause{{
			Type: "FieldValueRequired", Message: "Required value: name or generateName is required", Field: "metadata.name"}}}}
}

func TestCreate(t *testing.T) {
	internal := &StatusError{Code: http.StatusInternalServerError, Reason: "InternalError", Message: "Internal error occurred: etcdserver: request timed out"}
	invalid := &StatusError{Code: http.StatusUnprocessableEntity, Reason: "Invalid", Message: `Pod "web-bcdfg" is invalid: spec.containers: Required value`}
	diskFull := errors.New("disk full")
	long := strings.Repeat("a", 70)

	tests := []struct {
		name      string
		res       Resource
		obj       Object
		store     fakeStore
		suffixes  []string // what the random source draws, name after name
		wantTried []string // the names Create gave the storage, in order
		want      Object   // on success
		wantErr   *StatusError
		wantSame  bool // the error is the storage's own, returned unchanged
	}{
		// A name of the client's.
		{name: "a name is used as it is", res: pods,
			obj:       Object{Namespace: "default", Name: "web"},
			wantTried: []string{"web"}, want: Object{Namespace: "default", Name: "web"}},
		{name: "a name wins over generateName, which is kept", res: pods,
			obj:       Object{Namespace: "default", Name: "web", GenerateName: "web-"},
			wantTried: []string{"web"}, want: Object{Namespace: "default", Name: "web", GenerateName: "web-"}},
		{name: "a taken name is the storage's AlreadyExists, unchanged, after one attempt", res: pods,
			obj: Object{Namespace: "default", Name: "web"}, store: fakeStore{taken: map[string]bool{"web": true}},
			wantTried: []string{"web"}, wantSame: true,
			wantErr: &StatusError{Code: 409, Reason: "AlreadyExists", Message: `pods "web" already exists`, Details: StatusDetails{Kind: "pods", Name: "web"}}},
		{name: "a taken name with a generateName beside it is Kubernetes' generate-name conflict", res: pods,
			obj: Object{Namespace: "default", Name: "web", GenerateName: "web-"}, store: fakeStore{taken: map[string]bool{"web": true}},
			wantTried: []string{"web"}, wantErr: conflict(pods, "web")},

		// Names the server picks.
		{name: "generateName: a free name on the first attempt", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, suffixes: []string{"x7k2p"},
			wantTried: []string{"web-x7k2p"}, want: Object{Namespace: "default", Name: "web-x7k2p", GenerateName: "web-"}},
		{name: "a taken name: a second attempt with a new name", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{taken: map[string]bool{"web-bcdfg": true}},
			suffixes:  []string{"bcdfg", "hjklm"},
			wantTried: []string{"web-bcdfg", "web-hjklm"}, want: Object{Namespace: "default", Name: "web-hjklm", GenerateName: "web-"}},
		{name: "the random source may repeat itself: each attempt draws anew", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{taken: map[string]bool{"web-bcdfg": true}},
			suffixes:  []string{"bcdfg", "bcdfg", "hjklm"},
			wantTried: []string{"web-bcdfg", "web-bcdfg", "web-hjklm"}, want: Object{Namespace: "default", Name: "web-hjklm", GenerateName: "web-"}},
		{name: "seven collisions: the eighth name is stored", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{collide: 7},
			suffixes: eight, wantTried: prefixed("web-", eight...), want: Object{Namespace: "default", Name: "web-lmnpq", GenerateName: "web-"}},
		{name: "eight collisions: Kubernetes' conflict, naming the last name tried", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{collide: 8},
			suffixes: eight, wantTried: prefixed("web-", eight...), wantErr: conflict(pods, "web-lmnpq")},
		{name: "a storage that always collides: still eight attempts, not nine", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{collide: 1000},
			suffixes: eight, wantTried: prefixed("web-", eight...), wantErr: conflict(pods, "web-lmnpq")},
		{name: "the conflict of a resource in a named group", res: deployments,
			obj: Object{Namespace: "prod", GenerateName: "api-"}, store: fakeStore{collide: 8},
			suffixes: eight, wantTried: prefixed("api-", eight...), wantErr: conflict(deployments, "api-lmnpq")},
		{name: "an AlreadyExists the storage wrapped is still a taken name", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{collide: 2, wrap: true},
			suffixes:  []string{"bcdfg", "hjklm", "npqrs"},
			wantTried: prefixed("web-", "bcdfg", "hjklm", "npqrs"), want: Object{Namespace: "default", Name: "web-npqrs", GenerateName: "web-"}},
		{name: "a long generateName is cut to leave room for the suffix", res: pods,
			obj: Object{Namespace: "default", GenerateName: long}, suffixes: []string{"bcdfg"},
			wantTried: []string{long[:58] + "bcdfg"}, want: Object{Namespace: "default", Name: long[:58] + "bcdfg", GenerateName: long}},

		// Errors that are not a taken name end the create at once.
		{name: "an internal error is not retried, and returned unchanged", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{fail: internal},
			suffixes: []string{"bcdfg"}, wantTried: []string{"web-bcdfg"}, wantErr: internal, wantSame: true},
		{name: "an Invalid from further on is not retried", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{fail: invalid},
			suffixes: []string{"bcdfg"}, wantTried: []string{"web-bcdfg"}, wantErr: invalid, wantSame: true},
		{name: "an error that is no StatusError at all is not retried", res: pods,
			obj: Object{Namespace: "default", GenerateName: "web-"}, store: fakeStore{fail: diskFull},
			suffixes: []string{"bcdfg"}, wantTried: []string{"web-bcdfg"}, wantSame: true},

		// Neither a name nor a generateName.
		{name: "no name and no generateName: 422, and nothing stored", res: pods,
			obj:     Object{Namespace: "default"},
			wantErr: nameRequired(pods, `Pod "" is invalid: metadata.name: Required value: name or generateName is required`)},
		{name: "the same for a kind in a named group", res: deployments,
			obj:     Object{Namespace: "prod"},
			wantErr: nameRequired(deployments, `Deployment.apps "" is invalid: metadata.name: Required value: name or generateName is required`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := tt.store
			store.res = tt.res
			r := &script{t: t, nums: draws(tt.suffixes...)}
			got, err := Create(&store, tt.res, tt.obj, r)

			if !slices.Equal(store.tried, tt.wantTried) {
				t.Errorf("the storage was asked to create %q, want %q", store.tried, tt.wantTried)
			}
			if r.calls != len(r.nums) {
				t.Errorf("Create drew %d random numbers, want %d (five per generated name)", r.calls, len(r.nums))
			}
			if tt.wantErr == nil && !tt.wantSame {
				if err != nil {
					t.Fatalf("Create(%+v) failed: %v", tt.obj, err)
				}
				if got != tt.want {
					t.Errorf("Create(%+v) = %+v, want %+v", tt.obj, got, tt.want)
				}
				if len(store.stored) != 1 || store.stored[0] != got {
					t.Errorf("the storage holds %+v, want exactly the object Create returned, %+v", store.stored, got)
				}
				return
			}
			if err == nil {
				t.Fatalf("Create(%+v) = %+v, nil; want an error", tt.obj, got)
			}
			if got != (Object{}) {
				t.Errorf("Create returned the object %+v with its error; want the zero Object", got)
			}
			if tt.wantSame && err != store.lastErr {
				t.Errorf("Create returned %#v; want the storage's own error, unchanged: %#v", err, store.lastErr)
			}
			if tt.wantErr == nil {
				return
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Create returned %#v, want a *StatusError", err)
			}
			if !reflect.DeepEqual(se, tt.wantErr) {
				t.Errorf("Create returned\n\t%#v\nwant\n\t%#v", *se, *tt.wantErr)
			}
		})
	}
}

// With a real source of randomness and a storage that takes every name,
// many creates from one prefix all succeed, each with a new name.
func TestCreateManyNames(t *testing.T) {
	store := &fakeStore{res: pods}
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		if _, err := Create(store, pods, Object{Namespace: "default", GenerateName: "job-"}, r); err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
	}
	if len(store.taken) != 3000 {
		t.Errorf("the storage holds %d names after 3000 creates", len(store.taken))
	}
}
