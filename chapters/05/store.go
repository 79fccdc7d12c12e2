// The store: every object of every resource in one map, keyed like etcd keys
// (/registry/<group>/<resource>/<namespace>/<name>), guarded by one mutex so
// concurrent requests never see half a write. Every write bumps one counter,
// and the object written carries the new value as its resourceVersion.
// Chapter 06 replaces this map with SQLite and the counter with revisions.
package main

import (
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

type store struct {
	mu      sync.RWMutex
	rv      int64 // bumped by every write
	objects map[string]object
}

func newStore() *store {
	return &store{objects: map[string]object{}}
}

// storageKey is where an object lives. path.Join drops the empty group of the
// core API and the empty namespace of cluster-scoped objects.
func storageKey(res *resource, namespace, name string) string {
	return path.Join("/registry", res.group, res.name, namespace, name)
}

// Objects in the map are never changed after they are stored: a write stores
// a new map. That is what makes handing them to readers safe.

func (s *store) create(res *resource, obj object) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := storageKey(res, obj.metaString("namespace"), obj.metaString("name"))
	if _, exists := s.objects[k]; exists {
		return nil, errAlreadyExists(res, obj.metaString("name"))
	}
	s.rv++
	obj.metadata()["resourceVersion"] = strconv.FormatInt(s.rv, 10)
	s.objects[k] = obj
	return obj, nil
}

func (s *store) get(res *resource, namespace, name string) (object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	obj, ok := s.objects[storageKey(res, namespace, name)]
	if !ok {
		return nil, errNotFound(res, name)
	}
	return obj, nil
}

// list returns the objects of a resource in one namespace, or in all when
// namespace is "", in key order as etcd would, and the counter at that moment.
func (s *store) list(res *resource, namespace string) ([]object, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	prefix := storageKey(res, namespace, "") + "/"
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	items := make([]object, 0, len(keys))
	for _, k := range keys {
		items = append(items, s.objects[k])
	}
	return items, strconv.FormatInt(s.rv, 10)
}

// update is Kubernetes' GuaranteedUpdate in small: tryUpdate receives the
// current object and returns the new one. It runs outside the lock, because
// it may itself read the store (the RBAC escalation check does), so the write
// only happens if the object did not change meanwhile; otherwise tryUpdate
// runs again on the newer object. The server owns uid and creationTimestamp,
// so they are carried over whatever tryUpdate returns.
func (s *store) update(res *resource, namespace, name string, tryUpdate func(current object) (object, error)) (object, error) {
	k := storageKey(res, namespace, name)
	for {
		current, err := s.get(res, namespace, name)
		if err != nil {
			return nil, err
		}
		obj, err := tryUpdate(current)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if latest, ok := s.objects[k]; !ok || latest.metaString("resourceVersion") != current.metaString("resourceVersion") {
			s.mu.Unlock()
			continue // changed or deleted meanwhile: try again from what is there now
		}
		s.rv++
		meta := obj.metadata()
		meta["uid"] = current.metaString("uid")
		meta["creationTimestamp"] = current.metaString("creationTimestamp")
		meta["resourceVersion"] = strconv.FormatInt(s.rv, 10)
		s.objects[k] = obj
		s.mu.Unlock()
		return obj, nil
	}
}

func (s *store) delete(res *resource, namespace, name string) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := storageKey(res, namespace, name)
	obj, ok := s.objects[k]
	if !ok {
		return nil, errNotFound(res, name)
	}
	s.rv++
	delete(s.objects, k)
	return obj, nil
}

// objectsIn returns the keys and uids of the objects in a namespace.
func (s *store) objectsIn(namespace string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	found := map[string]string{}
	for k, obj := range s.objects {
		if obj.metaString("namespace") == namespace {
			found[k] = obj.metaString("uid")
		}
	}
	return found
}

// deleteObjects removes the objects at these keys that still have these uids.
func (s *store) deleteObjects(uids map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, uid := range uids {
		if obj, ok := s.objects[k]; ok && obj.metaString("uid") == uid {
			s.rv++
			delete(s.objects, k)
		}
	}
}
