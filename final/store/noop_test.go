package store

import (
	"context"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// An update that changes nothing writes nothing: the resourceVersion stays
// and the revision does not move, as in Kubernetes' etcd3 store.
func TestUpdateThatChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	created, err := s.Create(ctx, configmaps, configMap("default", "same", "1"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same, err := s.Update(ctx, configmaps, "default", "same", func(current object.Object) (object.Object, error) {
		return current, nil
	})
	if err != nil || same.MetaString("resourceVersion") != created.MetaString("resourceVersion") {
		t.Fatalf("unchanged update: %v, resourceVersion %s, was %s", err, same.MetaString("resourceVersion"), created.MetaString("resourceVersion"))
	}
	if after, _ := s.Revision(ctx); after != before {
		t.Errorf("the revision moved from %d to %d", before, after)
	}
	changed, err := s.Update(ctx, configmaps, "default", "same", func(current object.Object) (object.Object, error) {
		current["data"] = map[string]any{"v": "2"}
		return current, nil
	})
	if err != nil || changed.MetaString("resourceVersion") == created.MetaString("resourceVersion") {
		t.Errorf("a real change: %v, resourceVersion %s", err, changed.MetaString("resourceVersion"))
	}
}
