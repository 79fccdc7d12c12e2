package watchcache

import (
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

func TestQueue(t *testing.T) {
	q := newQueue()
	for i := range 3 {
		if !q.push(ev(i), 3) {
			t.Fatalf("push %d refused", i)
		}
	}
	<-q.wait()
	got, open := q.take(nil)
	if len(got) != 3 || got[0].KV.ModRevision != 0 || got[2].KV.ModRevision != 2 || !open {
		t.Fatalf("take: %v, open %v", got, open)
	}
	select {
	case <-q.wait():
		t.Fatal("a token with nothing waiting")
	default:
	}
	for i := range 3 {
		q.push(ev(i), 3)
	}
	if q.push(ev(3), 3) { // a fourth over a limit of three: closed
		t.Fatal("push over the limit accepted")
	}
	if q.push(ev(4), 10) {
		t.Fatal("push after closing accepted")
	}
	<-q.wait()
	if got, open := q.take(nil); len(got) != 3 || open {
		t.Fatalf("after closing: %v, open %v", got, open)
	}
	<-q.wait() // closed: it stays ready
	if got, open := q.take(nil); len(got) != 0 || open {
		t.Fatalf("closed and empty: %v, open %v", got, open)
	}
}

func ev(rev int) storage.Event { return storage.Event{KV: storage.KeyValue{ModRevision: int64(rev)}} }
