// The read parameters: resourceVersion, resourceVersionMatch, limit and
// continue, and DeleteOptions.preconditions.
package main

import (
	"encoding/base64"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseResourceVersion(t *testing.T) {
	for _, tt := range []struct {
		rv   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"12", 12, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"", 0, false},
		{"-1", 0, false},
		{"abc", 0, false},
		{"1.5", 0, false},
		{" 1", 0, false},
		{"0x10", 0, false},
		{"9223372036854775808", 0, false},
	} {
		t.Run(tt.rv, func(t *testing.T) {
			got, err := parseResourceVersion(tt.rv)
			if !tt.ok {
				wantStatus(t, err, 400, "BadRequest")
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("%d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// listOptionsServer is a server whose store is at revision 5.
func listOptionsServer(t *testing.T) *server {
	t.Helper()
	st := newStore()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		mustCreateCM(t, st, "ns", name, nil)
	}
	return &server{store: st}
}

func listRequest(query string) *http.Request {
	return httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/ns/configmaps?"+query, nil)
}

func TestParseListOptions(t *testing.T) {
	s := listOptionsServer(t)
	token := url.QueryEscape(encodeContinue(3, "/registry/configmaps/ns/b"))
	for _, tt := range []struct {
		query    string
		limit    int
		revision int64
		after    string
		code     int // 0 for no error
		reason   string
	}{
		{query: ""},
		{query: "limit=0"},
		{query: "limit=10", limit: 10},
		{query: "limit=-1", code: 400, reason: "BadRequest"},
		{query: "limit=ten", code: 400, reason: "BadRequest"},
		{query: "limit=2&continue=" + token, limit: 2, revision: 3, after: "/registry/configmaps/ns/b"},
		{query: "continue=" + token, revision: 3, after: "/registry/configmaps/ns/b"},
		{query: "continue=" + token + "&resourceVersion=3", code: 400, reason: "BadRequest"},
		{query: "continue=" + token + "&resourceVersion=5", code: 400, reason: "BadRequest"},
		{query: "continue=" + token + "&resourceVersionMatch=Exact", code: 400, reason: "BadRequest"},
		{query: "continue=bm90LWEtdG9rZW4", code: 400, reason: "BadRequest"},
		{query: "resourceVersionMatch=Exact", code: 400, reason: "BadRequest"},
		{query: "resourceVersionMatch=NotOlderThan", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=0&resourceVersionMatch=Exact", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=3&resourceVersionMatch=Newest", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=0&resourceVersionMatch=Newest", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=3&resourceVersionMatch=exact", code: 400, reason: "BadRequest"}, // case matters
		{query: "resourceVersion=abc", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=-3", code: 400, reason: "BadRequest"},
		{query: "resourceVersion=abc&resourceVersionMatch=Exact", code: 400, reason: "BadRequest"},
		// Not older than N: the latest is, so it is read now (revision 0)...
		{query: "resourceVersion=0"},
		{query: "resourceVersion=0&resourceVersionMatch=NotOlderThan"},
		{query: "resourceVersion=3"},
		{query: "resourceVersion=5&resourceVersionMatch=NotOlderThan"},
		{query: "resourceVersion=3&limit=2", limit: 2},
		// ...unless N is in the future.
		{query: "resourceVersion=6", code: 504, reason: "Timeout"},
		{query: "resourceVersion=99&resourceVersionMatch=NotOlderThan", code: 504, reason: "Timeout"},
		// Exact reads at N; listPage decides whether N is readable.
		{query: "resourceVersion=3&resourceVersionMatch=Exact", revision: 3},
		{query: "resourceVersion=5&resourceVersionMatch=Exact&limit=1", revision: 5, limit: 1},
		{query: "resourceVersion=99&resourceVersionMatch=Exact", revision: 99},
	} {
		t.Run(tt.query, func(t *testing.T) {
			q, err := s.parseListOptions(listRequest(tt.query))
			if tt.code != 0 {
				wantStatus(t, err, tt.code, tt.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.limit != tt.limit || q.revision != tt.revision || q.after != tt.after || q.match != nil {
				t.Errorf("got limit %d revision %d after %q; want %d %d %q", q.limit, q.revision, q.after, tt.limit, tt.revision, tt.after)
			}
		})
	}
}

func TestTooLargeResourceVersionSaysWhy(t *testing.T) {
	s := listOptionsServer(t)
	_, err := s.parseListOptions(listRequest("resourceVersion=7"))
	wantStatus(t, err, 504, "Timeout")
	se := err.(*statusError)
	if se.message != "Too large resource version: 7, current: 5" || se.details["retryAfterSeconds"] != 1 {
		t.Errorf("message %q details %v", se.message, se.details)
	}
	if causes, _ := se.details["causes"].([]cause); len(causes) != 1 || causes[0].Reason != "ResourceVersionTooLarge" {
		t.Errorf("causes %v", se.details["causes"])
	}
}

func TestContinueTokenRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		rev   int64
		after string
	}{
		{1, "/registry/configmaps/ns/a"},
		{42, "/registry/rbac.authorization.k8s.io/clusterroles/system:discovery"},
		{9223372036854775807, `/registry/configmaps/ns/it's "100%" _ü+/=?&`},
	} {
		token := encodeContinue(tt.rev, tt.after)
		if strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q is not URL-safe", token)
		}
		rev, after, err := decodeContinue(token)
		if err != nil || rev != tt.rev || after != tt.after {
			t.Errorf("round trip of (%d, %q): (%d, %q), %v", tt.rev, tt.after, rev, after, err)
		}
	}
}

func TestTamperedContinueTokensAreBadRequests(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := encodeContinue(3, "/registry/configmaps/ns/b")
	for name, token := range map[string]string{
		"not base64":          "!!!not base64!!!",
		"padded base64":       base64.URLEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":3,"start":"x"}`)),
		"standard base64":     base64.StdEncoding.EncodeToString([]byte(`{"v":"meta.k8s.io/v1","rv":3,"start":"x>?"}`)),
		"not JSON":            b64("not-a-token"),
		"truncated":           good[:len(good)-3],
		"JSON array":          b64(`[1,2,3]`),
		"wrong v":             b64(`{"v":"meta.k8s.io/v2","rv":3,"start":"x"}`),
		"no v":                b64(`{"rv":3,"start":"x"}`),
		"rv 0":                b64(`{"v":"meta.k8s.io/v1","rv":0,"start":"x"}`),
		"negative rv":         b64(`{"v":"meta.k8s.io/v1","rv":-1,"start":"x"}`),
		"rv as a string":      b64(`{"v":"meta.k8s.io/v1","rv":"3","start":"x"}`),
		"empty start":         b64(`{"v":"meta.k8s.io/v1","rv":3,"start":""}`),
		"no start":            b64(`{"v":"meta.k8s.io/v1","rv":3}`),
		"start not a string":  b64(`{"v":"meta.k8s.io/v1","rv":3,"start":7}`),
		"rv beyond int64":     b64(`{"v":"meta.k8s.io/v1","rv":9223372036854775808,"start":"x"}`),
		"a character changed": "X" + good[1:],
	} {
		t.Run(name, func(t *testing.T) {
			rev, after, err := decodeContinue(token)
			if err == nil {
				t.Fatalf("accepted: (%d, %q)", rev, after)
			}
			wantStatus(t, err, 400, "BadRequest")
		})
	}
	if _, _, err := decodeContinue(good); err != nil {
		t.Fatalf("the untampered token: %v", err)
	}
}

func TestContinueOlderThanCompactionExpires(t *testing.T) {
	s := listOptionsServer(t)
	_, rev, next, err := s.store.listPage(cmResource, "ns", listQuery{limit: 2})
	if err != nil || rev != 5 || next == "" {
		t.Fatalf("first page: at %d next %q, %v", rev, next, err)
	}
	token := url.QueryEscape(encodeContinue(rev, next))
	mustCreateCM(t, s.store, "ns", "f", nil) // 6
	if err := s.store.compact(5); err != nil {
		t.Fatal(err)
	}
	// At the compacted revision: still readable.
	q, err := s.parseListOptions(listRequest("limit=2&continue=" + token))
	if err != nil {
		t.Fatal(err)
	}
	items, _, _, err := s.store.listPage(cmResource, "ns", q)
	if err != nil || !slices.Equal(itemNames(items), []string{"c", "d"}) {
		t.Fatalf("second page after compacting to 5: %v, %v", itemNames(items), err)
	}
	if err := s.store.compact(6); err != nil {
		t.Fatal(err)
	}
	_, err = s.parseListOptions(listRequest("limit=2&continue=" + token))
	wantStatus(t, err, 410, "Expired")
}

func TestReadPreconditions(t *testing.T) {
	current := cmObject("ns", "a", nil)
	current.metadata()["resourceVersion"] = "7"
	for _, tt := range []struct {
		name        string
		contentType string
		body        string
		noCheck     bool   // readPreconditions returns no check
		reason      string // what the check says of current ("" accepts it)
		message     string
	}{
		{name: "no body", noCheck: true},
		{name: "empty options", body: `{}`, noCheck: true},
		{name: "no preconditions", body: `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`, noCheck: true},
		{name: "protobuf body", contentType: protobufType, body: protobufDeleteOptions(t, "other-uid"), reason: "Conflict",
			message: "Precondition failed: UID in precondition: other-uid, UID in object meta: uid-ns-a"},
		{name: "both match", body: `{"preconditions":{"uid":"uid-ns-a","resourceVersion":"7"}}`},
		{name: "uid matches", body: `{"preconditions":{"uid":"uid-ns-a"}}`},
		{name: "resourceVersion matches", body: `{"preconditions":{"resourceVersion":"7"}}`},
		{name: "empty preconditions", body: `{"preconditions":{}}`},
		{name: "uid mismatch", body: `{"preconditions":{"uid":"other-uid"}}`, reason: "Conflict",
			message: "Precondition failed: UID in precondition: other-uid, UID in object meta: uid-ns-a"},
		{name: "resourceVersion mismatch", body: `{"preconditions":{"resourceVersion":"6"}}`, reason: "Conflict",
			message: "Precondition failed: ResourceVersion in precondition: 6, ResourceVersion in object meta: 7"},
		{name: "uid matches, resourceVersion does not", body: `{"preconditions":{"uid":"uid-ns-a","resourceVersion":"8"}}`, reason: "Conflict",
			message: "Precondition failed: ResourceVersion in precondition: 8, ResourceVersion in object meta: 7"},
		{name: "an empty uid is a precondition too", body: `{"preconditions":{"uid":""}}`, reason: "Conflict",
			message: "Precondition failed: UID in precondition: , UID in object meta: uid-ns-a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var req *http.Request
			if tt.body == "" {
				req = httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/ns/configmaps/a", nil)
			} else {
				req = httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/ns/configmaps/a", strings.NewReader(tt.body))
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			check, err := readPreconditions(req, cmResource, "a")
			if err != nil {
				t.Fatal(err)
			}
			if tt.noCheck {
				if check != nil {
					t.Fatal("got a check, want none")
				}
				return
			}
			if check == nil {
				t.Fatal("got no check")
			}
			err = check(current)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("the check refused: %v", err)
				}
				return
			}
			wantStatus(t, err, 409, tt.reason)
			se := err.(*statusError)
			if se.message != tt.message || se.details["name"] != "a" || se.details["kind"] != "configmaps" {
				t.Errorf("message %q details %v; want %q", se.message, se.details, tt.message)
			}
		})
	}
}

func TestReadPreconditionsRefusesOtherMediaTypes(t *testing.T) {
	req := httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/ns/configmaps/a", strings.NewReader(`{"preconditions":{"uid":"x"}}`))
	req.Header.Set("Content-Type", "text/plain")
	check, err := readPreconditions(req, cmResource, "a")
	if check != nil {
		t.Error("got a check")
	}
	wantStatus(t, err, 415, "UnsupportedMediaType")
}

// Preconditions end to end: the store's delete runs the check on the
// object it is about to delete.
func TestDeleteWithPreconditionsFromARequest(t *testing.T) {
	st := newStore()
	mustCreateCM(t, st, "ns", "a", nil)
	mustUpdateCM(t, st, "ns", "a", "2")
	for _, tt := range []struct {
		body    string
		deleted bool
	}{
		{`{"preconditions":{"resourceVersion":"1"}}`, false},
		{`{"preconditions":{"uid":"someone-else"}}`, false},
		{`{"preconditions":{"uid":"uid-ns-a","resourceVersion":"2"}}`, true},
	} {
		req := httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/ns/configmaps/a", strings.NewReader(tt.body))
		check, err := readPreconditions(req, cmResource, "a")
		if err != nil {
			t.Fatal(err)
		}
		before := st.revision()
		_, err = st.delete(cmResource, "ns", "a", check)
		if tt.deleted {
			if err != nil || st.revision() != before+1 {
				t.Fatalf("%s: %v, revision %d→%d", tt.body, err, before, st.revision())
			}
			continue
		}
		wantStatus(t, err, 409, "Conflict")
		if st.revision() != before {
			t.Fatalf("%s: a refused delete moved the revision", tt.body)
		}
	}
}

// protobufDeleteOptions is DeleteOptions with a uid precondition, encoded as
// typed clients send it.
func protobufDeleteOptions(t *testing.T, uid string) string {
	t.Helper()
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: (*types.UID)(&uid)}}
	opts.APIVersion, opts.Kind = "v1", "DeleteOptions"
	return encodeProtobuf(t, opts)
}
