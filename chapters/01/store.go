// The store: pods in a map, guarded by one mutex so concurrent requests never
// see half a write. Every write bumps one counter, and the object written
// carries the new value as its resourceVersion. Chapter 06 replaces this map
// with SQLite and the counter with etcd-style revisions.
package main

import (
	"sort"
	"strconv"
	"sync"
)

type store struct {
	mu      sync.RWMutex
	rv      int64             // bumped by every write
	objects map[string]object // key: namespace/name
}

func newStore() *store {
	return &store{objects: map[string]object{}}
}

func key(namespace, name string) string { return namespace + "/" + name }

// Objects in the map are never changed after they are stored: a write stores
// a new map. That is what makes handing them to readers safe.

func (s *store) create(obj object) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(obj.metaString("namespace"), obj.metaString("name"))
	if _, exists := s.objects[k]; exists {
		return nil, errAlreadyExists("pods", obj.metaString("name"))
	}
	s.rv++
	obj.metadata()["resourceVersion"] = strconv.FormatInt(s.rv, 10)
	s.objects[k] = obj
	return obj, nil
}

func (s *store) get(namespace, name string) (object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	obj, ok := s.objects[key(namespace, name)]
	if !ok {
		return nil, errNotFound("pods", name)
	}
	return obj, nil
}

// list returns the pods of one namespace, or of all when namespace is "",
// sorted by key as etcd would return them, and the counter at that moment.
func (s *store) list(namespace string) ([]object, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	items := []object{}
	for _, obj := range s.objects {
		if namespace == "" || obj.metaString("namespace") == namespace {
			items = append(items, obj)
		}
	}
	sort.Slice(items, func(i, j int) bool {
		return key(items[i].metaString("namespace"), items[i].metaString("name")) <
			key(items[j].metaString("namespace"), items[j].metaString("name"))
	})
	return items, strconv.FormatInt(s.rv, 10)
}

// update replaces a stored pod. The server owns uid and creationTimestamp, so
// they are carried over from the stored object whatever the client sent.
func (s *store) update(obj object) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(obj.metaString("namespace"), obj.metaString("name"))
	old, ok := s.objects[k]
	if !ok {
		return nil, errNotFound("pods", obj.metaString("name"))
	}
	s.rv++
	meta := obj.metadata()
	meta["uid"] = old.metaString("uid")
	meta["creationTimestamp"] = old.metaString("creationTimestamp")
	meta["resourceVersion"] = strconv.FormatInt(s.rv, 10)
	s.objects[k] = obj
	return obj, nil
}

func (s *store) delete(namespace, name string) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(namespace, name)
	obj, ok := s.objects[k]
	if !ok {
		return nil, errNotFound("pods", name)
	}
	s.rv++
	delete(s.objects, k)
	return obj, nil
}
