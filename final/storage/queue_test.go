package storage

import "testing"

func TestQueue(t *testing.T) {
	full := make(chan struct{}, 2)
	q := NewQueue(func() { full <- struct{}{} })
	for i := range 3 {
		if !q.Push(ev(i), 3) {
			t.Fatalf("push %d refused", i)
		}
	}
	<-q.Ready()
	got, open := q.Take(nil)
	if len(got) != 3 || got[0].KV.ModRevision != 0 || got[2].KV.ModRevision != 2 || !open {
		t.Fatalf("take: %v, open %v", got, open)
	}
	select {
	case <-q.Ready():
		t.Fatal("a token with nothing waiting")
	default:
	}
	for i := range 3 {
		q.Push(ev(i), 3)
	}
	if q.Push(ev(3), 3) { // a fourth over a limit of three: closed
		t.Fatal("push over the limit accepted")
	}
	if q.Push(ev(4), 10) {
		t.Fatal("push after closing accepted")
	}
	<-full // called once the queue overflowed
	select {
	case <-full:
		t.Fatal("onFull called twice")
	default:
	}
	<-q.Ready()
	if got, open := q.Take(nil); len(got) != 3 || open {
		t.Fatalf("after closing: %v, open %v", got, open)
	}
	<-q.Ready() // closed: it stays ready
	if got, open := q.Take(nil); len(got) != 0 || open {
		t.Fatalf("closed and empty: %v, open %v", got, open)
	}
}

func ev(rev int) Event { return Event{KV: KeyValue{ModRevision: int64(rev)}} }
