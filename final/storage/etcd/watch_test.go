package etcd

import (
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// forward, fed by hand: what a real etcd makes depend on timing.

func put(rev int64) *clientv3.Event {
	return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte("/p/k"), Value: []byte("v"), CreateRevision: 2, ModRevision: rev}}
}

// A watcher that leaves WatchBuffer events unread is closed at the next one,
// however etcd batched them; the etcd channel is not waited on.
func TestForwardClosesAWatcherThatFallsBehind(t *testing.T) {
	s := &Store{prefix: "/p"}
	wch := make(chan clientv3.WatchResponse, 3)
	var events []*clientv3.Event
	for rev := int64(2); rev < 2+storage.WatchBuffer; rev++ {
		events = append(events, put(rev))
	}
	wch <- clientv3.WatchResponse{Events: events[:10]}
	wch <- clientv3.WatchResponse{Events: events[10:]}
	wch <- clientv3.WatchResponse{Events: []*clientv3.Event{put(2 + storage.WatchBuffer)}}
	out := make(chan storage.Event, storage.WatchBuffer)
	s.forward(wch, out) // returns: it does not wait for a reader
	received := 0
	for ev := range out {
		if want := int64(2 + received); ev.KV.ModRevision != want || ev.KV.Key != "/k" {
			t.Fatalf("event %d: %+v, want /k at %d", received, ev, want)
		}
		received++
	}
	if received != storage.WatchBuffer {
		t.Fatalf("received %d events, want the %d that fit", received, storage.WatchBuffer)
	}
}

// An error on etcd's channel (here a compaction that overtook the watch)
// closes the watcher after the events before it.
func TestForwardClosesOnAnError(t *testing.T) {
	s := &Store{prefix: "/p"}
	wch := make(chan clientv3.WatchResponse, 2)
	wch <- clientv3.WatchResponse{Events: []*clientv3.Event{put(2)}}
	wch <- clientv3.WatchResponse{CompactRevision: 5, Canceled: true}
	out := make(chan storage.Event, storage.WatchBuffer)
	s.forward(wch, out)
	if ev := <-out; ev.KV.ModRevision != 2 {
		t.Fatalf("first event %+v", ev)
	}
	if _, open := <-out; open {
		t.Fatal("the watcher is open after the error")
	}
}
