package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func pod(namespace, name string) object {
	return object{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"namespace": namespace, "name": name}}
}

// wantStatus fails unless err is a statusError with the given code and reason.
func wantStatus(t *testing.T, err error, code int, reason string) {
	t.Helper()
	se, ok := err.(*statusError)
	if !ok || se.code != code || se.reason != reason {
		t.Errorf("error = %v (%T), want %d %s", err, err, code, reason)
	}
}

func TestStoreCreateAndGet(t *testing.T) {
	s := newStore()
	created, err := s.create(pod("default", "web"))
	if err != nil || created.metaString("resourceVersion") != "1" {
		t.Fatalf("create = %v, %v; want resourceVersion 1", created, err)
	}
	got, err := s.get("default", "web")
	if err != nil || got.metaString("name") != "web" {
		t.Errorf("get = %v, %v; want the pod web", got, err)
	}

	_, err = s.create(pod("default", "web"))
	wantStatus(t, err, http.StatusConflict, "AlreadyExists")
	_, err = s.get("default", "missing")
	wantStatus(t, err, http.StatusNotFound, "NotFound")
	_, err = s.get("other", "web") // names are unique per namespace only
	wantStatus(t, err, http.StatusNotFound, "NotFound")
}

func TestStoreListIsSortedByKey(t *testing.T) {
	s := newStore()
	for _, p := range []object{pod("b", "x"), pod("a", "z"), pod("a", "b")} {
		if _, err := s.create(p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		namespace string
		want      []string
	}{
		{"", []string{"a/b", "a/z", "b/x"}}, // all namespaces
		{"a", []string{"a/b", "a/z"}},
		{"c", nil},
	}
	for _, tt := range tests {
		items, rv := s.list(tt.namespace)
		var got []string
		for _, obj := range items {
			got = append(got, obj.metaString("namespace")+"/"+obj.metaString("name"))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || rv != "3" {
			t.Errorf("list(%q) = %v at %s, want %v at 3", tt.namespace, got, rv, tt.want)
		}
		if items == nil {
			t.Errorf("list(%q) returned nil; an empty list must encode as [] not null", tt.namespace)
		}
	}
}

func TestStoreUpdateKeepsServerOwnedFields(t *testing.T) {
	s := newStore()
	original := pod("default", "web")
	original.metadata()["uid"] = "uid-1"
	original.metadata()["creationTimestamp"] = "2024-01-01T00:00:00Z"
	if _, err := s.create(original); err != nil {
		t.Fatal(err)
	}

	replacement := pod("default", "web")
	replacement.metadata()["uid"] = "forged"
	replacement["spec"] = map[string]any{"nodeName": "node-1"}
	updated, err := s.update(replacement)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"uid":               updated.metaString("uid"),
		"creationTimestamp": updated.metaString("creationTimestamp"),
		"resourceVersion":   updated.metaString("resourceVersion"),
	}
	want := map[string]string{"uid": "uid-1", "creationTimestamp": "2024-01-01T00:00:00Z", "resourceVersion": "2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after update metadata = %v, want %v", got, want)
	}
	if stored, _ := s.get("default", "web"); stored["spec"] == nil {
		t.Errorf("get after update = %v, want the new spec", stored)
	}

	_, err = s.update(pod("default", "missing"))
	wantStatus(t, err, http.StatusNotFound, "NotFound")
}

func TestStoreDelete(t *testing.T) {
	s := newStore()
	if _, err := s.create(pod("default", "web")); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.delete("default", "web")
	if err != nil || deleted.metaString("name") != "web" {
		t.Errorf("delete = %v, %v; want the deleted pod", deleted, err)
	}
	if _, rv := s.list(""); rv != "2" {
		t.Errorf("resourceVersion after delete = %s, want 2: a delete is a write", rv)
	}
	_, err = s.get("default", "web")
	wantStatus(t, err, http.StatusNotFound, "NotFound")
	_, err = s.delete("default", "web")
	wantStatus(t, err, http.StatusNotFound, "NotFound")
}

// Many clients create pods at once, through the handler: every create
// succeeds and gets its own resourceVersion. Run with -race.
func TestConcurrentCreates(t *testing.T) {
	const n = 50
	s := &server{store: newStore()}
	rvs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, created := call(t, s, "POST", podsPath, "application/json", podJSON(fmt.Sprintf("pod-%d", i)))
			if code != http.StatusCreated {
				t.Errorf("create pod-%d: code %d, %v", i, code, created)
			}
			rvs[i], _ = at(created, "metadata", "resourceVersion").(string)
		})
		wg.Go(func() { call(t, s, "GET", "/api/v1/pods", "", "") }) // readers alongside
	}
	wg.Wait()

	seen := map[string]bool{}
	for i, rv := range rvs {
		if rv == "" || seen[rv] {
			t.Errorf("pod-%d got resourceVersion %q, want a fresh one", i, rv)
		}
		seen[rv] = true
	}
	if items, rv := s.store.list("default"); len(items) != n || rv != fmt.Sprint(n) {
		t.Errorf("after %d creates the store holds %d pods at resourceVersion %s", n, len(items), rv)
	}
}

func TestGenerateName(t *testing.T) {
	long := strings.Repeat("a", 60) + "-"
	tests := []struct{ prefix, wantPrefix string }{
		{"web-", "web-"},
		{"web", "web"},
		// Kubernetes cuts a long prefix so the name fits in 63 characters.
		{long, long[:58]},
	}
	for _, tt := range tests {
		for range 20 {
			name := generateName(tt.prefix)
			suffix, ok := strings.CutPrefix(name, tt.wantPrefix)
			if !ok || len(suffix) != 5 || validateSubdomain(name) != "" {
				t.Fatalf("generateName(%q) = %q, want %q and five lowercase characters", tt.prefix, name, tt.wantPrefix)
			}
		}
	}
}
