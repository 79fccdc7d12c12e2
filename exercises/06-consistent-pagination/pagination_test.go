package consistentpagination

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The list the tests page through: the configmaps of namespace default.
const prefix = "/registry/configmaps/default/"

func key(name string) string { return prefix + name }

// token makes a continue token from its JSON, as a client could.
func token(jsonText string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(jsonText))
}

// readToken decodes a token's JSON, whatever the code under test did.
func readToken(t *testing.T, tok string) continueToken {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("continue token %q is not unpadded URL-safe base64: %v", tok, err)
	}
	var c continueToken
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("continue token %q does not hold JSON: %v (%s)", tok, err, data)
	}
	return c
}

// newStore holds the configmaps a to e of namespace default at revisions 1
// to 5, and keys of other lists around them, at 6 to 8.
func newStore() *Store {
	s := New()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		s.Put(key(name), name+"1")
	}
	s.Put("/registry/configmaps/default-2/a", "other namespace")
	s.Put("/registry/configmaps/defaultb", "not in the namespace")
	s.Put("/registry/secrets/default/a", "other resource")
	return s
}

func names(kvs []KeyValue) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, strings.TrimPrefix(kv.Key, prefix))
	}
	return out
}

func mustList(t *testing.T, s *Store, opts ListOptions) *Page {
	t.Helper()
	l, err := List(s, prefix, opts)
	if err != nil {
		t.Fatalf("List(%+v): %v", opts, err)
	}
	if l == nil {
		t.Fatalf("List(%+v) returned no list and no error", opts)
	}
	return l
}

// wantStatus checks that err is exactly this Status.
func wantStatus(t *testing.T, err error, want StatusError) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *StatusError %d %s %q", err, err, want.Code, want.Reason, want.Message)
	}
	if *se != want {
		t.Errorf("error\n  %+v\nwant\n  %+v", *se, want)
	}
}

func TestEncodeContinue(t *testing.T) {
	tests := []struct {
		name         string
		key, prefix  string
		rv           int64
		want, errMsg string
	}{
		{name: "the token kube-apiserver makes for the page after b at revision 5",
			key: key("b\x00"), prefix: prefix, rv: 5,
			want: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NSwic3RhcnQiOiJiXHUwMDAwIn0"},
		{name: "at the latest revision, -1",
			key: key("b\x00"), prefix: prefix, rv: -1,
			want: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiYlx1MDAwMCJ9"},
		{name: "a list of every namespace: the key keeps its namespace",
			key: "/registry/configmaps/kube-system/c\x00", prefix: "/registry/configmaps/", rv: 7,
			want: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6Nywic3RhcnQiOiJrdWJlLXN5c3RlbS9jXHUwMDAwIn0"},
		{name: "a key outside the prefix has no token",
			key: "/registry/secrets/default/a", prefix: prefix, rv: 7,
			errMsg: "unable to encode next field: the key and key prefix do not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeContinue(tt.key, tt.prefix, tt.rv)
			if tt.errMsg != "" {
				if err == nil || err.Error() != tt.errMsg {
					t.Fatalf("EncodeContinue = %q, %v; want the error %q", got, err, tt.errMsg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("EncodeContinue = %q, %v\nwant %q (%s)", got, err, tt.want, mustBase64(tt.want))
			}
		})
	}
}

func mustBase64(s string) string {
	data, _ := base64.RawURLEncoding.DecodeString(s)
	return string(data)
}

// Every message here is what k8s.io/apiserver's DecodeContinue says for the
// same token.
func TestDecodeContinue(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		wantKey string
		wantRV  int64
		errMsg  string
	}{
		{name: "kube-apiserver's token", token: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NSwic3RhcnQiOiJiXHUwMDAwIn0",
			wantKey: key("b\x00"), wantRV: 5},
		{name: "at the latest revision", token: token(`{"v":"meta.k8s.io/v1","rv":-1,"start":"b\u0000"}`),
			wantKey: key("b\x00"), wantRV: -1},
		{name: "a leading slash is the same key", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"/b"}`),
			wantKey: key("b"), wantRV: 5},
		{name: "not base64", token: "!!!",
			errMsg: "continue key is not valid: illegal base64 data at input byte 0"},
		{name: "padded base64", token: base64.URLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":5,"start":"b"}`)),
			errMsg: "continue key is not valid: illegal base64 data at input byte 55"},
		{name: "not JSON", token: token("not json"),
			errMsg: "continue key is not valid: invalid character 'o' in literal null (expecting 'u')"},
		{name: "a revision that is not a number", token: token(`{"v":"meta.k8s.io/v1","rv":"5","start":"b"}`),
			errMsg: "continue key is not valid: json: cannot unmarshal string into Go struct field continueToken.rv of type int64"},
		{name: "another version", token: token(`{"v":"meta.k8s.io/v2","rv":5,"start":"b"}`),
			errMsg: "continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2"},
		{name: "another version is not read at all", token: token(`{"v":"meta.k8s.io/v2","other":"fields"}`),
			errMsg: "continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2"},
		{name: "no version", token: token(`{"rv":5,"start":"b"}`),
			errMsg: "continue key is not valid: server does not recognize this encoded version "},
		{name: "no revision", token: token(`{"v":"meta.k8s.io/v1","start":"b"}`),
			errMsg: "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"},
		{name: "no start key", token: token(`{"v":"meta.k8s.io/v1","rv":5}`),
			errMsg: "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"},
		{name: "climbing out of the namespace", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"../kube-system/secret-a"}`),
			errMsg: "continue key is not valid: ../kube-system/secret-a"},
		{name: "climbing out further down", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"b/../../kube-system/x"}`),
			errMsg: "continue key is not valid: b/../../kube-system/x"},
		{name: "a dot", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"./b"}`),
			errMsg: "continue key is not valid: ./b"},
		{name: "a double slash", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"b//c"}`),
			errMsg: "continue key is not valid: b//c"},
		{name: "a trailing slash", token: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"b/"}`),
			errMsg: "continue key is not valid: b/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotKey, gotRV, err := DecodeContinue(tt.token, prefix)
			if tt.errMsg != "" {
				if err == nil || err.Error() != tt.errMsg {
					t.Fatalf("DecodeContinue = %q, %d, %v\nwant the error %q", gotKey, gotRV, err, tt.errMsg)
				}
				return
			}
			if err != nil || gotKey != tt.wantKey || gotRV != tt.wantRV {
				t.Errorf("DecodeContinue = %q, %d, %v; want %q, %d", gotKey, gotRV, err, tt.wantKey, tt.wantRV)
			}
		})
	}
	// The two are each other's inverse.
	tok, err := EncodeContinue(key("c\x00"), prefix, 42)
	if err != nil {
		t.Fatal(err)
	}
	if k, rv, err := DecodeContinue(tok, prefix); err != nil || k != key("c\x00") || rv != 42 {
		t.Errorf("DecodeContinue(EncodeContinue(c, 42)) = %q, %d, %v", k, rv, err)
	}
}

func TestListWithoutLimit(t *testing.T) {
	s := newStore()
	for _, opts := range []ListOptions{{}, {Limit: 0}, {Limit: -1}, {ResourceVersion: "0"}} {
		l := mustList(t, s, opts)
		want := []KeyValue{
			{key("a"), "a1", 1}, {key("b"), "b1", 2}, {key("c"), "c1", 3}, {key("d"), "d1", 4}, {key("e"), "e1", 5},
		}
		if !slices.Equal(l.Items, want) {
			t.Errorf("List(%+v) items %v, want %v (only the list's own keys, in key order)", opts, l.Items, want)
		}
		if l.ResourceVersion != "8" || l.Continue != "" || l.RemainingItemCount != nil {
			t.Errorf("List(%+v) metadata: resourceVersion %q, continue %q, remainingItemCount %v; want \"8\" (the store's revision, not the newest item's), \"\", nil",
				opts, l.ResourceVersion, l.Continue, l.RemainingItemCount)
		}
	}
	empty, err := List(New(), prefix, ListOptions{Limit: 10})
	if err != nil || empty.Items == nil || len(empty.Items) != 0 || empty.ResourceVersion != "0" || empty.Continue != "" {
		t.Errorf("an empty store: %+v, %v; want items [] (not nil: JSON \"items\": []), resourceVersion \"0\", no continue", empty, err)
	}
}

func TestPages(t *testing.T) {
	tests := []struct {
		limit     int64
		pages     [][]string
		remaining []int64 // -1: nil
	}{
		{1, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}, []int64{4, 3, 2, 1, -1}},
		{2, [][]string{{"a", "b"}, {"c", "d"}, {"e"}}, []int64{3, 1, -1}},
		{3, [][]string{{"a", "b", "c"}, {"d", "e"}}, []int64{2, -1}},
		{4, [][]string{{"a", "b", "c", "d"}, {"e"}}, []int64{1, -1}},
		{5, [][]string{{"a", "b", "c", "d", "e"}}, []int64{-1}}, // exactly all: nothing more to continue with
		{500, [][]string{{"a", "b", "c", "d", "e"}}, []int64{-1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit=%d", tt.limit), func(t *testing.T) {
			s := newStore()
			opts := ListOptions{Limit: tt.limit}
			for i, want := range tt.pages {
				l := mustList(t, s, opts)
				if got := names(l.Items); !slices.Equal(got, want) {
					t.Fatalf("page %d: %v, want %v", i+1, got, want)
				}
				if l.ResourceVersion != "8" {
					t.Errorf("page %d: resourceVersion %q, want \"8\"", i+1, l.ResourceVersion)
				}
				last := i == len(tt.pages)-1
				switch {
				case last && l.Continue != "":
					t.Fatalf("the last page has continue %q (%s), want none", l.Continue, mustBase64(l.Continue))
				case !last && l.Continue == "":
					t.Fatalf("page %d has no continue token", i+1)
				case !last:
					c := readToken(t, l.Continue)
					want := continueToken{"meta.k8s.io/v1", 8, want[len(want)-1] + "\x00"}
					if c != want {
						t.Errorf("page %d: token %+v, want %+v: the revision, and the first key after the page, without the prefix", i+1, c, want)
					}
				}
				switch r := tt.remaining[i]; {
				case r < 0 && l.RemainingItemCount != nil:
					t.Errorf("page %d: remainingItemCount %d, want none", i+1, *l.RemainingItemCount)
				case r >= 0 && (l.RemainingItemCount == nil || *l.RemainingItemCount != r):
					t.Errorf("page %d: remainingItemCount %v, want %d", i+1, l.RemainingItemCount, r)
				}
				opts.Continue = l.Continue
			}
		})
	}
}

// The heart of it: every page is read at the first page's revision.
func TestPagesAreOneConsistentList(t *testing.T) {
	s := newStore()
	page1 := mustList(t, s, ListOptions{Limit: 2})
	if got := names(page1.Items); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("page 1: %v", got)
	}

	s.Put(key("c"), "c2")    // 9: changed after the first page
	s.Delete(key("d"))       // 10: deleted after it
	s.Put(key("bb"), "new")  // 11: created after it, sorts between b and c
	s.Put(key("f"), "new")   // 12: created after it, at the end
	s.Put(key("a"), "a2")    // 13: changed, on a page already read
	s.Delete(key("e"))       // 14
	s.Put(key("e"), "again") // 15: deleted and created again

	page2 := mustList(t, s, ListOptions{Limit: 2, Continue: page1.Continue})
	want2 := []KeyValue{{key("c"), "c1", 3}, {key("d"), "d1", 4}}
	if !slices.Equal(page2.Items, want2) {
		t.Errorf("page 2: %v\nwant %v: as of revision 8, where bb did not exist, c was c1 and d was there", page2.Items, want2)
	}
	page3 := mustList(t, s, ListOptions{Limit: 2, Continue: page2.Continue})
	want3 := []KeyValue{{key("e"), "e1", 5}}
	if !slices.Equal(page3.Items, want3) || page3.Continue != "" {
		t.Errorf("page 3: %v, continue %q; want %v and no continue: f came later", page3.Items, page3.Continue, want3)
	}
	for i, l := range []*Page{page1, page2, page3} {
		if l.ResourceVersion != "8" {
			t.Errorf("page %d: resourceVersion %q, want \"8\" on every page", i+1, l.ResourceVersion)
		}
	}

	// A new list sees the present.
	fresh := mustList(t, s, ListOptions{Limit: 10})
	if got := names(fresh.Items); !slices.Equal(got, []string{"a", "b", "bb", "c", "e", "f"}) || fresh.ResourceVersion != "15" {
		t.Errorf("a new list: %v at %q, want [a b bb c e f] at \"15\"", got, fresh.ResourceVersion)
	}
}

func TestFirstPageAtAResourceVersion(t *testing.T) {
	s := newStore()
	s.Put(key("b"), "b2")  // 9
	s.Delete(key("c"))     // 10
	s.Put(key("aa"), "x")  // 11
	s.Put(key("a"), "a3")  // 12
	s.Put(key("zz"), "zz") // 13

	// With a limit, resourceVersion=N is exactly N: the legacy rule.
	l := mustList(t, s, ListOptions{ResourceVersion: "9", Limit: 10})
	want := []KeyValue{{key("a"), "a1", 1}, {key("b"), "b2", 9}, {key("c"), "c1", 3}, {key("d"), "d1", 4}, {key("e"), "e1", 5}}
	if !slices.Equal(l.Items, want) || l.ResourceVersion != "9" {
		t.Errorf("resourceVersion=9&limit=10: %v at %q\nwant %v at \"9\"", l.Items, l.ResourceVersion, want)
	}

	// With a limit, every page stays at 9.
	var got []string
	opts := ListOptions{Limit: 2, ResourceVersion: "9"}
	for range 10 {
		l := mustList(t, s, opts)
		if l.ResourceVersion != "9" {
			t.Errorf("a page of resourceVersion=9 at %q", l.ResourceVersion)
		}
		got = append(got, names(l.Items)...)
		if l.Continue == "" {
			break
		}
		opts = ListOptions{Limit: 2, Continue: l.Continue}
	}
	if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("the pages of resourceVersion=9: %v, want [a b c d e]", got)
	}

	// Without one, it is "not older than N", and now always is.
	for _, rv := range []string{"", "0", "9", "13"} {
		if l := mustList(t, s, ListOptions{ResourceVersion: rv}); l.ResourceVersion != "13" || len(l.Items) != 6 {
			t.Errorf("resourceVersion=%q: %v at %q, want the 6 keys of now, at \"13\"", rv, names(l.Items), l.ResourceVersion)
		}
	}
}

func TestErrors(t *testing.T) {
	bad := func(message string) StatusError {
		return StatusError{Code: 400, Reason: "BadRequest", Message: message}
	}
	valid := token(`{"v":"meta.k8s.io/v1","rv":5,"start":"b\u0000"}`)
	tests := []struct {
		name string
		opts ListOptions
		want StatusError
	}{
		{"a token that is not base64", ListOptions{Limit: 2, Continue: "%%%"},
			bad("invalid continue token: continue key is not valid: illegal base64 data at input byte 0")},
		{"a token without a revision", ListOptions{Limit: 2, Continue: token(`{"v":"meta.k8s.io/v1","start":"b"}`)},
			bad("invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")},
		{"a token into another namespace", ListOptions{Limit: 2, Continue: token(`{"v":"meta.k8s.io/v1","rv":5,"start":"../../secrets/default/a"}`)},
			bad("invalid continue token: continue key is not valid: ../../secrets/default/a")},
		{"a bad token wins over a resourceVersion", ListOptions{Limit: 2, Continue: "%%%", ResourceVersion: "5"},
			bad("invalid continue token: continue key is not valid: illegal base64 data at input byte 0")},
		{"a token and a resourceVersion", ListOptions{Limit: 2, Continue: valid, ResourceVersion: "5"},
			bad("specifying resource version is not allowed when using continue")},
		{"a resourceVersion that is not a number", ListOptions{ResourceVersion: "abc"},
			bad(`invalid resource version "abc": a resourceVersion is a non-negative integer`)},
		{"a negative resourceVersion", ListOptions{ResourceVersion: "-3"},
			bad(`invalid resource version "-3": a resourceVersion is a non-negative integer`)},
		{"a resourceVersion the store has not reached", ListOptions{ResourceVersion: "99", Limit: 2},
			StatusError{Code: 504, Reason: "Timeout", Message: "Too large resource version: 99, current: 8"}},
		{"not older than a revision the store has not reached", ListOptions{ResourceVersion: "9"},
			StatusError{Code: 504, Reason: "Timeout", Message: "Too large resource version: 9, current: 8"}},
		{"a token from the future", ListOptions{Limit: 2, Continue: token(`{"v":"meta.k8s.io/v1","rv":99,"start":"b"}`)},
			StatusError{Code: 504, Reason: "Timeout", Message: "Too large resource version: 99, current: 8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := List(newStore(), prefix, tt.opts)
			if err == nil {
				t.Fatalf("List(%+v) = %+v, want an error", tt.opts, l)
			}
			wantStatus(t, err, tt.want)
		})
	}

	// resourceVersion "0" means "any", and a token says which; it is allowed.
	if l, err := List(newStore(), prefix, ListOptions{Limit: 2, Continue: valid, ResourceVersion: "0"}); err != nil || !slices.Equal(names(l.Items), []string{"c", "d"}) {
		t.Errorf("a token with resourceVersion=0: %v, %v; want [c d]", l, err)
	}
}

func TestCompaction(t *testing.T) {
	t.Run("a token whose revision is gone: 410, and a token to go on at the latest", func(t *testing.T) {
		s := newStore()
		page1 := mustList(t, s, ListOptions{Limit: 2})
		s.Put(key("c"), "c2") // 9
		s.Delete(key("d"))    // 10
		if err := s.Compact(10); err != nil {
			t.Fatal(err)
		}
		_, err := List(s, prefix, ListOptions{Limit: 2, Continue: page1.Continue})
		latest, _ := EncodeContinue(key("b\x00"), prefix, -1)
		wantStatus(t, err, StatusError{Code: 410, Reason: "Expired", Message: MessageInconsistentContinue, Continue: latest})

		// The new token goes on from the same key, at the present: the
		// list is no longer one snapshot, and the client was told so.
		var se *StatusError
		errors.As(err, &se)
		page2 := mustList(t, s, ListOptions{Limit: 2, Continue: se.Continue})
		want := []KeyValue{{key("c"), "c2", 9}, {key("e"), "e1", 5}}
		if !slices.Equal(page2.Items, want) || page2.ResourceVersion != "10" || page2.Continue != "" {
			t.Errorf("continuing at the latest: %v at %q, continue %q; want %v at \"10\", no continue", page2.Items, page2.ResourceVersion, page2.Continue, want)
		}
	})

	t.Run("continuing at the latest pins the revision of that page", func(t *testing.T) {
		s := newStore()
		l := mustList(t, s, ListOptions{Limit: 2, Continue: token(`{"v":"meta.k8s.io/v1","rv":-1,"start":"a\u0000"}`)})
		if got := names(l.Items); !slices.Equal(got, []string{"b", "c"}) || l.ResourceVersion != "8" {
			t.Fatalf("at the latest after a: %v at %q, want [b c] at \"8\"", got, l.ResourceVersion)
		}
		if c := readToken(t, l.Continue); c != (continueToken{"meta.k8s.io/v1", 8, "c\x00"}) {
			t.Errorf("its token %+v, want revision 8 (the one that page was read at), start c\\x00", c)
		}
		s.Put(key("d"), "d2")
		next := mustList(t, s, ListOptions{Limit: 2, Continue: l.Continue})
		if !slices.Equal(next.Items, []KeyValue{{key("d"), "d1", 4}, {key("e"), "e1", 5}}) {
			t.Errorf("the page after it: %v, want d1 and e1: read at 8 again", next.Items)
		}
	})

	t.Run("compacted exactly at the token's revision: still there", func(t *testing.T) {
		s := newStore()
		page1 := mustList(t, s, ListOptions{Limit: 2})
		s.Put(key("c"), "c2")
		if err := s.Compact(8); err != nil {
			t.Fatal(err)
		}
		page2 := mustList(t, s, ListOptions{Limit: 2, Continue: page1.Continue})
		if !slices.Equal(page2.Items, []KeyValue{{key("c"), "c1", 3}, {key("d"), "d1", 4}}) {
			t.Errorf("page 2 after Compact(8): %v, want c1 and d1", page2.Items)
		}
	})

	t.Run("a first page at a compacted resourceVersion", func(t *testing.T) {
		s := newStore()
		s.Put(key("a"), "a2")
		if err := s.Compact(9); err != nil {
			t.Fatal(err)
		}
		_, err := List(s, prefix, ListOptions{ResourceVersion: "5", Limit: 2})
		wantStatus(t, err, StatusError{Code: 410, Reason: "Expired", Message: MessageExpired})
		// Without a limit, "not older than 5" is served by the present.
		if l := mustList(t, s, ListOptions{ResourceVersion: "5"}); l.ResourceVersion != "9" {
			t.Errorf("resourceVersion=5 without a limit after Compact(9): at %q, want \"9\"", l.ResourceVersion)
		}
	})

	t.Run("a token, but no limit: the rest of the list, or a plain 410", func(t *testing.T) {
		s := newStore()
		page1 := mustList(t, s, ListOptions{Limit: 2})
		rest := mustList(t, s, ListOptions{Continue: page1.Continue})
		if got := names(rest.Items); !slices.Equal(got, []string{"c", "d", "e"}) || rest.Continue != "" {
			t.Errorf("the rest after page 1: %v, continue %q; want [c d e], none", got, rest.Continue)
		}
		s.Put(key("a"), "a2")
		if err := s.Compact(9); err != nil {
			t.Fatal(err)
		}
		_, err := List(s, prefix, ListOptions{Continue: page1.Continue})
		wantStatus(t, err, StatusError{Code: 410, Reason: "Expired", Message: MessageExpired})
	})
}

func TestSelector(t *testing.T) {
	t.Run("a page is full of matches; the token may promise nothing", func(t *testing.T) {
		s := New()
		for _, name := range []string{"a", "b", "c", "d"} {
			s.Put(key(name), name)
		}
		match := func(kv KeyValue) bool { return kv.Value == "a" || kv.Value == "c" }
		page1 := mustList(t, s, ListOptions{Limit: 2, Match: match})
		if got := names(page1.Items); !slices.Equal(got, []string{"a", "c"}) {
			t.Fatalf("page 1: %v, want [a c]", got)
		}
		if page1.RemainingItemCount != nil {
			t.Errorf("remainingItemCount %d with a selector: how many of the rest match is not known", *page1.RemainingItemCount)
		}
		if c := readToken(t, page1.Continue); c != (continueToken{"meta.k8s.io/v1", 4, "c\x00"}) {
			t.Errorf("page 1's token %+v, want revision 4, start c\\x00: d is there, matching or not", c)
		}
		page2 := mustList(t, s, ListOptions{Limit: 2, Match: match, Continue: page1.Continue})
		if len(page2.Items) != 0 || page2.Items == nil || page2.Continue != "" {
			t.Errorf("page 2: %v, continue %q; want [] and no continue: an empty last page", page2.Items, page2.Continue)
		}
	})

	t.Run("a page of sparse matches takes several reads", func(t *testing.T) {
		s := New()
		for i := range 20 {
			s.Put(key(fmt.Sprintf("k%02d", i)), fmt.Sprint(i))
		}
		want := map[string]bool{"5": true, "13": true, "19": true}
		match := func(kv KeyValue) bool { return want[kv.Value] }
		page1 := mustList(t, s, ListOptions{Limit: 2, Match: match})
		if got := names(page1.Items); !slices.Equal(got, []string{"k05", "k13"}) {
			t.Fatalf("page 1: %v, want [k05 k13]", got)
		}
		if c := readToken(t, page1.Continue); c.StartKey != "k13\x00" {
			t.Errorf("page 1 continues at %q, want k13\\x00", c.StartKey)
		}
		page2 := mustList(t, s, ListOptions{Limit: 2, Match: match, Continue: page1.Continue})
		if got := names(page2.Items); !slices.Equal(got, []string{"k19"}) || page2.Continue != "" {
			t.Errorf("page 2: %v, continue %q; want [k19], none", got, page2.Continue)
		}
	})

	t.Run("every read of one page is at one revision", func(t *testing.T) {
		s := New()
		for i := range 20 {
			s.Put(key(fmt.Sprintf("k%02d", i)), "v1")
		}
		// After each read, someone changes every key and deletes one: a
		// page that reads twice "now" mixes two revisions.
		writes := 0
		s.afterRange = func() {
			writes++
			if writes > 50 {
				return
			}
			for i := range 20 {
				k := key(fmt.Sprintf("k%02d", i))
				if i == writes {
					s.Delete(k)
				} else {
					s.Put(k, fmt.Sprintf("v%d", writes+1))
				}
			}
		}
		match := func(kv KeyValue) bool { return strings.HasSuffix(kv.Key, "5") || strings.HasSuffix(kv.Key, "9") }
		var got []KeyValue
		opts := ListOptions{Limit: 2, Match: match}
		for range 10 {
			l := mustList(t, s, opts)
			if l.ResourceVersion != "20" {
				t.Errorf("a page at %q, want \"20\"", l.ResourceVersion)
			}
			got = append(got, l.Items...)
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		want := []KeyValue{{key("k05"), "v1", 6}, {key("k09"), "v1", 10}, {key("k15"), "v1", 16}, {key("k19"), "v1", 20}}
		if !slices.Equal(got, want) {
			t.Errorf("the pages: %v\nwant     %v: everything as of revision 20", got, want)
		}
	})
}

// Writers never stop while a client pages through: the pages still add up
// to the list as it was at the first page's revision.
func TestPagingWhileWriting(t *testing.T) {
	s := New()
	for i := range 60 {
		s.Put(key(fmt.Sprintf("k%02d", i)), "0")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			k := key(fmt.Sprintf("k%02d", r.IntN(70)))
			if r.IntN(3) == 0 {
				s.Delete(k) // may not exist: then nothing happens
			} else {
				s.Put(k, fmt.Sprint(n))
			}
		}
	}()

	var got []KeyValue
	var rev string
	opts := ListOptions{Limit: 7}
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatal("more than 20 pages of 7 for at most 70 keys")
		}
		l := mustList(t, s, opts)
		if rev == "" {
			rev = l.ResourceVersion
		}
		if l.ResourceVersion != rev {
			t.Fatalf("page %d at %q, the first at %q", page+1, l.ResourceVersion, rev)
		}
		got = append(got, l.Items...)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	close(stop)
	wg.Wait()

	var at int64
	fmt.Sscan(rev, &at)
	snapshot, err := s.Range(prefix, prefix, at, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, snapshot.KVs) {
		t.Errorf("the pages hold %d keys, the store at revision %s held %d:\n got %v\nwant %v", len(got), rev, len(snapshot.KVs), got, snapshot.KVs)
	}
}
