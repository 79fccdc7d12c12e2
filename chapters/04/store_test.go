package main

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

var testConfigMaps = &resource{version: "v1", name: "configmaps", kind: "ConfigMap", namespaced: true}

// withLabel returns a copy of obj with one more label: stored objects are
// never changed in place.
func withLabel(obj object, key, value string) object {
	out := maps.Clone(obj)
	meta := maps.Clone(obj.metadata())
	labels, _ := meta["labels"].(map[string]any)
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]any{}
	}
	labels[key] = value
	meta["labels"] = labels
	out["metadata"] = meta
	return out
}

func newConfigMap(name string) object {
	return object{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "default", "uid": "uid-" + name, "creationTimestamp": "2024-01-01T00:00:00Z"}}
}

// Twenty writers update one object at once, each adding its own label. The
// update of each runs outside the lock; whoever loses the race runs again on
// the newer object, so no label is lost. Run with -race.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	const writers = 20
	s := newStore()
	created, err := s.create(testConfigMaps, newConfigMap("shared"))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			_, err := s.update(testConfigMaps, "default", "shared", func(current object) (object, error) {
				calls.Add(1)
				runtime.Gosched() // widen the window between reading and writing
				return withLabel(current, fmt.Sprintf("writer-%d", i), "done"), nil
			})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()

	stored, err := s.get(testConfigMaps, "default", "shared")
	if err != nil {
		t.Fatal(err)
	}
	labels := stored.labels()
	for i := range writers {
		if labels[fmt.Sprintf("writer-%d", i)] != "done" {
			t.Errorf("writer %d's label is lost", i)
		}
	}
	if len(labels) != writers {
		t.Errorf("%d labels, want %d: %v", len(labels), writers, labels)
	}
	// Every successful update is one write: the resourceVersion moved by exactly 20.
	before, _ := strconv.Atoi(created.metaString("resourceVersion"))
	after, _ := strconv.Atoi(stored.metaString("resourceVersion"))
	if after-before != writers {
		t.Errorf("resourceVersion went from %d to %d, want %d writes", before, after, writers)
	}
	if n := calls.Load(); n < writers {
		t.Errorf("tryUpdate ran %d times, want at least %d", n, writers)
	}
	if stored.metaString("uid") != "uid-shared" || stored.metaString("creationTimestamp") != "2024-01-01T00:00:00Z" {
		t.Errorf("uid or creationTimestamp changed: %v", stored.metadata())
	}
}

// An update that lost the race runs again on what is stored now.
func TestUpdateRetriesOnTheNewerObject(t *testing.T) {
	s := newStore()
	if _, err := s.create(testConfigMaps, newConfigMap("settings")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	updated, err := s.update(testConfigMaps, "default", "settings", func(current object) (object, error) {
		seen = append(seen, current.metaString("resourceVersion"))
		if len(seen) == 1 {
			// Someone else writes between our read and our write.
			if _, err := s.update(testConfigMaps, "default", "settings", func(current object) (object, error) {
				return withLabel(current, "other", "yes"), nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return withLabel(current, "mine", "yes"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] == seen[1] {
		t.Errorf("tryUpdate saw resourceVersions %q, want two different ones", seen)
	}
	if l := updated.labels(); l["mine"] != "yes" || l["other"] != "yes" {
		t.Errorf("labels %v, want both writes", l)
	}
}

// tryUpdate's error is the update's answer, and nothing is written; a
// missing object, or one deleted while tryUpdate ran, is NotFound.
func TestUpdateErrors(t *testing.T) {
	s := newStore()
	if _, err := s.create(testConfigMaps, newConfigMap("settings")); err != nil {
		t.Fatal(err)
	}
	_, rv := s.list(testConfigMaps, "")
	refused := errors.New("refused")
	if _, err := s.update(testConfigMaps, "default", "settings", func(object) (object, error) { return nil, refused }); err != refused {
		t.Errorf("update with a failing tryUpdate: %v, want %v", err, refused)
	}
	if _, after := s.list(testConfigMaps, ""); after != rv {
		t.Errorf("a refused update wrote: resourceVersion %s -> %s", rv, after)
	}

	if _, err := s.update(testConfigMaps, "default", "missing", func(o object) (object, error) { return o, nil }); !isNotFound(err) {
		t.Errorf("update of a missing object: %v", err)
	}

	_, err := s.update(testConfigMaps, "default", "settings", func(current object) (object, error) {
		if _, err := s.delete(testConfigMaps, "default", "settings"); err != nil {
			t.Fatal(err)
		}
		return withLabel(current, "late", "yes"), nil
	})
	if !isNotFound(err) {
		t.Errorf("update of an object deleted meanwhile: %v", err)
	}
	if _, err := s.get(testConfigMaps, "default", "settings"); !isNotFound(err) {
		t.Errorf("the deleted object came back: %v", err)
	}
}

func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.reason == "NotFound"
}
